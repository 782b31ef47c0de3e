"""Parameters and their lifecycle: declared -> (shape inferred) -> materialized.

A :class:`Parameter` is created by its layer with whatever the layer's arguments declare
(``Dense(256)`` gives ``weight`` the shape ``(256, None)``). ``initialize()`` records the
initializer and creates every parameter whose shape is known; the others are *deferred*
until propagation resolves their shape. Materialization is all-or-nothing: a failed
forward or a conflicting ``set_data`` leaves every parameter as it was.

>>> p = Parameter("weight", (256, None))
>>> p
Parameter weight (shape=(256, ?), dtype=float32)
>>> p.shape
(256, None)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np

from shapegraph.init import Initializer

__all__ = [
    "DeferredInitializationError",
    "Parameter",
    "ParameterDict",
    "UninitializedParameterError",
]


_VERSION = [0]


def params_version() -> int:
    """Changes whenever any parameter's values or shape change (compiled plans key on it)."""
    return _VERSION[0]


class UninitializedParameterError(RuntimeError):
    """``data()`` on a parameter that ``initialize()`` has not been called for."""


class DeferredInitializationError(RuntimeError):
    """``data()`` on a parameter whose creation waits for its shape to become known."""


def shape_str(shape: tuple[int | None, ...]) -> str:
    """``(256, ?)``: unknown dims as ``?``."""
    dims = ["?" if d is None else str(d) for d in shape]
    return f"({dims[0]},)" if len(dims) == 1 else f"({', '.join(dims)})"


class Parameter:
    """A parameter: name, shape (None for an unknown dim), dtype, initializer, data.

    ``name`` is the structured name once the parameter belongs to a network
    (``"0.weight"``); before that it is the layer-local role (``"weight"``).
    """

    def __init__(self, name: str, shape: tuple[int | None, ...], dtype: str = "float32",
                 init: Initializer | None = None, notes: tuple[str, ...] = (),
                 declare: tuple[str, ...] = ()) -> None:
        self.name = name
        self.role = name
        self._shape: tuple[int | None, ...] = tuple(shape)
        self.dtype = dtype
        self.init = init  # this parameter's own initializer (beats the global one)
        self.notes: list[str] = list(notes) + [""] * (len(shape) - len(notes))
        self.declare = tuple(declare) + ("",) * (len(shape) - len(declare))
        self._data: np.ndarray | None = None
        self._default_init: Initializer | None = None  # set by initialize()
        self._initialize_called = False
        self._unused_reason: str | None = None
        self._on_set_data: Callable[[Parameter, tuple[int, ...]], None] | None = None
        self.owner: Any = None  # the layer that declared it
        # per dim, a layer sharing this parameter that declared the dim (else None)
        self.dim_owners: list[Any] = [None] * len(shape)

    def merge_declaration(self, other: Parameter, sharer: Any) -> None:
        """Take the dims that ``sharer`` (a layer given this parameter through
        ``params=``) declares in ``other``: every sharing layer's declarations constrain
        the one parameter. A ValueError names both layers when they disagree."""
        if len(other.shape) != len(self._shape):
            raise ValueError(f"{sharer.describe()}: the shared parameter '{self.name}' "
                             f"{shape_str(self._shape)} has {len(self._shape)} dims, but this "
                             f"layer's {self.role} has {len(other.shape)}")
        for j, (mine, theirs) in enumerate(zip(self._shape, other.shape, strict=True)):
            if theirs is not None and mine is not None and theirs != mine:
                whose = self.owner.describe() if self.owner is not None else "its owner"
                raise ValueError(
                    f"{sharer.describe()}: shares parameter '{self.name}' of {whose}, whose "
                    f"dim {j} is {mine} ({self.notes[j] or 'set'}), but declares {theirs} "
                    f"({other.notes[j]}); a shared parameter has one shape")
        if self._data is not None:
            return
        for j, theirs in enumerate(other.shape):
            if theirs is not None and self._shape[j] is None:
                self._shape = (*self._shape[:j], theirs, *self._shape[j + 1:])
                self.notes[j] = other.notes[j]
                self.dim_owners[j] = sharer
        self.declare = tuple(d or o for d, o in zip(self.declare, other.declare, strict=True))

    # -- shape ------------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int | None, ...]:
        return self._shape

    @property
    def known(self) -> bool:
        return None not in self._shape

    def unknown_dims(self) -> list[int]:
        return [j for j, d in enumerate(self._shape) if d is None]

    # -- data -------------------------------------------------------------------------
    @property
    def is_initialized(self) -> bool:
        return self._data is not None

    def data(self) -> np.ndarray:
        """The values; errors say why they do not exist yet and what to do."""
        if self._data is not None:
            return self._data
        if not self._initialize_called:
            raise UninitializedParameterError(
                f"Parameter '{self.name}' has not been initialized. Call initialize() on "
                f"the network (net.initialize()) before using its parameters")
        if self._unused_reason:
            raise DeferredInitializationError(
                f"Parameter '{self.name}' {shape_str(self._shape)} was never created: "
                f"{self._unused_reason}")
        dims = ", ".join(str(j) for j in self.unknown_dims())
        args = sorted({self.declare[j] for j in self.unknown_dims() if self.declare[j]})
        declare = (f"declare {' and '.join(args)} on its layer" if args
                   else "declare the input sizes on its layer")
        raise DeferredInitializationError(
            f"Parameter '{self.name}' has not been initialized yet because initialization "
            f"was deferred: its shape {shape_str(self._shape)} has unknown dimension(s) "
            f"{dims}. Either run one forward pass (net(x)) so the shape can be inferred, or "
            f"{declare} so it is known at initialize()")

    def set_data(self, data: Any) -> None:
        """Set the values. Unknown dims take the array's sizes, after checking the new shape
        against every declaration of the network (nothing changes if it conflicts)."""
        given = np.asarray(data)
        if given.dtype.kind not in "biuf":
            what = "complex values (the imaginary part would be lost)" if given.dtype.kind == \
                "c" else f"an array of {given.dtype}"
            raise TypeError(f"Parameter '{self.name}': set_data takes real numbers, got "
                            f"{what}")
        arr = np.array(given, dtype=self.dtype, copy=True)
        if arr.ndim != len(self._shape):
            raise ValueError(f"Parameter '{self.name}': expected {len(self._shape)} "
                             f"dimensions {shape_str(self._shape)}, got array of shape "
                             f"{arr.shape}")
        for j, (want, got) in enumerate(zip(self._shape, arr.shape, strict=True)):
            if want is not None and want != got:
                raise ValueError(f"Parameter '{self.name}': dim {j} must be {want} "
                                 f"{_because(self.notes[j])}, got array of shape {arr.shape}")
        if not self.known and self._on_set_data is not None:
            self._on_set_data(self, tuple(arr.shape))  # raises ShapeError on a conflict
        self._commit(arr, [f"set by set_data to {arr.shape[j]}" if d is None else None
                           for j, d in enumerate(self._shape)])

    def _commit(self, arr: np.ndarray, notes: list[str | None] | None = None) -> None:
        """Store the values (and the shape, where it was unknown) -- never fails."""
        if notes:
            for j, n in enumerate(notes):
                if n and self._shape[j] is None:
                    self.notes[j] = n
        self._shape = tuple(arr.shape)
        self._data = arr
        self._unused_reason = None
        _VERSION[0] += 1

    def __repr__(self) -> str:
        return f"Parameter {self.name} (shape={shape_str(self._shape)}, dtype={self.dtype})"


def _because(note: str) -> str:
    return f"({note})" if note else ""


class ParameterDict(Mapping[str, Parameter]):
    """Parameters by structured name, in layer order (what ``collect_params()`` returns)."""

    def __init__(self, params: Mapping[str, Parameter] | None = None, owner: str = "") -> None:
        self._params: dict[str, Parameter] = dict(params or {})
        self._owner = owner

    def __getitem__(self, key: str) -> Parameter:
        try:
            return self._params[key]
        except KeyError:
            known = ", ".join(self._params) or "none"
            raise KeyError(f"no parameter named {key!r}; known: {known}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._params)

    def __len__(self) -> int:
        return len(self._params)

    def get(self, key: str, default: Any = None) -> Any:
        return self._params.get(key, default)

    def initialize(self, init: Initializer | None = None, force_reinit: bool = False) -> None:
        """Like ``Block.initialize`` but for these parameters only, without inference."""
        from shapegraph.lifecycle import initialize_params

        initialize_params(list(self._params.values()), init, force_reinit)

    def __repr__(self) -> str:
        head = f"{self._owner} " if self._owner else ""
        body = "\n".join(f"  {p!r}" for p in self._params.values())
        return f"{head}(\n{body}\n)" if body else f"{head}()"
