"""The functions ``forward`` code calls on its tensors (``ops.relu(x)``, ``ops.concat(a, b,
dim=1)``, ...), and the op registry's lookups (``get_op``, ``all_ops``, ``register``).

The op records themselves live in :mod:`shapegraph.opset`; the functions in
:mod:`shapegraph.frontend.functional`.
"""

from shapegraph.frontend import functional as _functional
from shapegraph.frontend.functional import *  # noqa: F403  (the list is functional.__all__)
from shapegraph.opset import OpDef, ParamDecl
from shapegraph.opset.registry import all_ops, get_op, register

__all__ = ["OpDef", "ParamDecl", "all_ops", "get_op", "register"]
__all__ += _functional.__all__
