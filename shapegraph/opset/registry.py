"""The one op registry: op name -> :class:`~shapegraph.opset.base.OpDef`.

Every pass looks ops up here; nothing subclasses per op. Adding an op means writing one
record in one module of this package and calling :func:`register` on it.
"""

from __future__ import annotations

from typing import Any

from shapegraph.opset.base import OpDef

__all__ = ["all_ops", "attr_default", "get_op", "register"]

_REGISTRY: dict[str, OpDef] = {}


def register(op: OpDef) -> OpDef:
    """Add ``op`` to the registry; a name can be registered once."""
    if op.name in _REGISTRY:
        raise ValueError(f"op {op.name!r} is registered twice")
    _REGISTRY[op.name] = op
    return op


def get_op(name: str) -> OpDef:
    """The op called ``name``; a KeyError names the known ops otherwise."""
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY))
        raise KeyError(f"unknown op {name!r}; known ops: {known}") from None


def attr_default(op: str, name: str) -> Any:
    """The default of attribute ``name`` of ``op`` (for a layer's or function's signature:
    the schema holds it, in one place)."""
    return get_op(op).default(name)


def all_ops() -> dict[str, OpDef]:
    """A copy of the registry."""
    return dict(_REGISTRY)
