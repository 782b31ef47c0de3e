"""Properties of the symbolic dimension algebra (hypothesis) and a few tables."""

from __future__ import annotations

import operator

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from shapegraph.core import dims
from shapegraph.core.dims import (
    Dim,
    DimExpr,
    Hole,
    Sym,
    Truth,
    ceildiv,
    compare,
    dim_str,
    evaluate,
    exact_div,
    floordiv,
    solve_for,
    substitute,
)

NAMES = ("a", "b", "c")
HOLES = (Hole(900001, "h1"), Hole(900002, "h2"))


def leaves() -> st.SearchStrategy[Dim]:
    return st.one_of(
        st.integers(-20, 40),
        st.sampled_from([Sym(n) for n in NAMES]),
        st.sampled_from(HOLES),
    )


def _extend(children: st.SearchStrategy[Dim]) -> st.SearchStrategy[Dim]:
    return st.one_of(
        st.tuples(children, children).map(lambda t: t[0] + t[1]),
        st.tuples(children, children).map(lambda t: t[0] - t[1]),
        st.tuples(children, st.integers(-4, 6)).map(lambda t: t[0] * t[1]),
        st.tuples(children, children).map(lambda t: dims.mul(t[0], t[1])),
        st.tuples(children, st.integers(1, 7)).map(lambda t: floordiv(t[0], t[1])),
        st.tuples(children, st.integers(1, 5)).map(lambda t: ceildiv(t[0], t[1])),
    )


exprs = st.recursive(leaves(), _extend, max_leaves=8)
envs = st.fixed_dictionaries(
    {**{Sym(n): st.integers(1, 60) for n in NAMES}, **{h: st.integers(1, 60) for h in HOLES}}
)


def canonical_again(d: Dim) -> Dim:
    """Rebuild ``d`` through the public arithmetic: must give the same value back."""
    return substitute(d, lambda a: None)


@settings(max_examples=300, deadline=None)
@given(exprs)
def test_normalization_is_idempotent(d: Dim) -> None:
    assert canonical_again(d) == d
    assert canonical_again(canonical_again(d)) == canonical_again(d)


@settings(max_examples=300, deadline=None)
@given(exprs, exprs, envs, st.sampled_from([operator.add, operator.sub, dims.mul]))
def test_evaluation_commutes_with_arithmetic(a: Dim, b: Dim, env: dict, op) -> None:
    assert evaluate(op(a, b), env) == op(evaluate(a, env), evaluate(b, env))


@settings(max_examples=300, deadline=None)
@given(exprs, st.integers(1, 9), envs)
def test_floor_and_ceil_division_evaluate_like_python(a: Dim, k: int, env: dict) -> None:
    assert evaluate(floordiv(a, k), env) == evaluate(a, env) // k
    assert evaluate(ceildiv(a, k), env) == -(-evaluate(a, env) // k)


@settings(max_examples=200, deadline=None)
@given(exprs, exprs, exprs)
def test_equal_expressions_have_equal_canonical_forms(a: Dim, b: Dim, c: Dim) -> None:
    assert dims.mul(a + b, c) == dims.mul(a, c) + dims.mul(b, c)
    assert (a + b) - b == a
    assert a + b == b + a
    assert dims.mul(a, b) == dims.mul(b, a)
    assert floordiv(a * 6 + 3 * b, 3) == 2 * a + b


@settings(max_examples=300, deadline=None)
@given(exprs, exprs, envs)
def test_compare_never_guesses(a: Dim, b: Dim, env: dict) -> None:
    verdict = compare(a, b)
    if verdict is Truth.YES:
        assert evaluate(a, env) == evaluate(b, env)
    elif verdict is Truth.NO:
        assert evaluate(a, env) != evaluate(b, env)


@settings(max_examples=200, deadline=None)
@given(exprs, st.integers(1, 6), envs)
def test_solve_for_gives_a_real_solution(rest: Dim, c: int, env: dict) -> None:
    h = Hole(900099)
    assume(h not in dims.holes(rest))
    eq = c * h + rest
    sol = solve_for(eq, h)
    if sol is not None:
        env2 = dict(env)
        assume(all(a in env2 for a in dims.free_atoms(sol)))
        env2[h] = evaluate(sol, env2)
        assert evaluate(eq, env2) == 0


@pytest.mark.parametrize(
    ("expr", "text"),
    [
        ((Sym("h") + 2 * 2 - 5) // 1 + 1, "h"),
        ((Sym("h") - 4) // 2 + 1, "h//2 - 1"),
        (((Sym("h") - 4) // 2 + 1 - 2) // 2 + 1, "(h//2 + 1)//2 - 1"),
        (dims.mul(16, dims.mul(Sym("h"), Sym("w"))), "16*h*w"),
        (floordiv(2 * Sym("h") + 2, 4), "(h + 1)//2"),
        (floordiv(floordiv(Sym("h"), 2), 3), "h//6"),
        (32 * floordiv(Sym("h"), 4), "32*(h//4)"),
        (3 - Sym("n"), "-n + 3"),
        (Hole.fresh() + 1, "? + 1"),
    ],
)
def test_printing(expr: Dim, text: str) -> None:
    assert dim_str(expr) == text


def test_constants_fold_to_int_and_lone_symbols_stay_symbols() -> None:
    h = Sym("h")
    assert (h + 3) - h == 3 and type((h + 3) - h) is int
    assert (h + 3) - 3 is not None and ((h + 3) - 3) == h and isinstance((h + 3) - 3, Sym)
    assert isinstance(floordiv(h, 2), DimExpr)


@pytest.mark.parametrize(
    ("a", "b", "truth"),
    [
        (Sym("h") + 1, Sym("h"), Truth.NO),
        (Sym("h"), 3, Truth.UNKNOWN),
        (Sym("batch"), Sym("n"), Truth.UNKNOWN),
        (dims.mul(Sym("h"), Sym("w")), 0, Truth.NO),
        (floordiv(Sym("h"), 2) * 2 + 1, 0, Truth.NO),
        (Sym("h") * 4 // 2, 2 * Sym("h"), Truth.YES),
    ],
)
def test_compare_table(a: Dim, b: Dim, truth: Truth) -> None:
    assert compare(a, b) is truth


def test_exact_div() -> None:
    n = Sym("n")
    assert exact_div(20 * n, n) == 20
    assert exact_div(20 * n, 3) is None
    assert exact_div(20 * n + 4, 4) == 5 * n + 1
    assert exact_div(n + 1, n) is None


def test_floordiv_rejects_bad_divisors() -> None:
    with pytest.raises(ValueError, match="positive int"):
        floordiv(Sym("h"), 0)
    with pytest.raises(ValueError, match="positive int"):
        floordiv(Sym("h"), True)  # type: ignore[arg-type]


def test_holes_are_identified_by_id_only() -> None:
    assert Hole(5, "x") == Hole(5, "y")
    assert hash(Hole(5)) == hash(Hole(5, "z"))
    assert Hole(5) != Hole(6)
    assert Hole.fresh() != Hole.fresh()


def test_as_int() -> None:
    assert dims.as_int(3) == 3
    with pytest.raises(TypeError, match="batch"):
        dims.as_int(Sym("batch"))
