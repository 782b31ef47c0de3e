"""``vgemm_rm`` (register-blocked sgemm in numba) and its vector intrinsics, against numpy."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shapegraph.executor import kernels_vgemm as KV
from shapegraph.executor.blas import sgemm_rm
from shapegraph.executor.jit import njit
from shapegraph.executor.simd import (
    address,
    fload,
    fstore,
    prefetchw,
    vadd,
    vdiv,
    vfma,
    vload,
    vloadn,
    vloadnf,
    vmax,
    vmul,
    vnext,
    vout,
    vprev,
    vput,
    vrelu,
    vsplat,
    vstore,
    vstoren,
    vsub,
    vtranspose8,
    vunzip,
    vzip,
    wfma,
    wload,
    wout,
    wput,
    wsplat,
    wzero,
)


def run(m: int, n: int, k: int, beta: float, pads: tuple[int, int, int, int, int, int],
        seed: int) -> tuple[np.ndarray, np.ndarray]:
    """vgemm_rm on views into larger arrays (offsets and leading dimensions of their own,
    NaN around A's and B's blocks: B's strips are read where they lie); returns (C after
    the call, what numpy says C must be), both whole arrays: every element outside the
    product's block must be what it was."""
    rng = np.random.default_rng(seed)
    ra, ca, rb, cb, rc, cc = pads
    a = rng.standard_normal((m + ra, k + ca)).astype(np.float32)
    b = rng.standard_normal((k + rb, n + cb)).astype(np.float32)
    c = rng.standard_normal((m + rc, n + cc)).astype(np.float32)
    want = c.astype(np.float64)
    av, bv = a[ra:, ca:], b[rb:, cb:]
    a[:ra], a[:, :ca], b[:rb], b[:, :cb] = np.nan, np.nan, np.nan, np.nan  # never read
    want[rc:, cc:] = av.astype(np.float64) @ bv + beta * want[rc:, cc:]
    KV.vgemm_rm(m, n, k, av, k + ca, bv, n + cb, c[rc:, cc:], n + cc, beta)
    return c, want.astype(np.float32)


@njit(cache=True)
def _vgemm_act(m: int, n: int, k: int, a: np.ndarray, lda: int, b: np.ndarray, ldb: int,
               c: np.ndarray, ldc: int, beta: float, bias: np.ndarray, relu: bool) -> None:
    KV.vgemm_rm_act(m, n, k, a, lda, b, ldb, c, ldc, beta, bias, relu)


@settings(deadline=None, max_examples=150)
@given(st.integers(1, 40), st.integers(1, 80), st.sampled_from([0, 3, 40, 300]),
       st.sampled_from([0.0, 1.0]), st.booleans(), st.tuples(*[st.integers(0, 3)] * 6),
       st.integers(0, 2**32 - 1))
def test_vgemm_act_matches_numpy(m: int, n: int, k: int, beta: float, relu: bool,
                                 pads: tuple[int, int, int, int, int, int],
                                 seed: int) -> None:
    """``vgemm_rm_act``: C = relu(A @ B + bias + beta * C), the bias and ReLU applied as
    the tiles are stored, as the scratch tile's blocks are put, by the dot products of the
    last columns and in the rows of fewer than 8; on views; nothing outside the block."""
    rng = np.random.default_rng(seed)
    ra, ca, rb, cb, rc, cc = pads
    a = rng.standard_normal((m + ra, k + ca)).astype(np.float32)
    b = rng.standard_normal((k + rb, n + cb)).astype(np.float32)
    c = rng.standard_normal((m + rc, n + cc)).astype(np.float32)
    bias = rng.standard_normal(m + 2).astype(np.float32)
    want = c.astype(np.float64)
    av, bv = a[ra:, ca:], b[rb:, cb:]
    a[:ra], a[:, :ca], b[:rb], b[:, :cb] = np.nan, np.nan, np.nan, np.nan  # never read
    block = av.astype(np.float64) @ bv + bias[1:m + 1, None] + beta * want[rc:, cc:]
    want[rc:, cc:] = np.maximum(block, 0.0) if relu else block
    _vgemm_act(m, n, k, av, k + ca, bv, n + cb, c[rc:, cc:], n + cc, beta, bias[1:], relu)
    close(c, want.astype(np.float32), k)


def close(got: np.ndarray, want: np.ndarray, k: int) -> None:
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * max(k, 1) ** 0.5 * 4)


@settings(deadline=None, max_examples=150)
@given(st.integers(1, 40), st.integers(1, 80), st.integers(0, 70),
       st.sampled_from([0.0, 1.0, 0.5]), st.tuples(*[st.integers(0, 3)] * 6),
       st.integers(0, 2**32 - 1))
def test_vgemm_matches_numpy(m: int, n: int, k: int, beta: float,
                             pads: tuple[int, int, int, int, int, int], seed: int) -> None:
    """Any m (fewer than 8 rows, whole blocks of 8, a last block that overlaps the one
    before), any n (tiles of 24 and 8 columns, a last one through the scratch tile),
    any k (0 too), beta 0, 1 or other, on views with leading dimensions of their own; and
    nothing outside the block is written."""
    got, want = run(m, n, k, beta, pads, seed)
    close(got, want, k)


@settings(deadline=None, max_examples=60)
@given(st.integers(1, 30), st.integers(0, 3), st.integers(1, 7), st.integers(64, 600),
       st.sampled_from([0.0, 1.0, 0.5]), st.tuples(*[st.integers(0, 3)] * 6),
       st.integers(0, 2**32 - 1))
def test_vgemm_last_columns_as_dot_products(m: int, strips: int, tail: int, k: int,
                                            beta: float,
                                            pads: tuple[int, int, int, int, int, int],
                                            seed: int) -> None:
    """Fewer than 8 last columns on many terms (49- and 196-pixel planes) are dot products
    (``_dots``): alone, or after strips of 8, 24 or 48, with rows in blocks of 8 and one at
    a time, terms past the last multiple of 8, on views; the same numbers as numpy."""
    n = tail + [0, 8, 24, 48][strips]
    got, want = run(m, n, k, beta, pads, seed)
    close(got, want, k)


@settings(deadline=None, max_examples=60)
@given(st.integers(8, 40), st.integers(0, 2), st.integers(17, 47), st.integers(1, 300),
       st.sampled_from([0.0, 1.0]), st.booleans(), st.tuples(*[st.integers(0, 3)] * 6),
       st.integers(0, 2**32 - 1))
def test_vgemm_strips_of_32(m: int, strips: int, tail: int, k: int, beta: float,
                            relu: bool, pads: tuple[int, int, int, int, int, int],
                            seed: int) -> None:
    """17-47 last columns after 0-2 strips of 48 (SqueezeNet's 13x13 planes: 169 = 3 x 48
    + 25): where WIDE, on the tile of 32, from the strip in place (32 or more, then 8-wide
    tiles or dot products) or from a copy padded with zeros, stored through the scratch
    tile (under 32); with bias and ReLU, rows in blocks of 8 and a last overlapping
    block, on views; the same numbers as numpy, nothing outside the block written."""
    rng = np.random.default_rng(seed)
    n = KV.WR * strips + tail
    ra, ca, rb, cb, rc, cc = pads
    a = rng.standard_normal((m + ra, k + ca)).astype(np.float32)
    b = rng.standard_normal((k + rb, n + cb)).astype(np.float32)
    c = rng.standard_normal((m + rc, n + cc)).astype(np.float32)
    bias = rng.standard_normal(m).astype(np.float32)
    want = c.astype(np.float64)
    av, bv = a[ra:, ca:], b[rb:, cb:]
    a[:ra], a[:, :ca], b[:rb], b[:, :cb] = np.nan, np.nan, np.nan, np.nan  # never read
    block = av.astype(np.float64) @ bv + bias[:, None] + beta * want[rc:, cc:]
    want[rc:, cc:] = np.maximum(block, 0.0) if relu else block
    _vgemm_act(m, n, k, av, k + ca, bv, n + cb, c[rc:, cc:], n + cc, beta, bias, relu)
    close(c, want.astype(np.float32), k)


@settings(deadline=None, max_examples=40)
@given(st.integers(KV.PACK_MIN_M, KV.PACK_MIN_M + 70), st.integers(KV.WR, 3 * KV.WR + 30),
       st.integers(KV.PACK_MIN_K, KV.PACK_MIN_K + 200), st.sampled_from([0.0, 1.0]),
       st.booleans(), st.tuples(*[st.integers(0, 3)] * 6), st.integers(0, 2**32 - 1))
def test_vgemm_packed_strips_match_numpy(m: int, n: int, k: int, beta: float, relu: bool,
                                         pads: tuple[int, int, int, int, int, int],
                                         seed: int) -> None:
    """Products whose wide strips are first copied to be contiguous (``packs_wide``; on a
    machine without AVX-512 the same products on the 24-column tiles): strips of 48, then
    of 24 and 8 columns or dot products, a last block of rows that overlaps the one
    before, bias, ReLU and beta, on views; the same numbers as numpy."""
    assert KV.packs_wide(m, k)
    test_vgemm_act_matches_numpy.hypothesis.inner_test(m, n, k, beta, relu, pads, seed)


@settings(deadline=None, max_examples=30)
@given(st.integers(2 * KV.GROUP_ROWS, 5 * KV.GROUP_ROWS + 7), st.integers(0, 2 * KV.WR + 47),
       st.integers(1, KV.PACK_MIN_K - 1), st.sampled_from([0.0, 1.0]), st.booleans(),
       st.tuples(*[st.integers(0, 3)] * 6), st.integers(0, 2**32 - 1))
def test_vgemm_row_groups_match_numpy(m: int, extra: int, k: int, beta: float, relu: bool,
                                      pads: tuple[int, int, int, int, int, int],
                                      seed: int) -> None:
    """Products in groups of GROUP_ROWS rows (``row_groups``: B read where it lies, an
    output of GROUP_MIN_BYTES or more), beta 0 (grouped) and 1 (not): a last group of
    16-31 rows whose last block overlaps the one before, strips of 48 and last columns
    of every kind, bias, ReLU, on views; the same numbers as numpy."""
    n = -(-KV.GROUP_MIN_BYTES // (4 * m)) + extra
    assert not KV.WIDE or KV.row_groups(m, n, k)
    test_vgemm_act_matches_numpy.hypothesis.inner_test(m, n, k, beta, relu, pads, seed)


def test_dots_take_short_tails_of_long_products() -> None:
    """``dots_win``: one column from 8 terms on; seven only on long products (a tile of 8
    columns costs the same for any number of them)."""
    assert KV.dots_win(1, 8) and KV.dots_win(1, 2048)
    assert KV.dots_win(7, 2048) and not KV.dots_win(7, 64)
    assert all(KV.dots_win(w, k) <= KV.dots_win(w - 1, k)
               for w in range(2, 8) for k in range(1, 700, 13))


def test_vgemm_overwrites_nan_when_beta_is_0() -> None:
    """beta 0: C's old contents are never read (the arena hands out uninitialized memory)."""
    a = np.ones((13, 5), np.float32)
    b = np.ones((5, 30), np.float32)
    c = np.full((13, 30), np.nan, np.float32)
    KV.vgemm_rm(13, 30, 5, a, 5, b, 30, c, 30, 0.0)
    assert (c == 5.0).all()


def test_vgemm_conv_shapes_agree_with_sgemm() -> None:
    """The shapes it replaces sgemm on in the CNNs (49, 196 and 784 pixels; 64-4608 terms;
    an odd 8-row tail): the same numbers as BLAS, to float32 rounding."""
    rng = np.random.default_rng(5)
    for m, k, n in [(64, 576, 49), (256, 1024, 196), (128, 128, 784), (100, 300, 61)]:
        a = rng.standard_normal((m, k)).astype(np.float32)
        b = rng.standard_normal((k, n)).astype(np.float32)
        mine, blas = np.empty((m, n), np.float32), np.empty((m, n), np.float32)
        KV.vgemm_rm(m, n, k, a, k, b, n, mine, n, 0.0)
        sgemm_rm(m, n, k, a, k, b, n, blas, n, 0.0)
        close(mine, blas, k)


@njit(cache=True)
def _intrinsics(x: np.ndarray, y: np.ndarray, z: np.ndarray) -> float:
    vstore(y, 1, vfma(vsplat(np.float32(3.0)), vload(x, 2), vload(y, 1)))
    fstore(z, 0, fload(x, 9))
    vput(address(z), 1, vload(x, 0), 0.0)  # overwrite
    vput(address(z), 9, vload(x, 0), 2.0)  # z = x + 2 z
    return fload(y, 0)


def test_vector_intrinsics() -> None:
    """Offsets count elements from the first; vput reads its target only for beta != 0."""
    x = np.arange(12, dtype=np.float32)
    y = np.ones(10, np.float32)
    z = np.zeros(17, np.float32)
    z[9:] = 1.0
    assert _intrinsics(x, y, z) == 1.0
    np.testing.assert_array_equal(y, [1] + [1 + 3 * v for v in range(2, 10)] + [1])
    np.testing.assert_array_equal(z, [9] + list(range(8)) + [2 + v for v in range(8)])


@njit(cache=True)
def _transpose(a: np.ndarray, o: np.ndarray) -> None:
    cols = vtranspose8(vload(a, 0), vload(a, 8), vload(a, 16), vload(a, 24), vload(a, 32),
                       vload(a, 40), vload(a, 48), vload(a, 56))
    for j in range(8):
        vstore(o, 8 * j, cols[j])


def test_vtranspose8() -> None:
    """Eight vectors as the rows of a matrix: their transpose's rows, bit for bit."""
    a = np.random.default_rng(0).standard_normal(64).astype(np.float32)
    o = np.empty(64, np.float32)
    _transpose(a, o)
    np.testing.assert_array_equal(o.reshape(8, 8), a.reshape(8, 8).T)


@njit(cache=True)
def _lanewise(a: np.ndarray, b: np.ndarray, o: np.ndarray) -> None:
    x, y = vload(a, 0), vload(b, 0)
    vstore(o, 0, vadd(x, y))
    vstore(o, 8, vsub(x, y))
    vstore(o, 16, vrelu(x))
    lo, hi = vzip(x, y)
    vstore(o, 24, lo)
    vstore(o, 32, hi)
    ev, od = vunzip(vload(a, 0), vload(b, 0))
    vstore(o, 40, ev)
    vstore(o, 48, od)
    vstore(o, 56, vmax(x, y))
    vstore(o, 64, vmax(y, x))
    vstore(o, 72, vmul(x, y))
    vstore(o, 80, vnext(x, y))
    vstore(o, 88, vprev(x, y))
    vstore(o, 96, vdiv(x, y))


def test_lanewise_intrinsics() -> None:
    """vadd, vsub, vmul, vdiv, vrelu (NaN and -0.0 kept, as the scalar ``zero if v < zero
    else v``), vzip, vunzip, vmax (NaN on either side propagates), vnext and vprev against
    numpy, bit for bit."""
    a = np.random.default_rng(1).standard_normal(8).astype(np.float32)
    a[:3] = [np.nan, -0.0, -np.inf]
    b = np.random.default_rng(2).standard_normal(8).astype(np.float32)
    b[3] = np.nan
    o = np.empty(104, np.float32)
    _lanewise(a, b, o)
    np.testing.assert_array_equal(o[:8], a + b)
    np.testing.assert_array_equal(o[8:16], a - b)
    relu = np.where(a < 0, np.float32(0), a)
    np.testing.assert_array_equal(o[16:24], relu)
    assert np.signbit(o[17])  # -0.0 is not below 0
    np.testing.assert_array_equal(o[24:40], np.stack([a, b], axis=1).reshape(16))
    ab = np.concatenate([a, b])
    np.testing.assert_array_equal(o[40:48], ab[0::2])
    np.testing.assert_array_equal(o[48:56], ab[1::2])
    np.testing.assert_array_equal(o[56:64], np.maximum(a, b))  # NaN from either side
    np.testing.assert_array_equal(o[64:72], np.maximum(b, a))
    np.testing.assert_array_equal(o[72:80], a * b)
    np.testing.assert_array_equal(o[80:88], ab[1:9])
    np.testing.assert_array_equal(o[88:96], ab[7:15])
    with np.errstate(invalid="ignore"):
        np.testing.assert_array_equal(o[96:104], a / b)


@njit(cache=True)
def _masked(a: np.ndarray, o: np.ndarray, n: int) -> None:
    vstoren(o, 1, vloadn(a, 2, n), n)
    vstore(o, 12, vloadnf(a, 2, n, np.float32(-np.inf)))
    prefetchw(address(o))  # (a hint: nothing changes)


@pytest.mark.parametrize("n", range(9))
def test_masked_load_and_store(n: int) -> None:
    """vloadn/vstoren move the first n lanes and touch nothing past them: a load ending at
    the array's last element, a store whose neighbours keep their values; vloadnf fills the
    other lanes with its value."""
    a = np.arange(2 + n, dtype=np.float32) + 1  # nothing after the n lanes loaded
    o = np.full(20, -1.0, np.float32)
    _masked(a, o, n)
    np.testing.assert_array_equal(o[:12], [-1] + list(range(3, 3 + n)) + [-1] * (11 - n))
    np.testing.assert_array_equal(o[12:], list(range(3, 3 + n)) + [-np.inf] * (8 - n))


@njit(cache=True)
def _wide(x: np.ndarray, y: np.ndarray, z: np.ndarray) -> None:
    xa, za = address(x), address(z)
    v = wfma(wsplat(np.float32(3.0)), wload(xa, 2), wzero())  # 3 x[2:18]
    wput(za, 0, v, 0.0)  # overwritten
    wput(za, 16, wload(address(y), 0), 2.0)  # z[16:32] = y + 2 z[16:32]


def test_wide_intrinsics() -> None:
    """The 16-lane operations of the wide tiles (``kernels_vgemm.WIDE``) against numpy:
    offsets in elements from the address, wput's beta as vput's (0: not read)."""
    x = np.random.default_rng(3).standard_normal(20).astype(np.float32)
    y = np.random.default_rng(4).standard_normal(16).astype(np.float32)
    z = np.full(34, np.nan, np.float32)
    z[16:] = 1.5
    _wide(x, y, z)
    np.testing.assert_array_equal(z[:16], np.float32(3.0) * x[2:18])
    np.testing.assert_allclose(z[16:32], y + np.float32(3.0), rtol=1e-6)
    np.testing.assert_array_equal(z[32:], [1.5, 1.5])  # nothing past the 16 lanes


def test_wide_tiles_where_avx512() -> None:
    """WIDE follows the machine numba compiles for (AVX-512's 16-lane registers), and the
    48-column tiles give sgemm's numbers (a product with strips of 48, 24, 8 and a last
    part, and 8-row blocks with a last overlapping one)."""
    from llvmlite import binding

    has = bool(binding.get_host_cpu_features().get("avx512f", False))
    from numba.core import config

    assert (has and (config.CPU_NAME or "host") == "host") == KV.WIDE
    got, want = run(21, 48 + 24 + 8 + 5, 37, 0.0, (1, 2, 0, 3, 1, 1), 9)
    close(got, want, 37)


@njit(cache=True)
def _outs(x: np.ndarray, z: np.ndarray, bias: float) -> None:
    za = address(z)
    vout(za, 0, vload(x, 0), 0.0, np.float32(bias), 0)  # z[0:8] = x + bias, not read
    vout(za, 8, vload(x, 0), 2.0, np.float32(bias), 1)  # relu(x + bias + 2 z[8:16])
    wout(za, 16, wload(address(x), 0), 0.0, np.float32(bias), 1)  # relu(x + bias), 16


def test_vout_finishes_a_row_as_it_stores() -> None:
    """vout/wout (the tiles' stores of ``vgemm_rm_act``): plus the bias, plus beta times
    the target (not read for beta 0: NaN there stays out), ReLU where asked, as ``vrelu``
    (NaN stays NaN); against numpy, to float32 rounding."""
    x = np.random.default_rng(5).standard_normal(16).astype(np.float32)
    x[3] = np.nan
    z = np.full(32, np.nan, np.float32)
    z[8:16] = np.random.default_rng(6).standard_normal(8).astype(np.float32)
    old = z[8:16].copy()
    _outs(x, z, 0.25)
    b = np.float32(0.25)
    np.testing.assert_array_equal(z[:8], x[:8] + b)
    mid = x[:8] + b + 2 * old
    np.testing.assert_allclose(z[8:16], np.where(mid < 0, 0, mid), rtol=1e-6)
    assert np.isnan(z[11]) and np.isnan(z[19])
    np.testing.assert_array_equal(z[16:32], np.where(x + b < 0, np.float32(0), x + b))
