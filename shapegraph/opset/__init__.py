"""The op records: one declarative record per op, in one registry (``registry.py``).

Importing this package registers every op. Each family module (``dense``, ``conv``,
``elementwise``...) defines its records; ``base`` says what a record holds.
"""

from shapegraph.opset import (  # noqa: F401
    compare,
    conv,
    dense,
    elementwise,
    lrn,
    misc,
    norm,
    reduce,
    shape_ops,
    shape_values,
    split,
)
from shapegraph.opset.base import OpDef, ParamDecl
from shapegraph.opset.registry import all_ops, get_op, register

__all__ = ["OpDef", "ParamDecl", "all_ops", "get_op", "register"]
