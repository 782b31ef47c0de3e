"""``wino4_gemm``: Winograd F(4x4, 3x3) for stride-1 3x3 convolutions on wide planes.

``kernels_gemm.wino_gemm`` (F(2x2, 3x3)) does 16 products for every 2x2 output tile: 4
multiplications an output against a direct convolution's 9. F(4x4, 3x3) does 36 for a 4x4
tile: 2.25 an output, 44% fewer than F(2x2, 3x3), for transforms that cost about as much
per output (6x6 inputs and products a tile, four times fewer tiles). Its transforms'
larger coefficients (up to 8) cost precision: on 256 channels of unit-variance inputs its
largest error is about 2e-5 against outputs near 4, F(2x2, 3x3)'s 1e-6 (float32 both;
``u`` is transformed in float64).

The structure is ``wino_gemm``'s: a work item is an image's block of tile rows (or one
part of the output channels of it), its tiles on 8-lane vectors along each row of tiles
(the row's length rounded up to whole vectors), and:

1. the input strip under the block, zero-padded, each row split into its four phases
   (padded columns 4k, 4k + 1, 4k + 2, 4k + 3 at k), so that column j of the 6x6 inputs
   of 8 neighbouring tiles is one unit-stride load (phase j, or phase j - 4 one on);
2. the input transform, V[xi][c][tile] = (B^T d B)[xi] for the 36 positions xi;
3. per position, M[xi] = U[xi] (M, C) @ V[xi] (C, tiles) on ``vgemm``'s register tile;
4. the inverse transform A^T M A, bias, residual and activation; each output row's four
   columns a tile interleaved back in registers (two rounds of ``vzip``), a row's last
   partial vectors by masked loads and stores.

A row of tiles covers 4 output rows, and rows are rounded up to whole vectors of 8 tiles
(32 columns): on planes narrower than 20 columns the padding costs more than the products
save, so ``packing.conv_algorithm`` takes this kernel for wide planes only
(``WINO4_MIN_WIDTH``).
Every size is a runtime value: one compiled kernel for every layer and batch size.

>>> import numpy as np
>>> from shapegraph.executor.templates import pack_wino4_gemm
>>> x = np.ones((1, 1, 4, 4), np.float32); w = np.ones((2, 1, 3, 3), np.float32)
>>> out = np.empty((1, 2, 4, 4), np.float32); e = np.empty((0, 0, 0, 0), np.float32)
>>> wino4_gemm(x, pack_wino4_gemm(w), np.zeros(2, np.float32), e, out,
...            np.array([1, 1], np.int64), (0, 0.0, 0.0), 1)
>>> [round(float(v), 4) for v in out[0, 0, 0]]
[4.0, 6.0, 6.0, 4.0]
"""

from __future__ import annotations

import numpy as np

from shapegraph.executor.acts import act_at
from shapegraph.executor.jit import njit, prange
from shapegraph.executor.kernels import ACT_NONE, ACT_RELU
from shapegraph.executor.kernels_gemm import (
    wino_item_span,
    wino_products,
    wino_split,
    wino_store,
)
from shapegraph.executor.simd import (
    F32x8,
    address,
    empty64,
    keep,
    vadd,
    vfma,
    vload,
    vloadn,
    vmul,
    vsplat,
    vstore,
    vsub,
    vunzip,
    vzip,
)

__all__ = ["WINO4_POSITIONS", "wino4_gemm", "wino4_in8", "wino4_out8", "wino4_put",
           "wino4_split"]

WINO4_POSITIONS = 36  # a 6x6 tile's transform positions: the products a tile


@njit(cache=True, nogil=True, parallel=True)
def wino4_gemm(x: np.ndarray, u: np.ndarray, b: np.ndarray, res: np.ndarray,
               out: np.ndarray, cfg: np.ndarray, act: tuple[int, float, float],
               threads: int) -> None:
    """out (N, M, OH, OW) = act(conv3x3(x (N, C, H, W)) + b (+ res)), stride 1, no
    dilation, by Winograd F(4x4, 3x3): each 4x4 output tile is A^T [U . (B^T d B)] A, the
    36 products of all tiles of a block done as ``U[xi] (M, C) @ V[xi] (C, tiles)`` on
    ``u`` (36, M8, C), the transformed weights (``templates.pack_wino4_gemm``, M8 = max(M,
    8)). ``cfg`` = (PH, PW). ``x``, ``res`` and ``out`` are C-contiguous; ``out`` may be
    ``res`` (in place). Blocks and parts as ``wino4_split`` chooses them."""
    ph, pw = cfg[0], cfg[1]
    batch, c_dim = x.shape[0], x.shape[1]
    m_dim, oh_dim, ow_dim = out.shape[1], out.shape[2], out.shape[3]
    th, tw = (oh_dim + 3) // 4, (ow_dim + 3) // 4
    rows, parts = wino4_split(th, (tw + 7) // 8 * 8, c_dim, m_dim, batch, threads)
    blocks = (th + rows - 1) // rows
    has_res = res.size == out.size
    for item in prange(parts * batch * blocks):
        _wino4_item(x, u, b, res, out, ph, pw, has_res, act, rows, blocks, parts,
                    np.int64(item))


@njit(cache=True, nogil=True, inline="always")
def wino4_split(th: int, twp: int, c_dim: int, m_dim: int, batch: int,
                threads: int) -> tuple[int, int]:
    """``wino4_gemm``'s work items: (tile rows per block, parts of the output channels),
    as ``kernels_gemm.wino_split`` chooses them for 36 positions, but rows of 8 tiles (a
    plane of 25-32 columns, 7-8 rows of tiles) in blocks of 4 rows (32 tiles on the
    register tile of 32, the last 3 rows on that of 24) and no parts: its blocks of 6 rows
    (48 tiles) left a last block of one row on the tile of 8. One convolution alone, µs,
    one thread / two: ResNet-50's 128 -> 128 at 28x28 645 / 427 -> 637 / 346, SqueezeNet's
    32 -> 128 at 27x27 213 / 119 -> 187 / 112, DenseNet-121's 128 -> 32 at 28x28 255 / 193
    -> 247 / 132."""
    if twp == 8:
        return min(4, th), 1
    return wino_split(th, twp, c_dim, m_dim, batch, threads, WINO4_POSITIONS)


@njit(cache=True, nogil=True)
def _wino4_item(x: np.ndarray, u: np.ndarray, b: np.ndarray, res: np.ndarray,
                out: np.ndarray, ph: int, pw: int, has_res: bool,
                act: tuple[int, float, float], rows: int, blocks: int, parts: int,
                item: np.int64) -> None:
    """Tile rows ``r0`` .. of image ``n``, output channels ``m0`` .. ``m1`` (one part of
    ``parts``: whole groups of 8 rows of U; ``kernels_gemm.wino_item_span``); the four
    stages of the module's docstring."""
    c_dim, h_dim, w_dim = x.shape[1], x.shape[2], x.shape[3]
    m_dim, oh_dim, ow_dim = out.shape[1], out.shape[2], out.shape[3]
    m8 = u.shape[1]  # U's rows: M, at least 8 (the register tile's)
    th, tw = (oh_dim + 3) // 4, (ow_dim + 3) // 4
    twp = (tw + 7) // 8 * 8
    n, r0, m0, m1, lo = wino_item_span(item, x.shape[0], blocks, rows, m8, parts)
    nr = min(rows, th - r0)
    tt, tmax = nr * twp, rows * twp  # tiles of this block; V's and M's row pitch
    # 1. the strip: input rows 4 r0 - ph .. + 4 nr + 2, each as its four phases, whs
    # entries each (tile t reads entries t and t + 1 of them), zeros where no input is
    jn = min(w_dim, 4 * twp + 2 - pw)  # the input columns under the tiles
    vecs = (jn + 31) // 32  # 32 input columns a step: 8 of each phase
    whs = max(twp + 1, (3 + pw) // 4 + 8 * vecs)
    whs = (whs + 7) // 8 * 8
    rp = 4 * whs  # the strip's row pitch
    # input column j is padded column j + pw: phase (j + pw) % 4, entry (j + pw) // 4; the
    # 8 columns of a step's phase jp of j start at these offsets in the strip's row
    at0 = (pw % 4) * whs + pw // 4
    at1 = ((1 + pw) % 4) * whs + (1 + pw) // 4
    at2 = ((2 + pw) % 4) * whs + (2 + pw) // 4
    at3 = ((3 + pw) % 4) * whs + (3 + pw) // 4
    sh = 4 * nr + 2
    strip = np.zeros(c_dim * sh * rp, np.float32)
    i0 = 4 * r0 - ph
    xf = x.reshape(x.size)
    for c in range(c_dim):
        for i in range(sh):
            ii = i0 + i
            if 0 <= ii < h_dim:
                src = ((n * c_dim + c) * h_dim + ii) * w_dim
                dst = (c * sh + i) * rp
                for s in range(vecs):
                    k = jn - 32 * s
                    j = src + 32 * s
                    if k >= 32:
                        a0, a1 = vload(xf, j), vload(xf, j + 8)
                        a2, a3 = vload(xf, j + 16), vload(xf, j + 24)
                    else:  # (the lanes past the row's end load as zeros)
                        a0 = vloadn(xf, j, min(8, k))
                        a1 = vloadn(xf, j + 8, min(8, max(0, k - 8)))
                        a2 = vloadn(xf, j + 16, min(8, max(0, k - 16)))
                        a3 = vloadn(xf, j + 24, max(0, k - 24))
                    e0, o0 = vunzip(a0, a1)
                    e1, o1 = vunzip(a2, a3)
                    p0, p2 = vunzip(e0, e1)
                    p1, p3 = vunzip(o0, o1)
                    d = dst + 8 * s
                    vstore(strip, d + at0, p0)
                    vstore(strip, d + at1, p1)
                    vstore(strip, d + at2, p2)
                    vstore(strip, d + at3, p3)
    # 2. V[xi] at xi * vp, a cache line apart beyond their size (as wino_gemm's)
    vp = c_dim * tmax + 16
    vt = empty64(WINO4_POSITIONS * vp)
    sta, vta = address(strip), address(vt)
    for c in range(c_dim):
        for r in range(nr):
            xr = (c * sh + 4 * r) * rp
            vr = c * tmax + r * twp
            for tj in range(0, twp, 8):
                wino4_in8(sta, xr + tj, whs, rp, vta, vr + tj, vp)
    # 3. the products, M[xi] (rows lo .. m1 x tiles) at xi * mp
    mp = (m1 - lo) * tmax + 16
    mt = empty64(WINO4_POSITIONS * mp)
    wino_products(WINO4_POSITIONS, u, vt, vp, mt, mp, c_dim, tmax, tt, lo, m1)
    # 4. the inverse transform and the epilogue
    ofa, rfa, mta = address(out), address(res), address(mt)
    for m in range(m0, min(m1, m_dim)):
        bm = vsplat(b[m])
        for r in range(nr):
            oi0 = 4 * (r0 + r)
            pos0 = ((n * m_dim + m) * oh_dim + oi0) * ow_dim
            nrow = min(4, oh_dim - oi0)  # (a last row of tiles may have fewer)
            for tj in range(0, twp, 8):
                cols = min(32, ow_dim - 4 * tj)  # output columns of these 8 tiles
                if cols <= 0:
                    break
                y = wino4_out8(mta, (m - lo) * tmax + r * twp + tj, mp)
                for k in range(nrow):  # (one copy of the store's code, not four)
                    wino4_put(ofa, rfa, pos0 + k * ow_dim + 4 * tj, y[4 * k], y[4 * k + 1],
                              y[4 * k + 2], y[4 * k + 3], bm, cols, has_res, act)
    keep(strip, vt, mt)  # (their addresses were used up to here: ``simd.keep``)


@njit(cache=True, nogil=True, inline="always")
def _bt6(d0: F32x8, d1: F32x8, d2: F32x8, d3: F32x8, d4: F32x8,
         d5: F32x8) -> tuple[F32x8, F32x8, F32x8, F32x8, F32x8, F32x8]:
    """B^T applied to (d0, .., d5), lane by lane: F(4, 3)'s input transform of a line,
    rows (4, 0, -5, 0, 1, 0), (0, -4, -4, 1, 1, 0), (0, 4, -4, -1, 1, 0), (0, -2, -1, 2, 1,
    0), (0, 2, -1, -2, 1, 0), (0, 4, 0, -5, 0, 1)."""
    four, mfour, mfive = vsplat(np.float32(4.0)), vsplat(np.float32(-4.0)), \
        vsplat(np.float32(-5.0))
    t0 = vfma(mfour, d2, d4)  # d4 - 4 d2
    t1 = vfma(mfour, d1, d3)  # d3 - 4 d1
    t2 = vsub(d4, d2)
    t3 = vmul(vsplat(np.float32(2.0)), vsub(d3, d1))
    return (vfma(four, d0, vfma(mfive, d2, d4)), vadd(t0, t1), vsub(t0, t1),
            vadd(t2, t3), vsub(t2, t3), vfma(four, d1, vfma(mfive, d3, d5)))


@njit(cache=True, nogil=True, inline="always")
def _at6(m0: F32x8, m1: F32x8, m2: F32x8, m3: F32x8, m4: F32x8,
         m5: F32x8) -> tuple[F32x8, F32x8, F32x8, F32x8]:
    """A^T applied to (m0, .., m5), lane by lane: F(4, 3)'s output transform of a line,
    rows (1, 1, 1, 1, 1, 0), (0, 1, -1, 2, -2, 0), (0, 1, 1, 4, 4, 0), (0, 1, -1, 8, -8,
    1)."""
    a, s = vadd(m1, m2), vsub(m1, m2)
    c, d = vadd(m3, m4), vsub(m3, m4)
    return (vadd(vadd(m0, a), c), vfma(vsplat(np.float32(2.0)), d, s),
            vfma(vsplat(np.float32(4.0)), c, a),
            vfma(vsplat(np.float32(8.0)), d, vadd(s, m5)))


@njit(cache=True, nogil=True, inline="always")
def _in_row(src: int, q: int, half: int, vt: int, o: int, vp: int) -> None:
    """Input row ``q`` of 8 tiles (its four phases ``half`` apart, ``src`` an address),
    times B, stored at positions 0 .. 5 (``o``, ``vp`` apart) of ``vt``: V's first pass."""
    w0, w1, w2, w3, w4, w5 = _bt6(vload(src, q), vload(src, q + half),
                                  vload(src, q + 2 * half), vload(src, q + 3 * half),
                                  vload(src, q + 1), vload(src, q + half + 1))
    vstore(vt, o, w0)
    vstore(vt, o + vp, w1)
    vstore(vt, o + 2 * vp, w2)
    vstore(vt, o + 3 * vp, w3)
    vstore(vt, o + 4 * vp, w4)
    vstore(vt, o + 5 * vp, w5)


@njit(cache=True, nogil=True, inline="always")
def _in_col(vt: int, o: int, vp: int) -> None:
    """Column ``o`` of the 6x6 positions of ``vt`` (rows 6 ``vp`` apart), B^T applied in
    place: V's second pass."""
    v0, v1, v2, v3, v4, v5 = _bt6(vload(vt, o), vload(vt, o + 6 * vp),
                                  vload(vt, o + 12 * vp), vload(vt, o + 18 * vp),
                                  vload(vt, o + 24 * vp), vload(vt, o + 30 * vp))
    vstore(vt, o, v0)
    vstore(vt, o + 6 * vp, v1)
    vstore(vt, o + 12 * vp, v2)
    vstore(vt, o + 18 * vp, v3)
    vstore(vt, o + 24 * vp, v4)
    vstore(vt, o + 30 * vp, v5)


@njit(cache=True, nogil=True, inline="always")
def wino4_in8(src: int, p: int, half: int, rp: int, vt: int, o: int, vp: int) -> None:
    """The input transform of 8 neighbouring tiles (in a row): their 6x6 inputs read from
    rows split into four phases (input row i's phase j of the 8 tiles at ``src`` element p
    + i rp + j ``half``; columns 4 and 5 are phases 0 and 1 one entry on), V = B^T d B
    stored as 36 vectors, position xi at element o + xi vp of ``vt`` (both addresses:
    ``simd.address``). Rows first (each input row times B, into its row of positions),
    then the columns in place: 36 values are more than the vector registers."""
    for i in range(6):
        _in_row(src, p + i * rp, half, vt, o + 6 * i * vp, vp)
    for j in range(6):
        _in_col(vt, o + j * vp, vp)


@njit(cache=True, nogil=True, inline="always")
def wino4_out8(mt: int, p: int, mp: int) -> tuple[F32x8, F32x8, F32x8, F32x8, F32x8,
                                                   F32x8, F32x8, F32x8, F32x8, F32x8,
                                                   F32x8, F32x8, F32x8, F32x8, F32x8,
                                                   F32x8]:
    """The inverse transform of 8 neighbouring tiles: A^T M A from their 36 products
    (position xi at element p + xi mp of the address ``mt``), as the 16 vectors of output
    rows 0 .. 3, columns 0 .. 3 (row-major)."""
    s00, s10, s20, s30 = _at6(vload(mt, p), vload(mt, p + 6 * mp), vload(mt, p + 12 * mp),
                              vload(mt, p + 18 * mp), vload(mt, p + 24 * mp),
                              vload(mt, p + 30 * mp))
    q = p + mp
    s01, s11, s21, s31 = _at6(vload(mt, q), vload(mt, q + 6 * mp), vload(mt, q + 12 * mp),
                              vload(mt, q + 18 * mp), vload(mt, q + 24 * mp),
                              vload(mt, q + 30 * mp))
    q = p + 2 * mp
    s02, s12, s22, s32 = _at6(vload(mt, q), vload(mt, q + 6 * mp), vload(mt, q + 12 * mp),
                              vload(mt, q + 18 * mp), vload(mt, q + 24 * mp),
                              vload(mt, q + 30 * mp))
    q = p + 3 * mp
    s03, s13, s23, s33 = _at6(vload(mt, q), vload(mt, q + 6 * mp), vload(mt, q + 12 * mp),
                              vload(mt, q + 18 * mp), vload(mt, q + 24 * mp),
                              vload(mt, q + 30 * mp))
    q = p + 4 * mp
    s04, s14, s24, s34 = _at6(vload(mt, q), vload(mt, q + 6 * mp), vload(mt, q + 12 * mp),
                              vload(mt, q + 18 * mp), vload(mt, q + 24 * mp),
                              vload(mt, q + 30 * mp))
    q = p + 5 * mp
    s05, s15, s25, s35 = _at6(vload(mt, q), vload(mt, q + 6 * mp), vload(mt, q + 12 * mp),
                              vload(mt, q + 18 * mp), vload(mt, q + 24 * mp),
                              vload(mt, q + 30 * mp))
    y00, y01, y02, y03 = _at6(s00, s01, s02, s03, s04, s05)
    y10, y11, y12, y13 = _at6(s10, s11, s12, s13, s14, s15)
    y20, y21, y22, y23 = _at6(s20, s21, s22, s23, s24, s25)
    y30, y31, y32, y33 = _at6(s30, s31, s32, s33, s34, s35)
    return (y00, y01, y02, y03, y10, y11, y12, y13, y20, y21, y22, y23, y30, y31, y32,
            y33)


@njit(cache=True, nogil=True, inline="always")
def wino4_put(of: int, rf: int, pos: int, y0: F32x8, y1: F32x8, y2: F32x8, y3: F32x8,
              bm: F32x8, cols: int, has_res: bool, act: tuple[int, float, float]) -> None:
    """Output columns 0 .. cols - 1 (32 at most) from ``pos``: column 4t + j of tile t is
    lane t of yj, plus bm and the residual, through the activation. Past ``cols`` nothing
    is read or written (masked loads and stores); the residual is read before the output
    is written (``of`` may be ``rf``; both addresses)."""
    a0, a1 = vzip(vadd(y0, bm), vadd(y2, bm))  # columns 4t and 4t + 2 interleaved
    c0, c1 = vzip(vadd(y1, bm), vadd(y3, bm))
    v0, v1 = vzip(a0, c0)  # tiles 0 .. 3
    v2, v3 = vzip(a1, c1)  # tiles 4 .. 7
    relu = act[0] == ACT_RELU
    wino_store(of, rf, pos, v0, min(8, cols), has_res, relu)
    wino_store(of, rf, pos + 8, v1, min(8, max(0, cols - 8)), has_res, relu)
    wino_store(of, rf, pos + 16, v2, min(8, max(0, cols - 16)), has_res, relu)
    wino_store(of, rf, pos + 24, v3, min(8, max(0, cols - 24)), has_res, relu)
    if act[0] != ACT_NONE and act[0] != ACT_RELU:  # the others element by element
        act_at(of, pos, min(cols, 32), act[0], act[1], act[2])
