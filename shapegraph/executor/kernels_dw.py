"""``dwconv``: depthwise convolutions (one input channel a group), vectorized along rows.

A depthwise convolution (ShuffleNet's and MobileNet's 3x3s: groups = input channels, each
output channel reading one input channel) has no product to speak of: 9 multiply-adds an
output. What costs is getting the inputs under the taps into vectors. The generated direct
kernels (``templates``) copy each padded plane, sum the taps a float at a time over the
flat padded plane (where LLVM vectorizes it) and copy the result out: 2-2.6x ONNX
Runtime's time on ShuffleNet's.

Here each output plane is done in blocks of 8 vectors of 8 output columns: up to 8
vectors along a row, or several rows of fewer where the plane is narrow (a 14-wide plane:
4 rows of 2 vectors; 7-wide: 8 rows of one). The block's 8 accumulators start at the
bias, and each tap adds its weight (broadcast) times 8 vectors read from a zero-padded copy
of the input plane: one load and one multiply-add a vector a tap, the accumulators in
registers. The copy holds every padded input row the plane reads, split by column into
``SW`` phases (column ``p`` at ``p % SW``, ``p // SW``), so that a strided tap's inputs
are consecutive floats too. The residual is added, ReLU applied and the lanes inside the
row stored (masked at the row's end) as the block finishes; other activations follow on
the plane while it is in the cache.

Any kernel size, stride, padding and dilation, and any channel multiplier (output channel
``m`` reads input channel ``m // (M / C)``). An input channel may be read from another
plane of the input (a plane for each channel after ``cfg``'s 9 values): the plan folds a
channel shuffle before the convolution into it that way (``lower._shuffle``). The planes
are spread over numba's threads in runs of consecutive ones; every size is a runtime value
(one compiled kernel for every layer and batch size).

``dwpool`` is a pool on the same blocks and copies: each tap added (an average, then times
each output's 1 / divisor) or taken by a maximum (over a -inf-padded copy).

>>> import numpy as np
>>> x = np.ones((1, 2, 4, 4), np.float32); w = np.ones((2, 9), np.float32)
>>> out = np.empty((1, 2, 4, 4), np.float32); e = np.empty((0, 0, 0, 0), np.float32)
>>> cfg = np.array([3, 3, 1, 1, 1, 1, 1, 1, 2], np.int64)
>>> dwconv(x, w, np.zeros(2, np.float32), e, out, cfg, (0, 0.0, 0.0), 1)
>>> out[0, 1, 0].tolist()
[4.0, 6.0, 6.0, 4.0]
"""

from __future__ import annotations

from typing import Any

import numpy as np

from shapegraph.executor.jit import njit, prange
from shapegraph.executor.kernels import (
    ACT_NONE,
    ACT_RELU,
    _act_inplace,
    _copy_floats,
    _plane_runs,
    _plane_span,
    _split_pairs,
)
from shapegraph.executor.kernels_pool import POOL_PARALLEL_MIN, _window
from shapegraph.executor.simd import (
    address,
    fload,
    iload,
    keep,
    vadd,
    vfma,
    vload,
    vloadn,
    vmax,
    vmul,
    vrelu,
    vsplat,
    vstore,
    vstoren,
)

__all__ = ["DW_PARALLEL_MIN_FLOPS", "dwconv", "dwpool", "pack_dwconv"]

ACCS = 8  # accumulators (vectors of 8 output columns) a block
# below this many FLOPs a call runs on its own thread. Two threads against one, alone, µs
# (2026-12-07): 272 channels at 14x14 stride 2 (0.24 MFLOP) 25 -> 15, 64 at 14x14 (0.23)
# 11 -> 8, 128 at 7x7 and 32 at 28x28 stride 2 (0.11) 8.7 -> 6.6-6.9: far below conv_gemm's
# 1 MFLOP (a depthwise FLOP costs more time)
DW_PARALLEL_MIN_FLOPS = 100_000


def pack_dwconv(w: np.ndarray) -> np.ndarray:
    """A depthwise convolution's weight (M, 1, KH, KW) as ``dwconv`` reads it: (M, KH * KW),
    contiguous float32."""
    return np.ascontiguousarray(w, dtype=np.float32).reshape(w.shape[0], -1).copy()


@njit(cache=True, nogil=True, parallel=True)
def dwconv(x: np.ndarray, w: np.ndarray, b: np.ndarray, res: np.ndarray, out: np.ndarray,
           cfg: np.ndarray, act: tuple[int, float, float], threads: int) -> None:
    """out (N, M, OH, OW) = act(conv(x (N, C, H, W)) + b (+ res)) for groups = C (``w``
    from ``pack_dwconv``; the other arguments as ``conv_gemm``'s: ``cfg`` = (KH, KW, SH,
    SW, PH, PW, DH, DW, groups), ``res`` empty, out's shape, or ``out`` itself). Each
    thread (``threads``) takes a run of consecutive planes; calls of fewer than
    DW_PARALLEL_MIN_FLOPS run on this one."""
    kh, kw, sh, sw, ph, pw, dh, dw, groups = (cfg[0], cfg[1], cfg[2], cfg[3], cfg[4],
                                              cfg[5], cfg[6], cfg[7], cfg[8])
    batch, c_dim = x.shape[0], x.shape[1]
    m_dim, oh, ow = out.shape[1], out.shape[2], out.shape[3]
    if groups != c_dim or c_dim == 0 or m_dim % c_dim != 0:
        raise ValueError("dwconv: a depthwise convolution (groups = input channels) "
                         "is needed")
    if w.shape[0] != m_dim or w.shape[1] != kh * kw:
        raise ValueError("dwconv: the weight is not (M, KH * KW)")
    cmap = _planes(cfg, c_dim)
    if not (out.flags.c_contiguous and w.flags.c_contiguous
            and (res.size != out.size or res.flags.c_contiguous)):
        raise ValueError("dwconv: the output, residual and weight must be contiguous")
    planes = batch * m_dim
    if planes == 0 or oh * ow == 0:
        return
    parts = _plane_runs(planes, 2 * oh * ow * kh * kw, threads, DW_PARALLEL_MIN_FLOPS)
    has_res = res.size == out.size
    if parts == 1:  # (a parallel loop of one item would still wake every thread)
        _dw_part(x, w, b, res, out, cmap, kh, kw, sh, sw, ph, pw, dh, dw, has_res, act, 0,
                 planes)
        return
    for part in prange(parts):
        lo, hi = _plane_span(np.int64(part), parts, planes)
        _dw_part(x, w, b, res, out, cmap, kh, kw, sh, sw, ph, pw, dh, dw, has_res, act, lo,
                 hi)


@njit(cache=True, nogil=True)
def _planes(cfg: np.ndarray, c_dim: int) -> np.ndarray:
    """Input channel c's plane: x[:, c], or x[:, cfg[9 + c]] where cfg holds one for each
    channel (a channel shuffle before the convolution, folded into it). (Made apart from
    ``dwconv``: there numba may turn making an array into a parallel loop of its own.)"""
    if cfg.size != 9 and cfg.size != 9 + c_dim:
        raise ValueError("dwconv: cfg holds 9 values, or 9 and a plane for each channel")
    cmap = np.empty(c_dim, np.int64)
    for c in range(c_dim):
        cmap[c] = c if cfg.size == 9 else cfg[9 + c]
        if cmap[c] < 0 or cmap[c] >= c_dim:
            raise ValueError("dwconv: a channel's plane is outside the input")
    return cmap


@njit(cache=True, nogil=True)
def _geometry(oh: int, ow: int, kh: int, kw: int, sh: int, sw: int, dh: int, dw: int
              ) -> tuple[int, int, int, int, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The copy's and the blocks' layout for output planes (oh, ow): (hp, wp, ln, rs,
    toff, src, dst, cnt). The copy holds hp padded input rows (wp padded columns read),
    each as sw phase rows of ln floats (long enough for a vector at a row's last under the
    farthest tap), rs floats a row; toff is each tap's offset in it from its output's
    first input. The blocks, ACCS entries each: an accumulator's first input (rows and
    vectors past the plane read the last ones), its output's offset in the plane, and its
    lanes to store (0: none)."""
    nv = (ow + 7) // 8  # vectors a row
    vecs = min(nv, ACCS)  # a block: rows x vecs vectors
    rows = ACCS // vecs
    last = (nv - 1) * 8  # the first column of a row's last vector
    hp = (oh - 1) * sh + (kh - 1) * dh + 1
    wp = (ow - 1) * sw + (kw - 1) * dw + 1
    ln = last + 8 + (kw - 1) * dw // sw
    rs = sw * ln
    toff = np.empty(kh * kw, np.int64)
    for i in range(kh):
        for j in range(kw):
            toff[i * kw + j] = i * dh * rs + (j * dw) % sw * ln + j * dw // sw
    blocks = (oh + rows - 1) // rows * ((nv + vecs - 1) // vecs)
    src = np.empty(blocks * ACCS, np.int64)
    dst = np.empty(blocks * ACCS, np.int64)
    cnt = np.zeros(blocks * ACCS, np.int64)
    k = 0
    for oy0 in range(0, oh, rows):
        for x0 in range(0, ow, 8 * vecs):
            for a in range(ACCS):
                oy, xv = oy0 + a // vecs, x0 + 8 * (a % vecs)
                src[k] = min(oy, oh - 1) * sh * rs + min(xv, last)
                dst[k] = oy * ow + xv
                if a < rows * vecs and oy < oh and xv < ow:
                    cnt[k] = min(8, ow - xv)
                k += 1
    return hp, wp, ln, rs, toff, src, dst, cnt


@njit(cache=True, nogil=True)
def _dw_part(x: np.ndarray, w: np.ndarray, b: np.ndarray, res: np.ndarray, out: np.ndarray,
             cmap: np.ndarray, kh: int, kw: int, sh: int, sw: int, ph: int, pw: int, dh: int,
             dw: int, has_res: bool, act: tuple[int, float, float], lo: int, hi: int) -> None:
    """Output planes lo .. hi - 1 (plane q: image q // M, channel q % M). (Every address is
    computed, no view made: a plane of 14x14 has only 4 blocks to share its fixed costs.)"""
    c_dim = x.shape[1]
    m_dim, oh, ow = out.shape[1], out.shape[2], out.shape[3]
    mult = m_dim // c_dim
    taps = kh * kw
    hp, wp, ln, rs, toff, src, dst, cnt = _geometry(oh, ow, kh, kw, sh, sw, dh, dw)
    sc = np.zeros(hp * rs, np.float32)  # never written outside the input's place: zeros
    relu = act[0] == ACT_RELU
    other = act[0] != ACT_NONE and not relu
    has_bias = b.size == m_dim
    sc_at, w_at = address(sc), address(w)
    src_at, dst_at, cnt_at = address(src), address(dst), address(cnt)
    plane = oh * ow
    cur = -1  # the input channel in the copy: n * C + c
    for q in range(lo, hi):
        n, m = q // m_dim, q % m_dim
        if q // mult != cur:
            cur = q // mult
            _dw_copy(x, cmap, cur, sc, ph, pw, sw, ln, rs, hp, wp)
        bv = vsplat(b[m] if has_bias else np.float32(0.0))
        wm_at = w_at + 4 * m * taps
        o_at = address(out) + 4 * q * plane
        r_at = address(res) + 4 * q * plane if has_res else o_at
        for k in range(0, src.size, ACCS):  # each block's 8 entries
            s0, s1, s2, s3 = (iload(src_at, k), iload(src_at, k + 1), iload(src_at, k + 2),
                              iload(src_at, k + 3))
            s4, s5, s6, s7 = (iload(src_at, k + 4), iload(src_at, k + 5),
                              iload(src_at, k + 6), iload(src_at, k + 7))
            a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = bv
            for t in range(taps):
                wv = vsplat(fload(wm_at, t))
                o = toff[t]
                a0 = vfma(wv, vload(sc_at, s0 + o), a0)
                a1 = vfma(wv, vload(sc_at, s1 + o), a1)
                a2 = vfma(wv, vload(sc_at, s2 + o), a2)
                a3 = vfma(wv, vload(sc_at, s3 + o), a3)
                a4 = vfma(wv, vload(sc_at, s4 + o), a4)
                a5 = vfma(wv, vload(sc_at, s5 + o), a5)
                a6 = vfma(wv, vload(sc_at, s6 + o), a6)
                a7 = vfma(wv, vload(sc_at, s7 + o), a7)
            _dw_out(o_at, r_at, dst_at, cnt_at, k, a0, has_res, relu)
            _dw_out(o_at, r_at, dst_at, cnt_at, k + 1, a1, has_res, relu)
            _dw_out(o_at, r_at, dst_at, cnt_at, k + 2, a2, has_res, relu)
            _dw_out(o_at, r_at, dst_at, cnt_at, k + 3, a3, has_res, relu)
            _dw_out(o_at, r_at, dst_at, cnt_at, k + 4, a4, has_res, relu)
            _dw_out(o_at, r_at, dst_at, cnt_at, k + 5, a5, has_res, relu)
            _dw_out(o_at, r_at, dst_at, cnt_at, k + 6, a6, has_res, relu)
            _dw_out(o_at, r_at, dst_at, cnt_at, k + 7, a7, has_res, relu)
        if other:
            _act_inplace(out[n, m].reshape(plane), act)
    # (used through their addresses up to here: ``simd.keep``)
    keep(sc, src, dst, cnt)


@njit(cache=True, nogil=True, parallel=True)
def dwpool(x: np.ndarray, out: np.ndarray, cfg: np.ndarray, threads: int) -> None:
    """2-D max or average pooling x (N, C, H, W) -> out (N, C, OH, OW) on ``dwconv``'s
    blocks: ``cfg`` = (KH, KW, SH, SW, PH, PW, is_max, count_include_pad); the window's
    taps reduced by a maximum or a sum (then times each output's 1 / divisor) from the
    zero-padded (a maximum: -inf-padded) copy of each plane. The semantics are
    ``kernels_pool``'s (``pool_reference``'s): padding is ignored by a maximum (a window
    with none gives -inf), NaN propagates as ``np.maximum``; an average divides by the
    window's positions inside the padded input (``count_include_pad``) or inside the input,
    at least 1. Planes in runs over the threads from POOL_PARALLEL_MIN input floats."""
    kh, kw, sh, sw, ph, pw = cfg[0], cfg[1], cfg[2], cfg[3], cfg[4], cfg[5]
    is_max, include_pad = cfg[6] != 0, cfg[7] != 0
    planes = x.shape[0] * x.shape[1]
    oh, ow = out.shape[2], out.shape[3]
    if out.shape[0] != x.shape[0] or out.shape[1] != x.shape[1]:
        raise ValueError("dwpool: the output's batch and channels are not the input's")
    if not out.flags.c_contiguous:
        raise ValueError("dwpool: the output must be contiguous")
    if planes == 0 or oh * ow == 0:
        return
    inv = _divisors(x.shape[2], x.shape[3], oh, ow, kh, kw, sh, sw, ph, pw, is_max,
                    include_pad)
    parts = _plane_runs(planes, x.shape[2] * x.shape[3], threads, POOL_PARALLEL_MIN)
    if parts == 1:
        _pool_part(x, out, inv, kh, kw, sh, sw, ph, pw, is_max, 0, planes)
        return
    for part in prange(parts):
        lo, hi = _plane_span(np.int64(part), parts, planes)
        _pool_part(x, out, inv, kh, kw, sh, sw, ph, pw, is_max, lo, hi)


@njit(cache=True, nogil=True)
def _divisors(h: int, w: int, oh: int, ow: int, kh: int, kw: int, sh: int, sw: int, ph: int,
              pw: int, is_max: bool, include_pad: bool) -> np.ndarray:
    """An average's 1 / divisor for each output position of a plane (a maximum: none)."""
    inv = np.empty(0 if is_max else oh * ow, np.float32)
    if is_max:
        return inv
    for i in range(oh):
        _, _, rows_p, rows_in = _window(i, sh, ph, kh, h)
        for j in range(ow):
            _, _, cols_p, cols_in = _window(j, sw, pw, kw, w)
            n = rows_p * cols_p if include_pad else rows_in * cols_in
            inv[i * ow + j] = np.float32(1.0) / np.float32(max(n, 1))
    return inv


@njit(cache=True, nogil=True)
def _pool_part(x: np.ndarray, out: np.ndarray, inv: np.ndarray, kh: int, kw: int, sh: int,
               sw: int, ph: int, pw: int, is_max: bool, lo: int, hi: int) -> None:
    """Planes lo .. hi - 1 of ``dwpool`` (plane q: image q // C, channel q % C)."""
    c_dim = x.shape[1]
    oh, ow = out.shape[2], out.shape[3]
    taps = kh * kw
    hp, wp, ln, rs, toff, src, dst, cnt = _geometry(oh, ow, kh, kw, sh, sw, 1, 1)
    fill = np.float32(-np.inf) if is_max else np.float32(0.0)
    sc = np.full(hp * rs, fill, np.float32)  # (only the input's place is ever written)
    cmap = np.arange(c_dim)
    sc_at, inv_at = address(sc), address(inv)
    src_at, dst_at, cnt_at = address(src), address(dst), address(cnt)
    plane = oh * ow
    for q in range(lo, hi):
        _dw_copy(x, cmap, q, sc, ph, pw, sw, ln, rs, hp, wp)
        o_at = address(out) + 4 * q * plane
        for k in range(0, src.size, ACCS):  # each block's 8 entries
            s0, s1, s2, s3 = (iload(src_at, k), iload(src_at, k + 1), iload(src_at, k + 2),
                              iload(src_at, k + 3))
            s4, s5, s6, s7 = (iload(src_at, k + 4), iload(src_at, k + 5),
                              iload(src_at, k + 6), iload(src_at, k + 7))
            a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = vsplat(fill)
            if is_max:
                for t in range(taps):
                    o = toff[t]
                    a0 = vmax(a0, vload(sc_at, s0 + o))
                    a1 = vmax(a1, vload(sc_at, s1 + o))
                    a2 = vmax(a2, vload(sc_at, s2 + o))
                    a3 = vmax(a3, vload(sc_at, s3 + o))
                    a4 = vmax(a4, vload(sc_at, s4 + o))
                    a5 = vmax(a5, vload(sc_at, s5 + o))
                    a6 = vmax(a6, vload(sc_at, s6 + o))
                    a7 = vmax(a7, vload(sc_at, s7 + o))
            else:
                for t in range(taps):
                    o = toff[t]
                    a0 = vadd(a0, vload(sc_at, s0 + o))
                    a1 = vadd(a1, vload(sc_at, s1 + o))
                    a2 = vadd(a2, vload(sc_at, s2 + o))
                    a3 = vadd(a3, vload(sc_at, s3 + o))
                    a4 = vadd(a4, vload(sc_at, s4 + o))
                    a5 = vadd(a5, vload(sc_at, s5 + o))
                    a6 = vadd(a6, vload(sc_at, s6 + o))
                    a7 = vadd(a7, vload(sc_at, s7 + o))
            _pool_out(o_at, inv_at, dst_at, cnt_at, k, a0, is_max)
            _pool_out(o_at, inv_at, dst_at, cnt_at, k + 1, a1, is_max)
            _pool_out(o_at, inv_at, dst_at, cnt_at, k + 2, a2, is_max)
            _pool_out(o_at, inv_at, dst_at, cnt_at, k + 3, a3, is_max)
            _pool_out(o_at, inv_at, dst_at, cnt_at, k + 4, a4, is_max)
            _pool_out(o_at, inv_at, dst_at, cnt_at, k + 5, a5, is_max)
            _pool_out(o_at, inv_at, dst_at, cnt_at, k + 6, a6, is_max)
            _pool_out(o_at, inv_at, dst_at, cnt_at, k + 7, a7, is_max)
    # (used through their addresses up to here: ``simd.keep``)
    keep(sc, src, dst, cnt)


@njit(cache=True, nogil=True, inline="always")
def _pool_out(o_at: int, inv_at: int, dst_at: int, cnt_at: int, k: int, v: Any,
              is_max: bool) -> None:
    """Accumulator k of the block tables stored as ``_dw_out`` does; an average's times
    its outputs' 1 / divisor (at ``inv_at``, in the plane's order)."""
    n = iload(cnt_at, k)
    if n == 0:
        return
    off = iload(dst_at, k)
    if not is_max:
        v = vmul(v, vloadn(inv_at, off, n))
    if n == 8:
        vstore(o_at, off, v)
    else:
        vstoren(o_at, off, v, n)


@njit(cache=True, nogil=True, inline="always")
def _dw_out(o_at: int, r_at: int, dst_at: int, cnt_at: int, k: int, v: Any, has_res: bool,
            relu: bool) -> None:
    """Accumulator k of the block tables' (``dst``, ``cnt`` at ``dst_at``, ``cnt_at``):
    its first cnt[k] lanes stored at element dst[k] of the output plane (at ``o_at``),
    plus the residual's (at ``r_at``; it may be the output itself: read before it is
    written), ReLU'd where ``relu``."""
    n = iload(cnt_at, k)
    if n == 0:
        return
    off = iload(dst_at, k)
    if has_res:
        v = vadd(v, vloadn(r_at, off, n))
    if relu:
        v = vrelu(v)
    if n == 8:
        vstore(o_at, off, v)
    else:
        vstoren(o_at, off, v, n)


@njit(cache=True, nogil=True)
def _dw_copy(x: np.ndarray, cmap: np.ndarray, key: int, sc: np.ndarray, ph: int, pw: int,
             sw: int, ln: int, rs: int, hp: int, wp: int) -> None:
    """Input channel ``key`` (image key // C, channel key % C: plane cmap[channel]) into
    its place in the copy ``sc``: padded row r = row + ph, column p = column + pw at r *
    rs + (p % sw) * ln + p // sw, for the rows and columns the output reads (padded
    columns below ``wp``; the rest stays as it is: zeros)."""
    n, c = key // x.shape[1], cmap[key % x.shape[1]]
    h_dim, w_dim = x.shape[2], x.shape[3]
    ny = min(h_dim, hp - ph)
    nx = min(w_dim, wp - pw)
    if x.strides[3] != 4 or sw > 2:
        for iy in range(ny):
            base = (iy + ph) * rs
            for j in range(nx):
                p = j + pw
                sc[base + p % sw * ln + p // sw] = x[n, c, iy, j]
        return
    row_at = address(x) + n * x.strides[0] + c * x.strides[1]
    for iy in range(ny):
        s_at = row_at + iy * x.strides[2]
        if sw == 1:
            _copy_floats(s_at, address(sc) + 4 * ((iy + ph) * rs + pw), nx)
            continue
        # 16 columns j .. j + 15 (j even): the even ones to phase pw % 2 from (j + pw) //
        # 2, the odd ones to the other phase from (j + pw + 1) // 2
        base = address(sc) + 4 * (iy + ph) * rs
        _split_pairs(s_at, base + 4 * (pw % 2 * ln + pw // 2),
                     base + 4 * ((pw + 1) % 2 * ln + (pw + 1) // 2), nx)
