"""batchnorm (inference: running statistics) and layernorm."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from shapegraph.core.dims import Dim
from shapegraph.core.types import TensorType
from shapegraph.opset.base import (
    Attr,
    Attrs,
    Eq,
    FromParam,
    Lowering,
    OpDef,
    Out,
    ParamDecl,
    RuleResult,
    inp,
    pass_through,
    positive,
)
from shapegraph.opset.common import axis_fail, norm_axis
from shapegraph.opset.registry import register

__all__ = ["BATCHNORM", "LAYERNORM"]

_IN_CHANNELS = Attr("in_channels", "int", None, optional=True, check=positive)
_BN_ROLES = (("gamma", "gamma"), ("beta", "beta"), ("running_mean", "running_mean"),
             ("running_var", "running_var"))


def _channel_params(attrs: Attrs, roles: Sequence[tuple[str, str]]) -> tuple[ParamDecl, ...]:
    c = attrs["in_channels"]
    note = f"in_channels={c} declared" if c else ""
    return tuple(ParamDecl(role, (c,), (note,), ("in_channels",), init=init)
                 for role, init in roles)


def _channel_rule(what: str, roles: Sequence[str]):  # type: ignore[no-untyped-def]
    def rule(
        ins: tuple[TensorType, ...], params: Mapping[str, tuple[Dim, ...]], attrs: Attrs
    ) -> RuleResult:
        x = ins[0]
        axis = norm_axis(attrs["axis"], x.rank)
        if axis is None:
            return axis_fail(what, x, attrs["axis"])
        first = roles[0]
        eqs = (Eq(x.shape[axis], inp(0, axis), params[first][0], FromParam(first, 0),
                  f"input dim {axis} (channels)", f"{first} size"),
               *(Eq(params[first][0], FromParam(first, 0), params[r][0], FromParam(r, 0),
                    f"{first} size", f"{r} size") for r in roles[1:]))
        return Out((x,), (pass_through(x.rank),), eqs)

    return rule


def _bn_ref(
    ins: Sequence[np.ndarray], params: Mapping[str, np.ndarray], attrs: Attrs
) -> tuple[np.ndarray, ...]:
    x = ins[0]
    axis = norm_axis(attrs["axis"], x.ndim)
    assert axis is not None
    shape = [1] * x.ndim
    shape[axis] = -1

    def p(role: str) -> np.ndarray:
        return params[role].astype(np.float64).reshape(shape)

    eps = attrs["epsilon"]
    gamma = p("gamma") if attrs["scale"] else 1.0
    beta = p("beta") if attrs["center"] else 0.0
    y = (x - p("running_mean")) / np.sqrt(p("running_var") + eps) * gamma + beta
    return (y.astype(x.dtype),)


BATCHNORM = register(OpDef(
    "batchnorm",
    _channel_rule("BatchNorm", [r for r, _ in _BN_ROLES]),
    _bn_ref,
    lambda attrs: _channel_params(attrs, _BN_ROLES),
    lazy_rank=lambda a: None,
    doc="inference batch normalization with running statistics along attrs['axis']",
    lowering=Lowering("batchnorm"),
    schema=(Attr("axis", "int", 1), Attr("epsilon", "float", 1e-5),
            Attr("center", "bool", True), Attr("scale", "bool", True), _IN_CHANNELS)))


def _ln_ref(
    ins: Sequence[np.ndarray], params: Mapping[str, np.ndarray], attrs: Attrs
) -> tuple[np.ndarray, ...]:
    x = ins[0].astype(np.float64)
    axis, eps = attrs["axis"], attrs["epsilon"]
    mean = x.mean(axis=axis, keepdims=True)
    var = x.var(axis=axis, keepdims=True)
    shape = [1] * x.ndim
    shape[axis] = -1
    y = (x - mean) / np.sqrt(var + eps)
    y = y * params["gamma"].reshape(shape) + params["beta"].reshape(shape)
    return (y.astype(ins[0].dtype),)


LAYERNORM = register(OpDef(
    "layernorm",
    _channel_rule("LayerNorm", ("gamma", "beta")),
    _ln_ref,
    lambda attrs: _channel_params(attrs, (("gamma", "gamma"), ("beta", "beta"))),
    lazy_rank=lambda a: None,
    doc="layer normalization along attrs['axis'] (default -1)",
    lowering=Lowering("layernorm"),
    schema=(Attr("axis", "int", -1), Attr("epsilon", "float", 1e-5), _IN_CHANNELS)))
