"""dense (Gluon's Dense, flatten=True/False) and matmul (numpy ``@``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from math import prod

import numpy as np

from shapegraph.core.dims import Dim, product
from shapegraph.core.types import TensorType
from shapegraph.opset.base import (
    Attr,
    Attrs,
    Derived,
    Eq,
    FromParam,
    Lowering,
    OpDef,
    Out,
    ParamDecl,
    RuleResult,
    Src,
    inp,
    positive,
    with_bias,
)
from shapegraph.opset.common import broadcast, rank_fail
from shapegraph.opset.registry import register

_W0 = FromParam("weight", 0)
_W1 = FromParam("weight", 1)
_X1 = inp(0, 1)
_NEW = tuple.__new__
_FLAT_SRCS = ((inp(0, 0), _W0),)


def _dense_params(attrs: Attrs) -> tuple[ParamDecl, ...]:
    units = attrs["units"]
    in_units = attrs["in_units"]
    weight = ParamDecl(
        "weight",
        (units, in_units),
        (f"units={units}", f"in_units={in_units} declared" if in_units else ""),
        ("", "in_units"),
    )
    return with_bias(attrs, weight, units, f"units={units}")


def _dense_rule(
    ins: tuple[TensorType, ...], params: Mapping[str, tuple[Dim, ...]], attrs: Attrs
) -> RuleResult:
    x = ins[0]
    shape_in = x.shape
    rank = len(shape_in)
    w = params["weight"]
    if attrs["flatten"]:
        if rank < 2:
            return rank_fail("Dense (flatten=True)", x, "rank >= 2 (batch, features...)")
        if rank == 2:
            feat: Dim = shape_in[1]
            feat_src: Src = _X1
        else:
            feat = product(shape_in[1:])
            feat_src = Derived("flattened input dims 1..", tuple(inp(0, j) for j in range(1, rank)))
        # NamedTuples built with tuple.__new__: this rule runs once per Dense in a network
        out = _NEW(TensorType, ((shape_in[0], w[0]), x.dtype))
        eq = _NEW(Eq, (feat, feat_src, w[1], _W1, "input features", "weight in_units", ""))
        return _NEW(Out, ((out,), _FLAT_SRCS, (eq,), False))
    if rank < 1:
        return rank_fail("Dense (flatten=False)", x, "rank >= 1")
    shape = (*shape_in[:-1], w[0])
    srcs = (*(inp(0, j) for j in range(rank - 1)), _W0)
    hint = (f"this Dense has flatten=False, so it works on the last axis of {x} only; "
            "add a Flatten() before it (or use flatten=True) if it should see every feature"
            if rank > 2 else "")
    eq = Eq(shape_in[-1], inp(0, rank - 1), w[1], _W1, "input features", "weight in_units",
            hint)
    return Out((TensorType(shape, x.dtype),), (srcs,), (eq,))


def _dense_ref(
    ins: Sequence[np.ndarray], params: Mapping[str, np.ndarray], attrs: Attrs
) -> tuple[np.ndarray, ...]:
    x, w = ins[0], params["weight"]
    if attrs["flatten"]:
        y = x.reshape(x.shape[0], prod(x.shape[1:])) @ w.T  # no -1: a batch may be 0
    else:
        y = (x.reshape(prod(x.shape[:-1]), x.shape[-1]) @ w.T).reshape(*x.shape[:-1], w.shape[0])
    if "bias" in params:
        y = y + params["bias"]
    return (y.astype(x.dtype, copy=False),)


def _dense_macs(ins: Sequence[TensorType], outs: Sequence[TensorType],
                params: Mapping[str, tuple[Dim, ...]], attrs: Attrs) -> Dim:
    """One multiply-add per output element and input feature."""
    return product((*outs[0].shape, params["weight"][1]))


def _matmul_macs(ins: Sequence[TensorType], outs: Sequence[TensorType],
                 params: Mapping[str, tuple[Dim, ...]], attrs: Attrs) -> Dim:
    """One multiply-add per output element and element of the contracted axis."""
    return product((*outs[0].shape, ins[0].shape[-1]))


DENSE = register(OpDef(
    "dense", _dense_rule, _dense_ref, _dense_params, (1, 1),
    # flatten=False keeps the input's rank; flatten=True takes any rank of at least 2 (and
    # so never decides an unknown one)
    lazy_rank=lambda a: 2 if a["flatten"] else None, any_rank=True,
    out_rank=lambda r, a: 2 if a["flatten"] else r[0],
    doc="y = x @ weight.T + bias; flatten=True first reshapes x to (batch, -1)",
    lowering=Lowering("dense"), macs=_dense_macs,
    schema=(Attr("units", "int", check=positive),
            Attr("in_units", "int", None, optional=True, check=positive),
            Attr("use_bias", "bool", True), Attr("flatten", "bool", True))))


def _matmul_rule(
    ins: tuple[TensorType, ...], params: Mapping[str, tuple[Dim, ...]], attrs: Attrs
) -> RuleResult:
    a, b = ins
    if a.rank < 1 or b.rank < 1:
        return rank_fail("matmul", a if a.rank < 1 else b, "rank >= 1")
    a2 = a if a.rank > 1 else TensorType((1, *a.shape), a.dtype)
    b2 = b if b.rank > 1 else TensorType((*b.shape, 1), b.dtype)
    eq = Eq(a2.shape[-1], inp(0, a.rank - 1), b2.shape[-2], inp(1, max(b.rank - 2, 0)),
            "left operand columns", "right operand rows")
    batch = broadcast([a2.with_shape(a2.shape[:-2]), b2.with_shape(b2.shape[:-2])], "matmul")
    if not isinstance(batch, tuple):
        return batch
    dims, srcs, pending = batch
    shape = list(dims)
    src = list(srcs)
    if a.rank > 1:
        shape.append(a.shape[-2])
        src.append(inp(0, a.rank - 2))
    if b.rank > 1:
        shape.append(b.shape[-1])
        src.append(inp(1, b.rank - 1))
    return Out((TensorType(tuple(shape), a.dtype),), (tuple(src),), (eq,), pending)


def _matmul_ref(
    ins: Sequence[np.ndarray], params: Mapping[str, np.ndarray], attrs: Attrs
) -> tuple[np.ndarray, ...]:
    return (np.matmul(ins[0], ins[1]),)


MATMUL = register(OpDef("matmul", _matmul_rule, _matmul_ref, arity=(2, 2),
                        doc="numpy matmul semantics, batch dims broadcast",
    lowering=Lowering("matmul"), onnx="MatMul", macs=_matmul_macs))
