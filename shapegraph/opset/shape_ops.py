"""flatten, reshape (MXNet's 0 = copy and -1 = infer), transpose, concat."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from math import prod

import numpy as np

from shapegraph.core.dims import (
    Dim,
    Hole,
    Truth,
    add,
    as_int,
    compare,
    dim_str,
    exact_div,
    holes,
    product,
    syms,
)
from shapegraph.core.types import TensorType
from shapegraph.opset.base import (
    Attr,
    Attrs,
    Derived,
    Eq,
    Fail,
    FromAttr,
    Lowering,
    OpDef,
    Out,
    RuleResult,
    Src,
    inp,
)
from shapegraph.opset.common import axis_fail, norm_axis, rank_fail
from shapegraph.opset.registry import register
from shapegraph.opset.values import FromValue, Val, fold, input_values, passed_on

SG_RESHAPE = "SG205"
SG_CONFIG = "SG210"
SG_PINNED = "SG212"


def _flatten_rule(
    ins: tuple[TensorType, ...], params: Mapping[str, tuple[Dim, ...]], attrs: Attrs
) -> RuleResult:
    x = ins[0]
    given = attrs["axis"]
    axis = given + x.rank if given < 0 else given
    if given == 1 and x.rank < 1:
        return rank_fail("Flatten", x, "rank >= 1 (batch, ...)")
    if not 0 <= axis <= x.rank:
        return Fail("SG202", f"flatten: axis {given} is out of range for {x} (rank {x.rank})",
                    f"use an axis from {-x.rank} to {x.rank}")
    parts = (_flat_part(x, range(axis)), _flat_part(x, range(axis, x.rank)))
    out = TensorType((parts[0][0], parts[1][0]), x.dtype)
    return Out((out,), ((parts[0][1], parts[1][1]),))


def _flat_part(x: TensorType, dims: range) -> tuple[Dim, Src]:
    """The product of ``x``'s ``dims`` and its source (the dim itself when it is one)."""
    if len(dims) == 1:
        return x.shape[dims[0]], inp(0, dims[0])
    srcs = tuple(inp(0, j) for j in dims)
    label = f"dims {dims[0]}..{dims[-1]}" if dims else "no dims"
    return product(x.shape[j] for j in dims), Derived(f"flatten: product of {label}", srcs)


def _flatten_ref(
    ins: Sequence[np.ndarray], params: Mapping[str, np.ndarray], attrs: Attrs
) -> tuple[np.ndarray, ...]:
    x = ins[0]
    axis = attrs["axis"] + x.ndim if attrs["axis"] < 0 else attrs["axis"]
    return (x.reshape(prod(x.shape[:axis]), prod(x.shape[axis:])),)  # no -1: a 0 size


FLATTEN = register(OpDef("flatten", _flatten_rule, _flatten_ref, lazy_rank=lambda a: 2,
                         any_rank=True, out_rank=lambda r, a: 2,
                         doc="(d0, ..., dn) -> (d0*...*d(axis-1), d(axis)*...*dn), axis 1 by "
                             "default: (batch, d1*d2*...)",
                         schema=(Attr("axis", "int", 1, onnx="axis"),),
    lowering=Lowering("alias")))


def reshape_dims(
    x: TensorType, spec: Sequence[Dim], spec_srcs: Sequence[Src] | None = None,
    allowzero: bool = False
) -> tuple[tuple[Dim, ...], tuple[Src, ...], tuple[Eq, ...], bool] | Fail:
    """The output of reshaping ``x`` to ``spec`` (0 copies a dim, or with ``allowzero`` is a
    size of 0, as ONNX's attribute says; -1 is inferred); an element may be a symbolic size
    (a target computed from ``Shape(x)``), and ``spec_srcs`` says where each element came
    from (default: the ``shape`` attribute)."""
    spec_srcs = spec_srcs or tuple(FromAttr(f"shape[{k}]") for k in range(len(spec)))
    shown = "(" + ", ".join(dim_str(s) for s in spec) + ")"
    if sum(1 for s in spec if s.__class__ is int and s == -1) > 1:
        return Fail(SG_CONFIG, f"reshape target {shown} has more than one -1",
                    "leave at most one dimension to be inferred")
    dims: list[Dim] = []
    srcs: list[Src] = []
    for k, s in enumerate(spec):
        if s.__class__ is not int:  # a symbolic size
            dims.append(s)
            srcs.append(spec_srcs[k])
        elif s == 0 and allowzero:
            dims.append(0)
            srcs.append(spec_srcs[k])
        elif s == 0:
            if k >= x.rank:
                return Fail(SG_RESHAPE, f"reshape target {tuple(spec)}: 0 at position {k} "
                            f"copies a dim that {x} does not have", "use an explicit size")
            dims.append(x.shape[k])
            srcs.append(inp(0, k))
        elif s > 0 or s == -1:
            dims.append(s)
            srcs.append(spec_srcs[k])
        else:
            return Fail(SG_CONFIG, f"reshape target {shown}: {s} is not supported "
                        "(use positive sizes, 0 to copy, -1 to infer)", "use 0, -1 or a size")
    total = product(x.shape)
    total_src = Derived("element count of the input", tuple(inp(0, j) for j in range(x.rank)))
    if not any(s.__class__ is int and s == -1 for s in spec):
        target = product(dims)
        target_src = Derived("product of the target sizes", tuple(srcs))
        if not holes(total) and not holes(target) and compare(total, target) is not Truth.YES:
            involved = (("input elements", total, total_src),
                        ("target elements", target, target_src))
            pinned = _pinned(x, shown, total, target, involved)
            return pinned or Fail(
                SG_RESHAPE, f"cannot reshape {x} ({dim_str(total)} elements) to "
                f"{shown} ({dim_str(target)} elements)",
                "pick target sizes whose product is the element count, or use -1 for "
                "one of them", involved)
        eq = Eq(total, total_src, target, target_src, "input elements", "target elements")
        return tuple(dims), tuple(srcs), (eq,), False
    k = next(i for i, s in enumerate(spec) if s.__class__ is int and s == -1)
    known = product(d for i, d in enumerate(dims) if i != k)
    rest = exact_div(total, known) if known != 0 else None
    if rest is None:
        if holes(total) or holes(known):
            dims[k] = Hole.fresh("reshape -1")
            return tuple(dims), tuple(srcs), (), True
        return Fail(SG_RESHAPE, f"cannot reshape {x} ({dim_str(total)} elements) to "
                    f"{shown}: {dim_str(known)} does not divide {dim_str(total)}",
                    "pick target sizes whose product divides the element count",
                    (("input elements", total, total_src),
                     ("known target elements", known, Derived(
                         "product of the target sizes but -1",
                         tuple(s for i, s in enumerate(srcs) if i != k)))))
    dims[k] = rest
    srcs[k] = Derived("reshape: inferred -1", tuple(inp(0, j) for j in range(x.rank)))
    return tuple(dims), tuple(srcs), (), False


def _pinned(x: TensorType, shown: str, total: Dim, target: Dim,
            involved: tuple[tuple[str, Dim, Src], ...]) -> Fail | None:
    """SG212: a constant target holds the input's elements only for one value of a symbol
    (``(1, 9216)`` for an input of ``N*9216`` elements: only N = 1 fits)."""
    ratio = exact_div(total, target)
    if (ratio is None or ratio.__class__ is int or not syms(ratio) or holes(ratio)
            or compare(ratio, 1) is not Truth.UNKNOWN):
        return None
    r = dim_str(ratio)
    names = ", ".join(f"`{s.name}`" for s in sorted(syms(ratio), key=lambda s: s.name))
    who = "batch size " if x.rank and ratio == x.shape[0] else ""
    return Fail(SG_PINNED, f"reshape target {shown} holds {dim_str(target)} elements, but "
                f"{x} holds {dim_str(total)}: the target pins {r} to 1, so the model only "
                f"works for {who}{r} = 1",
                f"compute the target from the input's shape (Shape -> Gather -> Concat), or "
                f"use 0 (copy) or -1 (infer) where the target fixes the size of {names}",
                involved)


def _reshape_target(
    ins: tuple[TensorType, ...], attrs: Attrs
) -> tuple[tuple[Dim, ...], tuple[Src, ...] | None] | RuleResult:
    """The target sizes and their sources: the ``shape`` attribute, or ONNX Reshape's
    second input, whose value must be known (a constant, or computed from shapes)."""
    if len(ins) == 1:
        return tuple(attrs["shape"]), None
    t, v = ins[1], input_values(attrs, 2)[1]
    if t.rank != 1:
        return rank_fail("reshape target", t, "a 1-D int64 shape vector")
    if v is None or any(e.__class__ is float for e in v.elems):
        n = t.shape[0]
        if n.__class__ is not int:
            return Fail(SG_CONFIG, f"reshape: the rank of the output depends on {t}, whose "
                        "length is not known", "give the target as a constant")
        unknown = Derived("reshape: target not known", ())
        dims = tuple(Hole.fresh("reshape target") for _ in range(n))
        return Out((TensorType(dims, ins[0].dtype),), ((unknown,) * n,), (), True)
    return tuple(v.elems), passed_on(1, v.size)  # type: ignore[arg-type]


def _reshape_rule(
    ins: tuple[TensorType, ...], params: Mapping[str, tuple[Dim, ...]], attrs: Attrs
) -> RuleResult:
    target = _reshape_target(ins, attrs)
    if isinstance(target, (Out, Fail)):
        return target
    r = reshape_dims(ins[0], *target, allowzero=attrs["allowzero"])
    if isinstance(r, Fail):
        if r.code == SG_PINNED and len(ins) == 2:  # an ONNX Reshape: say how to export it
            return replace(r, help=r.help + _EXPORT_HELP)
        return r
    dims, srcs, eqs, pending = r
    return Out((TensorType(dims, ins[0].dtype),), (srcs,), eqs, pending)


_EXPORT_HELP = ("; in the ONNX graph, a target of [0, -1] keeps the batch (from PyTorch, "
                "flatten with x.flatten(1) and export with torch.onnx.export(..., "
                "dynamic_axes={'input': {0: 'N'}}))")


def _reshape_values(
    ins: tuple[TensorType, ...], vals: tuple[Val | None, ...], attrs: Attrs
) -> tuple[Val | None, ...]:
    """Reshaping a known value keeps its elements (a constant folded in place)."""
    v = vals[0]
    if v is None:
        return (None,)
    target = _reshape_target(ins, attrs)
    if isinstance(target, (Out, Fail)):
        return (None,)
    r = reshape_dims(TensorType(v.shape), *target, allowzero=attrs["allowzero"])
    if isinstance(r, Fail) or not all(d.__class__ is int for d in r[0]):
        return (None,)
    return (v.reshaped(tuple(int(d) for d in r[0])),)  # type: ignore[arg-type]


def _reshape_ref(
    ins: Sequence[np.ndarray], params: Mapping[str, np.ndarray], attrs: Attrs
) -> tuple[np.ndarray, ...]:
    x = ins[0]
    spec = attrs["shape"] if len(ins) == 1 else [int(s) for s in ins[1]]
    r = reshape_dims(TensorType(x.shape), spec, allowzero=attrs["allowzero"])
    if isinstance(r, Fail):
        raise ValueError(r.message)
    return (x.reshape(tuple(as_int(d) for d in r[0])),)


RESHAPE = register(OpDef("reshape", _reshape_rule, _reshape_ref, arity=(1, 2),
                         index_inputs=(1,), value_rule=_reshape_values,
                         out_rank=lambda r, a: None if a["shape"] is None else len(a["shape"]),
                         schema=(Attr("shape", "ints", None, optional=True),
                                 # ONNX's allowzero: a 0 in the target is a size of 0
                                 Attr("allowzero", "bool", False)),
                         doc="reshape to attrs['shape'] or (ONNX) to the value of input 1; "
                             "0 copies a dim (is 0 with allowzero), -1 is inferred",
                         lowering=Lowering("alias")))


def _transpose_rule(
    ins: tuple[TensorType, ...], params: Mapping[str, tuple[Dim, ...]], attrs: Attrs
) -> RuleResult:
    x = ins[0]
    axes = attrs["axes"] or tuple(reversed(range(x.rank)))
    norm = [norm_axis(a, x.rank) for a in axes]
    if len(axes) != x.rank:
        return rank_fail("transpose", x, f"rank {len(axes)} (axes={tuple(axes)})",
                         "give one axis per dimension of the input")
    if None in norm or len(set(norm)) != x.rank:
        return Fail(SG_CONFIG, f"transpose: axes={tuple(axes)} is not a permutation of the "
                    f"{x.rank} axes of {x}", "give each axis exactly once")
    perm = [int(a) for a in norm]  # type: ignore[arg-type]
    out = TensorType(tuple(x.shape[a] for a in perm), x.dtype)
    return Out((out,), (tuple(inp(0, a) for a in perm),))


def _transpose_ref(
    ins: Sequence[np.ndarray], params: Mapping[str, np.ndarray], attrs: Attrs
) -> tuple[np.ndarray, ...]:
    return (np.transpose(ins[0], attrs["axes"] or None),)


TRANSPOSE = register(OpDef("transpose", _transpose_rule, _transpose_ref,
                           doc="permute axes (default: reverse)",
                           schema=(Attr("axes", "ints", None, optional=True),),
    lowering=Lowering("transpose")))


def _concat_rule(
    ins: tuple[TensorType, ...], params: Mapping[str, tuple[Dim, ...]], attrs: Attrs
) -> RuleResult:
    first = ins[0]
    for i, t in enumerate(ins[1:], 1):
        if t.rank != first.rank:
            return rank_fail(f"concat input {i}", t, f"rank {first.rank} like input 0 ({first})")
    axis = norm_axis(attrs["axis"], first.rank)
    if axis is None:
        return axis_fail("concat", first, attrs["axis"])
    eqs = [
        Eq(first.shape[j], inp(0, j), t.shape[j], inp(i, j), f"input 0 dim {j}",
           f"input {i} dim {j}")
        for i, t in enumerate(ins[1:], 1) for j in range(first.rank) if j != axis
        if first.shape[j] is not t.shape[j] and not (
            type(first.shape[j]) is int and first.shape[j] == t.shape[j])
    ]
    size: Dim = 0
    for t in ins:
        size = add(size, t.shape[axis])
    shape = (*first.shape[:axis], size, *first.shape[axis + 1:])
    srcs: list[Src] = [inp(0, j) for j in range(first.rank)]
    srcs[axis] = Derived(f"concat: sum of dim {axis} of the inputs",
                         tuple(inp(i, axis) for i in range(len(ins))))
    return Out((TensorType(shape, first.dtype),), (tuple(srcs),), tuple(eqs))


def _concat_ref(
    ins: Sequence[np.ndarray], params: Mapping[str, np.ndarray], attrs: Attrs
) -> tuple[np.ndarray, ...]:
    return (np.concatenate(list(ins), axis=attrs["axis"]),)


def _concat_values(
    ins: tuple[TensorType, ...], vals: tuple[Val | None, ...], attrs: Attrs
) -> tuple[Val | None, ...]:
    """Joining 1-D vectors (shape vectors, ONNX's ``Concat(axis=0)``) keeps each element
    and its source; other known values are folded."""
    if any(v is None for v in vals):
        return (None,)
    axis = attrs["axis"]
    if all(len(v.shape) == 1 for v in vals) and axis in (0, -1):  # type: ignore[union-attr]
        elems = tuple(e for v in vals for e in v.elems)  # type: ignore[union-attr]
        srcs = tuple(FromValue(i, k) for i, v in enumerate(vals)
                     for k in range(v.size))  # type: ignore[union-attr]
        return (Val((len(elems),), elems, srcs, vals[0].dtype),)  # type: ignore[union-attr]
    return (fold(lambda *a: np.concatenate(a, axis=axis), vals),)


CONCAT = register(OpDef("concat", _concat_rule, _concat_ref, arity=(1, None),
                        value_rule=_concat_values,
                        doc="join along attrs['axis'] (default 1); other dims must agree",
                        onnx="Concat",
                        schema=(Attr("axis", "int", 1, onnx="axis"),),
                        lowering=Lowering("concat")))

__all__ = ["CONCAT", "FLATTEN", "RESHAPE", "TRANSPOSE", "reshape_dims"]
