"""The value lattice, next to the shape lattice: what the pass knows about a value's data.

A value is *unknown* (``None``), or a :class:`Val`: a small array whose elements are known,
each either a number or a symbolic :data:`~shapegraph.core.dims.Dim` (the int64 vector
``Shape(x)`` makes of ``x``'s dims is ``(batch, 64, 7, 7)``). Like every dim, each element
has a :class:`~shapegraph.opset.base.Src` saying where it came from, relative to the node
that produced the value; a consumer refers to element ``k`` of its input ``i`` as
:class:`FromValue`, and explanations walk on through it.

>>> from shapegraph.core.dims import Sym
>>> v = Val((2,), (Sym("batch"), 64), (FromAttr("a"), FromAttr("b")), "int64")
>>> v.is_concrete, v.size
(False, 2)
>>> as_val(np.array([1, 9216])).to_array().tolist()
[1, 9216]
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

from shapegraph.core.dims import Dim, dim_str
from shapegraph.opset.base import Derived, FromAttr, Src

__all__ = [
    "MAX_ELEMS",
    "Elem",
    "FromValue",
    "Val",
    "WithValues",
    "as_val",
    "fold",
    "input_values",
    "is_size",
    "is_value_source",
    "passed_on",
    "val_elems_str",
    "value_source",
    "vector_ints",
]

MAX_ELEMS = 4096  # larger constants are not carried as values (they are weights, not shapes)

_R = TypeVar("_R")
Elem = Dim | float  # a number of a known value: a size (int or symbolic) or a float


@dataclass(frozen=True, slots=True)
class FromValue(Src):
    """Element ``k`` (row-major) of the value of input ``i`` of this node."""

    i: int
    k: int


@dataclass(frozen=True, slots=True)
class Val:
    """A known value: its shape, its elements (row-major) and a source for each."""

    shape: tuple[int, ...]
    elems: tuple[Elem, ...]
    srcs: tuple[Src, ...]
    dtype: str = "int64"

    @property
    def size(self) -> int:
        return len(self.elems)

    @property
    def is_concrete(self) -> bool:
        """Every element is a plain number (the value can be folded with numpy)."""
        return all(e.__class__ is int or e.__class__ is float for e in self.elems)

    def to_array(self) -> np.ndarray:
        """The value as a numpy array (only when :attr:`is_concrete`)."""
        return np.array(self.elems, dtype=self.dtype).reshape(self.shape)

    def reshaped(self, shape: tuple[int, ...], i: int = 0) -> Val:
        """The same elements in another shape, each sourced from input ``i``'s value."""
        return Val(shape, self.elems, passed_on(i, self.size), self.dtype)


def passed_on(i: int, n: int) -> tuple[Src, ...]:
    """Sources for elements copied one for one from input ``i``'s value."""
    return tuple(FromValue(i, k) for k in range(n))


def as_val(a: np.ndarray, src: str = "value") -> Val | None:
    """A constant array as a value (None when it is too large to carry); element ``k``'s
    source is the attribute ``value[k]`` of the node that holds it."""
    if a.size > MAX_ELEMS:
        return None
    flat = a.reshape(-1)
    if a.dtype.kind in "iub":
        elems: tuple[Elem, ...] = tuple(int(e) for e in flat)
    else:
        elems = tuple(float(e) for e in flat)
    srcs = tuple(FromAttr(f"{src}[{k}]" if a.ndim else src) for k in range(a.size))
    return Val(tuple(int(d) for d in a.shape), elems, srcs, str(a.dtype))


_SOURCES: set[object] = set()


def value_source(rule: _R) -> _R:
    """Mark a value rule that makes values from its input *types* (``Shape``) or from
    nothing (``Constant``): the pass runs it even when no input value is known. Other value
    rules run only when an input's value is known, so ordinary graphs never pay for them."""
    _SOURCES.add(rule)
    return rule


def is_value_source(rule: object) -> bool:
    return rule in _SOURCES


class WithValues(Mapping[str, Any]):
    """A node's attributes plus the values of its inputs, for the shape rules that need
    them (ONNX Reshape's target, ConstantOfShape's shape). Only ops with a value rule are
    given one, so the common path does not pay for it."""

    __slots__ = ("_attrs", "vals")

    def __init__(self, attrs: Mapping[str, Any], values: tuple[Val | None, ...]) -> None:
        self._attrs = attrs
        self.vals = values

    def __getitem__(self, key: str) -> Any:
        return self._attrs[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._attrs)

    def __len__(self) -> int:
        return len(self._attrs)


def input_values(attrs: Mapping[str, Any], n: int) -> tuple[Val | None, ...]:
    """The known values of a rule's ``n`` inputs (None where unknown)."""
    if isinstance(attrs, WithValues):
        return attrs.vals
    return (None,) * n


def vector_ints(v: Val | None) -> tuple[int, ...] | None:
    """A known 1-D (or scalar) value of plain ints, as a tuple."""
    if v is None or len(v.shape) > 1 or not all(e.__class__ is int for e in v.elems):
        return None
    return tuple(int(e) for e in v.elems)  # type: ignore[arg-type]


def is_size(e: Elem) -> bool:
    """A symbolic size (not a plain number)."""
    return e.__class__ is not int and e.__class__ is not float


def val_elems_str(v: Val) -> str:
    """``(batch, 3136)``: how messages show a vector value."""
    return "(" + ", ".join(dim_str(e) if is_size(e) else repr(e)  # type: ignore[arg-type]
                           for e in v.elems) + ")"


def fold(fn: Any, vals: Sequence[Val | None], out_dtype: str | None = None) -> Val | None:
    """Fold constants: ``fn(*arrays)`` when every input value is concrete and small."""
    if not vals or any(v is None or not v.is_concrete for v in vals):
        return None
    arrays = [v.to_array() for v in vals]  # type: ignore[union-attr]
    try:
        with np.errstate(all="ignore"):
            out = np.asarray(fn(*arrays))
    except (ArithmeticError, IndexError, TypeError, ValueError):
        return None  # the shape rule reports what is wrong; the value stays unknown
    if out_dtype is not None:
        out = out.astype(out_dtype)
    if out.size > MAX_ELEMS:
        return None
    r = as_val(out)
    if r is None:
        return None
    # a folded element depends on every input element: say so, compactly
    parts = tuple(FromValue(i, 0) for i, v in enumerate(vals) if v is not None and v.size)
    src = Derived("constant folding", parts[:4])
    return Val(r.shape, r.elems, (src,) * r.size, r.dtype)

