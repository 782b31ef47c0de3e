"""Helpers the shape rules share: rank checks, axis normalization, broadcasting."""

from __future__ import annotations

from collections.abc import Sequence

from shapegraph.core.dims import Dim, Hole, Truth, compare, dim_str, holes
from shapegraph.core.types import TensorType
from shapegraph.opset.base import Derived, Fail, Src, inp

__all__ = ["axis_fail", "broadcast", "norm_axis", "rank_fail"]

SG_RANK = "SG202"
SG_BROADCAST = "SG206"


def rank_fail(what: str, x: TensorType, expected: str, hint: str = "") -> Fail:
    """A wrong-rank failure: ``what`` needs ``expected``, got ``x``."""
    return Fail(
        SG_RANK,
        f"{what} expects {expected}, got {x} (rank {x.rank})",
        hint or f"feed an input of {expected}, or reshape it before this layer",
    )


def axis_fail(what: str, x: TensorType, axis: object) -> Fail:
    """An axis outside the input's rank."""
    return Fail(SG_RANK, f"{what}: axis {axis} is out of range for {x} (rank {x.rank})",
                f"use an axis from {-x.rank} to {x.rank - 1}, or feed an input of higher rank")


def norm_axis(axis: int, rank: int) -> int | None:
    """``axis`` as a non-negative index into a tensor of ``rank``, or None if out of range."""
    a = axis + rank if axis < 0 else axis
    return a if 0 <= a < rank else None


def broadcast(
    shapes: Sequence[TensorType], what: str = "broadcast"
) -> tuple[tuple[Dim, ...], tuple[Src, ...], bool] | Fail:
    """numpy broadcasting of the input shapes: (dims, sources, pending) or a failure.

    A dim that is still a hole against a size other than 1 cannot be decided (it may be
    1 or equal); the result then holds a fresh hole and ``pending`` asks to run again. A
    failure names the rightmost axis that certainly mismatches (``4 vs 5``) before one that
    mismatches only for some values of a symbol (``3 vs batch``).
    """
    rank = max(s.rank for s in shapes)
    dims: list[Dim] = []
    srcs: list[Src] = []
    pending = False
    certain: list[int] = []  # every axis that certainly mismatches: all are reported
    uncertain: int | None = None
    for k in range(rank):
        cur: Dim | None = None
        cur_src: Src | None = None
        for i, s in enumerate(shapes):
            j = s.rank - rank + k
            if j < 0:
                continue
            d = s.shape[j]
            if cur is None or cur == 1:
                cur, cur_src = d, inp(i, j)
            elif d == 1 or d == cur:
                continue
            elif holes(d) or holes(cur):  # an unknown that may be 1 or equal: wait
                pending = True
                cur, cur_src = Hole.fresh("broadcast"), Derived("broadcast", ())
            else:
                verdict = compare(d, cur)
                if verdict is Truth.NO:
                    if not certain or certain[-1] != k:
                        certain.append(k)
                elif verdict is Truth.UNKNOWN:
                    uncertain = k
        assert cur is not None and cur_src is not None
        dims.append(cur)
        srcs.append(cur_src)
    bad = certain or ([uncertain] if uncertain is not None else [])
    if bad:
        return _broadcast_fail(shapes, bad, rank, what)
    return tuple(dims), tuple(srcs), pending


def _broadcast_fail(shapes: Sequence[TensorType], axes: Sequence[int], rank: int,
                    what: str) -> Fail:
    """Every mismatching axis in one failure: the sizes per axis, and each input's dim."""
    involved = []
    sizes = []
    for k in axes:
        dims = []
        for i, s in enumerate(shapes):
            j = s.rank - rank + k
            if j >= 0:
                involved.append((f"input {i} dim {j}", s.shape[j], inp(i, j)))
                dims.append(dim_str(s.shape[j]))
        sizes.append(" vs ".join(dims))
    types = ", ".join(str(s) for s in shapes)
    where = ", ".join(str(k - rank) for k in axes)
    return Fail(
        SG_BROADCAST,
        f"{what}: cannot broadcast {types}: sizes {', '.join(sizes)} at aligned "
        f"ax{'is' if len(axes) == 1 else 'es'} {where} are neither equal nor 1",
        "make the sizes equal, or 1 where the values should be repeated",
        tuple(involved),
    )
