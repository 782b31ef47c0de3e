"""The functions ``forward`` code calls on its tensors (``ops.relu(x)``, ``ops.concat(a, b,
dim=1)``, ...), and the op registry's lookups (``get_op``, ``all_ops``, ``register``).

The op records themselves live in :mod:`shapegraph.opset`; the functions in
:mod:`shapegraph.frontend.functional`.
"""

from shapegraph.frontend.functional import (
    abs,
    concat,
    dot,
    exp,
    flatten,
    gelu,
    log,
    log_softmax,
    matmul,
    max,
    mean,
    min,
    relu,
    reshape,
    sigmoid,
    softmax,
    softrelu,
    softsign,
    sqrt,
    square,
    sum,
    tanh,
    transpose,
)
from shapegraph.opset import OpDef, ParamDecl
from shapegraph.opset.registry import all_ops, get_op, register

__all__ = [
    "OpDef",
    "ParamDecl",
    "abs",
    "all_ops",
    "concat",
    "dot",
    "exp",
    "flatten",
    "gelu",
    "get_op",
    "log",
    "log_softmax",
    "matmul",
    "max",
    "mean",
    "min",
    "register",
    "relu",
    "reshape",
    "sigmoid",
    "softmax",
    "softrelu",
    "softsign",
    "sqrt",
    "square",
    "sum",
    "tanh",
    "transpose",
]
