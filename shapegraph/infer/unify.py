"""Union-find over holes; every binding remembers which node made it and from what.

>>> u = Unifier()
>>> a, b = Hole.fresh(), Hole.fresh()
>>> u.unify(a, b)
<Outcome.OK: 'ok'>
>>> u.unify(b, 20, node=3)
<Outcome.OK: 'ok'>
>>> u.resolve(a), u.binding(a).node
(20, 3)
"""

from __future__ import annotations

import enum
import math
from typing import NamedTuple

from shapegraph.core.dims import (
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
from shapegraph.opset.base import Src

__all__ = ["Because", "Outcome", "Unifier"]

_NEW = tuple.__new__  # builds a NamedTuple without its Python-level __new__ (hot path)


class Because(NamedTuple):
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
        # keyed by hole id: int hashing is much cheaper than a Python-level __hash__
        self._parent: dict[int, Hole] = {}
        self._bound: dict[int, Dim] = {}
        self._why: dict[int, Because] = {}
        # unknowns standing for the output of a failed rule: they satisfy every requirement
        # and bind to nothing, so no follow-on conflict is blamed on them
        self.poison: set[int] = set()

    def find(self, h: Hole) -> Hole:
        parent = self._parent
        root = h
        while root.id in parent:
            root = parent[root.id]
        while h.id in parent and parent[h.id] is not root:  # path compression
            parent[h.id], h = root, parent[h.id]
        return root

    def resolve(self, d: Dim) -> Dim:
        """``d`` with every bound hole replaced by its value, as far as known."""
        cls = d.__class__
        if cls is int or cls is Sym:
            return d
        if cls is Hole:
            hid = d.id  # type: ignore[union-attr]
            root = self.find(d) if hid in self._parent else d  # type: ignore[arg-type]
            value = self._bound.get(root.id)  # type: ignore[union-attr]
            if value is None:
                return root
            if value.__class__ is not int:
                value = self.resolve(value)
                self._bound[root.id] = value  # type: ignore[union-attr]
            return value
        assert isinstance(d, DimExpr)
        return substitute(d, lambda a: self.resolve(a) if isinstance(a, Hole) else None)

    def binding(self, h: Hole) -> Because | None:
        """Why ``h``'s class has its value (None while it is unbound)."""
        return self._why.get(self.find(h).id)

    def bind_fresh(self, h: Hole, value: int, node: int | None, src: Src | None) -> bool:
        """Bind ``h`` to ``value`` if ``h`` is unbound and alone in its class (the common
        case, made cheap); False means use :meth:`unify`."""
        hid = h.id
        if hid in self._bound or hid in self._parent:
            return False
        self._bound[hid] = value
        self._why[hid] = _NEW(Because, (node, src, ""))
        return True

    def unify(self, a: Dim, b: Dim, node: int | None = None, a_src: Src | None = None,
              b_src: Src | None = None) -> Outcome:
        """Require ``a == b`` (a requirement of ``node``); bind holes where that decides them.

        ``a_src`` / ``b_src`` say where each side came from: a hole in ``a`` that gets its
        value from ``b`` remembers ``b_src``, and the other way round.
        """
        if b.__class__ is Hole and a.__class__ is int and self.bind_fresh(b, a, node, a_src):
            return Outcome.OK
        a, b = self.resolve(a), self.resolve(b)
        if a == b:
            return Outcome.OK
        if self.poison and any(h.id in self.poison for h in holes(a) | holes(b)):
            return Outcome.OK
        if isinstance(a, Hole):
            return self._bind(a, b, Because(node, b_src))
        if isinstance(b, Hole):
            return self._bind(b, a, Because(node, a_src))
        diff = sub(a, b)
        if type(diff) is int:
            return Outcome.OK if diff == 0 else Outcome.MISMATCH
        return self._solve(diff, a, b, node, a_src, b_src)

    def _solve(self, diff: Dim, a: Dim, b: Dim, node: int | None, a_src: Src | None,
               b_src: Src | None) -> Outcome:
        hs = holes(diff)
        if not hs:
            return Outcome.MISMATCH if compare(diff, 0) is Truth.NO else Outcome.RIGID
        for h in sorted(hs, key=lambda x: x.id):
            value = solve_for(diff, h)
            if type(value) is int and value < 0:  # 3 + c = 2: no size makes that true
                return Outcome.NO_INTEGER
            if value is not None:
                src = b_src if h in holes(a) else a_src
                return self._bind(h, value, Because(node, src, f"{a} = {b}"))
        if len(hs) == 1 and _linear_constant(diff, next(iter(hs))):
            return Outcome.NO_INTEGER
        if _no_integer_solution(diff):
            return Outcome.NO_INTEGER
        return Outcome.DEFER

    def _bind(self, h: Hole, value: Dim, why: Because) -> Outcome:
        root = self.find(h)
        if isinstance(value, Hole):
            other = self.find(value)
            if other is not root:
                self._parent[root.id] = other  # both classes are unbound: just merge them
            return Outcome.OK
        if root in holes(value):
            return Outcome.DEFER
        self._bound[root.id] = value
        self._why[root.id] = why
        return Outcome.OK


def _no_integer_solution(diff: Dim) -> bool:
    """``diff == 0`` has no solution in whole numbers: the gcd of the coefficients of its
    non-constant terms does not divide its constant (every atom is a whole number)."""
    if not isinstance(diff, DimExpr):
        return False
    const = 0
    coeffs = []
    for mono, c in diff.poly:
        if mono:
            coeffs.append(c)
        else:
            const = c
    g = math.gcd(*coeffs) if coeffs else 0
    return g > 1 and const % g != 0


def _linear_constant(diff: Dim, h: Hole) -> bool:
    """``diff`` is ``c*h + k`` with ints ``c`` and ``k`` (no solution = no integer one)."""
    rest = substitute(diff, lambda a: 0 if a == h else None)
    return type(rest) is int and type(exact_div(sub(diff, rest), h)) is int
