"""The op registry (one record per op) and, for tracing, functions such as ``relu``.

Importing this package registers every op.
"""

from shapegraph.ops import conv, dense, elementwise, misc, norm, reduce, shape_ops  # noqa: F401
from shapegraph.ops.base import OpDef, ParamDecl

# the tracing functions import shapegraph.trace, which needs the registry above
from shapegraph.ops.functional import (
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
from shapegraph.ops.registry import all_ops, get_op, register

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
