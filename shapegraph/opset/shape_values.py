"""Ops that compute shapes inside a graph (ONNX semantics, opset 13+): shape, gather,
unsqueeze, squeeze, slice, cast, constant_of_shape.

Their value rules carry shape vectors symbolically (``Shape(x)`` of ``(batch, 64, 7, 7)`` is
the vector ``(batch, 64, 7, 7)``, each element sourced from ``x``'s dim) and fold small
constants; see :mod:`shapegraph.opset.values` (``constant`` is in ``misc``, ``concat``
and ``reshape`` in ``shape_ops``, the arithmetic in ``elementwise``). None of them has an
executor kernel yet: a graph that uses them checks and infers; lowering must fold them
(their values are known) or give them kernels.

>>> import numpy as np
>>> from shapegraph.core.dims import Sym
>>> from shapegraph.core.types import TensorType
>>> x = TensorType((Sym("batch"), 64, 7, 7))
>>> (v,) = SHAPE.value_rule((x,), (None,), {})
>>> v.elems
(Sym('batch'), 64, 7, 7)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from shapegraph.core.dims import Dim, Hole, add, sub
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
    pass_through,
)
from shapegraph.opset.common import axis_fail, norm_axis, rank_fail
from shapegraph.opset.registry import register
from shapegraph.opset.values import (
    FromValue,
    Val,
    fold,
    input_values,
    passed_on,
    value_source,
    vector_ints,
)

__all__ = ["CAST", "CONSTANT_OF_SHAPE", "GATHER", "SHAPE", "SLICE", "SQUEEZE",
           "UNSQUEEZE"]

# shape arithmetic runs at plan time in ONNX models; no compiled kernel yet
_NO_KERNEL = "shape arithmetic: its numpy reference runs between compiled segments"

SG_CONFIG = "SG210"
_Params = Mapping[str, tuple[Dim, ...]]
_Ins = tuple[TensorType, ...]
_Vals = tuple[Val | None, ...]
_Ref = tuple[np.ndarray, ...]


def _out(t: TensorType, srcs: Sequence[Src], pending: bool = False,
         eqs: tuple[Eq, ...] = ()) -> Out:
    return Out((t,), (tuple(srcs),), eqs, pending)


# --------------------------------------------------------------------------- shape


def _shape_range(rank: int, attrs: Attrs) -> range:
    start, end = attrs["start"], attrs["end"]
    end = rank if end is None else end
    start, end = (s + rank if s < 0 else s for s in (start, end))
    return range(max(0, min(start, rank)), max(0, min(end, rank)))


def _shape_rule(ins: _Ins, params: _Params, attrs: Attrs) -> RuleResult:
    n = len(_shape_range(ins[0].rank, attrs))
    return _out(TensorType((n,), "int64"), (Derived("rank of the input", ()),))


@value_source
def _shape_values(ins: _Ins, vals: _Vals, attrs: Attrs) -> _Vals:
    x, js = ins[0], _shape_range(ins[0].rank, attrs)
    return (Val((len(js),), tuple(x.shape[j] for j in js), tuple(inp(0, j) for j in js)),)


def _shape_ref(ins: Sequence[np.ndarray], params: Mapping[str, np.ndarray],
               attrs: Attrs) -> _Ref:
    js = _shape_range(ins[0].ndim, attrs)
    return (np.array([ins[0].shape[j] for j in js], dtype=np.int64),)


SHAPE = register(OpDef("shape", _shape_rule, _shape_ref, lazy_rank=lambda a: None,
                       out_rank=lambda r, a: 1, value_rule=_shape_values,
                       doc="ONNX Shape: the int64 vector of the input's dims", onnx="Shape",
                       schema=(Attr("start", "int", 0, onnx="start"),
                               Attr("end", "int", None, optional=True, onnx="end")),
    no_kernel=_NO_KERNEL))


# --------------------------------------------------------------------------- gather


def _gather_rule(ins: _Ins, params: _Params, attrs: Attrs) -> RuleResult:
    data, idx = ins
    axis = norm_axis(attrs["axis"], data.rank)
    if axis is None:
        return axis_fail("gather", data, attrs["axis"])
    n = data.shape[axis]
    index = vector_ints(input_values(attrs, 2)[1])
    if index is not None and n.__class__ is int:
        bad = [i for i in index if not -n <= i < n]
        if bad:
            return Fail(SG_CONFIG, f"gather: index {bad[0]} is out of range for axis {axis} "
                        f"of {data} (size {n})", f"use indices from {-n} to {n - 1}",
                        ((f"input dim {axis}", n, inp(0, axis)),))
    shape = (*data.shape[:axis], *idx.shape, *data.shape[axis + 1:])
    srcs = ([inp(0, j) for j in range(axis)] + [inp(1, j) for j in range(idx.rank)]
            + [inp(0, j) for j in range(axis + 1, data.rank)])
    return _out(TensorType(shape, data.dtype), srcs)


def _gather_values(ins: _Ins, vals: _Vals, attrs: Attrs) -> _Vals:
    data, index = vals[0], vals[1]
    idx = vector_ints(index)
    if data is None or idx is None or len(data.shape) != 1 or attrs["axis"] not in (
            0, -1):
        return (fold(lambda d, i: np.take(d, i, axis=attrs["axis"]), vals),)
    n = data.size
    picks = [i + n if i < 0 else i for i in idx]
    if any(not 0 <= k < n for k in picks):
        return (None,)
    shape = tuple(index.shape)  # type: ignore[union-attr]
    return (Val(shape, tuple(data.elems[k] for k in picks),
                tuple(FromValue(0, k) for k in picks), data.dtype),)


def _gather_ref(ins: Sequence[np.ndarray], params: Mapping[str, np.ndarray],
                attrs: Attrs) -> _Ref:
    return (np.take(ins[0], ins[1], axis=attrs["axis"]),)


GATHER = register(OpDef("gather", _gather_rule, _gather_ref, arity=(2, 2), index_inputs=(1,),
                        out_rank=lambda r, a: r[0] + r[1] - 1, value_rule=_gather_values,
                        onnx="Gather",
                        doc="ONNX Gather: pick entries along attrs['axis'] (negative "
                            "indices count from the end)",
                        schema=(Attr("axis", "int", 0, onnx="axis"),),
    no_kernel=_NO_KERNEL))


# --------------------------------------------------------------------------- unsqueeze, squeeze


def _unsqueeze_rule(ins: _Ins, params: _Params, attrs: Attrs) -> RuleResult:
    x = ins[0]
    rank = x.rank + len(attrs["axes"])
    axes = sorted(norm_axis(int(a), rank) for a in attrs["axes"])  # type: ignore[type-var]
    if None in axes or len(set(axes)) != len(axes):
        return Fail(SG_CONFIG, f"unsqueeze: axes={tuple(attrs['axes'])} are not distinct axes "
                    f"of the rank-{rank} output", f"use distinct axes from {-rank} to {rank - 1}")
    dims: list[Dim] = []
    srcs: list[Src] = []
    j = 0
    for k in range(rank):
        if k in axes:
            dims.append(1)
            srcs.append(FromAttr("axes"))
        else:
            dims.append(x.shape[j])
            srcs.append(inp(0, j))
            j += 1
    return _out(TensorType(tuple(dims), x.dtype), srcs)


def _squeeze_axes(x: TensorType, attrs: Attrs) -> list[int | None]:
    axes = attrs["axes"]
    if axes is None:
        return [j for j, d in enumerate(x.shape) if d.__class__ is int and d == 1]
    return [norm_axis(int(a), x.rank) for a in axes]


def _squeeze_rule(ins: _Ins, params: _Params, attrs: Attrs) -> RuleResult:
    x = ins[0]
    axes = _squeeze_axes(x, attrs)
    if None in axes:
        return axis_fail("squeeze", x, attrs["axes"])
    eqs = tuple(Eq(x.shape[a], inp(0, a), 1, FromAttr("axes"), f"input dim {a}",  # type: ignore[index]
                   "squeezed size") for a in axes if x.shape[a] != 1)  # type: ignore[index]
    keep = [j for j in range(x.rank) if j not in axes]
    pending = attrs["axes"] is None and any(isinstance(d, Hole) for d in x.shape)
    return _out(TensorType(tuple(x.shape[j] for j in keep), x.dtype),
                [inp(0, j) for j in keep], pending, eqs)


def _unsqueeze_values(ins: _Ins, vals: _Vals, attrs: Attrs) -> _Vals:
    r = _unsqueeze_rule(ins, {}, attrs)
    if vals[0] is None or isinstance(r, Fail):
        return (None,)
    return (vals[0].reshaped(tuple(int(d) for d in r.types[0].shape)),)  # type: ignore[arg-type]


def _squeeze_values(ins: _Ins, vals: _Vals, attrs: Attrs) -> _Vals:
    r = _squeeze_rule(ins, {}, attrs)
    if vals[0] is None or isinstance(r, Fail):
        return (None,)
    return (vals[0].reshaped(tuple(int(d) for d in r.types[0].shape)),)  # type: ignore[arg-type]


def _unsqueeze_ref(ins: Sequence[np.ndarray], params: Mapping[str, np.ndarray],
                   attrs: Attrs) -> _Ref:
    return (np.expand_dims(ins[0], tuple(int(a) for a in attrs["axes"])),)


def _squeeze_ref(ins: Sequence[np.ndarray], params: Mapping[str, np.ndarray],
                 attrs: Attrs) -> _Ref:
    axes = attrs["axes"]
    return (np.squeeze(ins[0], None if axes is None else tuple(int(a) for a in axes)),)


UNSQUEEZE = register(OpDef("unsqueeze", _unsqueeze_rule, _unsqueeze_ref,
                           out_rank=lambda r, a: r[0] + len(a["axes"]),
                           value_rule=_unsqueeze_values,
                           doc="ONNX Unsqueeze: insert size-1 dims at attrs['axes']",
                           schema=(Attr("axes", "ints"),),
                           lowering=Lowering("alias")))  # a view: same elements, same order
SQUEEZE = register(OpDef("squeeze", _squeeze_rule, _squeeze_ref, value_rule=_squeeze_values,
                         out_rank=lambda r, a: None,
                         doc="ONNX Squeeze: drop the size-1 dims at attrs['axes'] (all, "
                             "without axes)",
                         schema=(Attr("axes", "ints", None, optional=True),),
                         lowering=Lowering("alias")))


# --------------------------------------------------------------------------- slice


def _slice_len(n: Dim, start: int, end: int, step: int) -> Dim | None:
    """``len(range(n)[start:end:step])``, symbolically for the common forms (step 1, start
    counted from the front, end past the end or counted from the back); None otherwise."""
    if n.__class__ is int:
        return len(range(*slice(start, end, step).indices(n)))
    if step != 1 or start < 0:
        return None
    if end >= 2**31 - 1:
        return sub(n, start)
    if end < 0:
        return sub(add(n, end), start)
    return None


def _slice_spec(rank: int, attrs: Attrs) -> list[tuple[int, int, int, int]] | None:
    starts, ends = attrs["starts"], attrs["ends"]
    axes = attrs["axes"] or tuple(range(len(starts)))
    steps = attrs["steps"] or (1,) * len(starts)
    out = []
    for s, e, a, st in zip(starts, ends, axes, steps, strict=True):
        ax = norm_axis(int(a), rank)
        if ax is None or int(st) == 0:
            return None
        out.append((ax, int(s), int(e), int(st)))
    return out


def _slice_rule(ins: _Ins, params: _Params, attrs: Attrs) -> RuleResult:
    x = ins[0]
    spec = _slice_spec(x.rank, attrs)
    if spec is None:
        return Fail(SG_CONFIG, f"slice: axes={attrs['axes']} / steps={attrs['steps']} "
                    f"do not fit {x}", "use axes of the input and non-zero steps")
    dims: list[Dim] = list(x.shape)
    srcs: list[Src] = [inp(0, j) for j in range(x.rank)]
    for ax, s, e, st in spec:
        n = _slice_len(x.shape[ax], s, e, st)
        dims[ax] = Hole.fresh("slice") if n is None else n
        srcs[ax] = Derived(f"slice [{s}:{e}:{st}] of dim {ax}", (inp(0, ax),))
    return _out(TensorType(tuple(dims), x.dtype), srcs)


def _slice_values(ins: _Ins, vals: _Vals, attrs: Attrs) -> _Vals:
    v = vals[0]
    spec = _slice_spec(ins[0].rank, attrs)
    if v is None or spec is None:
        return (None,)
    if len(v.shape) != 1:
        return (fold(lambda a: _slice_ref([a], {}, attrs)[0], vals),)
    ks = list(range(v.size))
    for _, s, e, st in spec:
        ks = ks[slice(s, e, st)]
    return (Val((len(ks),), tuple(v.elems[k] for k in ks), tuple(FromValue(0, k) for k in ks),
                v.dtype),)


def _slice_ref(ins: Sequence[np.ndarray], params: Mapping[str, np.ndarray],
               attrs: Attrs) -> _Ref:
    x = ins[0]
    index = [slice(None)] * x.ndim
    spec = _slice_spec(x.ndim, attrs)
    assert spec is not None
    for ax, s, e, st in spec:
        index[ax] = slice(s, e, st)
    return (x[tuple(index)],)


SLICE = register(OpDef("slice", _slice_rule, _slice_ref, value_rule=_slice_values,
                       out_rank=lambda r, a: r[0],
                       doc="ONNX Slice with constant starts/ends/axes/steps",
                       schema=(Attr("starts", "ints"), Attr("ends", "ints"),
                               Attr("axes", "ints", None, optional=True),
                               Attr("steps", "ints", None, optional=True)),
    no_kernel=_NO_KERNEL))


# --------------------------------------------------------------------------- cast


def _cast_rule(ins: _Ins, params: _Params, attrs: Attrs) -> RuleResult:
    return _out(TensorType(ins[0].shape, str(attrs["to"])), pass_through(ins[0].rank))


def _cast_values(ins: _Ins, vals: _Vals, attrs: Attrs) -> _Vals:
    v, to = vals[0], str(attrs["to"])
    if v is None:
        return (None,)
    if v.is_concrete:
        return (fold(lambda a: a.astype(to), vals),)
    if np.dtype(to).kind in "iu":  # symbolic sizes stay what they are as integers
        return (Val(v.shape, v.elems, passed_on(0, v.size), to),)
    return (None,)


def _cast_ref(ins: Sequence[np.ndarray], params: Mapping[str, np.ndarray],
              attrs: Attrs) -> _Ref:
    return (ins[0].astype(str(attrs["to"])),)


CAST = register(OpDef("cast", _cast_rule, _cast_ref, value_rule=_cast_values,
                      lazy_rank=lambda a: None, out_rank=lambda r, a: r[0],
                      doc="ONNX Cast to attrs['to'] (a numpy dtype name)",
                      schema=(Attr("to", "dtype"),),
    no_kernel=_NO_KERNEL))


# --------------------------------------------------------------------------- constant_of_shape


def _cos_rule(ins: _Ins, params: _Params, attrs: Attrs) -> RuleResult:
    dtype = str(attrs["value"].dtype)
    if ins[0].rank != 1:
        return rank_fail("ConstantOfShape", ins[0], "a 1-D int64 shape vector")
    v = input_values(attrs, 1)[0]
    if v is None:  # the shape is not known (yet): its rank is, when the vector's length is
        n = ins[0].shape[0]
        if n.__class__ is not int:
            return Fail(SG_CONFIG, f"ConstantOfShape: the rank of the output depends on "
                        f"{ins[0]}, whose length is not known", "give the shape as a constant")
        unknown = Derived("ConstantOfShape: shape not known", ())
        return _out(TensorType(tuple(Hole.fresh("shape") for _ in range(n)), dtype),
                    (unknown,) * n, pending=True)
    bad = [e for e in v.elems if (e.__class__ is int and e < 0) or e.__class__ is float]
    if bad:
        return Fail(SG_CONFIG, f"ConstantOfShape: shape element {bad[0]} is not a size",
                    "give a vector of non-negative sizes")
    dims = tuple(v.elems)
    return _out(TensorType(dims, dtype), passed_on(0, v.size))  # type: ignore[arg-type]


def _cos_values(ins: _Ins, vals: _Vals, attrs: Attrs) -> _Vals:
    fill = attrs["value"].reshape(-1)[0]
    return (fold(lambda s: np.full(tuple(int(d) for d in s), fill), vals),)


def _cos_ref(ins: Sequence[np.ndarray], params: Mapping[str, np.ndarray],
             attrs: Attrs) -> _Ref:
    fill = attrs["value"].reshape(-1)
    return (np.full(tuple(int(d) for d in ins[0]), fill[0], dtype=fill.dtype),)


CONSTANT_OF_SHAPE = register(OpDef(
    "constant_of_shape", _cos_rule, _cos_ref, value_rule=_cos_values, index_inputs=(0,),
    out_rank=lambda r, a: None,
    doc="ONNX ConstantOfShape: a tensor filled with attrs['value'] (default 0.0), shaped by "
        "the input's value",
    schema=(Attr("value", "array", np.zeros(1, np.float32),
                 check=lambda v: "" if v.size == 1 else "must hold one value"),),
    no_kernel=_NO_KERNEL))

