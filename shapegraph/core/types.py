"""Symbolic tensor types: a shape of :mod:`~shapegraph.core.dims` values and a dtype.

>>> from shapegraph.core.dims import Sym
>>> str(TensorType((Sym("batch"), 256)))
'f32[batch,256]'
"""

from __future__ import annotations

from typing import NamedTuple

from shapegraph.core.dims import Dim, dim_str, holes, syms

__all__ = ["DTYPES", "TensorType", "dtype_short"]

DTYPES: dict[str, str] = {
    "float32": "f32",
    "float64": "f64",
    "float16": "f16",
    "int32": "i32",
    "int64": "i64",
    "int8": "i8",
    "uint8": "u8",
    "bool": "bool",
}


def dtype_short(dtype: str) -> str:
    """``float32`` -> ``f32``; unknown names are shown as they are."""
    return DTYPES.get(dtype, dtype)


class TensorType(NamedTuple):
    """The type of a value: its shape (a tuple of dims) and its dtype name.

    A NamedTuple (immutable, and cheap to create: the propagation pass makes one per value).
    """

    shape: tuple[Dim, ...]
    dtype: str = "float32"

    @property
    def rank(self) -> int:
        return len(self.shape)

    @property
    def is_concrete(self) -> bool:
        """Every dim is a plain int."""
        return all(type(d) is int for d in self.shape)

    @property
    def has_holes(self) -> bool:
        return any(type(d) is not int and holes(d) for d in self.shape)

    @property
    def has_syms(self) -> bool:
        return any(type(d) is not int and syms(d) for d in self.shape)

    def with_shape(self, shape: tuple[Dim, ...]) -> TensorType:
        return TensorType(shape, self.dtype)

    def __str__(self) -> str:
        return f"{dtype_short(self.dtype)}[{','.join(dim_str(d) for d in self.shape)}]"
