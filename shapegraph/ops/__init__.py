"""The op registry (one record per op) and, for tracing, functions such as ``relu``.

Importing this package registers every op.
"""

from shapegraph.ops import conv, dense, elementwise, misc, norm, shape_ops  # noqa: F401
from shapegraph.ops.base import OpDef, ParamDecl

# the tracing functions import shapegraph.trace, which needs the registry above
from shapegraph.ops.functional import (
    concat,
    flatten,
    gelu,
    log_softmax,
    matmul,
    relu,
    reshape,
    sigmoid,
    softmax,
    softrelu,
    softsign,
    tanh,
    transpose,
)
from shapegraph.ops.registry import all_ops, get_op, register

__all__ = [
    "OpDef",
    "ParamDecl",
    "all_ops",
    "concat",
    "flatten",
    "gelu",
    "get_op",
    "log_softmax",
    "matmul",
    "register",
    "relu",
    "reshape",
    "sigmoid",
    "softmax",
    "softrelu",
    "softsign",
    "tanh",
    "transpose",
]
