"""Elementwise ops: binary arithmetic with numpy broadcasting, activations (with their
parameters: leaky relu's alpha, clip's bounds), unary math (exp, log, sqrt, abs, square),
softmax.

An activation with a parameter is one record: its numpy reference reads the attribute,
its schema holds the default (the one place), its lowering names the attributes the
kernel takes, its ONNX mapping is the record's op type and the schema's ONNX names:

>>> from shapegraph.opset.registry import get_op
>>> rec = get_op("leaky_relu")
>>> rec.complete({}), rec.lowering.params, rec.onnx
({'alpha': 0.01}, ('alpha',), 'LeakyRelu')
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from shapegraph.core.dims import Dim, add, floordiv, mul, sub
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
    ValueRule,
    inp,
    pass_through,
    positive,
)
from shapegraph.opset.common import axis_fail, broadcast, norm_axis, rank_fail
from shapegraph.opset.registry import register
from shapegraph.opset.values import FromValue, Val, fold

__all__ = ["ACTIVATIONS", "BINARY", "BINARY_CODES", "MATH", "UNARY_CODES"]

_Binary = Callable[[np.ndarray, np.ndarray], np.ndarray]
_Unary = Callable[[np.ndarray], np.ndarray]

BINARY: dict[str, _Binary] = {
    "add": np.add,
    "sub": np.subtract,
    "mul": np.multiply,
    "div": np.divide,
}
# the compiled kernels' codes (executor/kernels.py reads them from here) and ONNX op types
BINARY_CODES = {"add": 0, "sub": 1, "mul": 2, "div": 3}
UNARY_CODES = {"relu": 1, "sigmoid": 2, "tanh": 3, "softrelu": 4, "softsign": 5, "gelu": 6,
               "exp": 7, "log": 8, "sqrt": 9, "abs": 10, "square": 11, "leaky_relu": 12,
               "elu": 13, "selu": 14, "hard_sigmoid": 15, "silu": 16, "clip": 17}
_ONNX = {"add": "Add", "sub": "Sub", "mul": "Mul", "div": "Div", "relu": "Relu",
         "sigmoid": "Sigmoid", "tanh": "Tanh", "softrelu": "Softplus", "softsign": "Softsign",
         "exp": "Exp", "log": "Log", "sqrt": "Sqrt", "abs": "Abs"}


def _binary_rule(
    ins: tuple[TensorType, ...], params: Mapping[str, tuple[Dim, ...]], attrs: Attrs
) -> RuleResult:
    if len(ins) == 2 and ins[0].shape == ins[1].shape:  # the common case: nothing to broadcast
        return Out((ins[0],), (pass_through(len(ins[0].shape)),))
    r = broadcast(ins, "elementwise")
    if not isinstance(r, tuple):
        return r
    dims, srcs, pending = r
    return Out((TensorType(dims, ins[0].dtype),), (srcs,), (), pending)


def _binary_ref(fn: _Binary) -> Callable[..., tuple[np.ndarray, ...]]:
    def ref(
        ins: Sequence[np.ndarray], params: Mapping[str, np.ndarray], attrs: Attrs
    ) -> tuple[np.ndarray, ...]:
        return (fn(ins[0], ins[1]).astype(ins[0].dtype, copy=False),)

    return ref


def _trunc_div(a: Dim, b: Dim) -> Dim | None:
    """Integer division as ONNX (and numpy's int cast) does it: toward zero; a symbolic
    size divides only by a positive constant (sizes are positive, so floor = trunc)."""
    if a.__class__ is int and b.__class__ is int:
        return None if b == 0 else int(a / b)
    if b.__class__ is int and b > 0:
        return floordiv(a, b)
    return None


_DIM_OPS: dict[str, Callable[[Dim, Dim], Dim | None]] = {
    "add": add, "sub": sub, "mul": mul, "div": _trunc_div}


def _binary_values(name: str) -> ValueRule:
    """Arithmetic on shape vectors (``Shape(x)[0] * 64``): element by element, with
    broadcasting of a single element; constants of any shape are folded with numpy."""
    fn, dim_fn = BINARY[name], _DIM_OPS[name]

    def rule(ins: tuple[TensorType, ...], vals: tuple[Val | None, ...],
             attrs: Attrs) -> tuple[Val | None, ...] | None:
        a, b = vals
        if a is None or b is None:
            return None
        if a.is_concrete and b.is_concrete:
            return (fold(lambda x, y: fn(x, y).astype(x.dtype, copy=False), vals),)
        if a.dtype[0] not in "iu" or (a.size != b.size and 1 not in (a.size, b.size)):
            return None
        n = max(a.size, b.size)
        elems, srcs = [], []
        for k in range(n):
            ka, kb = (k if a.size > 1 else 0), (k if b.size > 1 else 0)
            e = dim_fn(a.elems[ka], b.elems[kb])  # type: ignore[arg-type]
            if e is None:
                return None
            elems.append(e)
            srcs.append(Derived(f"{name} of shape values", (FromValue(0, ka), FromValue(1, kb))))
        shape = a.shape if a.size >= b.size else b.shape
        return (Val(shape, tuple(elems), tuple(srcs), a.dtype),)

    return rule


for _name, _fn in BINARY.items():
    register(OpDef(_name, _binary_rule, _binary_ref(_fn), arity=(2, 2), elementwise=True,
                   value_rule=_binary_values(_name),
                   doc=f"elementwise {_name} with numpy broadcasting",
                   lowering=Lowering("binary", BINARY_CODES[_name]), onnx=_ONNX[_name]))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    e = np.exp(-np.abs(x))  # stable on both sides
    out: np.ndarray = np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
    return out


def _gelu(x: np.ndarray) -> np.ndarray:
    from scipy import special  # imported here: scipy costs 0.2 s at start-up

    return 0.5 * x * (1.0 + special.erf(x / np.sqrt(2.0)))  # type: ignore[no-any-return]


ACTIVATIONS: dict[str, _Unary] = {
    "relu": lambda x: np.maximum(x, 0),
    "sigmoid": _sigmoid,
    "tanh": np.tanh,
    "softrelu": lambda x: np.logaddexp(0, x),
    "softsign": lambda x: x / (1 + np.abs(x)),
    "gelu": _gelu,
}


def _same_rule(
    ins: tuple[TensorType, ...], params: Mapping[str, tuple[Dim, ...]], attrs: Attrs
) -> RuleResult:
    return Out((ins[0],), (pass_through(ins[0].rank),))


def _unary_ref(fn: _Unary) -> Callable[..., tuple[np.ndarray, ...]]:
    def ref(
        ins: Sequence[np.ndarray], params: Mapping[str, np.ndarray], attrs: Attrs
    ) -> tuple[np.ndarray, ...]:
        return (np.asarray(fn(ins[0])).astype(ins[0].dtype, copy=False),)

    return ref


for _name, _ufn in ACTIVATIONS.items():
    register(OpDef(_name, _same_rule, _unary_ref(_ufn), elementwise=True, same_shape=True,
                   lazy_rank=lambda a: None, doc=f"{_name} activation, same shape",
                   lowering=Lowering("activation", UNARY_CODES[_name]),
                   onnx=_ONNX.get(_name, "")))


# --------------------------------------------------------------------- with parameters

_SELU_ALPHA, _SELU_GAMMA = 1.6732632423543772, 1.0507009873554805  # ONNX's defaults


def _param_ref(fn: Callable[[np.ndarray, Attrs], np.ndarray]) -> Callable[
        ..., tuple[np.ndarray, ...]]:
    def ref(ins: Sequence[np.ndarray], params: Mapping[str, np.ndarray],
            attrs: Attrs) -> tuple[np.ndarray, ...]:
        x = ins[0]
        with np.errstate(all="ignore"):
            y = fn(x.astype(np.float64), attrs)
        return (np.asarray(y).astype(x.dtype, copy=False),)

    return ref


def _param_act(name: str, fn: Callable[[np.ndarray, Attrs], np.ndarray],
               schema: tuple[Attr, ...], onnx: str, doc: str,
               attrs_check: Callable[[Mapping[str, Any]], str] | None = None) -> OpDef:
    """An activation whose kernel takes its attributes as parameters, in schema order."""
    return register(OpDef(
        name, _same_rule, _param_ref(fn), elementwise=True, same_shape=True,
        lazy_rank=lambda a: None, doc=doc, schema=schema, onnx=onnx, attrs_check=attrs_check,
        lowering=Lowering("activation", UNARY_CODES[name], tuple(a.name for a in schema))))


def _clip_bounds(a: Mapping[str, Any]) -> str:
    return "" if a["min"] <= a["max"] else f"min={a['min']} is above max={a['max']}"


_param_act("leaky_relu", lambda x, a: np.where(x < 0, a["alpha"] * x, x),
           (Attr("alpha", "float", 0.01, onnx="alpha"),), "LeakyRelu",
           "x for x >= 0, alpha * x below")
_param_act("elu", lambda x, a: np.where(x < 0, a["alpha"] * np.expm1(x), x),
           (Attr("alpha", "float", 1.0, onnx="alpha"),), "Elu",
           "x for x >= 0, alpha * (exp(x) - 1) below")
_param_act("selu", lambda x, a: a["gamma"] * np.where(x <= 0, a["alpha"] * np.expm1(x), x),
           (Attr("alpha", "float", _SELU_ALPHA, onnx="alpha"),
            Attr("gamma", "float", _SELU_GAMMA, onnx="gamma")), "Selu",
           "gamma * (x for x > 0, alpha * (exp(x) - 1) below)")
_param_act("hard_sigmoid", lambda x, a: np.clip(a["alpha"] * x + a["beta"], 0, 1),
           (Attr("alpha", "float", 0.2, onnx="alpha"),
            Attr("beta", "float", 0.5, onnx="beta")), "HardSigmoid",
           "max(0, min(1, alpha * x + beta))")
_param_act("silu", lambda x, a: x * _sigmoid(a["beta"] * x),
           (Attr("beta", "float", 1.0),), "",
           "x * sigmoid(beta * x): SiLU (beta = 1) and Swish")
_param_act("clip", lambda x, a: np.minimum(np.maximum(x, a["min"]), a["max"]),
           (Attr("min", "float", -np.inf), Attr("max", "float", np.inf)), "",
           "x limited to [min, max] (NaN stays NaN)", _clip_bounds)


# PReLU: leaky relu with a learned slope per channel (axis 1), or one shared slope

def _prelu_params(attrs: Attrs) -> tuple[ParamDecl, ...]:
    c = attrs["in_channels"]
    return (ParamDecl("alpha", (c,), (f"in_channels={c}" if c else "",), ("in_channels",)),)


def _prelu_rule(ins: tuple[TensorType, ...], params: Mapping[str, tuple[Dim, ...]],
                attrs: Attrs) -> RuleResult:
    x, (a,) = ins[0], params["alpha"]
    if x.rank < 2:
        return rank_fail("PReLU", x, "rank >= 2 (batch, channels, ...)")
    out = Out((x,), (pass_through(x.rank),))
    if a.__class__ is int and a == 1:  # one slope for every channel
        return out
    return out._replace(eqs=(Eq(x.shape[1], inp(0, 1), a, FromParam("alpha", 0),
                                "input dim 1 (channels)", "alpha size",
                                "or in_channels=1 for one shared slope"),))


def _prelu_ref(ins: Sequence[np.ndarray], params: Mapping[str, np.ndarray],
               attrs: Attrs) -> tuple[np.ndarray, ...]:
    x = ins[0]
    alpha = params["alpha"].reshape((-1,) + (1,) * (x.ndim - 2))
    return (np.where(x < 0, alpha * x, x).astype(x.dtype, copy=False),)


register(OpDef("prelu", _prelu_rule, _prelu_ref, _prelu_params, lazy_rank=lambda a: None,
               doc="x for x >= 0, alpha[c] * x below, c the channel (axis 1); one alpha "
                   "shared by every channel when its size is 1",
               schema=(Attr("in_channels", "int", 1, optional=True, check=positive),),
               lowering=Lowering("prelu")))


def _quiet(fn: _Unary) -> _Unary:
    """``fn`` without numpy's warnings: log(0) = -inf and sqrt(-1) = NaN are the answers,
    as in the kernels."""
    def f(x: np.ndarray) -> np.ndarray:
        with np.errstate(all="ignore"):
            return np.asarray(fn(x))

    return f


MATH: dict[str, _Unary] = {
    "exp": _quiet(np.exp),
    "log": _quiet(np.log),
    "sqrt": _quiet(np.sqrt),
    "abs": np.abs,
    "square": _quiet(np.square),
}

# unary math runs in (and fuses like) an activation
for _name, _ufn in MATH.items():
    register(OpDef(_name, _same_rule, _unary_ref(_ufn), elementwise=True, same_shape=True,
                   lazy_rank=lambda a: None, doc=f"elementwise {_name}, same shape",
                   lowering=Lowering("activation", UNARY_CODES[_name]),
                   onnx=_ONNX.get(_name, "")))


def _softmax_rule(
    ins: tuple[TensorType, ...], params: Mapping[str, tuple[Dim, ...]], attrs: Attrs
) -> RuleResult:
    x = ins[0]
    if norm_axis(attrs["axis"], x.rank) is None:
        return axis_fail("softmax", x, attrs["axis"])
    return Out((x,), (pass_through(x.rank),))


def _softmax_ref(log: bool) -> Callable[..., tuple[np.ndarray, ...]]:
    def ref(
        ins: Sequence[np.ndarray], params: Mapping[str, np.ndarray], attrs: Attrs
    ) -> tuple[np.ndarray, ...]:
        x = ins[0]
        if x.size == 0:  # nothing to normalize (numpy's max of nothing would raise)
            return (x.copy(),)
        axis = attrs["axis"]
        z = x - x.max(axis=axis, keepdims=True)
        if log:
            y = z - np.log(np.exp(z).sum(axis=axis, keepdims=True))
        else:
            e = np.exp(z)
            y = e / e.sum(axis=axis, keepdims=True)
        return (y.astype(x.dtype, copy=False),)

    return ref


_AXIS = (Attr("axis", "int", -1, onnx="axis"),)
register(OpDef("softmax", _softmax_rule, _softmax_ref(False), lazy_rank=lambda a: None,
               doc="softmax along axis", lowering=Lowering("softmax", 0), schema=_AXIS,
               onnx="Softmax"))
register(OpDef("log_softmax", _softmax_rule, _softmax_ref(True), lazy_rank=lambda a: None,
               doc="log-softmax along axis", lowering=Lowering("softmax", 1), schema=_AXIS,
               onnx="LogSoftmax"))
