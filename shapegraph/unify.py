"""Union-find over holes; every binding remembers which node made it and from what.

>>> u = Unifier()
>>> a, b = Hole.fresh(), Hole.fresh()
>>> u.unify(a, b, Because(None, None))
<Outcome.OK: 'ok'>
>>> u.unify(b, 20, Because(3, None))
<Outcome.OK: 'ok'>
>>> u.resolve(a), u.binding(a).node
(20, 3)
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from shapegraph.dims import (
    Dim,
    DimExpr,
    Hole,
    Sym,
    Truth,
    compare,
    exact_div,
    holes,
    solve_for,
    sub,
    substitute,
)
from shapegraph.ops.base import Src

__all__ = ["Because", "Outcome", "Unifier"]


@dataclass(frozen=True, slots=True)
class Because:
    """Why a hole got its value: the node whose requirement bound it, and the source of
    the other side of that requirement (relative to that node)."""

    node: int | None
    src: Src | None
    solved_from: str = ""


class Outcome(enum.Enum):
    OK = "ok"
    MISMATCH = "mismatch"  # provably different
    RIGID = "rigid"  # different only through symbols: cannot hold for every value
    NO_INTEGER = "no integer solution"
    DEFER = "defer"  # not decidable yet


class Unifier:
    """Holes in classes; a class may be bound to a dim (which may itself mention holes)."""

    def __init__(self) -> None:
        self._parent: dict[Hole, Hole] = {}
        self._bound: dict[Hole, Dim] = {}
        self._why: dict[Hole, Because] = {}

    def find(self, h: Hole) -> Hole:
        parent = self._parent
        root = h
        while root in parent:
            root = parent[root]
        while h in parent and parent[h] is not root:  # path compression
            parent[h], h = root, parent[h]
        return root

    def resolve(self, d: Dim) -> Dim:
        """``d`` with every bound hole replaced by its value, as far as known."""
        if type(d) is int or isinstance(d, Sym):
            return d
        if isinstance(d, Hole):
            root = self.find(d)
            value = self._bound.get(root)
            if value is None:
                return root
            if type(value) is not int:
                value = self.resolve(value)
                self._bound[root] = value
            return value
        assert isinstance(d, DimExpr)
        return substitute(d, lambda a: self.resolve(a) if isinstance(a, Hole) else None)

    def binding(self, h: Hole) -> Because | None:
        """Why ``h``'s class has its value (None while it is unbound)."""
        return self._why.get(self.find(h))

    def is_bound(self, h: Hole) -> bool:
        return self.find(h) in self._bound

    def unify(self, a: Dim, b: Dim, why: Because, other_src: Src | None = None) -> Outcome:
        """Require ``a == b``; bind holes where that decides them.

        ``why.src`` explains ``b`` (the side a hole in ``a`` would take its value from);
        ``other_src`` explains ``a``, for when a hole in ``b`` is bound instead.
        """
        a, b = self.resolve(a), self.resolve(b)
        if a == b:
            return Outcome.OK
        if isinstance(a, Hole):
            return self._bind(a, b, why)
        if isinstance(b, Hole):
            return self._bind(b, a, Because(why.node, other_src, why.solved_from))
        diff = sub(a, b)
        if type(diff) is int:
            return Outcome.OK if diff == 0 else Outcome.MISMATCH
        return self._solve(diff, a, b, why, other_src)

    def _solve(self, diff: Dim, a: Dim, b: Dim, why: Because, other_src: Src | None) -> Outcome:
        hs = holes(diff)
        if not hs:
            return Outcome.MISMATCH if compare(diff, 0) is Truth.NO else Outcome.RIGID
        for h in sorted(hs, key=lambda x: x.id):
            value = solve_for(diff, h)
            if value is not None:
                src = why.src if h in holes(a) else other_src
                return self._bind(h, value, Because(why.node, src, f"{a} = {b}"))
        if len(hs) == 1 and _linear_constant(diff, next(iter(hs))):
            return Outcome.NO_INTEGER
        return Outcome.DEFER

    def _bind(self, h: Hole, value: Dim, why: Because) -> Outcome:
        root = self.find(h)
        if isinstance(value, Hole):
            other = self.find(value)
            if other is not root:
                self._parent[root] = other  # both classes are unbound: just merge them
            return Outcome.OK
        if root in holes(value):
            return Outcome.DEFER
        self._bound[root] = value
        self._why[root] = why
        return Outcome.OK


def _linear_constant(diff: Dim, h: Hole) -> bool:
    """``diff`` is ``c*h + k`` with ints ``c`` and ``k`` (no solution = no integer one)."""
    rest = substitute(diff, lambda a: 0 if a == h else None)
    return type(rest) is int and type(exact_div(sub(diff, rest), h)) is int
