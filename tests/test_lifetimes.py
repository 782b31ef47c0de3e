"""Arrays a kernel works on through their addresses live until that work is done.

numba frees an array right after its last use, and a raw address taken from it
(``simd.address``) is not a use: the memory is then free while the kernel still writes and
reads it, and the next allocation, on the same thread or another, may take it. Every kernel
that allocates an array and uses its address calls ``simd.keep`` on it after the last such
access (found at stop 39: two threads' ``vgemm`` calls, each packing its strips into a
buffer only its address used, gave wrong rows about once in 300 calls)."""

from __future__ import annotations

import ast
from pathlib import Path

import numba
import numpy as np
from numba import njit, prange

from shapegraph.executor import kernels_vgemm as KV
from shapegraph.executor.simd import address, keep
from shapegraph.executor.templates import conv2d_config, conv2d_source

EXECUTOR = Path(__file__).resolve().parents[1] / "shapegraph" / "executor"


@njit(cache=True)
def _two_allocations(n: int, held: bool) -> tuple[int, int]:
    a = np.empty(n, np.float32)
    first = address(a)
    b = np.empty(n, np.float32)
    second = address(b)
    if held:
        keep(a, b)
    return first, second


def test_keep_holds_an_array_used_through_its_address() -> None:
    """With ``keep`` after the last use of its address, the first array is not free when
    the second is allocated: their memory never coincides."""
    for n in (16, 1000, 100_000):
        first, second = _two_allocations(n, True)
        assert first != second


def _views(fn: ast.FunctionDef) -> set[str]:
    """The locals of ``fn`` assigned only views of its parameters (or of such views):
    indexing, ``reshape``. The caller's array holds their memory."""
    owners = {a.arg for a in fn.args.args}
    assigned: dict[str, list[ast.expr]] = {}
    for node in ast.walk(fn):
        if isinstance(node, ast.Assign):
            for t in node.targets:
                if isinstance(t, ast.Name):
                    assigned.setdefault(t.id, []).append(node.value)
                elif isinstance(t, ast.Tuple) and isinstance(node.value, ast.Tuple):
                    for e, v in zip(t.elts, node.value.elts, strict=True):
                        if isinstance(e, ast.Name):
                            assigned.setdefault(e.id, []).append(v)
                elif isinstance(t, ast.Tuple):  # unpacked from a call: not a view
                    for e in t.elts:
                        if isinstance(e, ast.Name):
                            assigned.setdefault(e.id, []).append(node.value)

    def base(v: ast.expr) -> str | None:
        while True:
            if isinstance(v, ast.Subscript):
                v = v.value
            elif (isinstance(v, ast.Call) and isinstance(v.func, ast.Attribute)
                  and v.func.attr == "reshape"):
                v = v.func.value
            else:
                return v.id if isinstance(v, ast.Name) else None

    views: set[str] = set()
    changed = True
    while changed:
        changed = False
        for name, values in assigned.items():
            if name in views or name in owners:
                continue
            if all(isinstance(v, ast.Subscript | ast.Call) and base(v) in owners | views
                   and base(v) != name for v in values):
                views.add(name)
                changed = True
    return views


def unkept(source: str) -> list[str]:
    """Each ``function: name`` of ``source`` whose array ``name``, a local that is not a
    view of a parameter, is passed to ``address`` with no ``keep(..., name, ...)`` after
    the last such call."""
    bad = []
    for fn in ast.walk(ast.parse(source)):
        if not isinstance(fn, ast.FunctionDef) or fn.name == "empty64":
            continue  # (empty64 returns a view of its buffer: the view holds it)
        params = {a.arg for a in fn.args.args}
        addressed: dict[str, int] = {}
        kept: dict[str, int] = {}
        for node in ast.walk(fn):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
                continue
            names = [a.id for a in node.args if isinstance(a, ast.Name)]
            if node.func.id == "address" and names:
                addressed[names[0]] = max(addressed.get(names[0], 0), node.lineno)
            elif node.func.id == "keep":
                for n in names:
                    kept[n] = max(kept.get(n, 0), node.lineno)
        views = _views(fn)
        bad += [f"{fn.name}: {n}" for n, line in sorted(addressed.items())
                if n not in params and n not in views and kept.get(n, 0) < line]
    return bad


def test_every_array_used_through_its_address_is_kept() -> None:
    """Every kernel module, and a generated Winograd kernel (its copies of the input and
    its transforms go through addresses too)."""
    bad = []
    for path in sorted(EXECUTOR.glob("*.py")):
        bad += [f"{path.name}: {b}" for b in unkept(path.read_text())]
    args = (1, 16, 32, 32, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1)
    assert conv2d_config(*args).algo == "wino"
    source, _ = conv2d_source(*args, (0, 0.0, 0.0), True, False)
    bad += [f"generated: {b}" for b in unkept(source)]
    assert bad == []


def test_the_check_finds_an_array_not_kept() -> None:
    """The scan above on a kernel that forgets: its allocation is reported, a view of a
    parameter is not, and a ``keep`` before the last address does not count."""
    source = '''
def k(x, out):
    buf = np.empty(8, np.float32)
    row = x[0].reshape(4)
    a, r = address(buf), address(row)
    keep(buf)
    tmp = np.empty(8, np.float32)
    keep(tmp)
    t = address(tmp)
'''
    assert unkept(source) == ["k: tmp"]


@njit(cache=True, parallel=True)
def _two_products(m: int, n: int, k: int, a: np.ndarray, b: np.ndarray, c: np.ndarray,
                  bias: np.ndarray) -> None:
    for it in prange(2):
        KV.vgemm_rm_act(m, n, k, a[it * m:], k, b, n, c[it * m:], n, 0.0, bias[it * m:],
                        True)


def test_vgemm_on_two_threads_at_once() -> None:
    """Two threads each running ``vgemm`` with its strips packed (128 rows, 288 terms) and
    a last column of dot products (49 pixels: a 7x7 plane): the rows of both, call after
    call (its packed strips' buffer was freed early: about one call in 300 went wrong)."""
    m, n, k = 128, 49, 288
    rng = np.random.default_rng(0)
    a = rng.standard_normal((2 * m, k)).astype(np.float32)
    b = rng.standard_normal((k, n)).astype(np.float32)
    bias = rng.standard_normal(2 * m).astype(np.float32)
    want = np.maximum(a.astype(np.float64) @ b + bias[:, None], 0.0)
    before = numba.get_num_threads()
    numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
    try:
        for _ in range(1000):
            c = np.full((2 * m, n), np.nan, np.float32)
            _two_products(m, n, k, a, b, c, bias)
            np.testing.assert_allclose(c, want, rtol=1e-4, atol=1e-3)
    finally:
        numba.set_num_threads(before)
