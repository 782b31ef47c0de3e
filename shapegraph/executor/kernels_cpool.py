"""``conv_maxpool``: a convolution and the stride-2 max pool after it, row by row, with
the output channels in the vector lanes, so that the convolution's output is never
written out whole and its pool needs no shuffles.

SqueezeNet's stem (3 -> 64 channels, 3x3 stride 2, 224 -> 111) writes 3 MB that its max
pool (3x3 stride 2 -> 55) reads straight back: with 27 products an output the stem is as
much memory traffic as arithmetic, and ``conv_gemm`` plus ``maxpool_s2`` took 1.0-1.4 ms
on one thread against ONNX Runtime's 0.6-0.7 for the two nodes.

Each work item (an image's run of pooled rows) goes down its rows one pooled row at a
time:

1. the convolution rows the row's windows read that are not computed yet (a 3-row
   window shares its first row with the row before), each into a ring of rows laid out
   pixel by pixel, a pixel's output channels consecutive: ``oconv``'s register tile
   (8 output pixels of a row x 48 channels on 16-lane vectors, 24 on 8-lane ones) in
   the mode that stores it untransposed, its inputs broadcast from where they lie in
   the input image (a zero-padded copy of the rows the item reads where there is
   padding), its weights packed by ``pack_conv_maxpool``;
2. the pool: the maximum of the window's rows, then of each window's columns, whole
   vectors of channels at a time (16 lanes; 8 for a last 8);
3. bias and ReLU on the pooled row's vectors, which are then transposed in registers
   (``simd.vtranspose8``) and stored as the rows of the NCHW output (a row's last
   vector masked to it).

Bias and activation come after the pool, on a quarter of the elements: a maximum
commutes with adding a per-channel constant and with an activation that never decreases,
exactly in floating point, NaN included (both propagate it). The lowering folds in an
activation written before the pool only where they commute (none or ReLU:
``fuses_maxpool``), and one written after it as it is (other than ReLU: after the store,
by ``kernels._epilogue``).

The pool (``pools``): stride 2, a window of up to 3x3, padded or not (a window is the part
of it inside the convolution's output: a max pool's padding never wins), pooled rows of 8
outputs or more; the convolution any without groups that ``conv_gemm`` runs on im2col
tiles, or ``oconv`` on rows that whole tiles cover (``takes_conv``). Every size is a
runtime value.

>>> import numpy as np
>>> x = np.ones((1, 1, 20, 20), np.float32); w = np.ones((2, 1, 3, 3), np.float32)
>>> out = np.empty((1, 2, 9, 9), np.float32)
>>> cfg = np.array([3, 3, 1, 1, 1, 1, 1, 1, 1, 3, 3, 20, 20, 0, 0, 0, 0], np.int64)
>>> conv_maxpool(x, pack_conv_maxpool(w), np.zeros(2, np.float32), out, cfg, (1, 0.0, 0.0),
...              1)
>>> out[0, 1, 0, :3].tolist()
[9.0, 9.0, 9.0]
"""

from __future__ import annotations

from typing import Any

import numpy as np

from shapegraph.executor.jit import njit, prange
from shapegraph.executor.kernels import ACT_NONE, ACT_RELU, _copy_floats, _epilogue
from shapegraph.executor.kernels_gemm import PARALLEL_MIN_FLOPS
from shapegraph.executor.kernels_oconv import (
    PIXELS,
    _in_strips,
    _otile,
    _store8,
    strip,
    strips_of,
)
from shapegraph.executor.simd import (
    address,
    keep,
    vadd,
    vload,
    vmax,
    vrelu,
    vstore,
    vstoren,
    vtranspose8,
    wload,
    wmax,
    wstore,
)

__all__ = ["conv_maxpool", "fuses_maxpool", "pack_conv_maxpool", "pools", "takes_conv"]


def fuses_maxpool(act: tuple[int, float, float]) -> bool:
    """Whether a max pool after a convolution with this activation may pool first and
    apply the activation after (it does not decrease anywhere): none or ReLU."""
    return act[0] in (ACT_NONE, ACT_RELU) and act[1:] == (0.0, 0.0)


@njit(cache=True, nogil=True)
def pools(oh: int, ow: int, kh: int, kw: int, sh: int, sw: int, pt: int, pl: int, pb: int,
          pr: int, poh: int, pow_: int) -> bool:
    """Whether ``conv_maxpool`` takes a max pool of (OH, OW) planes into (POH, POW): stride
    2, a window of 1-3 rows and 2-3 columns, padding (top, left, bottom, right) smaller
    than the window (so that every window has a part inside), no ceil mode (POH and POW
    as the floor of the division), pooled rows of 8 outputs or more."""
    return (sh == 2 and sw == 2 and 1 <= kh <= 3 and 2 <= kw <= 3 and 0 <= pt < kh
            and 0 <= pb < kh and 0 <= pl < kw and 0 <= pr < kw and pow_ >= 8
            and oh + pt + pb >= kh and ow + pl + pr >= kw
            and poh == (oh + pt + pb - kh) // 2 + 1 and pow_ == (ow + pl + pr - kw) // 2 + 1)


def takes_conv(algo: str, ow: int) -> bool:
    """Whether ``conv_maxpool`` runs a convolution that would otherwise run ``algo``
    (``packing.conv_algorithm``) into rows of ``ow`` columns: every one on im2col tiles
    ("gemm": the tiles it saves cost more than a last tile's overlap), and an ``oconv``
    one whose rows the tiles of 8 cover with at most 1/16 more (alone, µs, one thread /
    two, against ``oconv`` and ``pool_rows``: ResNet-50's 7x7 stem and its padded pool
    2639 + 279 / 1402 + 136 -> 2346 / 1223, AlexNet's 11x11 stride-4 stem 1470 + 108 /
    755 + 56 -> 1354 / 754; but its 5x5 on 27 columns, 32 computed, 3974 + 126 / 2044 + 67
    -> 4650 / 2820)."""
    if algo == "gemm":
        return True
    return algo == "oconv" and 16 * (-(-ow // PIXELS) * PIXELS - ow) <= ow


def pack_conv_maxpool(w: np.ndarray) -> np.ndarray:
    """The weights (M, C, KH, KW) as ``conv_maxpool`` reads them: the output channels in
    ``oconv``'s strips (``kernels_oconv.strip``), each strip K x lanes, K = C * KH * KW in
    that order (the tile reads the input where it lies, a channel's plane at a time)."""
    m = w.shape[0]
    k = int(np.prod(w.shape[1:]))
    wz = np.zeros((1, -(-m // 8) * 8, k), np.float32)
    wz[0, :m] = w.reshape(m, k)
    return _in_strips(wz, m)


@njit(cache=True, nogil=True, parallel=True)
def conv_maxpool(x: np.ndarray, w: np.ndarray, b: np.ndarray, out: np.ndarray,
                 cfg: np.ndarray, act: tuple[int, float, float], threads: int) -> None:
    """out (N, M, PH, PW) = maxpool(act(conv(x (N, C, H, W)) + b)); ``w`` is
    ``pack_conv_maxpool``'s, ``cfg`` = (KH, KW, SH, SW, PH, PW, DH, DW, groups = 1, the
    pool's KH and KW, the convolution's output OH and OW, the pool's padding top, left,
    bottom, right); the pool has stride 2 (``pools``), its padding never wins a maximum
    (each window is the part of it inside the convolution's output); ``act`` is applied
    after the pool. ``threads`` as ``conv_gemm``'s."""
    if cfg.size != 17:
        raise ValueError("conv_maxpool: the weight, bias, output or cfg do not fit the input")
    kh, kw, sh, sw, ph, pw, dh, dw = (cfg[0], cfg[1], cfg[2], cfg[3], cfg[4], cfg[5],
                                      cfg[6], cfg[7])
    pkh, pkw, oh, ow = cfg[9], cfg[10], cfg[11], cfg[12]
    batch, c_dim = x.shape[0], x.shape[1]
    m_dim, poh, pow_ = out.shape[1], out.shape[2], out.shape[3]
    kg = c_dim * kh * kw
    if (cfg[8] != 1 or m_dim < 1 or w.size != (m_dim + 7) // 8 * 8 * kg
            or b.size != m_dim or out.shape[0] != batch
            or not pools(oh, ow, pkh, pkw, 2, 2, cfg[13], cfg[14], cfg[15], cfg[16], poh,
                         pow_)
            or (x.shape[2] + 2 * ph - dh * (kh - 1) - 1) // sh + 1 != oh
            or (x.shape[3] + 2 * pw - dw * (kw - 1) - 1) // sw + 1 != ow):
        raise ValueError("conv_maxpool: the weight, bias, output or cfg do not fit the input")
    parallel = threads > 1 and 2 * batch * m_dim * oh * ow * kg >= PARALLEL_MIN_FLOPS
    # an image's pooled rows in runs: at least two work items a thread (each run computes
    # again the convolution row its first window shares with the run before)
    runs = 1
    if parallel and batch < 2 * threads:
        runs = min(poh, (2 * threads + batch - 1) // batch)
    if not parallel:
        for item in range(batch * runs):
            _pool_run(x, w, b, out, cfg, act, runs, np.int64(item))
    else:
        for item in prange(batch * runs):
            _pool_run(x, w, b, out, cfg, act, runs, np.int64(item))


@njit(cache=True, nogil=True)
def _pool_run(x: np.ndarray, w: np.ndarray, b: np.ndarray, out: np.ndarray, cfg: np.ndarray,
              act: tuple[int, float, float], runs: int, item: np.int64) -> None:
    """Work item ``item`` of ``conv_maxpool``: image item // runs, its run item % runs of
    pooled rows, row by row."""
    kh, kw, sh, sw, ph, pw, dh, dw = (cfg[0], cfg[1], cfg[2], cfg[3], cfg[4], cfg[5],
                                      cfg[6], cfg[7])
    pkh, pkw, oh, ow, pt, pl = cfg[9], cfg[10], cfg[11], cfg[12], cfg[13], cfg[14]
    c_dim, h_dim, w_dim = x.shape[1], x.shape[2], x.shape[3]
    m_dim, poh, pow_ = out.shape[1], out.shape[2], out.shape[3]
    kg = c_dim * kh * kw
    m8 = (m_dim + 7) // 8 * 8  # a pixel's channels in the ring (the strips' lanes)
    bi = item // runs
    run = item - bi * runs
    r_lo, r_hi = run * poh // runs, (run + 1) * poh // runs
    # the convolution rows the run reads: pooled row i's window is rows 2i - pt .. + pkh - 1
    # (and columns 2j - pl ..), the part of it inside the convolution's output
    c_lo, c_hi = max(0, 2 * r_lo - pt), min(oh, 2 * (r_hi - 1) - pt + pkh)
    # where the tiles read: the image itself, or (with padding) a zero-padded copy of the
    # input rows the run's convolution rows read; rp its row pitch, plane its channels'
    if ph == 0 and pw == 0:
        src, rp, plane, row0 = x[bi].reshape(x[bi].size), w_dim, h_dim * w_dim, 0
    else:
        i_lo = c_lo * sh - ph
        rows_in = (c_hi - 1 - c_lo) * sh + (kh - 1) * dh + 1
        rp = (ow - 1) * sw + (kw - 1) * dw + 1
        plane = rows_in * rp
        src = np.zeros(c_dim * plane, np.float32)
        j1 = min(w_dim, rp - pw)
        xb, sa = x[bi], address(src)
        for c in range(c_dim):
            for r in range(rows_in):
                ii = i_lo + r
                if 0 <= ii < h_dim:
                    _copy_floats(address(xb[c, ii]), sa + 4 * (c * plane + r * rp + pw), j1)
        row0 = c_lo
    offs = np.empty(max(kg, 1), np.int64)  # each product's offset from its pixel's first
    for c in range(c_dim):
        for i in range(kh):
            for t in range(kw):
                offs[(c * kh + i) * kw + t] = c * plane + i * dh * rp + t * dw
    ring = np.empty(pkh * ow * m8, np.float32)  # convolution row r at slot r % pkh
    vm = np.empty(ow * m8, np.float32)  # the window rows' maximum
    pr = np.empty((pow_ + PIXELS) * m8, np.float32)  # the pooled row (room for 8 more)
    bias = np.zeros(m8, np.float32)
    for c in range(m_dim):  # (a slice assigned from an array compiles numba's message for
        bias[c] = b[c]      # shapes that differ: 1.4-2 s of a cold compile)
    pix = np.empty(PIXELS, np.int64)
    strips = strips_of(m_dim)
    fused = act[0] == ACT_NONE or act[0] == ACT_RELU  # bias and act on the vectors
    relu = act[0] == ACT_RELU
    xa, wa, oa, pa, fa = address(src), address(w), address(out), address(pix), address(offs)
    ra, va, qa, ba = address(ring), address(vm), address(pr), address(bias)
    yv = out[bi].reshape(m_dim, poh * pow_)
    plane_out = poh * pow_
    done = c_lo - 1  # the last convolution row in the ring
    for i in range(r_lo, r_hi):
        w_lo, w_hi = max(0, 2 * i - pt), min(oh, 2 * i - pt + pkh)  # the window's rows
        # 1. the window's convolution rows not in the ring yet
        for r in range(max(w_lo, done + 1), w_hi):
            at = ra + 4 * (r % pkh) * ow * m8
            for p0 in range(0, ow, PIXELS):
                q = min(p0, ow - PIXELS)  # (a last tile overlaps the one before)
                for p in range(PIXELS):
                    pix[p] = (r - row0) * sh * rp + (q + p) * sw
                for s in range(strips):
                    lane0, width = strip(m_dim, s)
                    _otile(width // 8, xa, pa, kg, fa, wa, lane0 * kg,
                           at + 4 * (q * m8 + lane0), 8, 0.0, m8)
            done = r
        # 2. the pool: the window rows' maximum, then each window's columns'
        s0, s1, s2 = w_lo % pkh, (w_lo + 1) % pkh, (w_lo + 2) % pkh
        _max_rows(ra, s0 * ow * m8, s1 * ow * m8, s2 * ow * m8, w_hi - w_lo, ow * m8, va)
        for j in range(pow_):
            c0, c1 = max(0, 2 * j - pl), min(ow, 2 * j - pl + pkw)  # the window's columns
            _max_rows(va, c0 * m8, (c0 + 1) * m8, (c0 + 2) * m8, c1 - c0, m8,
                      qa + 4 * j * m8)
        # 3. bias and ReLU, the pooled row transposed into the output's rows
        for g in range(0, m8, 8):
            bv = vload(ba, g)
            nm = min(8, m_dim - g)
            for j0 in range(0, pow_, PIXELS):
                v0 = vload(qa, j0 * m8 + g)
                v1 = vload(qa, (j0 + 1) * m8 + g)
                v2 = vload(qa, (j0 + 2) * m8 + g)
                v3 = vload(qa, (j0 + 3) * m8 + g)
                v4 = vload(qa, (j0 + 4) * m8 + g)
                v5 = vload(qa, (j0 + 5) * m8 + g)
                v6 = vload(qa, (j0 + 6) * m8 + g)
                v7 = vload(qa, (j0 + 7) * m8 + g)
                if fused:
                    v0, v1, v2, v3 = vadd(v0, bv), vadd(v1, bv), vadd(v2, bv), vadd(v3, bv)
                    v4, v5, v6, v7 = vadd(v4, bv), vadd(v5, bv), vadd(v6, bv), vadd(v7, bv)
                if relu:
                    v0, v1, v2, v3 = vrelu(v0), vrelu(v1), vrelu(v2), vrelu(v3)
                    v4, v5, v6, v7 = vrelu(v4), vrelu(v5), vrelu(v6), vrelu(v7)
                _store_t8(vtranspose8(v0, v1, v2, v3, v4, v5, v6, v7), oa,
                          ((bi * m_dim + g) * poh + i) * pow_ + j0, plane_out, nm,
                          min(PIXELS, pow_ - j0))
        if not fused:
            _epilogue(yv, 0, m_dim, i * pow_, pow_, b, yv, False, act)
    # (used through their addresses up to here: ``simd.keep``)
    keep(src, ring, vm, pr, bias, pix, offs)


@njit(cache=True, nogil=True, inline="always")
def _max_rows(a: int, o0: int, o1: int, o2: int, n: int, size: int, dst: int) -> None:
    """The ``size`` floats at address ``dst`` = the lane-wise maximum of the first ``n``
    (1-3) of the runs of ``size`` floats from elements o0, o1, o2 of address ``a`` (a
    whole number of 8-lane vectors: 16 lanes at a time, a last 8 alone)."""
    v = 0
    while v + 16 <= size:
        m = wload(a, o0 + v)
        if n >= 2:
            m = wmax(m, wload(a, o1 + v))
        if n == 3:
            m = wmax(m, wload(a, o2 + v))
        wstore(dst, v, m)
        v += 16
    if v < size:
        m8 = vload(a, o0 + v)
        if n >= 2:
            m8 = vmax(m8, vload(a, o1 + v))
        if n == 3:
            m8 = vmax(m8, vload(a, o2 + v))
        vstore(dst, v, m8)


@njit(cache=True, nogil=True, inline="always")
def _store_t8(rows: Any, oa: int, o: int, pitch: int, nm: int, n: int) -> None:
    """The first ``nm`` of the 8 vectors ``rows``, vector r at element o + r ``pitch`` of
    address ``oa``, each its first n floats (memory past them untouched)."""
    if nm == 8 and n == PIXELS:
        _store8(rows, oa, o, pitch, 0.0)
        return
    vstoren(oa, o, rows[0], n)  # (nm >= 1)
    if nm > 1:
        vstoren(oa, o + pitch, rows[1], n)
    if nm > 2:
        vstoren(oa, o + 2 * pitch, rows[2], n)
    if nm > 3:
        vstoren(oa, o + 3 * pitch, rows[3], n)
    if nm > 4:
        vstoren(oa, o + 4 * pitch, rows[4], n)
    if nm > 5:
        vstoren(oa, o + 5 * pitch, rows[5], n)
    if nm > 6:
        vstoren(oa, o + 6 * pitch, rows[6], n)
    if nm > 7:
        vstoren(oa, o + 7 * pitch, rows[7], n)
