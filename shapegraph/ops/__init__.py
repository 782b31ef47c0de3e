"""The op registry (one record per op) and, for tracing, functions such as ``relu``.

Importing this package registers every op.
"""

from shapegraph.ops import conv, dense, elementwise, misc, norm, shape_ops  # noqa: F401
from shapegraph.ops.base import OpDef, ParamDecl
from shapegraph.ops.registry import all_ops, get_op, register

__all__ = ["OpDef", "ParamDecl", "all_ops", "get_op", "register"]
