"""``vgemm_rm``: row-major sgemm in numba, register-blocked on eight-lane vectors.

It replaces BLAS sgemm where shapegraph's products are short in one dimension: a
convolution's ``W[M, K] @ X[K, pixels]`` with 49-784 pixels or 64-512 input channels, its
operands cold from memory (a network streams 100 MB of weights through the caches once a
call). There OpenBLAS packs both operands on every call and runs at 65-93 GFLOP/s on this
2-core Zen 4 VM, one thread, while ONNX Runtime's kernels reach 100-115.

The scheme is MLAS's: a tile of 8 rows of C by 24 columns (three 8-lane vectors) lives in
24 registers through the whole K loop. Each step loads 24 floats of B's row and broadcasts
8 floats of A, read in place from A's rows, for 24 fused multiply-adds, and asks for the
cache lines of A's next 8 rows on the way. A strip of B (K x 24) is shared by all of A's
row blocks, so A streams through in long sequential rows. B's strips are read where they
lie (until stop 29 each was first copied to be contiguous: the same speed on 256-2048
channels, and the copy cost small products 10-25%: 256 -> 32 at 27x27 139 µs against 118
now); after the strips of 24 come strips of 8. The last columns (fewer than 8: the one
pixel past 48 of a 7x7 plane, the four past 192 of a 14x14) are dot products of A's rows
with B's columns (``_dots``: a tile would compute 8 columns for them), each block of 8 rows
right after its tile of the strip before, while A's rows are in the cache; on short
products (``dots_win``) they are copied, padded with zeros (``vloadn``), into a strip for a
tile, stored through a scratch tile. The last block of rows is the 8 that end at row m
(stored from where the blocks before it stopped), and fewer than 8 rows are done one at a
time. Each element of C is one chain of fused multiply-adds over k in order, but in a dot
product: eight chains over every eighth term, then summed.

Where the CPU numba compiles for has AVX-512 (``WIDE``), strips of 48 columns come first,
on a tile of 8 rows by three 16-lane vectors (``simd.F32x16``): the same 24 accumulator
registers, half the loads and broadcasts per multiply-add (114-117 GFLOP/s on one thread
against 105-111; ``oconv``'s and ``dense_tiled``'s tiles do the same along output
channels); 17-47 last columns run on a tile of two 16-lane vectors (``_tile32``), from a
copy padded with zeros where there are fewer than 32.

The register tiles and the product are C functions (numba ``cfunc``, compiled once and
cached), called by name from compiled kernels as numba calls BLAS: inlined, they were
compiled, linked and optimized again in every kernel calling them, twice in those with a
parallel and a serial loop, and again in every plan segment calling those (ResNet-50's
cold first call 14.6 -> 26.8 s; as C functions, 21-23 s). Cold, they compile here while a
helper compiles ``kernels_oconv``'s (``helpers.share_import``). The product's own C function
calls the tile of 48 columns directly, compiled into it once (0.5 s more, cold): a call
through the tiles' C function cost a small product 5-13% (SqueezeNet's 1x1s of 16-64
terms, alone: 64 x 3025 x 16 63 -> 55 µs).

>>> import numpy as np
>>> a = np.arange(6, dtype=np.float32).reshape(2, 3); b = np.ones((3, 5), np.float32)
>>> c = np.full((2, 5), 10.0, np.float32)
>>> vgemm_rm(2, 5, 3, a, 3, b, 5, c, 5, 1.0)
>>> c.tolist()
[[13.0, 13.0, 13.0, 13.0, 13.0], [22.0, 22.0, 22.0, 22.0, 22.0]]
"""

from __future__ import annotations

from typing import Any

import numpy as np
from llvmlite import binding as _llvm  # type: ignore[import-untyped]
from numba import cfunc, types

from shapegraph.executor import helpers
from shapegraph.executor.jit import njit
from shapegraph.executor.regs import MR, NR, WIDE, WR, _put
from shapegraph.executor.simd import (
    address,
    empty64,
    fload,
    fstore,
    keep,
    prefetch,
    prefetchw,
    vfma,
    vload,
    vloadn,
    vout,
    vsplat,
    vstore,
    vzero,
    wfma,
    wload,
    wout,
    wsplat,
    wstore,
    wzero,
)

__all__ = ["MR", "NR", "WIDE", "WR", "vgemm_rm", "vgemm_rm_act", "vgemm_tile", "vgemm_tile48"]

# (kernels_oconv's C functions compile in a helper meanwhile, where they are not cached)
helpers.share_import(__name__, "shapegraph.executor.kernels_oconv")

@njit(cache=True, nogil=True, inline="always")
def vgemm_rm(m: int, n: int, k: int, a: np.ndarray, lda: int, b: np.ndarray, ldb: int,
             c: np.ndarray, ldc: int, beta: float) -> None:
    """Row-major ``C[m, n] = A[m, k] @ B[k, n] + beta * C``, as ``blas.sgemm_rm``: ``a``,
    ``b``, ``c`` are float32 arrays or views whose first element is the operand's [0, 0],
    rows ``lda``/``ldb``/``ldc`` elements apart. ``beta`` 0 overwrites C (it may hold
    anything), else C is read. (A call of the C function ``_vgemm_c``.)"""
    _vgemm_ext(m, n, k, address(a), lda, address(b), ldb, address(c), ldc, beta, 0, 0)


@njit(cache=True, nogil=True, inline="always")
def vgemm_rm_act(m: int, n: int, k: int, a: np.ndarray, lda: int, b: np.ndarray, ldb: int,
                 c: np.ndarray, ldc: int, beta: float, bias: np.ndarray, relu: bool) -> None:
    """``vgemm_rm``, each element of C's row i then plus ``bias[i]`` (``bias``'s first
    element is row 0's), and ReLU'd where ``relu``: the epilogue of a convolution done as
    each register tile is stored (C = relu(A @ B + bias + beta * C)). (Separate, the pass
    over C cost ResNet-50's 1x1 convolutions 5% on one thread, 7% on two.)"""
    _vgemm_ext(m, n, k, address(a), lda, address(b), ldb, address(c), ldc, beta,
               address(bias), 1 if relu else 0)


@njit(cache=True, nogil=True)
def _vgemm(m: int, n: int, k: int, a: int, lda: int, b: int, ldb: int, c: int, ldc: int,
           beta: float, bias: int, relu: int) -> None:
    """``vgemm_rm`` on the operands' addresses, and ``vgemm_rm_act``'s epilogue (``bias``
    the address of row 0's bias, or 0 for none)."""
    if m <= 0 or n <= 0:
        return
    if m < MR:
        _small(m, n, k, a, lda, b, ldb, c, ldc, beta, bias, relu)
        return
    # (the scratch buffers 64-byte aligned: ``simd.empty64``)
    xs = empty64(max(k, 1) * 8)  # a last strip of < 8 columns, padded
    tmp = empty64(MR * WR)  # a tile C cannot hold
    tmp_at, xs_at = address(tmp), address(xs)
    # wide strips copied to be contiguous first (``packs_wide``)
    pack = WIDE and n >= WR and packs_wide(m, k)
    xw = empty64(max(k, 1) * WR if pack else 1)
    xw_at = address(xw)
    # where WIDE, 17-31 last columns (after the strips of 48): a zero-padded copy for the
    # tile of 32 (``_pack_padded``)
    last = n % WR if WIDE else 0
    x32 = empty64(max(k, 1) * 32 if 16 < last < 32 else 1)
    # groups of GROUP_ROWS rows, each over every strip, where B's strips are read where
    # they lie (``row_groups``); else one group of all the rows
    gr = GROUP_ROWS if beta == 0.0 and row_groups(m, n, k) else m
    g0 = 0
    while g0 < m:
        g1 = m if m - g0 < 2 * gr else g0 + gr  # (the last group takes what is left)
        s0 = 0
        while s0 < n:
            w = n - s0
            # vectors of 8 the tile computes (where WIDE, 17-47 last columns on the tile
            # of 32)
            nv = (6 if WIDE and w >= WR else 4 if WIDE and w > 16 else 3 if w >= NR else 1)
            w = min(w, 8 * nv)
            bb, bo, lb = b, s0, ldb  # the strip's rows: lb floats apart from element bo of bb
            # (x32 and xs hold copies of the last strip only: the first group makes them,
            # the others read them again)
            if pack and nv == 6:
                _pack_wide(b, ldb, s0, k, xw_at)
                bb, bo, lb = xw_at, 0, WR
            elif nv == 4 and w < 32:
                if g0 == 0:
                    _pack_padded(b, ldb, s0, w, k, address(x32), 32)
                bb, bo, lb = address(x32), 0, 32
            # fewer than 8 columns after this strip, or in all: dot products (``_dots``),
            # each block of rows right after its tile here, while A's rows are in the cache
            tail = n - s0 - w if 0 < n - s0 - w < 8 and dots_win(n - s0 - w, k) else 0
            if w < 8 and dots_win(w, k):
                tail, w = w, 0
            if tail:
                if g0 == 0:
                    _pack_columns(b, ldb, s0 + w, tail, k, xs)
            elif w < 8:  # the last columns: copied into a strip padded with zeros
                if g0 == 0:
                    _pack_padded(b, ldb, s0, w, k, xs_at, 8)
                bb, bo, lb = xs_at, 0, 8
            for r0 in range(g0, g1, MR):
                # the group's last rows: the 8 rows that end at g1, stored from r0 on
                # (through tmp)
                rr = min(r0, g1 - MR)
                # A's next 8 rows, fetched into the cache while these are multiplied
                nxt = a + 4 * lda * (rr + MR if rr + MR < g1 else g0)
                if w == 0:
                    pass
                elif rr == r0 and w == nv * 8:
                    # the next tile's output: the next rows of this strip, or the next
                    # strip's first, or the next group's (asked for on the way, to be
                    # written: on an output that is not in the cache a tile's stores
                    # waited for its lines: ResNet-50's 64 -> 256 at 56x56 took twice its
                    # time when hot)
                    nr = min(r0 + MR, g1 - MR)
                    nd = (c + 4 * (nr * ldc + s0) if r0 + MR < g1
                          else c + 4 * (g0 * ldc + s0 + w + tail) if s0 + w + tail < n
                          else c + 4 * g1 * ldc if g1 < m else 0)
                    if nv == 6:  # (called directly: see the module's docstring)
                        _tile48(a, rr * lda, lda, bb, bo, lb, k, c + 4 * (rr * ldc + s0),
                                ldc, beta, nxt, nd, bias + 4 * rr if bias != 0 else 0, relu)
                    else:
                        _tile(nv, a, rr * lda, lda, bb, bo, lb, k, c + 4 * (rr * ldc + s0),
                              ldc, beta, nxt, nd, bias + 4 * rr if bias != 0 else 0, relu)
                else:
                    # through tmp: the strip's whole tile where WIDE, else 24 columns (or
                    # 8) at a time
                    hv = nv if nv >= 4 else min(nv, 3)
                    for h in range(0, w, 8 * hv):
                        _tile(hv, a, rr * lda, lda, bb, bo + h, lb, k, tmp_at, 8 * hv, 0.0,
                              nxt, 0, 0, 0)
                        _put(tmp, r0 - rr, c, r0 * ldc + s0 + h, ldc, min(MR, g1 - r0),
                             min(8 * hv, w - h), beta, 8 * hv)
                        _finish(c, r0 * ldc + s0 + h, ldc, min(MR, g1 - r0),
                                min(8 * hv, w - h), bias + 4 * r0 if bias != 0 else 0, relu)
                if tail:
                    _dots(r0, rr, tail, k, a, lda, xs, c, s0 + w, ldc, beta, bias, relu)
            s0 += w + tail
        g0 = g1
    keep(xs, tmp, xw, x32)  # (their addresses were used up to here: ``simd.keep``)


@njit(cache=True, nogil=True, inline="always")
def row_groups(m: int, n: int, k: int) -> bool:
    """Whether ``_vgemm`` runs its rows in groups of GROUP_ROWS, each group over every
    strip of B (else each strip over every row): where B's strips are read where they
    lie (not ``packs_wide``), with two groups or more and an output C of GROUP_MIN_BYTES or
    more (``_vgemm`` asks only where beta is 0: a new output). Strip after strip, every
    tile writes 8 rows a plane apart, and on an output not in the cache each store waited
    for its line; a group's rows are written in order, as streams the CPU fetches ahead.
    Alone, on outputs not in the cache: 256 x 3136 x 64 784 -> 676 µs, 128 x 3136 x 96
    542 -> 517, but a two-thread tile of it, 256 x 784 x 64, 163 -> 171; on an output in
    the cache 2-5% slower. In ResNet-50, its 64 -> 256 shortcut at 56x56: 790-882 ->
    640-721 µs on one thread, 410-467 -> 351-366 on two."""
    return WIDE and m >= 2 * GROUP_ROWS and not packs_wide(m, k) and \
        4 * m * n >= GROUP_MIN_BYTES


GROUP_ROWS = 16
GROUP_MIN_BYTES = 256 * 1024


@njit(cache=True, nogil=True, inline="always")
def packs_wide(m: int, k: int) -> bool:
    """Whether the wide strips of a product of ``m`` rows are first copied to be
    contiguous (``_pack_wide``): with PACK_MIN_M rows or more and PACK_MIN_K terms or more."""
    return m >= PACK_MIN_M and k >= PACK_MIN_K


PACK_MIN_M = 64
PACK_MIN_K = 128


@njit(cache=True, nogil=True)
def _pack_wide(b: int, ldb: int, s0: int, k: int, xw: int) -> None:
    """The WR floats of B's row j from column s0 to address ``xw`` + 4 WR j, for j < k."""
    for j in range(k):
        o = j * ldb + s0
        q = j * WR
        wstore(xw, q, wload(b, o))
        wstore(xw, q + 16, wload(b, o + 16))
        wstore(xw, q + 32, wload(b, o + 32))


@njit(cache=True, nogil=True, inline="always")
def dots_win(w: int, k: int) -> bool:
    """Whether ``w`` < 8 last columns of a product of ``k`` terms are faster as ``_dots``
    than on a tile of 8 columns (its cost per term is about 9 loads, whatever ``w``; a dot
    product's, 9/8 of a load per column and term, and its sums at the end)."""
    return w * (k + DOTS_SUM) <= 8 * k


# a dot product's horizontal sums, per 8 rows and column, in terms of the tile's cost
DOTS_SUM = 48


@njit(cache=True, nogil=True)
def _pack_columns(b: int, ldb: int, s0: int, w: int, k: int, xs: np.ndarray) -> None:
    """xs[t * k + j] = B[j, s0 + t] for t < w: B's columns, each contiguous."""
    for t in range(w):
        for j in range(k):
            xs[t * k + j] = fload(b, j * ldb + s0 + t)


@njit(cache=True, nogil=True)
def _dots(r0: int, rr: int, w: int, k: int, a: int, lda: int, bt: np.ndarray, c: int,
          co: int, ldc: int, beta: float, bias: int, relu: int) -> None:
    """Rows r0 .. rr+7 of C's ``w`` < 8 columns from column ``co`` as dot products:
    C[i, co + t] = A[i, :k] . bt[t * k:(t + 1) * k] (+ beta * C), bt holding B's columns
    (``_pack_columns``); rr = min(r0, m - 8), as the tiles' rows. The 8 rows from rr, each
    with its own 8-lane accumulator over 8 terms at a time, summed at the end. (A tile of
    8 columns computes 8 for the one of a 49-pixel plane: ResNet-50's 2048 -> 512 at 7x7
    took 1.26x the time of 48 pixels, 1.11x with these.)"""
    k8 = k - k % 8
    sums = np.empty(64, np.float32)
    a0 = a + 4 * rr * lda
    for t in range(w):
        b0 = t * k
        s0 = vzero(); s1 = vzero(); s2 = vzero(); s3 = vzero()  # noqa: E702
        s4 = vzero(); s5 = vzero(); s6 = vzero(); s7 = vzero()  # noqa: E702
        for j in range(0, k8, 8):
            x = vload(bt, b0 + j)
            s0 = vfma(vload(a0, j), x, s0)
            s1 = vfma(vload(a0, lda + j), x, s1)
            s2 = vfma(vload(a0, 2 * lda + j), x, s2)
            s3 = vfma(vload(a0, 3 * lda + j), x, s3)
            s4 = vfma(vload(a0, 4 * lda + j), x, s4)
            s5 = vfma(vload(a0, 5 * lda + j), x, s5)
            s6 = vfma(vload(a0, 6 * lda + j), x, s6)
            s7 = vfma(vload(a0, 7 * lda + j), x, s7)
        vstore(sums, 0, s0); vstore(sums, 8, s1); vstore(sums, 16, s2)  # noqa: E702
        vstore(sums, 24, s3); vstore(sums, 32, s4); vstore(sums, 40, s5)  # noqa: E702
        vstore(sums, 48, s6); vstore(sums, 56, s7)  # noqa: E702
        for i in range(r0 - rr, 8):
            v = sums[8 * i]
            for e in range(1, 8):
                v += sums[8 * i + e]
            for j in range(k8, k):
                v = np.float32(fload(a0, i * lda + j) * bt[b0 + j] + v)
            at = co + (rr + i) * ldc + t
            if beta != 0.0:
                v += np.float32(beta) * fload(c, at)
            fstore(c, at, _act1(v, bias, rr + i, relu))


@njit(cache=True, nogil=True)
def _small(m: int, n: int, k: int, a: int, lda: int, b: int, ldb: int, c: int, ldc: int,
           beta: float, bias: int, relu: int) -> None:
    """``vgemm_rm`` for fewer than 8 rows, one row at a time (in the order of k, as the
    tiles; a multiply and an add each, where the tiles fuse them)."""
    acc = np.empty(n, np.float32)
    for i in range(m):
        for t in range(n):
            acc[t] = 0.0
        for j in range(k):
            av = fload(a, i * lda + j)
            for t in range(n):
                acc[t] = np.float32(av * fload(b, j * ldb + t) + acc[t])
        for t in range(n):
            v = acc[t]
            if beta != 0.0:
                v += np.float32(beta) * fload(c, i * ldc + t)
            fstore(c, i * ldc + t, _act1(v, bias, i, relu))


@njit(cache=True, nogil=True, inline="always")
def _act1(v: float | np.float32, bias: int, i: int, relu: int) -> np.float32:
    """v plus the bias of row i (at address ``bias``; none for 0), ReLU'd where ``relu``
    (as ``vout``)."""
    if bias != 0:
        v = np.float32(v + fload(bias, i))
    if relu != 0 and v < 0.0:
        return np.float32(0.0)
    return np.float32(v)


@njit(cache=True, nogil=True)
def _finish(c: int, co: int, ldc: int, rows: int, cols: int, bias: int, relu: int) -> None:
    """``_act1`` on C's rows x cols block at element co from address ``c`` (rows ldc
    apart), ``bias`` the address of its first row's bias (the tiles stored through the
    scratch tile)."""
    if bias == 0 and relu == 0:
        return
    for i in range(rows):
        for t in range(cols):
            fstore(c, co + i * ldc + t, _act1(fload(c, co + i * ldc + t), bias, i, relu))


@njit(cache=True, nogil=True)
def _pack_padded(b: int, ldb: int, s0: int, w: int, k: int, xp: int, width: int) -> None:
    """The ``width`` (8 or 32) floats at address ``xp`` + 4 width j = B[j, s0:s0 + w],
    then width - w zeros, for j < k (w < width: B's last columns, for the tile of
    ``width`` columns; nothing past them read)."""
    for j in range(k):
        o = j * ldb + s0
        for q in range(0, width, 8):
            vstore(xp, width * j + q, vloadn(b, o + q, max(0, min(8, w - q))))


@njit(cache=True, nogil=True, inline="always")
def _row_bias(bias: int) -> tuple[np.float32, np.float32, np.float32, np.float32,
                                  np.float32, np.float32, np.float32, np.float32]:
    """The 8 floats at address ``bias`` (a tile's rows' biases), or 8 zeros for 0."""
    if bias == 0:
        z = np.float32(0.0)
        return z, z, z, z, z, z, z, z
    return (fload(bias, 0), fload(bias, 1), fload(bias, 2), fload(bias, 3), fload(bias, 4),
            fload(bias, 5), fload(bias, 6), fload(bias, 7))


@njit(cache=True, nogil=True, inline="always")
def _vout3(dst: int, o: int, v0: Any, v1: Any, v2: Any, beta: float, bias: np.float32,
           relu: int) -> None:
    """A tile row's three 8-lane vectors stored from element o (``vout``)."""
    vout(dst, o, v0, beta, bias, relu)
    vout(dst, o + 8, v1, beta, bias, relu)
    vout(dst, o + 16, v2, beta, bias, relu)


@njit(cache=True, nogil=True, inline="always")
def _wout3(dst: int, o: int, v0: Any, v1: Any, v2: Any, beta: float, bias: np.float32,
           relu: int) -> None:
    """A wide tile row's three 16-lane vectors stored from element o (``wout``)."""
    wout(dst, o, v0, beta, bias, relu)
    wout(dst, o + 16, v1, beta, bias, relu)
    wout(dst, o + 32, v2, beta, bias, relu)


@njit(cache=True, nogil=True, inline="always")
def _wout2(dst: int, o: int, v0: Any, v1: Any, beta: float, bias: np.float32,
           relu: int) -> None:
    """A 32-column tile row's two 16-lane vectors stored from element o (``wout``)."""
    wout(dst, o, v0, beta, bias, relu)
    wout(dst, o + 16, v1, beta, bias, relu)


@njit(cache=True, nogil=True, inline="always")
def _rows8(a: int, ao: int, lda: int) -> tuple[int, int, int, int, int, int, int, int]:
    """The addresses of A's 8 rows of a tile (from element ao at address ``a``, lda
    apart). Taken apart before the loop, LLVM keeps them in registers and indexes each by
    the step; computed from one another in the loop, they were 10 integer operations a
    step, on ports the multiply-adds need (a wide tile 10-20% slower on an Intel core with
    two 512-bit FMA units)."""
    a0 = a + 4 * ao
    a1 = a0 + 4 * lda
    a2 = a1 + 4 * lda
    a3 = a2 + 4 * lda
    a4 = a3 + 4 * lda
    a5 = a4 + 4 * lda
    a6 = a5 + 4 * lda
    return a0, a1, a2, a3, a4, a5, a6, a6 + 4 * lda


# The register tiles, written out: numba has no loop over variables, and each accumulator
# must be a variable of its own for LLVM to keep it in a register.
@njit(cache=True, nogil=True)
def _tile24(a: int, ao: int, lda: int, b: int, bo: int, ldb: int, k: int, dst: int,
            ld: int, beta: float, nxt: int, nd: int, bias: int, relu: int) -> None:
    c00 = vzero(); c01 = vzero(); c02 = vzero()  # noqa: E702
    c10 = vzero(); c11 = vzero(); c12 = vzero()  # noqa: E702
    c20 = vzero(); c21 = vzero(); c22 = vzero()  # noqa: E702
    c30 = vzero(); c31 = vzero(); c32 = vzero()  # noqa: E702
    c40 = vzero(); c41 = vzero(); c42 = vzero()  # noqa: E702
    c50 = vzero(); c51 = vzero(); c52 = vzero()  # noqa: E702
    c60 = vzero(); c61 = vzero(); c62 = vzero()  # noqa: E702
    c70 = vzero(); c71 = vzero(); c72 = vzero()  # noqa: E702
    a0, a1, a2, a3, a4, a5, a6, a7 = _rows8(a, ao, lda)
    pw = 16 if nd != 0 else 0
    for j in range(k):
        bj = bo + j * ldb
        x0 = vload(b, bj)
        x1 = vload(b, bj + 8)
        x2 = vload(b, bj + 16)
        prefetch(nxt + 32 * j)  # 8 x k floats of A's next rows over the k steps
        if j < pw:  # the next tile's 8 rows of 2 cache lines (96 bytes), one a step
            prefetchw(nd + 4 * (j // 2) * ld + 64 * (j % 2))
        w = vsplat(fload(a0, j))
        c00 = vfma(w, x0, c00); c01 = vfma(w, x1, c01); c02 = vfma(w, x2, c02)  # noqa: E702
        w = vsplat(fload(a1, j))
        c10 = vfma(w, x0, c10); c11 = vfma(w, x1, c11); c12 = vfma(w, x2, c12)  # noqa: E702
        w = vsplat(fload(a2, j))
        c20 = vfma(w, x0, c20); c21 = vfma(w, x1, c21); c22 = vfma(w, x2, c22)  # noqa: E702
        w = vsplat(fload(a3, j))
        c30 = vfma(w, x0, c30); c31 = vfma(w, x1, c31); c32 = vfma(w, x2, c32)  # noqa: E702
        w = vsplat(fload(a4, j))
        c40 = vfma(w, x0, c40); c41 = vfma(w, x1, c41); c42 = vfma(w, x2, c42)  # noqa: E702
        w = vsplat(fload(a5, j))
        c50 = vfma(w, x0, c50); c51 = vfma(w, x1, c51); c52 = vfma(w, x2, c52)  # noqa: E702
        w = vsplat(fload(a6, j))
        c60 = vfma(w, x0, c60); c61 = vfma(w, x1, c61); c62 = vfma(w, x2, c62)  # noqa: E702
        w = vsplat(fload(a7, j))
        c70 = vfma(w, x0, c70); c71 = vfma(w, x1, c71); c72 = vfma(w, x2, c72)  # noqa: E702
    b0, b1, b2, b3, b4, b5, b6, b7 = _row_bias(bias)
    o = 0
    _vout3(dst, o, c00, c01, c02, beta, b0, relu)
    o = ld
    _vout3(dst, o, c10, c11, c12, beta, b1, relu)
    o = 2 * ld
    _vout3(dst, o, c20, c21, c22, beta, b2, relu)
    o = 3 * ld
    _vout3(dst, o, c30, c31, c32, beta, b3, relu)
    o = 4 * ld
    _vout3(dst, o, c40, c41, c42, beta, b4, relu)
    o = 5 * ld
    _vout3(dst, o, c50, c51, c52, beta, b5, relu)
    o = 6 * ld
    _vout3(dst, o, c60, c61, c62, beta, b6, relu)
    o = 7 * ld
    _vout3(dst, o, c70, c71, c72, beta, b7, relu)


@njit(cache=True, nogil=True)
def _tile8(a: int, ao: int, lda: int, b: int, bo: int, ldb: int, k: int, dst: int,
           ld: int, beta: float, nxt: int, nd: int, bias: int, relu: int) -> None:
    c00 = vzero()
    c10 = vzero()
    c20 = vzero()
    c30 = vzero()
    c40 = vzero()
    c50 = vzero()
    c60 = vzero()
    c70 = vzero()
    a0, a1, a2, a3, a4, a5, a6, a7 = _rows8(a, ao, lda)
    for j in range(k):
        bj = bo + j * ldb
        x0 = vload(b, bj)
        prefetch(nxt + 32 * j)  # 8 x k floats of A's next rows over the k steps
        w = vsplat(fload(a0, j))
        c00 = vfma(w, x0, c00)
        w = vsplat(fload(a1, j))
        c10 = vfma(w, x0, c10)
        w = vsplat(fload(a2, j))
        c20 = vfma(w, x0, c20)
        w = vsplat(fload(a3, j))
        c30 = vfma(w, x0, c30)
        w = vsplat(fload(a4, j))
        c40 = vfma(w, x0, c40)
        w = vsplat(fload(a5, j))
        c50 = vfma(w, x0, c50)
        w = vsplat(fload(a6, j))
        c60 = vfma(w, x0, c60)
        w = vsplat(fload(a7, j))
        c70 = vfma(w, x0, c70)
    b0, b1, b2, b3, b4, b5, b6, b7 = _row_bias(bias)
    vout(dst, 0, c00, beta, b0, relu)
    vout(dst, ld, c10, beta, b1, relu)
    vout(dst, 2 * ld, c20, beta, b2, relu)
    vout(dst, 3 * ld, c30, beta, b3, relu)
    vout(dst, 4 * ld, c40, beta, b4, relu)
    vout(dst, 5 * ld, c50, beta, b5, relu)
    vout(dst, 6 * ld, c60, beta, b6, relu)
    vout(dst, 7 * ld, c70, beta, b7, relu)


@njit(cache=True, nogil=True)
def _tile48(a: int, ao: int, lda: int, b: int, bo: int, ldb: int, k: int, dst: int,
            ld: int, beta: float, nxt: int, nd: int, bias: int, relu: int) -> None:
    """``_tile24`` on 16-lane vectors: 8 rows x 48 columns (``WIDE``)."""
    c00 = wzero(); c01 = wzero(); c02 = wzero()  # noqa: E702
    c10 = wzero(); c11 = wzero(); c12 = wzero()  # noqa: E702
    c20 = wzero(); c21 = wzero(); c22 = wzero()  # noqa: E702
    c30 = wzero(); c31 = wzero(); c32 = wzero()  # noqa: E702
    c40 = wzero(); c41 = wzero(); c42 = wzero()  # noqa: E702
    c50 = wzero(); c51 = wzero(); c52 = wzero()  # noqa: E702
    c60 = wzero(); c61 = wzero(); c62 = wzero()  # noqa: E702
    c70 = wzero(); c71 = wzero(); c72 = wzero()  # noqa: E702
    a0, a1, a2, a3, a4, a5, a6, a7 = _rows8(a, ao, lda)
    pw = 24 if nd != 0 else 0
    for j in range(k):
        bj = bo + j * ldb
        x0 = wload(b, bj)
        x1 = wload(b, bj + 16)
        x2 = wload(b, bj + 32)
        prefetch(nxt + 32 * j)
        if j < pw:  # the next tile's 8 rows of 3 cache lines, one a step
            prefetchw(nd + 4 * (j // 3) * ld + 64 * (j % 3))
        w = wsplat(fload(a0, j))
        c00 = wfma(w, x0, c00); c01 = wfma(w, x1, c01); c02 = wfma(w, x2, c02)  # noqa: E702
        w = wsplat(fload(a1, j))
        c10 = wfma(w, x0, c10); c11 = wfma(w, x1, c11); c12 = wfma(w, x2, c12)  # noqa: E702
        w = wsplat(fload(a2, j))
        c20 = wfma(w, x0, c20); c21 = wfma(w, x1, c21); c22 = wfma(w, x2, c22)  # noqa: E702
        w = wsplat(fload(a3, j))
        c30 = wfma(w, x0, c30); c31 = wfma(w, x1, c31); c32 = wfma(w, x2, c32)  # noqa: E702
        w = wsplat(fload(a4, j))
        c40 = wfma(w, x0, c40); c41 = wfma(w, x1, c41); c42 = wfma(w, x2, c42)  # noqa: E702
        w = wsplat(fload(a5, j))
        c50 = wfma(w, x0, c50); c51 = wfma(w, x1, c51); c52 = wfma(w, x2, c52)  # noqa: E702
        w = wsplat(fload(a6, j))
        c60 = wfma(w, x0, c60); c61 = wfma(w, x1, c61); c62 = wfma(w, x2, c62)  # noqa: E702
        w = wsplat(fload(a7, j))
        c70 = wfma(w, x0, c70); c71 = wfma(w, x1, c71); c72 = wfma(w, x2, c72)  # noqa: E702
    b0, b1, b2, b3, b4, b5, b6, b7 = _row_bias(bias)
    o = 0
    _wout3(dst, o, c00, c01, c02, beta, b0, relu)
    o = ld
    _wout3(dst, o, c10, c11, c12, beta, b1, relu)
    o = 2 * ld
    _wout3(dst, o, c20, c21, c22, beta, b2, relu)
    o = 3 * ld
    _wout3(dst, o, c30, c31, c32, beta, b3, relu)
    o = 4 * ld
    _wout3(dst, o, c40, c41, c42, beta, b4, relu)
    o = 5 * ld
    _wout3(dst, o, c50, c51, c52, beta, b5, relu)
    o = 6 * ld
    _wout3(dst, o, c60, c61, c62, beta, b6, relu)
    o = 7 * ld
    _wout3(dst, o, c70, c71, c72, beta, b7, relu)


@njit(cache=True, nogil=True)
def _tile32(a: int, ao: int, lda: int, b: int, bo: int, ldb: int, k: int, dst: int,
            ld: int, beta: float, nxt: int, nd: int, bias: int, relu: int) -> None:
    """8 rows x 32 columns on two 16-lane vectors (``WIDE``): a strip of 17-47 columns
    after the strips of 48. (On ``_tile24``'s 8-lane vectors and ``_tile8``'s, a step of
    24 or 32 columns took as many multiply-adds as one of 48: SqueezeNet's 1000 x 169 x
    512 ran as long as 1000 x 192 x 512.)"""
    c00 = wzero(); c01 = wzero(); c10 = wzero(); c11 = wzero()  # noqa: E702
    c20 = wzero(); c21 = wzero(); c30 = wzero(); c31 = wzero()  # noqa: E702
    c40 = wzero(); c41 = wzero(); c50 = wzero(); c51 = wzero()  # noqa: E702
    c60 = wzero(); c61 = wzero(); c70 = wzero(); c71 = wzero()  # noqa: E702
    a0, a1, a2, a3, a4, a5, a6, a7 = _rows8(a, ao, lda)
    pw = 16 if nd != 0 else 0
    for j in range(k):
        bj = bo + j * ldb
        x0 = wload(b, bj)
        x1 = wload(b, bj + 16)
        prefetch(nxt + 32 * j)
        if j < pw:  # the next tile's 8 rows of 2 cache lines, one a step
            prefetchw(nd + 4 * (j // 2) * ld + 64 * (j % 2))
        w = wsplat(fload(a0, j))
        c00 = wfma(w, x0, c00); c01 = wfma(w, x1, c01)  # noqa: E702
        w = wsplat(fload(a1, j))
        c10 = wfma(w, x0, c10); c11 = wfma(w, x1, c11)  # noqa: E702
        w = wsplat(fload(a2, j))
        c20 = wfma(w, x0, c20); c21 = wfma(w, x1, c21)  # noqa: E702
        w = wsplat(fload(a3, j))
        c30 = wfma(w, x0, c30); c31 = wfma(w, x1, c31)  # noqa: E702
        w = wsplat(fload(a4, j))
        c40 = wfma(w, x0, c40); c41 = wfma(w, x1, c41)  # noqa: E702
        w = wsplat(fload(a5, j))
        c50 = wfma(w, x0, c50); c51 = wfma(w, x1, c51)  # noqa: E702
        w = wsplat(fload(a6, j))
        c60 = wfma(w, x0, c60); c61 = wfma(w, x1, c61)  # noqa: E702
        w = wsplat(fload(a7, j))
        c70 = wfma(w, x0, c70); c71 = wfma(w, x1, c71)  # noqa: E702
    b0, b1, b2, b3, b4, b5, b6, b7 = _row_bias(bias)
    _wout2(dst, 0, c00, c01, beta, b0, relu)
    _wout2(dst, ld, c10, c11, beta, b1, relu)
    _wout2(dst, 2 * ld, c20, c21, beta, b2, relu)
    _wout2(dst, 3 * ld, c30, c31, beta, b3, relu)
    _wout2(dst, 4 * ld, c40, c41, beta, b4, relu)
    _wout2(dst, 5 * ld, c50, c51, beta, b5, relu)
    _wout2(dst, 6 * ld, c60, c61, beta, b6, relu)
    _wout2(dst, 7 * ld, c70, c71, beta, b7, relu)


_TILE_SIG = types.void(types.intp, types.intp, types.intp, types.intp, types.intp,
                       types.intp, types.intp, types.intp, types.intp, types.intp,
                       types.float64, types.intp, types.intp, types.intp, types.intp)


@cfunc(_TILE_SIG, cache=True)
def _tile_c(nv: int, a: int, ao: int, lda: int, b: int, bo: int, ldb: int, k: int,
            dst: int, ld: int, beta: float, nxt: int, nd: int, bias: int, relu: int) -> None:
    """The 8 x 8nv floats at address ``dst`` (rows ``ld`` floats apart) = A[8, k] (rows
    at address ``a`` from element ao, lda apart) @ B[k, 8nv] (+ beta * them), where B's row
    j is the 8nv floats at address ``b`` from element bo + j * ldb; nv is 1, 3, or 4 or 6
    where ``WIDE`` (16-lane vectors: never call them so elsewhere).
    ``nxt`` is the address of A's next rows, prefetched on the way, ``nd`` the address of
    the next tile's output (``ld`` apart as ``dst``'s), asked for to be written (none for
    0: never past the caller's own output). Each row i is stored
    plus the float at address ``bias`` + 4i (none where ``bias`` is 0), then plus beta
    times what was there, then ReLU'd where ``relu`` is not 0 (``simd.vout``)."""
    if nv == 1:
        _tile8(a, ao, lda, b, bo, ldb, k, dst, ld, beta, nxt, nd, bias, relu)
    elif nv == 6:
        _tile48(a, ao, lda, b, bo, ldb, k, dst, ld, beta, nxt, nd, bias, relu)
    elif nv == 4:
        _tile32(a, ao, lda, b, bo, ldb, k, dst, ld, beta, nxt, nd, bias, relu)
    else:  # (16 columns too: a third tile kernel cost 0.3 s of compile for 2% of strips)
        _tile24(a, ao, lda, b, bo, ldb, k, dst, ld, beta, nxt, nd, bias, relu)


_TILE_SYMBOL = "shapegraph_vgemm_tile"
_llvm.add_symbol(_TILE_SYMBOL, _tile_c.address)
# called from compiled code by name, as numba's own BLAS helpers are: the calling kernels
# stay cacheable on disk (the name is resolved when they load)
_tile: Any = types.ExternalFunction(_TILE_SYMBOL, _TILE_SIG)
vgemm_tile = _tile
"""The register tile (``_tile_c``) for compiled callers: the generated Winograd kernels."""
vgemm_tile48 = _tile48
"""The tile of 48 columns (``WIDE``), called directly: compiled into its caller (as the
product's C function does; Winograd's products of 16-64 terms 8-12% faster)."""


_VGEMM_SIG = types.void(types.intp, types.intp, types.intp, types.intp, types.intp,
                        types.intp, types.intp, types.intp, types.intp, types.float64,
                        types.intp, types.intp)


@cfunc(_VGEMM_SIG, cache=True)
def _vgemm_c(m: int, n: int, k: int, a: int, lda: int, b: int, ldb: int, c: int, ldc: int,
             beta: float, bias: int, relu: int) -> None:
    _vgemm(m, n, k, a, lda, b, ldb, c, ldc, beta, bias, relu)


_VGEMM_SYMBOL = "shapegraph_vgemm"
_llvm.add_symbol(_VGEMM_SYMBOL, _vgemm_c.address)
_vgemm_ext: Any = types.ExternalFunction(_VGEMM_SYMBOL, _VGEMM_SIG)

helpers.mark_imported(__file__)
