"""dropout (identity at inference), embedding, constant, param (a parameter as a tensor),
unsupported (an imported node shapegraph cannot check: one diagnostic of its own)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from shapegraph.core.dims import Dim
from shapegraph.core.types import TensorType
from shapegraph.opset.base import (
    Attr,
    Attrs,
    Fail,
    FromAttr,
    FromParam,
    Lowering,
    OpDef,
    Out,
    ParamDecl,
    RuleResult,
    pass_through,
    positive,
)
from shapegraph.opset.registry import register
from shapegraph.opset.values import Val, as_val, value_source

__all__ = ["CONSTANT", "DROPOUT", "EMBEDDING", "PARAM", "UNSUPPORTED"]


def _dropout_rule(
    ins: tuple[TensorType, ...], params: Mapping[str, tuple[Dim, ...]], attrs: Attrs
) -> RuleResult:
    return Out((ins[0],), (pass_through(ins[0].rank),))


def _identity_ref(
    ins: Sequence[np.ndarray], params: Mapping[str, np.ndarray], attrs: Attrs
) -> tuple[np.ndarray, ...]:
    return (ins[0],)


DROPOUT = register(OpDef("dropout", _dropout_rule, _identity_ref, same_shape=True,
                         lazy_rank=lambda a: None,
                         doc="identity at inference (rate is kept for export)",
                         schema=(Attr("rate", "float", 0.5, check=lambda r: "" if 0 <= r < 1
                                      else "must be in [0, 1)"),),
    lowering=Lowering("alias"), onnx="Identity"))


def _embedding_params(attrs: Attrs) -> tuple[ParamDecl, ...]:
    n, d = attrs["input_dim"], attrs["output_dim"]
    return (ParamDecl("weight", (n, d), (f"input_dim={n}", f"output_dim={d}"), ("", "")),)


def _embedding_rule(
    ins: tuple[TensorType, ...], params: Mapping[str, tuple[Dim, ...]], attrs: Attrs
) -> RuleResult:
    x = ins[0]
    w = params["weight"]
    out = TensorType((*x.shape, w[1]), "float32")
    return Out((out,), ((*pass_through(x.rank), FromParam("weight", 1)),))


def _embedding_ref(
    ins: Sequence[np.ndarray], params: Mapping[str, np.ndarray], attrs: Attrs
) -> tuple[np.ndarray, ...]:
    w = params["weight"]
    idx = np.asarray(ins[0]).astype(np.int64)
    if idx.size and (idx.min() < 0 or idx.max() >= w.shape[0]):
        raise IndexError(f"embedding index out of range [0, {w.shape[0]})")
    return (w[idx],)


EMBEDDING = register(OpDef("embedding", _embedding_rule, _embedding_ref, _embedding_params,
                           lazy_rank=lambda a: None, out_rank=lambda r, a: r[0] + 1,
                           index_inputs=(0,),
                           doc="rows of weight (input_dim, output_dim) picked by index",
                           schema=(Attr("input_dim", "int", check=positive),
                                   Attr("output_dim", "int", check=positive)),
    lowering=Lowering("embedding")))


def _constant_rule(
    ins: tuple[TensorType, ...], params: Mapping[str, tuple[Dim, ...]], attrs: Attrs
) -> RuleResult:
    value = attrs["value"]
    src = FromAttr("value")
    return Out((TensorType(tuple(value.shape), str(value.dtype)),),
               (tuple(src for _ in value.shape),))


def _constant_ref(
    ins: Sequence[np.ndarray], params: Mapping[str, np.ndarray], attrs: Attrs
) -> tuple[np.ndarray, ...]:
    return (attrs["value"],)


def _param_decl(attrs: Attrs) -> tuple[ParamDecl, ...]:
    shape = tuple(attrs["shape"])
    return (ParamDecl("value", shape, ("",) * len(shape), ("",) * len(shape)),)


def _param_rule(
    ins: tuple[TensorType, ...], params: Mapping[str, tuple[Dim, ...]], attrs: Attrs
) -> RuleResult:
    dims = params["value"]
    return Out((TensorType(tuple(dims)),), (tuple(FromParam("value", j)
                                                  for j in range(len(dims))),))


def _param_ref(
    ins: Sequence[np.ndarray], params: Mapping[str, np.ndarray], attrs: Attrs
) -> tuple[np.ndarray, ...]:
    return (params["value"],)


PARAM = register(OpDef("param", _param_rule, _param_ref, _param_decl, arity=(0, 0),
                       doc="a parameter's value used as a tensor in forward (a custom "
                           "layer's self.weight.data()); its unknown dims are inferred from "
                           "how forward uses it",
                       schema=(Attr("shape", "dims"),),
    lowering=Lowering("param")))


@value_source
def _constant_values(
    ins: tuple[TensorType, ...], vals: tuple[Val | None, ...], attrs: Attrs
) -> tuple[Val | None, ...]:
    return (as_val(np.asarray(attrs["value"])),)  # None when too large to carry


CONSTANT = register(OpDef("constant", _constant_rule, _constant_ref, arity=(0, 0),
                          value_rule=_constant_values,
                          doc="a constant array (attrs['value'])",
                          schema=(Attr("value", "array"),),
                          lowering=Lowering("constant")))


# --------------------------------------------------------------------------- unsupported


def _unsupported_rule(
    ins: tuple[TensorType, ...], params: Mapping[str, tuple[Dim, ...]], attrs: Attrs
) -> RuleResult:
    """Always a failure: its outputs become unknown dims that absorb every requirement (of
    ``rank`` when the importer knows it), so the rest of the graph is still checked."""
    return Fail("SG213", f"{attrs['op_type']} (opset {attrs['opset']}) is not supported"
                + (f": {attrs['reason']}" if attrs["reason"] else ""),
                attrs["help"] or "see the supported operators in docs/onnx.md; the rest of "
                "the graph was checked without this node's outputs")


def _unsupported_ref(
    ins: Sequence[np.ndarray], params: Mapping[str, np.ndarray], attrs: Attrs
) -> tuple[np.ndarray, ...]:
    raise NotImplementedError(f"{attrs['op_type']} (opset {attrs['opset']}) is not supported")


UNSUPPORTED = register(OpDef(
    "unsupported", _unsupported_rule, _unsupported_ref, arity=(0, None),
    out_rank=lambda r, a: a["rank"],
    doc="an imported node shapegraph does not support (op type, opset and why)",
    no_kernel="an unsupported node never compiles (its check fails first)",
    schema=(Attr("op_type", "str"), Attr("opset", "int"), Attr("reason", "str", ""),
            Attr("help", "str", ""), Attr("rank", "int", None, optional=True))))
