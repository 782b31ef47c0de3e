"""Symbolic dimensions: plain ints, rigid symbols, holes to infer, and integer expressions.

A dimension (:data:`Dim`) is one of

* ``int`` -- a concrete size;
* :class:`Sym` -- a user-named symbol such as ``"batch"``; rigid: it equals only itself;
* :class:`Hole` -- an unknown the propagation pass has to infer (printed ``?``);
* :class:`DimExpr` -- an integer polynomial over symbols, holes and floor divisions by
  positive constants, kept in one canonical form so that equal expressions compare equal.

Every operation returns a canonical value: an expression that folds to a constant *is* an
``int``, and a lone symbol *is* the :class:`Sym`. No sympy, no ``eval``.

>>> h = Sym("h")
>>> out = (h + 2 * 2 - 5) // 1 + 1        # conv with k=5, p=2, s=1 keeps the size
>>> out == h
True
>>> str((h - 4) // 2 + 1)               # canonical: divisible terms are pulled out
'h//2 - 1'
>>> str(16 * ((h - 5) // 2 + 1) * h)
'16*h*((h + 1)//2) - 32*h'
>>> compare(h + 1, h), compare(h, 3)
(<Truth.NO: 'no'>, <Truth.UNKNOWN: 'cannot tell'>)
"""

from __future__ import annotations

import enum
import itertools
import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TypeAlias

__all__ = [
    "Dim",
    "DimExpr",
    "FloorDiv",
    "Hole",
    "Sym",
    "Truth",
    "add",
    "as_int",
    "ceildiv",
    "compare",
    "dim_str",
    "evaluate",
    "exact_div",
    "floordiv",
    "free_atoms",
    "holes",
    "is_dim",
    "mul",
    "neg",
    "product",
    "solve_for",
    "sub",
    "substitute",
    "syms",
]


class _Ops:
    """Arithmetic operators shared by the symbolic dimension classes."""

    __slots__ = ()

    def __add__(self, other: Dim) -> Dim:
        return add(self, other)  # type: ignore[arg-type]

    def __radd__(self, other: Dim) -> Dim:
        return add(other, self)  # type: ignore[arg-type]

    def __sub__(self, other: Dim) -> Dim:
        return sub(self, other)  # type: ignore[arg-type]

    def __rsub__(self, other: Dim) -> Dim:
        return sub(other, self)  # type: ignore[arg-type]

    def __mul__(self, other: Dim) -> Dim:
        return mul(self, other)  # type: ignore[arg-type]

    def __rmul__(self, other: Dim) -> Dim:
        return mul(other, self)  # type: ignore[arg-type]

    def __floordiv__(self, other: int) -> Dim:
        return floordiv(self, other)  # type: ignore[arg-type]

    def __neg__(self) -> Dim:
        return neg(self)  # type: ignore[arg-type]

    def __str__(self) -> str:
        return dim_str(self)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True, repr=False, eq=True)
class Sym(_Ops):
    """A user-named dimension such as ``"batch"``: rigid, equal only to itself."""

    name: str

    def __repr__(self) -> str:
        return f"Sym({self.name!r})"


_hole_ids = itertools.count(1)


@dataclass(frozen=True, slots=True, repr=False, eq=False)
class Hole(_Ops):
    """An unknown dimension that propagation must infer. Identity is the id only."""

    id: int
    label: str = field(default="", compare=False)

    @staticmethod
    def fresh(label: str = "") -> Hole:
        """A hole never seen before (ids are process-unique)."""
        return Hole(next(_hole_ids), label)

    def __repr__(self) -> str:
        return f"Hole({self.id}{', ' + repr(self.label) if self.label else ''})"

    # identity is the id: cheap hashing and equality keep the propagation pass fast
    def __hash__(self) -> int:
        return self.id

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Hole) and other.id == self.id


Monomial: TypeAlias = tuple["Atom", ...]
Poly: TypeAlias = tuple[tuple[Monomial, int], ...]


@dataclass(frozen=True, slots=True, repr=False, eq=True)
class FloorDiv(_Ops):
    """``num // den`` with ``den > 1`` and ``num`` not divisible term by term (an atom)."""

    num: Poly
    den: int

    def __repr__(self) -> str:
        return f"FloorDiv({dim_str(self)})"


@dataclass(frozen=True, slots=True, repr=False, eq=True)
class DimExpr(_Ops):
    """A canonical integer polynomial over atoms (sorted monomials, no zero terms)."""

    poly: Poly

    def __repr__(self) -> str:
        return f"DimExpr({dim_str(self)})"


Atom: TypeAlias = Sym | Hole | FloorDiv
Dim: TypeAlias = int | Sym | Hole | DimExpr


class Truth(enum.Enum):
    """The answer to a comparison of dimensions: it never guesses."""

    YES = "yes"
    NO = "no"
    UNKNOWN = "cannot tell"


def as_int(d: Dim) -> int:
    """``d`` as an int; a TypeError says which symbolic dim is not concrete."""
    if type(d) is int:
        return d
    raise TypeError(f"dimension {dim_str(d)} is not a concrete size")


def is_dim(value: object) -> bool:
    """True for the values that are dimensions (``bool`` is not one)."""
    if isinstance(value, bool):
        return False
    return isinstance(value, int | Sym | Hole | DimExpr)


# --------------------------------------------------------------------------- canonical order


@lru_cache(maxsize=65536)
def _atom_key(atom: Atom) -> tuple[object, ...]:
    if isinstance(atom, Sym):
        return (0, atom.name)
    if isinstance(atom, Hole):
        return (1, atom.id)
    return (2, _poly_key(atom.num), atom.den)


def _mono_key(mono: Monomial) -> tuple[object, ...]:
    return (len(mono), tuple(_atom_key(a) for a in mono))


def _poly_key(poly: Poly) -> tuple[object, ...]:
    return tuple((_mono_key(m), c) for m, c in poly)


# --------------------------------------------------------------------------- poly <-> dim

_PolyDict: TypeAlias = dict[Monomial, int]


def _to_poly(d: Dim | Atom) -> _PolyDict:
    if type(d) is int:
        return {(): d} if d else {}
    if isinstance(d, DimExpr):
        return dict(d.poly)
    if isinstance(d, Sym | Hole | FloorDiv):
        return {(d,): 1}
    raise TypeError(f"not a dimension: {d!r} ({type(d).__name__})")


def _from_poly(p: _PolyDict) -> Dim:
    terms = [(m, c) for m, c in p.items() if c]
    if not terms:
        return 0
    if len(terms) == 1:
        mono, coeff = terms[0]
        if not mono:
            return coeff
        if coeff == 1 and len(mono) == 1 and not isinstance(mono[0], FloorDiv):
            return mono[0]
    terms.sort(key=lambda t: _mono_key(t[0]))
    return DimExpr(tuple(terms))


def _mono_mul(a: Monomial, b: Monomial) -> Monomial:
    if not a:
        return b
    if not b:
        return a
    return tuple(sorted(a + b, key=_atom_key))


# --------------------------------------------------------------------------- arithmetic


def add(a: Dim, b: Dim) -> Dim:
    """``a + b`` in canonical form."""
    if type(a) is int and type(b) is int:
        return a + b
    p = _to_poly(a)
    for m, c in _to_poly(b).items():
        p[m] = p.get(m, 0) + c
    return _from_poly(p)


def neg(a: Dim) -> Dim:
    """``-a`` in canonical form."""
    if type(a) is int:
        return -a
    return _from_poly({m: -c for m, c in _to_poly(a).items()})


def sub(a: Dim, b: Dim) -> Dim:
    """``a - b`` in canonical form."""
    if type(a) is int and type(b) is int:
        return a - b
    return add(a, neg(b))


def mul(a: Dim, b: Dim) -> Dim:
    """``a * b`` in canonical form (products of symbols are allowed: ``C*H*W``)."""
    if type(a) is int and type(b) is int:
        return a * b
    out: _PolyDict = {}
    for ma, ca in _to_poly(a).items():
        for mb, cb in _to_poly(b).items():
            m = _mono_mul(ma, mb)
            out[m] = out.get(m, 0) + ca * cb
    return _from_poly(out)


def product(dims: Iterable[Dim]) -> Dim:
    """The product of ``dims`` (1 for none)."""
    out: Dim = 1
    for d in dims:
        out = mul(out, d)
    return out


def floordiv(a: Dim, k: int) -> Dim:
    """``a // k`` for a positive int ``k``, normalized.

    Terms divisible by ``k`` are pulled out (``(2h + 3)//2 == h + 1``), common factors are
    cancelled and nested divisions merge, so the result is canonical.
    """
    if isinstance(k, bool) or not isinstance(k, int) or k <= 0:
        raise ValueError(f"floor division needs a positive int divisor, got {k!r}")
    if type(a) is int:
        return a // k
    if k == 1:
        return a
    quotient: _PolyDict = {}
    rest: _PolyDict = {}
    for m, c in _to_poly(a).items():
        q, r = divmod(c, k)
        if q:
            quotient[m] = q
        if r:
            rest[m] = r
    return add(_from_poly(quotient), _floor_atom(rest, k))


def _floor_atom(rest: _PolyDict, k: int) -> Dim:
    """floor(rest / k) where every coefficient of ``rest`` lies in [0, k)."""
    if not any(m for m in rest):
        return 0  # a constant in [0, k) floors to zero
    g = math.gcd(k, *rest.values())
    if g > 1:
        rest = {m: c // g for m, c in rest.items()}
        k //= g
    if k == 1:
        return _from_poly(rest)
    if len(rest) == 1:
        (mono, coeff), = rest.items()
        if coeff == 1 and len(mono) == 1 and isinstance(mono[0], FloorDiv):
            inner = mono[0]  # floor(floor(n / a) / b) == floor(n / (a * b))
            return floordiv(_from_poly(dict(inner.num)), inner.den * k)
    poly = tuple(sorted(rest.items(), key=lambda t: _mono_key(t[0])))
    return _from_poly({(FloorDiv(poly, k),): 1})


def ceildiv(a: Dim, k: int) -> Dim:
    """``ceil(a / k)`` for a positive int ``k``."""
    return floordiv(add(a, k - 1), k)


def exact_div(a: Dim, b: Dim) -> Dim | None:
    """``a / b`` when it divides term by term (``b`` an int or a monomial), else None.

    >>> exact_div(Sym("n") * 20, Sym("n"))
    20
    """
    if type(a) is int and type(b) is int:
        return a // b if b and a % b == 0 else None
    bp = _to_poly(b)
    if len(bp) != 1:
        return None
    (bmono, bcoeff), = bp.items()
    out: _PolyDict = {}
    for m, c in _to_poly(a).items():
        rest = _mono_remove(m, bmono)
        if rest is None or c % bcoeff:
            return None
        out[rest] = c // bcoeff
    return _from_poly(out)


def _mono_remove(m: Monomial, factor: Monomial) -> Monomial | None:
    left = list(m)
    for atom in factor:
        if atom not in left:
            return None
        left.remove(atom)
    return tuple(left)


# --------------------------------------------------------------------------- inspection


def _atoms_of(d: Dim | Atom) -> Iterator[Sym | Hole]:
    for mono in _to_poly(d):
        for atom in mono:
            if isinstance(atom, FloorDiv):
                for sub_mono, _ in atom.num:
                    for sub_atom in sub_mono:
                        yield from _atoms_of(sub_atom)
            else:
                yield atom


def free_atoms(d: Dim) -> frozenset[Sym | Hole]:
    """Every symbol and hole that ``d`` mentions, inside floor divisions too."""
    if type(d) is int:
        return frozenset()
    return frozenset(_atoms_of(d))


def holes(d: Dim) -> frozenset[Hole]:
    """The holes ``d`` mentions."""
    if type(d) is int or isinstance(d, Sym):
        return frozenset()
    if isinstance(d, Hole):
        return frozenset((d,))
    return frozenset(a for a in _atoms_of(d) if isinstance(a, Hole))


def syms(d: Dim) -> frozenset[Sym]:
    """The symbols ``d`` mentions."""
    if type(d) is int or isinstance(d, Hole):
        return frozenset()
    if isinstance(d, Sym):
        return frozenset((d,))
    return frozenset(a for a in _atoms_of(d) if isinstance(a, Sym))


def evaluate(d: Dim, env: Mapping[Sym | Hole, int] | Mapping[str, int]) -> int:
    """The value of ``d`` with every symbol/hole taken from ``env`` (symbols also by name).

    >>> evaluate((Sym("h") - 4) // 2 + 1, {"h": 28})
    13
    """
    if type(d) is int:
        return d

    def value(atom: Atom) -> int:
        if isinstance(atom, FloorDiv):
            return _eval_poly(atom.num) // atom.den
        if atom in env:
            return env[atom]  # type: ignore[index]
        if isinstance(atom, Sym) and atom.name in env:
            return env[atom.name]  # type: ignore[index]
        raise KeyError(f"no value for {dim_str(atom)}")

    def _eval_poly(poly: Iterable[tuple[Monomial, int]]) -> int:
        return sum(c * math.prod(value(a) for a in m) for m, c in poly)

    return _eval_poly(_to_poly(d).items())


def substitute(d: Dim, fn: Callable[[Sym | Hole], Dim | None]) -> Dim:
    """``d`` with every symbol/hole ``a`` replaced by ``fn(a)`` (None keeps it)."""
    if type(d) is int:
        return d
    if isinstance(d, Sym | Hole):
        r = fn(d)
        return d if r is None else r
    out: Dim = 0
    for m, c in _to_poly(d).items():
        term: Dim = c
        for atom in m:
            term = mul(term, _subst_atom(atom, fn))
        out = add(out, term)
    return out


def _subst_atom(atom: Atom, fn: Callable[[Sym | Hole], Dim | None]) -> Dim:
    if isinstance(atom, FloorDiv):
        return floordiv(substitute(_from_poly(dict(atom.num)), fn), atom.den)
    r = fn(atom)
    return atom if r is None else r


# --------------------------------------------------------------------------- comparison

_INF = math.inf


def _bounds(d: Dim | Atom) -> tuple[float, float]:
    """An interval holding ``d`` when every symbol and hole is a size >= 1."""
    if type(d) is int:
        return (d, d)
    if isinstance(d, Sym | Hole):
        return (1, _INF)
    if isinstance(d, FloorDiv):
        lo, hi = _bounds(_from_poly(dict(d.num)))
        return (math.floor(lo / d.den) if lo > -_INF else -_INF,
                math.floor(hi / d.den) if hi < _INF else _INF)
    lo_sum, hi_sum = 0.0, 0.0
    for m, c in _to_poly(d).items():
        lo, hi = _mono_bounds(m)
        term = (c * lo, c * hi) if c > 0 else (c * hi, c * lo)
        lo_sum += term[0] if not math.isnan(term[0]) else -_INF
        hi_sum += term[1] if not math.isnan(term[1]) else _INF
    return (lo_sum, hi_sum)


def _mono_bounds(m: Monomial) -> tuple[float, float]:
    lo, hi = 1.0, 1.0
    for atom in m:
        alo, ahi = _bounds(atom)
        if alo < 0 or lo < 0:
            return (-_INF, _INF)
        lo, hi = lo * alo, hi * ahi
    return (lo, hi)


def compare(a: Dim, b: Dim) -> Truth:
    """Is ``a == b`` for every value of the symbols? YES, NO (never), or UNKNOWN.

    Symbols and holes are taken to be sizes (>= 1), which decides cases such as
    ``h + 1`` against ``0``.
    """
    if type(a) is int and type(b) is int:
        return Truth.YES if a == b else Truth.NO
    if a == b:
        return Truth.YES
    diff = sub(a, b)
    if type(diff) is int:
        return Truth.YES if diff == 0 else Truth.NO
    lo, hi = _bounds(diff)
    if lo > 0 or hi < 0:
        return Truth.NO
    return Truth.UNKNOWN


def solve_for(equation: Dim, hole: Hole) -> Dim | None:
    """Solve ``equation == 0`` for ``hole`` when it appears once, linearly, outside floors
    (``batch*? - 20*batch == 0`` gives 20: symbols are sizes, never zero).

    Returns the value, or None when the equation is not of that form or has no integer
    solution (see :func:`exact_div`).

    >>> h = Hole.fresh("c")
    >>> solve_for(25 * h - 400, h)
    16
    """
    p = _to_poly(equation)
    with_hole = [m for m in p if hole in m]
    if len(with_hole) != 1 or with_hole[0].count(hole) != 1:
        return None
    mono = with_hole[0]
    coeff = p.pop(mono)
    rest = _from_poly(p)
    if hole in holes(rest):
        return None
    factor = mul(coeff, _from_poly({tuple(a for a in mono if a != hole): 1}))
    if holes(factor):
        return None
    return exact_div(neg(rest), factor)


# --------------------------------------------------------------------------- printing


def dim_str(d: Dim | Atom) -> str:
    """Human form: ``256``, ``batch``, ``?``, ``16*h*w``, ``(h - 4)//2 + 1``."""
    if type(d) is int:
        return str(d)
    if isinstance(d, Sym):
        return d.name
    if isinstance(d, Hole):
        return "?"
    if isinstance(d, FloorDiv):
        inner = _poly_str(d.num)
        simple = len(d.num) == 1 and d.num[0][1] == 1 and len(d.num[0][0]) == 1
        return f"{inner if simple else '(' + inner + ')'}//{d.den}"
    assert isinstance(d, DimExpr)
    return _poly_str(d.poly)


def _poly_str(poly: Poly) -> str:
    ordered = sorted((t for t in poly if t[0]), key=lambda t: -len(t[0]))
    ordered += [t for t in poly if not t[0]]
    out = ""
    for i, (mono, coeff) in enumerate(ordered):
        mag = abs(coeff)
        alone = mag == 1 and len(mono) == 1
        body = "*".join(_atom_str(a, alone) for a in mono)
        text = body if mono and mag == 1 else (f"{mag}*{body}" if mono else str(mag))
        if i == 0:
            out = ("-" if coeff < 0 else "") + text
        else:
            out += (" - " if coeff < 0 else " + ") + text
    return out


def _atom_str(atom: Atom, alone: bool) -> str:
    s = dim_str(atom)
    return f"({s})" if isinstance(atom, FloorDiv) and not alone else s
