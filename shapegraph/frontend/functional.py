"""Functions for ``forward`` code: ``ops.relu(x)``, ``ops.concat(a, b, dim=1)``,
``ops.mean(x, axis=1)``, ``ops.exp(x)``, ...

They work on the symbolic tensors a trace passes to ``forward`` and record one node each.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from shapegraph.opset.registry import attr_default

if TYPE_CHECKING:  # shapegraph.frontend.trace imports the registry this package defines
    from shapegraph.frontend.trace import SymbolicTensor

__all__ = [
    "abs",
    "clip",
    "concat",
    "dot",
    "elu",
    "exp",
    "flatten",
    "gelu",
    "hard_sigmoid",
    "leaky_relu",
    "log",
    "log_softmax",
    "lrn",
    "matmul",
    "max",
    "mean",
    "min",
    "relu",
    "reshape",
    "selu",
    "sigmoid",
    "silu",
    "softmax",
    "softrelu",
    "softsign",
    "sqrt",
    "square",
    "sum",
    "swish",
    "tanh",
    "transpose",
]


def _emit(op: str, inputs: Sequence[Any], attrs: dict[str, Any] | None = None) -> SymbolicTensor:
    from shapegraph.frontend.trace import SymbolicTensor, TraceError, current

    tr = current()
    if tr is None or not any(isinstance(t, SymbolicTensor) for t in inputs):
        raise TraceError(f"shapegraph.ops.{op} works on the tensors forward receives; "
                         "call the network with arrays instead")
    return tr.op(op, [tr.tensor(t) for t in inputs], attrs or {})


def relu(x: SymbolicTensor) -> SymbolicTensor:
    return _emit("relu", [x])


def sigmoid(x: SymbolicTensor) -> SymbolicTensor:
    return _emit("sigmoid", [x])


def tanh(x: SymbolicTensor) -> SymbolicTensor:
    return _emit("tanh", [x])


def softrelu(x: SymbolicTensor) -> SymbolicTensor:
    return _emit("softrelu", [x])


def softsign(x: SymbolicTensor) -> SymbolicTensor:
    return _emit("softsign", [x])


def gelu(x: SymbolicTensor) -> SymbolicTensor:
    return _emit("gelu", [x])


def leaky_relu(x: SymbolicTensor, alpha: float = attr_default("leaky_relu", "alpha")
               ) -> SymbolicTensor:
    """``x`` for ``x >= 0``, ``alpha * x`` below."""
    return _emit("leaky_relu", [x], {"alpha": alpha})


def elu(x: SymbolicTensor, alpha: float = attr_default("elu", "alpha")) -> SymbolicTensor:
    """``x`` for ``x >= 0``, ``alpha * (exp(x) - 1)`` below."""
    return _emit("elu", [x], {"alpha": alpha})


def selu(x: SymbolicTensor) -> SymbolicTensor:
    """Scaled ELU (the constants of Klambauer et al.)."""
    return _emit("selu", [x])


def silu(x: SymbolicTensor) -> SymbolicTensor:
    """``x * sigmoid(x)``."""
    return _emit("silu", [x])


def swish(x: SymbolicTensor, beta: float = attr_default("silu", "beta")) -> SymbolicTensor:
    """``x * sigmoid(beta * x)``."""
    return _emit("silu", [x], {"beta": beta})


def hard_sigmoid(x: SymbolicTensor, alpha: float = attr_default("hard_sigmoid", "alpha"),
                 beta: float = attr_default("hard_sigmoid", "beta")) -> SymbolicTensor:
    """``max(0, min(1, alpha * x + beta))`` (MXNet's ``F.hard_sigmoid``)."""
    return _emit("hard_sigmoid", [x], {"alpha": alpha, "beta": beta})


def clip(x: SymbolicTensor, a_min: float | None = None, a_max: float | None = None
         ) -> SymbolicTensor:
    """``x`` limited to ``[a_min, a_max]`` (None: no bound on that side; MXNet's
    ``F.clip``); NaN stays NaN."""
    bounds = {"min": a_min, "max": a_max}
    return _emit("clip", [x], {k: v for k, v in bounds.items() if v is not None})


def softmax(x: SymbolicTensor, axis: int = -1) -> SymbolicTensor:
    return _emit("softmax", [x], {"axis": axis})


def log_softmax(x: SymbolicTensor, axis: int = -1) -> SymbolicTensor:
    return _emit("log_softmax", [x], {"axis": axis})


def lrn(x: SymbolicTensor, alpha: float = attr_default("lrn", "alpha"),
        beta: float = attr_default("lrn", "beta"), knorm: float = 2,
        nsize: int | None = None) -> SymbolicTensor:
    """Local response normalization across channels (axis 1), MXNet's ``F.LRN``:
    ``x / (knorm + alpha/nsize * sum of x^2 over the nsize channels around each)^beta``.
    ``nsize`` is required; the op (ONNX's LRN) calls ``knorm`` bias and ``nsize`` size
    (MXNet's ``knorm`` defaults to 2, ONNX's ``bias`` to 1)."""
    if nsize is None:
        raise TypeError("ops.lrn: nsize is required (the number of channels each window "
                        "spans, such as 5)")
    if isinstance(nsize, bool) or not isinstance(nsize, int) or nsize < 1:
        raise ValueError(f"ops.lrn: nsize must be a positive int, got {nsize!r}")
    attrs: dict[str, Any] = {"size": nsize}
    for name, value in (("alpha", alpha), ("beta", beta), ("knorm", knorm)):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError(f"ops.lrn: {name} must be a number, got {value!r}")
        attrs["bias" if name == "knorm" else name] = float(value)
    return _emit("lrn", [x], attrs)


def concat(*xs: SymbolicTensor | Sequence[SymbolicTensor], dim: int | None = None,
           axis: int | None = None) -> SymbolicTensor:
    """Join tensors along an axis, called as MXNet does, ``concat(a, b, dim=1)`` (default
    dim 1), or as numpy does, ``concat([a, b], axis=0)`` (default axis 0). ``dim`` and
    ``axis`` are the same argument under its two names."""
    if dim is not None and axis is not None:
        raise TypeError(f"ops.concat(dim={dim!r}, axis={axis!r}): give the axis once, as "
                        "dim= (MXNet) or axis= (numpy)")
    as_list = len(xs) == 1 and isinstance(xs[0], list | tuple)
    parts = list(xs[0]) if as_list else list(xs)
    if not as_list and any(isinstance(x, list | tuple) for x in xs):
        raise TypeError("ops.concat: pass the tensors either as one list, concat([a, b], "
                        "axis=1), or as separate arguments, concat(a, b, dim=1), not both")
    if not parts:
        raise TypeError("ops.concat needs at least one tensor, got an empty "
                        f"{'list' if as_list else 'call'}")
    where = dim if dim is not None else axis if axis is not None else (0 if as_list else 1)
    if not isinstance(where, int) or isinstance(where, bool):
        raise TypeError(f"ops.concat: the axis must be an int, got {where!r}")
    _check_tensors("concat", parts)
    return _emit("concat", parts, {"axis": where})


def _check_tensors(op: str, parts: Sequence[Any]) -> None:
    from shapegraph.frontend.trace import SymbolicTensor

    if not any(isinstance(p, SymbolicTensor) for p in parts):
        return  # outside a trace: _emit says so
    for i, p in enumerate(parts):
        if not isinstance(p, SymbolicTensor):
            raise TypeError(f"ops.{op}: item {i} is a {type(p).__name__}, not a tensor of "
                            "forward; every item must be a tensor")


def reshape(x: SymbolicTensor, shape: Sequence[int]) -> SymbolicTensor:
    return x.reshape(tuple(shape))


def flatten(x: SymbolicTensor) -> SymbolicTensor:
    return x.flatten()


def transpose(x: SymbolicTensor, axes: Sequence[int] | None = None) -> SymbolicTensor:
    return x.transpose(*(axes or ()))


def matmul(a: SymbolicTensor, b: SymbolicTensor) -> SymbolicTensor:
    return _emit("matmul", [a, b])


def dot(a: SymbolicTensor, b: SymbolicTensor) -> SymbolicTensor:
    """MXNet's name for the matrix product (``F.dot(x, weight.T)`` in hybrid_forward)."""
    return matmul(a, b)


# -- unary math and reductions ----------------------------------------------------------
# abs, sum, max and min shadow the builtins in this module (numpy's and MXNet's names):
# nothing in it calls the builtins.


def exp(x: SymbolicTensor) -> SymbolicTensor:
    return _emit("exp", [x])


def log(x: SymbolicTensor) -> SymbolicTensor:
    """Natural logarithm (log(0) = -inf, log of a negative number is NaN)."""
    return _emit("log", [x])


def sqrt(x: SymbolicTensor) -> SymbolicTensor:
    return _emit("sqrt", [x])


def abs(x: SymbolicTensor) -> SymbolicTensor:
    return _emit("abs", [x])


def square(x: SymbolicTensor) -> SymbolicTensor:
    return _emit("square", [x])


def _reduce(op: str, x: SymbolicTensor, axis: int | Sequence[int] | None,
            keepdims: bool) -> SymbolicTensor:
    from shapegraph.opset.reduce import reduce_attrs

    return _emit(op, [x], reduce_attrs(op, axis, keepdims))


def mean(x: SymbolicTensor, axis: int | Sequence[int] | None = None,
         keepdims: bool = False) -> SymbolicTensor:
    """Mean over ``axis`` (an int, a tuple of ints, or None: all axes), as numpy's."""
    return _reduce("mean", x, axis, keepdims)


def sum(x: SymbolicTensor, axis: int | Sequence[int] | None = None,
        keepdims: bool = False) -> SymbolicTensor:
    """Sum over ``axis`` (an int, a tuple of ints, or None: all axes), as numpy's."""
    return _reduce("sum", x, axis, keepdims)


def max(x: SymbolicTensor, axis: int | Sequence[int] | None = None,
        keepdims: bool = False) -> SymbolicTensor:
    """Maximum over ``axis`` (an int, a tuple of ints, or None: all axes), as numpy's."""
    return _reduce("max", x, axis, keepdims)


def min(x: SymbolicTensor, axis: int | Sequence[int] | None = None,
        keepdims: bool = False) -> SymbolicTensor:
    """Minimum over ``axis`` (an int, a tuple of ints, or None: all axes), as numpy's."""
    return _reduce("min", x, axis, keepdims)
