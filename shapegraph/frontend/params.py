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

from shapegraph.frontend.init import Initializer, create
from shapegraph.frontend.trace import current

__all__ = [
    "DeferredInitializationError",
    "Parameter",
    "ParameterDict",
    "UninitializedParameterError",
    "bump_structure",
    "structure_version",
]


_VERSION = [0]


def params_version() -> int:
    """Changes whenever any parameter's values or shape change (compiled plans key on it)."""
    return _VERSION[0]


_STRUCTURE = [0]


def structure_version() -> int:
    """Changes whenever any block gains a child or a parameter (traces key on it)."""
    return _STRUCTURE[0]


def bump_structure() -> None:
    """A block gained a child or a parameter."""
    _STRUCTURE[0] += 1


class UninitializedParameterError(RuntimeError):
    """``data()`` on a parameter that ``initialize()`` has not been called for."""


class DeferredInitializationError(RuntimeError):
    """``data()`` on a parameter whose creation waits for its shape to become known."""


def shape_str(shape: tuple[int | None, ...]) -> str:
    """``(256, ?)``: unknown dims as ``?``."""
    dims = ["?" if d is None else str(d) for d in shape]
    return f"({dims[0]},)" if len(dims) == 1 else f"({', '.join(dims)})"


def _declared_shape(name: str, shape: Any) -> tuple[int | None, ...]:
    """A declared shape with every unknown dim as None (Gluon writes 0 for unknown)."""
    if shape is None:
        raise TypeError(f"Parameter '{name}': give a shape, with None (or 0, as in Gluon) "
                        "for each dim that is not known yet, e.g. shape=(256, None)")
    dims = (shape,) if isinstance(shape, int) else shape
    try:
        out = tuple(None if d is None or (d == 0 and not isinstance(d, bool)) else d
                    for d in dims)
    except TypeError:
        raise TypeError(f"Parameter '{name}': shape must be a tuple of ints and None, got "
                        f"{shape!r}") from None
    bad = [d for d in out if d is not None and (isinstance(d, bool) or not isinstance(d, int)
                                                or d < 0)]
    if bad:
        raise ValueError(f"Parameter '{name}': shape {shape!r} has {bad[0]!r}; dims are "
                         "positive ints, or None (or 0) when not known yet")
    return out


class Parameter:
    """A parameter: name, shape (None for an unknown dim), dtype, initializer, data.

    ``name`` is the structured name once the parameter belongs to a network
    (``"0.weight"``); before that it is the layer-local role (``"weight"``). In a custom
    layer, ``Parameter("weight", shape=(units, None))`` (or Gluon 1's
    ``self.params.get("weight", shape=(units, 0))``) declares a parameter whose unknown
    dims are inferred from how ``forward`` uses ``self.weight.data()``.

    Gluon's training arguments (``grad_req``, ``lr_mult``, ``wd_mult``,
    ``allow_deferred_init``, ``differentiable``) are accepted and have no effect:
    shapegraph runs inference, and every initialization may be deferred.
    """

    def __init__(self, name: str, shape: Any = None, dtype: Any = "float32",
                 init: Initializer | str | None = None, notes: tuple[str, ...] = (),
                 declare: tuple[str, ...] = (), *, grad_req: str = "write",
                 lr_mult: float = 1.0, wd_mult: float = 1.0, allow_deferred_init: bool = False,
                 differentiable: bool = True) -> None:
        if np.dtype(dtype) != np.float32:
            raise ValueError(f"Parameter '{name}': only float32 parameters exist, got "
                             f"dtype={dtype!r}")
        shape = _declared_shape(name, shape)
        self.name = name
        self.role = name
        self._shape: tuple[int | None, ...] = shape
        self.dtype = "float32"
        self.constant = False  # get_constant(): its value is never initialized again
        # this parameter's own initializer (beats the global one)
        self.init = create(init, f"Parameter '{name}' init")
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

    def data(self) -> Any:
        """The values; errors say why they do not exist yet and what to do. Inside the
        ``forward`` of a network being traced, the parameter as a symbolic tensor."""
        tracer = current()
        if tracer is not None:
            value = tracer.param_value(self)
            if value is not None:
                return value
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

    def __init__(self, params: Mapping[str, Parameter] | None = None, owner: str = "",
                 block: Any = None) -> None:
        self._params: dict[str, Parameter] = dict(params or {})
        self._owner = owner
        self._block = block  # the block whose own parameters these are (``block.params``)

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

    def get(self, key: str, default: Any = None, **declare: Any) -> Any:
        """The parameter ``key`` (or ``default``). On a block's own ``params`` with keyword
        arguments, Gluon 1's way to declare a parameter in a custom layer:
        ``self.weight = self.params.get("weight", shape=(units, 0))`` creates it (0 or
        None: inferred from how ``forward`` uses it), registers it on the block and returns
        it; a parameter of that name given through ``params=`` is shared instead."""
        if not declare and default is None:
            return self._params.get(key, default)
        if self._block is None:
            raise TypeError("params.get(name, shape=...) declares a parameter on a block: "
                            "call it on the block's own `self.params`")
        if default is not None:
            raise TypeError(f"params.get({key!r}, ...): pass the declaration by keyword "
                            "(shape=..., init=...), not a default value")
        return self._declare(key, Parameter(key, **declare))

    def get_constant(self, key: str, value: Any) -> Parameter:
        """A constant of the block (Gluon 1): a parameter with ``value`` that
        ``initialize()``, even with ``force_reinit``, never changes."""
        if self._block is None:
            raise TypeError("params.get_constant(name, value) declares a constant on a "
                            "block: call it on the block's own `self.params`")
        arr = np.asarray(value, dtype=np.float32)
        p = Parameter(key, arr.shape if arr.ndim else (1,))
        p.set_data(arr.reshape(p.shape))
        p.constant = True
        return self._declare(key, p)

    def _declare(self, key: str, p: Parameter) -> Parameter:
        registered: Parameter = self._block._param(key, p)
        self._params[key] = registered
        return registered

    def initialize(self, init: Initializer | None = None, force_reinit: bool = False) -> None:
        """Like ``Block.initialize`` but for these parameters only, without inference."""
        from shapegraph.frontend.lifecycle import initialize_params

        initialize_params(list(self._params.values()), init, force_reinit)

    def __repr__(self) -> str:
        head = f"{self._owner} " if self._owner else ""
        body = "\n".join(f"  {p!r}" for p in self._params.values())
        return f"{head}(\n{body}\n)" if body else f"{head}()"
