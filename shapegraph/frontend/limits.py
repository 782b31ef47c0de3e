"""How many bytes of parameters may be created at once: the one place that knows (SG401).

Creating parameters (``initialize()``, the first forward, ``sg.compile``) first adds up
the bytes of every array of the batch and refuses, before allocating anything, a batch
larger than the limit: ``SHAPEGRAPH_MAX_PARAM_BYTES`` when set (``8GiB``, ``500MB``,
``1000000``, or ``none`` for no limit), else a third of the memory available (Linux's
``MemAvailable``; elsewhere of the physical memory): filling a parameter with a random
initializer briefly needs twice its size again (numpy draws float64), so a parameter
at the limit still fits.

>>> human_bytes(4 * 10**15)
'3.55 PiB'
>>> parse_bytes("8GiB"), parse_bytes("500MB"), parse_bytes("none")
(8589934592, 500000000, None)
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from shapegraph.core.diagnostics import Diagnostic, Related
from shapegraph.render.errors import ShapeError

if TYPE_CHECKING:  # params imports this module (ParameterDict.initialize)
    from shapegraph.frontend.params import Parameter

__all__ = ["ENV", "Limit", "ParameterMemoryError", "check_network_bytes", "check_param_bytes",
           "human_bytes",
           "param_byte_limit", "parse_bytes"]

ENV = "SHAPEGRAPH_MAX_PARAM_BYTES"
DIVISOR = 3  # the default limit is the available memory divided by this (see above)
_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12, "pb": 10**15,
          "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40, "pib": 2**50}
_SHOWN = 5  # parameters listed in the diagnostic, largest first


class ParameterMemoryError(ShapeError, MemoryError):
    """Parameters too large to create (SG401); nothing was allocated or changed.

    A ``ShapeError`` (``.diagnostics``) and a ``MemoryError`` (what numpy raised before)."""


@dataclass(frozen=True, slots=True)
class Limit:
    """The limit in bytes (None: no limit) and where it came from, in words."""

    bytes: int | None
    source: str


def human_bytes(n: int) -> str:
    """``3.55 PiB``: three significant digits in binary units, as numpy shows them."""
    if n < 1024:
        return f"{n} B"
    exp = min(int(math.log(n, 1024)), 8)
    value = n / 1024**exp
    if value >= 1023.995 and exp < 8:  # 1024.00 KiB is 1.00 MiB
        exp, value = exp + 1, value / 1024
    unit = "KMGTPEZY"[exp - 1] + "iB"
    return f"{value:.3g} {unit}" if value < 1000 else f"{value:.0f} {unit}"


def parse_bytes(text: str) -> int | None:
    """``"8GiB"`` -> 8589934592; ``"none"`` -> None; ValueError for anything else."""
    t = text.strip().lower()
    if t in ("none", "unlimited"):
        return None
    m = re.fullmatch(r"([0-9]+(?:\.[0-9]*)?)\s*([a-z]*)", t)
    if not m or m.group(2) not in _UNITS:
        raise ValueError(f"{ENV}={text!r}: expected a number of bytes with an optional unit "
                         "(8GiB, 500MB, 1000000) or none")
    return int(float(m.group(1)) * _UNITS[m.group(2)])


def _available_memory() -> int | None:
    """Bytes of memory available now (MemAvailable on Linux), else physical memory."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def param_byte_limit() -> Limit:
    """The limit now: ``SHAPEGRAPH_MAX_PARAM_BYTES``, or a third of the available memory."""
    env = os.environ.get(ENV, "").strip()
    if env:
        return Limit(parse_bytes(env), f"{ENV}={env}")
    avail = _available_memory()
    if avail is None:
        return Limit(None, "no limit: the available memory is not known")
    return Limit(avail // DIVISOR, f"a third of the {human_bytes(avail)} of memory "
                 f"available; {ENV} sets another limit")


def nbytes(shape: tuple[int, ...], dtype: str) -> int:
    """Bytes of an array of ``shape`` (exact, however large: Python ints)."""
    return math.prod(shape) * np.dtype(dtype).itemsize


def check_param_bytes(todo: Sequence[tuple[Parameter, tuple[int, ...]]]) -> None:
    """Raise ParameterMemoryError when the arrays of ``todo`` together exceed the limit."""
    sizes = [(p, shape, nbytes(shape, p.dtype)) for p, shape in todo]
    total = sum(n for _, _, n in sizes)
    if not sizes or total == 0:
        return
    limit = param_byte_limit()
    if limit.bytes is None or total <= limit.bytes:
        return
    d = _diagnostic(sorted(sizes, key=lambda s: -s[2]), total, limit)
    raise ParameterMemoryError([d], headline=f"{d.message}; nothing was allocated or "
                               "changed")


def _diagnostic(sizes: list[tuple[Parameter, tuple[int, ...], int]], total: int,
                limit: Limit) -> Diagnostic:
    largest = sizes[0][0]
    prov = largest.owner.provenance() if largest.owner is not None else None
    what = (f"parameter '{largest.name}'" if len(sizes) == 1
            else f"{len(sizes)} parameters")
    related = [_related(p, shape, n) for p, shape, n in sizes[:_SHOWN]]
    if len(sizes) > _SHOWN:
        rest = sum(n for _, _, n in sizes[_SHOWN:])
        related.append(Related(human_bytes(rest), f"{len(sizes) - _SHOWN} more parameters"))
    related.append(Related(human_bytes(limit.bytes or 0), f"the limit: {limit.source}"))
    return Diagnostic.make(
        "SG401", f"creating {what} needs {human_bytes(total)}, more than the limit of "
        f"{human_bytes(limit.bytes or 0)}",
        path=prov.path if prov else "", location=prov.location if prov else None,
        layer=(prov.detail or prov.kind) if prov else "", related=tuple(related),
        help=f"make the layers smaller (units, in_units, channels), or, if the memory is "
        f"there, set {ENV} (such as 64GiB, or none)")


def _related(p: Parameter, shape: tuple[int, ...], n: int) -> Related:
    prov = p.owner.provenance() if p.owner is not None else None
    # a deferred parameter counted at its smallest (see check_network_bytes)
    at_least = not p.known and shape == tuple(1 if d is None else d for d in p.shape)
    dims = ", ".join(str(d) if d is not None else "?" for d in (p.shape if at_least else shape))
    dims += "," if len(shape) == 1 else ""
    return Related(f"at least {human_bytes(n)}" if at_least else human_bytes(n),
                   f"'{p.name}' ({dims}) {p.dtype}", location=prov.location if prov else None)


def check_network_bytes(params: Sequence[Parameter],
                        inferred: Mapping[int, tuple[int, ...]]) -> None:
    """At ``initialize()``: refuse a network whose parameters cannot all fit, before any
    is created (a huge bias would otherwise be filled, and its weight fail later). A
    deferred parameter counts with its inferred shape (``inferred``, by ``id``) or at its
    smallest (every unknown dim 1)."""
    check_param_bytes([(p, inferred.get(id(p)) or tuple(1 if d is None else d
                                                       for d in p.shape)) for p in params])
