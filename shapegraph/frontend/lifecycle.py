"""Materializing parameters, all or nothing.

Every new array is allocated and filled by its initializer first; only when all of them
exist are they stored. An initializer that raises, or a shape that turns out to conflict,
leaves every parameter exactly as it was.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from shapegraph.core.diagnostics import warn_user
from shapegraph.frontend.init import Initializer, Uniform
from shapegraph.frontend.limits import check_param_bytes

if TYPE_CHECKING:  # params imports this module (ParameterDict.initialize)
    from shapegraph.frontend.params import Parameter

__all__ = ["Pending", "initialize_params", "materialize"]

# (parameter, shape to create it with, notes for dims that were unknown)
Pending = tuple["Parameter", tuple[int, ...], list[str | None]]


def materialize(todo: Sequence[Pending], global_init: Initializer | None) -> None:
    """Create every parameter in ``todo`` (in order), or none of them.

    ParameterMemoryError (SG401) when together they exceed the limit of
    ``shapegraph.frontend.limits``: checked before anything is allocated."""
    check_param_bytes([(p, shape) for p, shape, _ in todo])
    arrays = []
    for p, shape, _ in todo:
        arr = np.zeros(shape, dtype=p.dtype)
        init = p.init or global_init or p._default_init
        if init is not None:
            try:
                init(p.name, arr)
            except Exception as e:
                raise RuntimeError(f"initializer {init!r} failed for parameter '{p.name}' "
                                   f"{shape}: {e}; no parameter was changed") from e
        arrays.append(arr)
    for (p, _, notes), arr in zip(todo, arrays, strict=True):
        p._commit(arr, notes)


def initialize_params(params: Sequence[Parameter], init: Initializer | None,
                      force_reinit: bool, inferred: dict[int, Pending] | None = None) -> None:
    """Record ``init`` on the parameters and create those whose shape is known.

    ``inferred`` maps ``id(param)`` to a shape resolved by static propagation. Parameters
    already created are kept (with a warning) unless ``force_reinit``.
    """
    init = init if init is not None else Uniform()
    # values given by set_data before the first initialize() are kept without a word
    kept = [p for p in params if p.is_initialized and not force_reinit
            and p._initialize_called and not p.constant]
    if kept:
        names = ", ".join(p.name for p in kept[:5]) + (" ..." if len(kept) > 5 else "")
        warn_user(f"initialize(): {len(kept)} parameter(s) are already initialized and "
                  f"keep their values ({names}); use force_reinit=True to initialize them "
                  "again")
    todo = [p for p in params if not (p.is_initialized and not force_reinit)
            and not p.constant]
    create: list[Pending] = []
    for p in todo:
        if p.known:
            create.append((p, tuple(p.shape), []))  # type: ignore[arg-type]
        elif inferred and id(p) in inferred:
            create.append(inferred[id(p)])
    materialize(create, init)
    for p in todo:
        p._default_init = init
    for p in params:  # those given values by set_data too: initialize() has been called
        p._initialize_called = True
