"""Convolution as GEMM: matrix products on pre-packed weights, generic in every size.

The products are ``kernels_vgemm.vgemm_rm`` (register-blocked, in numba) where it wins
(``uses_vgemm``: with its wide tiles, above a million multiply-adds on 32 pixels or more;
else 128 products per output and 64 outputs or more, or 16 on 64 pixels or more), else
BLAS sgemm.

``conv_gemm`` computes a 2-D convolution (any stride, padding, dilation and groups) as
``out[b, g*Mg:(g+1)*Mg, tile] = W_g[Mg, Kg] @ col[Kg, tile]`` for tiles of output pixels,
``Kg = C/groups * KH * KW``. A 1x1 stride-1 unpadded convolution multiplies the input
plane directly (no copy); any other builds ``col`` for one tile at a time (im2col of a few
hundred pixels, never of the whole image) in a buffer of its work item. Bias, residual and
activation are applied to each tile right after its product, while it is in cache; on
``vgemm``, bias and ReLU (and a residual summed in place) as its register tiles are stored
(``vgemm_rm_act``).

Work items (image, group, pixel tile, output-channel tile) are spread over numba's threads;
each calls single-threaded sgemm (``blas.sgemm_rm``; the runner keeps BLAS on one thread).
Every size is a runtime value, so one compiled kernel serves every layer, batch and model:
nothing is compiled again for a new batch size.

``wino_gemm`` is Winograd F(2x2, 3x3) for stride-1 3x3 convolutions the same way: each
work item (an image's block of tile rows) transforms its input strip on 8-lane vectors
(``simd``), does the 16 products ``U[xi] (M, C) @ V[xi] (C, tiles)`` on ``vgemm``'s
register tile, and applies the inverse transform with bias, residual and activation:
2.25x fewer multiplications.

>>> import numpy as np
>>> x = np.ones((1, 1, 4, 4), np.float32); w = np.ones((2, 9), np.float32)
>>> out = np.empty((1, 2, 4, 4), np.float32); e = np.empty((0, 0, 0, 0), np.float32)
>>> cfg = np.array([3, 3, 1, 1, 1, 1, 1, 1, 1], np.int64)
>>> conv_gemm(x, w, np.zeros(2, np.float32), e, out, cfg, (0, 0.0, 0.0), 2)
>>> out[0, 0, 0].tolist()
[4.0, 6.0, 6.0, 4.0]
"""

from __future__ import annotations

import numpy as np

from shapegraph.executor.acts import act_at
from shapegraph.executor.blas import sgemm_rm
from shapegraph.executor.jit import njit, prange
from shapegraph.executor.kernels import (
    ACT_NONE,
    ACT_RELU,
    _act_inplace,
    _epilogue,
    _sgemm_packs,
    _split_pairs,
)
from shapegraph.executor.kernels_vgemm import (
    PACK_MIN_K,
    WIDE,
    WR,
    vgemm_rm,
    vgemm_rm_act,
    vgemm_tile,
    vgemm_tile48,
)
from shapegraph.executor.simd import (
    F32x8,
    address,
    empty64,
    keep,
    set_thread_count,
    thread_count,
    vadd,
    vload,
    vloadn,
    vrelu,
    vsplat,
    vstore,
    vstoren,
    vsub,
    vunzip,
    vzip,
)

__all__ = ["COL_BYTES", "PW_MAX_CHANNELS", "PW_MIN_PIXELS", "SPLIT_ROWS_BYTES", "SPLIT_ROWS_MIN",
           "SPLIT_ROWS_PIXELS", "WINO_BYTES", "conv_gemm", "conv_gemm_tiles", "pointwise",
           "runs_pointwise", "tile_start", "wino_gemm", "wino_in8", "wino_item_span",
           "wino_out8", "wino_products", "wino_put", "wino_split", "wino_store"]

# one image's plane of fewer pixels than this in one tile, with SPLIT_ROWS_MIN output
# channels a thread or more, is split in one part of them a thread (``conv_gemm_tiles``)
SPLIT_ROWS_PIXELS = 1024
SPLIT_ROWS_MIN = 128
SPLIT_ROWS_BYTES = 256 * 1024  # ... and a 1x1 on an input of at most this many bytes
COL_BYTES = 1024 * 1024  # an im2col tile's size at most (with its product, within L2)
# im2col tiles of products shorter than this (stems on 3 input channels: 27 = 3 x 3 x 3)
# keep at most SHORT_K_PIXELS pixels: with so few multiply-adds per output element, sgemm
# runs at the speed its output tile is written (SqueezeNet's stem, 64 outputs, one thread:
# sgemm 568 µs on tiles of 9709 pixels, 430 on tiles of 512)
SHORT_K = 64
SHORT_K_PIXELS = 512
# Below this many floating point operations a convolution runs on the calling thread: a
# parallel region costs 2-4 µs while OpenMP's threads spin (jit.py), 40-55 µs to wake
# them after they slept (templates.PARALLEL_MIN_FLOPS is the same threshold)
PARALLEL_MIN_FLOPS = 1_000_000


@njit(cache=True, nogil=True, inline="always")
def conv_gemm_tiles(batch: int, groups: int, pixels: int, mg: int, kg: int, direct: bool,
                    threads: int) -> tuple[int, int]:
    """(pixel tile, output-channel tile): im2col tiles of at most ``COL_BYTES``, then, for
    more than one thread, split further until there are at least two work items per thread
    (pixels first, while a tile keeps 128 of them; then output channels, while a tile keeps
    32, or 16 for one tile a thread); but one image on a plane of under
    SPLIT_ROWS_PIXELS in one tile with SPLIT_ROWS_MIN output channels a thread or more is
    split in one part of them a thread. Pixel tiles are of equal size, and more tiles than
    threads are a multiple of the threads while a tile keeps 64 pixels. The ``pointwise``
    kernel's items keep whole rows and split output channels only, in multiples of 8."""
    if direct and runs_pointwise(pixels, kg, mg):
        items = batch * groups
        want = 2 * threads
        if items >= want or mg < 16:
            return pixels, mg
        blocks = (mg + 7) // 8
        n_mt = min((want + items - 1) // items, blocks)
        return pixels, min(mg, 8 * max(1, blocks // n_mt))  # at least n_mt tiles
    nt = pixels if direct else min(pixels, max(64, COL_BYTES // (4 * kg)))
    if not direct and kg < SHORT_K:  # a short product: keep its output tile in L2
        nt = min(nt, SHORT_K_PIXELS)
    n_pt = (pixels + nt - 1) // nt
    want = 2 * threads
    if (threads > 1 and batch * groups == 1 and (direct or n_pt == 1)
            and ((pixels < SPLIT_ROWS_PIXELS and mg >= SPLIT_ROWS_MIN * threads)
                 or (direct and kg < PACK_MIN_K and 4 * kg * pixels <= SPLIT_ROWS_BYTES
                     and mg >= 16 * threads))):
        # a plane of 28x28 or less in one tile, with SPLIT_ROWS_MIN output channels a
        # thread or more: one part of them a thread, each over all the pixels. In pixel
        # tiles each tile ended in a part strip or dot products; in two parts a thread, each
        # copied B's strips (and built its im2col tile) twice. (ResNet-50 on two threads, in
        # the model: 1x1s at 28x28 and 14x14 with 512 and 1024 outputs 386-400 -> 330-370
        # µs; with 128 outputs, 64 a part, 357 -> 412: so SPLIT_ROWS_MIN.) So is a 1x1's
        # whose input (B) vgemm reads where it lies (fewer than PACK_MIN_K input channels)
        # and is small (SPLIT_ROWS_BYTES), down to 16 output channels a thread: SqueezeNet's
        # 16 -> 64 at 55x55, 32 -> 128 at 27x27 on two threads, alone 33-36 -> 26-29 µs
        # (one thread: 45-50); with 64 -> 128 at 56x56 (800 KB) each thread read all of
        # it: DenseNet-121's first 1x1 219 -> 310 µs in the network.
        return nt, 8 * (((mg + 7) // 8 + threads - 1) // threads)
    if threads > 1 and batch * groups * n_pt < want and pixels >= 256:
        n_pt = max(n_pt, min((want + batch * groups - 1) // (batch * groups), pixels // 128))
    # tiles of equal size and, when there are more of them than threads, as many as a
    # multiple of the threads while a tile keeps 64 pixels: at batch 1 the tiles are the
    # work items, and AlexNet's stem in four tiles of 722 pixels and one of 28 kept one of
    # two threads idle 60% of the time. (Fewer tiles than threads: the output channels
    # are split below.)
    nt = (pixels + n_pt - 1) // n_pt
    n_pt = (pixels + nt - 1) // nt
    asked = n_pt
    while batch * groups * n_pt > threads and (batch * groups * n_pt) % threads and \
            pixels >= 64 * (asked + 1):
        asked += 1
        nt = (pixels + asked - 1) // asked
        n_pt = (pixels + nt - 1) // nt
    if threads == 1:  # (split output channels, and each part builds the same im2col tile)
        return nt, mg
    mt = mg
    items = batch * groups * n_pt
    if items < want and mg >= 32:
        # parts of 32 channels or more; but one part a thread down to 16 channels each
        # (SqueezeNet's 256 -> 48 at 13x13 ran on one of two threads)
        n_mt = min((want + items - 1) // items, max(mg // 32, min(threads, mg // 16)))
        if items == 1:
            # one tile: one part a thread. Each part reads all of B (and builds the same
            # im2col tile), and parts of equal size need no second one a thread to even
            # out: Inception v2's 576 -> 96 1x1 at 14x14 and 3x3s at 7x7 into 224 on two
            # threads, alone: 98-104 -> 83-89 µs, 157-241 -> 141-201 (three parts of 32,
            # or four of 56, before)
            n_mt = min(n_mt, threads)
        mt = (mg + n_mt - 1) // n_mt
    return nt, mt


@njit(cache=True, nogil=True, inline="always")
def tile_start(i: int, n_pt: int, nt: int, pixels: int) -> int:
    """Where pixel tile i of ``n_pt`` (each about ``nt`` pixels) starts; ``pixels`` for
    i = n_pt. Where ``WIDE`` and the tiles are wider than a strip of WR columns, at the
    multiple of WR nearest to an equal share: every tile but the last is whole strips.
    (Tiles of 757 pixels of SqueezeNet's 64 -> 16 at 55x55 each ended in 37 columns, a
    padded strip of 32 and 5 dot products: 52 µs on two threads, as on one; in tiles of
    720-768, 29.)"""
    if i >= n_pt:
        return pixels
    if WIDE and nt > WR:
        return (i * pixels // n_pt + WR // 2) // WR * WR
    return i * nt


@njit(cache=True, nogil=True)
def _im2col(xb: np.ndarray, c0: int, cg: int, kh: int, kw: int, sh: int, sw: int, ph: int,
            pw: int, dh: int, dw: int, ow_dim: int, p0: int, np_: int,
            col: np.ndarray) -> None:
    """col[(c*kh + r)*kw + s, j] = x[c0 + c, ih, iw] for output pixel p0 + j (0 outside).

    With a column stride ``sw`` > 1 each input row is first split into its ``sw`` phases
    (``phase[q, k] = row[k*sw + q]``): every kernel column then reads one phase
    contiguously, so a row costs ``W`` strided loads instead of ``kw * OW`` (a 7x7 stride-2
    stem: 3.5x fewer)."""
    h_dim, w_dim = xb.shape[1], xb.shape[2]
    phase = np.empty((sw, (w_dim + sw - 1) // sw), np.float32)
    pa = address(phase)
    for c in range(cg):
        xc = xb[c0 + c]
        for r in range(kh):
            base = (c * kh + r) * kw
            j = 0
            p = p0
            while j < np_:
                oh = p // ow_dim
                ow0 = p - oh * ow_dim
                cnt = min(ow_dim - ow0, np_ - j)
                ih = oh * sh - ph + r * dh
                if ih < 0 or ih >= h_dim:
                    for s in range(kw):
                        col[base + s, j:j + cnt] = 0.0
                else:
                    xr = xc[ih]
                    if sw == 2:  # (16 columns a step: 134 -> 56 µs on SqueezeNet's stem)
                        _split_pairs(address(xr), pa, pa + 4 * phase.shape[1], w_dim)
                    elif sw > 1:
                        for q in range(sw):
                            pq = phase[q]
                            for k in range((w_dim - q + sw - 1) // sw):
                                pq[k] = xr[k * sw + q]
                    for s in range(kw):
                        _im2col_run(xr, phase, col[base + s], j, ow0, cnt, s * dw - pw, sw,
                                    w_dim)
                j += cnt
                p += cnt
    keep(phase)  # (its address was used up to here: ``simd.keep``)


# Output rows up to this many columns are gathered through an index table
# (``_im2col_gather``): one thread, ResNet-50's strided 3x3s 512 x 14 x 14 -> 7 x 7 0.63
# ms to 0.12, 256 x 28 x 28 -> 14 x 14 0.68 to 0.22, 128 x 56 x 56 -> 28 x 28 0.76 to 0.46,
# its 1x1 stride-2 shortcuts 0.21-0.27 to 0.04-0.14; on longer rows the row copies win (64 x
# 55 x 55 3x3: 0.64 against 0.92; the 7x7 stride-2 stem 0.56 against 3.1)
GATHER_MAX_OW = 28

VGEMM_MIN_K = 128
VGEMM_MIN_M = 64
VGEMM_FEW_M = 16  # ... on 64 pixels or more
# Where vgemm has its wide tiles (``WIDE``: AVX-512, where OpenBLAS runs its SkylakeX
# kernels), the line between the two is the size of the product: OpenBLAS multiplies
# products of at most kernels.SMALL_SGEMM_MNK multiply-adds (m n k) with its small kernel,
# which reads the operands where they lie, and beats vgemm there by up to 50%; above it,
# it packs them, and vgemm takes 0.46-1.00 its time, whatever the shape, from 32 pixels
# (stop 35: 518 products of 16-256 rows, 16-3025 columns and 16-2048 terms, one thread,
# alone, hot, vgemm / sgemm: 1.00-1.49 at or under a million but for 49 columns of 256
# terms or more, 0.85-0.99; 0.46-1.00 above it, with B read where it lies or packed
# alike; on 16 columns 0.95-1.69).
# (The rule before it, from 64 terms and 64 outputs on 512 pixels, gave sgemm SqueezeNet's
# 64 -> 16 at 55x55 and 48 -> 192 at 13x13, and vgemm 128 -> 64 at 10x10.)
VGEMM_WIDE_MIN_N = 32
# ... and where it has them, 1x1s on planes of PW_ALL_PIXELS or more from this many inputs
# and VGEMM_MIN_M outputs run vgemm, not ``pointwise`` (one convolution with bias and ReLU,
# the rule before and this one called in turns in one process, medians of 60, one thread /
# two: 64 -> 256 at 56x56 0.92 / 0.90 the time, 64 -> 64 0.90 / 0.88, 96 -> 128 0.93 / 0.78)
VGEMM_WIDE_MIN_K = 64


@njit(cache=True, nogil=True)
def _im2col_gather(xb: np.ndarray, c0: int, cg: int, kh: int, kw: int, sh: int, sw: int,
                   ph: int, pw: int, dh: int, dw: int, ow_dim: int, p0: int, np_: int,
                   col: np.ndarray) -> None:
    """``_im2col`` for short output rows, where its row copies are a few elements each: an
    index table gives, for each kernel position and output pixel, the input element's
    offset in its channel's plane (the plane's size, pointing at a zero after the plane's
    copy, where it is padding); each row of ``col`` is then one gather loop."""
    h_dim, w_dim = xb.shape[1], xb.shape[2]
    hw = h_dim * w_dim
    kk = kh * kw
    tab = np.empty(kk * np_, np.int32)
    for r in range(kh):
        for s in range(kw):
            t = tab[(r * kw + s) * np_:(r * kw + s + 1) * np_]
            for j in range(np_):
                p = p0 + j
                oh = p // ow_dim
                ih = oh * sh - ph + r * dh
                iw = (p - oh * ow_dim) * sw - pw + s * dw
                t[j] = ih * w_dim + iw if 0 <= ih < h_dim and 0 <= iw < w_dim else hw
    xz = np.empty(hw + 1, np.float32)
    xz[hw] = 0.0
    xf = xb.reshape(xb.size)
    for c in range(cg):
        xc = xf[(c0 + c) * hw:(c0 + c + 1) * hw]
        for t_ in range(hw):
            xz[t_] = xc[t_]
        for rs in range(kk):
            row = col[c * kk + rs]
            t = tab[rs * np_:(rs + 1) * np_]
            for j in range(np_):
                row[j] = xz[t[j]]


@njit(cache=True, nogil=True, inline="always")
def _im2col_run(xr: np.ndarray, phase: np.ndarray, row: np.ndarray, j: int, ow0: int,
                cnt: int, off: int, sw: int, w_dim: int) -> None:
    """row[j + t] = xr[(ow0 + t) * sw + off] for t < cnt, 0 where that is outside the row."""
    # output columns whose input column is inside the row
    lo = 0 if off >= 0 else (-off + sw - 1) // sw
    hi = (w_dim - 1 - off) // sw + 1 if w_dim - 1 - off >= 0 else 0
    t_lo = min(max(lo - ow0, 0), cnt)
    t_hi = max(min(hi - ow0, cnt), t_lo)
    for t in range(t_lo):
        row[j + t] = 0.0
    if sw == 1:
        src = xr[ow0 + off + t_lo:]
    else:  # input column (ow0 + t) * sw + off = (ow0 + t + k0) * sw + q: phase q
        q = off % sw
        src = phase[q, ow0 + (off - q) // sw + t_lo:]
    dst = row[j + t_lo:]
    for t in range(t_hi - t_lo):
        dst[t] = src[t]
    for t in range(t_hi, cnt):
        row[j + t] = 0.0


@njit(cache=True, nogil=True, parallel=True)
def conv_gemm(x: np.ndarray, w: np.ndarray, b: np.ndarray, res: np.ndarray, out: np.ndarray,
              cfg: np.ndarray, act: tuple[int, float, float], threads: int) -> None:
    """out (N, M, OH, OW) = act(conv(x (N, C, H, W)) + b (+ res)); ``w`` is (M, C/groups *
    KH * KW) (``pack_conv_gemm``), ``res`` an empty 4-d array or out's shape, ``cfg`` =
    (KH, KW, SH, SW, PH, PW, DH, DW, groups); ``threads`` the number of numba threads (the
    caller's ``numba.get_num_threads()``: a kernel that asked itself could not be cached).

    ``res`` may be ``out`` itself (the memory plan writes a residual block's sum over its
    shortcut where the shortcut dies): each product is then added to it (sgemm's beta =
    1) and the bias after (and the activation). (``x`` is never ``out``.)"""
    kh, kw, sh, sw, ph, pw, groups = cfg[0], cfg[1], cfg[2], cfg[3], cfg[4], cfg[5], cfg[8]
    batch, c_dim = x.shape[0], x.shape[1]
    m_dim, oh_dim, ow_dim = out.shape[1], out.shape[2], out.shape[3]
    pixels = oh_dim * ow_dim
    cg, mg = c_dim // groups, m_dim // groups
    kg = cg * kh * kw
    direct = (kh == 1 and kw == 1 and sh == 1 and sw == 1 and ph == 0 and pw == 0
              and x.shape[2] == oh_dim and x.shape[3] == ow_dim)
    has_res = res.size == out.size
    in_place = has_res and res.ctypes.data == out.ctypes.data
    # a small convolution runs on this thread: waking a sleeping OpenMP thread costs more
    # than it saves (ShuffleNet's 1x1s, 7 MFLOP)
    parallel = threads > 1 and 2 * batch * m_dim * pixels * kg >= PARALLEL_MIN_FLOPS
    nt, mt = conv_gemm_tiles(batch, groups, pixels, mg, kg, direct, threads if parallel else 1)
    n_pt = (pixels + nt - 1) // nt
    n_mt = (mg + mt - 1) // mt
    y3 = out.reshape(batch, m_dim, pixels)
    x3 = x.reshape(batch, c_dim, x.shape[2] * x.shape[3])
    r3 = res.reshape(batch, m_dim, pixels) if has_res else y3
    per_image = groups * n_pt * n_mt
    # one loop, on one thread where not parallel: with a serial copy of it beside it, the
    # work item was compiled, and optimized again, twice (ResNet-50's convolutions: 11.0
    # -> 10.0 s cold, and 1.1 µs more a call of one that runs on one thread)
    was = thread_count()
    if not parallel:
        set_thread_count(1)
    for item in prange(batch * per_image):
        _conv_gemm_item(x, x3, w, b, r3, y3, cfg, ow_dim, direct, has_res, in_place,
                        act, nt, mt, n_pt, n_mt, parallel, np.int64(item))
    if not parallel:
        set_thread_count(was)


@njit(cache=True, nogil=True, inline="always")
def _conv_gemm_item(x: np.ndarray, x3: np.ndarray, w: np.ndarray, b: np.ndarray,
                    r3: np.ndarray, y3: np.ndarray, cfg: np.ndarray, ow_dim: int,
                    direct: bool, has_res: bool, in_place: bool,
                    act: tuple[int, float, float], nt: int, mt: int, n_pt: int, n_mt: int,
                    shared: bool, item: np.int64) -> None:
    """One work item of ``conv_gemm``, inlined into its parallel loop. (As a function of
    its own it was compiled, then linked and optimized again in the parallel loop's function
    and again in ``conv_gemm``: ResNet-50's cold first call 20.0-20.4 s, inlined 19.7-20.0,
    run times the same.)"""
    kh, kw, sh, sw, ph, pw, dh, dw, groups = (cfg[0], cfg[1], cfg[2], cfg[3], cfg[4],
                                              cfg[5], cfg[6], cfg[7], cfg[8])
    m_dim, pixels = y3.shape[1], y3.shape[2]
    cg, mg = x.shape[1] // groups, m_dim // groups
    kg = cg * kh * kw
    per_image = groups * n_pt * n_mt
    bi = item // per_image
    rest = item - bi * per_image
    g = rest // (n_pt * n_mt)
    rest -= g * (n_pt * n_mt)
    pt = rest // n_mt
    mi = rest - pt * n_mt
    p0 = tile_start(pt, n_pt, nt, pixels)
    np_ = tile_start(pt + 1, n_pt, nt, pixels) - p0
    m0 = g * mg + mi * mt
    nm = min(mt, g * mg + mg - m0)
    yv = y3[bi]
    if direct and runs_pointwise(pixels, kg, mg):
        pointwise(w, m0, nm, x3[bi], g * cg, cg, yv, b, r3[bi], has_res, act)
        return
    beta = 1.0 if in_place else 0.0  # in place: the product is added to the residual
    # bias, ReLU and an in-place residual done as vgemm stores its tiles (not a residual of
    # its own, or another activation: those stay the epilogue's)
    fuse = (act[0] == ACT_NONE or act[0] == ACT_RELU) and not (has_res and not in_place)
    relu = act[0] == ACT_RELU
    if direct:
        fused = _product(nm, np_, kg, w[m0:], kg, x3[bi, g * cg:, p0:], pixels,
                         yv[m0:, p0:], pixels, beta, b[m0:], relu, fuse, shared)
    else:
        col = empty64(kg * np_).reshape((kg, np_))  # (64-byte aligned rows where np_ allows)
        if ow_dim <= GATHER_MAX_OW:
            _im2col_gather(x[bi], g * cg, cg, kh, kw, sh, sw, ph, pw, dh, dw, ow_dim, p0,
                           np_, col)
        else:
            _im2col(x[bi], g * cg, cg, kh, kw, sh, sw, ph, pw, dh, dw, ow_dim, p0, np_, col)
        # (col as a view of the layout the direct branch passes: one compile of _product)
        fused = _product(nm, np_, kg, w[m0:], kg, col[:, :np_], np_, yv[m0:, p0:], pixels,
                         beta, b[m0:], relu, fuse, shared)
    if not fused:
        _epilogue(yv, m0, nm, p0, np_, b, r3[bi], has_res and not in_place, act)


@njit(cache=True, nogil=True, inline="always")
def uses_vgemm(kg: int, nm: int, n: int) -> bool:
    """Whether a product of ``kg`` terms into ``nm`` output channels and ``n`` pixels runs
    ``vgemm_rm`` (else BLAS sgemm). With the wide tiles: where sgemm would pack it
    (``kernels.sgemm_packs``), on VGEMM_WIDE_MIN_N pixels or more (see there). Without them:
    from 128 terms (with fewer its tiles' start and end weigh more: one thread, in the
    models, DenseNet-121's Winograd products of the time with 64 input channels 9% slower;
    ResNet-50's with 128-2048 terms 4-27% faster), into 64 outputs or more, or 16 on 64
    pixels or more (it reads B where it lies: 1x1s of 128-528 inputs into 16-48 outputs at
    13x13 and 27x27, alone with bias and ReLU, 25-45% faster than sgemm; below 64 pixels
    sgemm is faster with few outputs: 832 -> 32 at 6x6 19.7 µs against 24.8)."""
    if WIDE:
        return _sgemm_packs(nm, n, kg) and n >= VGEMM_WIDE_MIN_N
    return _long_product(kg, nm, n)


@njit(cache=True, nogil=True, inline="always")
def _long_product(kg: int, nm: int, n: int) -> bool:
    """``uses_vgemm`` without the wide tiles."""
    return kg >= VGEMM_MIN_K and (nm >= VGEMM_MIN_M or (nm >= VGEMM_FEW_M and n >= 64))


@njit(cache=True, nogil=True)
def _product(m: int, n: int, k: int, a: np.ndarray, lda: int, b: np.ndarray, ldb: int,
             c: np.ndarray, ldc: int, beta: float, bias: np.ndarray, relu: bool,
             fuse: bool, shared: bool) -> bool:
    """``C[m, n] = A[m, k] @ B[k, n] + beta * C`` (``sgemm_rm``'s arguments): ``vgemm_rm``
    where ``uses_vgemm``, or where ``shared`` (the threads of a parallel loop each run
    such products) with the wide tiles on VGEMM_WIDE_MIN_N columns or more, else BLAS
    sgemm; with ``fuse``, on vgemm, C's rows also plus ``bias`` and ReLU'd where ``relu``
    (``vgemm_rm_act``). Whether that was done. (Not inlined: inlined into the inlined work
    items, with ``vgemm_rm`` inlined into it, numba passed it wrong operands, and the
    conv_gemm tests failed.) OpenBLAS's small products ran on two threads no faster than
    on one: SqueezeNet's 32 -> 128 at 27x27 in four items of 128 x 183 x 32, 47 µs on one
    thread, 49 on two; on vgemm 37 (2026-12-07)."""
    if uses_vgemm(k, m, n) or (shared and WIDE and n >= VGEMM_WIDE_MIN_N):
        if fuse:
            vgemm_rm_act(m, n, k, a, lda, b, ldb, c, ldc, beta, bias, relu)
            return True
        vgemm_rm(m, n, k, a, lda, b, ldb, c, ldc, beta)
        return False
    sgemm_rm(m, n, k, a, lda, b, ldb, c, ldc, beta)
    return False


# --------------------------------------------------------------------------- 1x1 by hand

# 1x1 convolutions on planes of at least this many pixels run ``pointwise`` instead of
# sgemm when they have few channels on one side, or a small weight matrix (one thread, 1x1
# alone, this kernel against sgemm without its epilogue pass, 2026-12-05: 16 -> 64
# channels at 55x55 75 µs against 142; 96 -> 128 at 56x56 0.73 ms against 0.91; 256 ->
# 128 at 56x56 1.95 against 2.22; 128 -> 512 at 28x28 1.01 against 1.10; 512 -> 128 1.05
# against 1.08; with larger weights sgemm wins at 28x28 (256 -> 512: 2.16 against 2.06;
# 1024 -> 256: 4.38 against 4.14) and on every plane of 14x14 (1024 -> 256: 1.31 against
# 1.05)); on planes of PW_ALL_PIXELS or more it never lost. Against ``vgemm`` (from 128
# inputs and 64 outputs, ``uses_vgemm``) it loses below PW_ALL_PIXELS (2026-12-06, one
# thread, with a residual, best of 3 runs: 128 -> 512 at 28x28 1087 µs against 1023, 512
# -> 128 1029 against 981, 256 -> 256 1066 against 998, 128 -> 256 540 against 524), and
# wins from it (256 -> 128 at 56x56 1988 against 2165, 256 -> 64 1024 against 1066)
PW_MIN_PIXELS = 784
PW_MAX_CHANNELS = 64  # ... and with at most this many input or output channels (a group's)
PW_MAX_WEIGHTS = 128 * 512  # ... or at most this many weights (a group's)
PW_ALL_PIXELS = 3136
# Since vgemm reads B where it lies (stop 29) it takes 16-63 outputs on 64 pixels or more
# (``uses_vgemm``), but pointwise stays 5-10% faster with 16 outputs from PW_MIN_PIXELS
# (alone, with bias and ReLU: 128 -> 16 at 55x55 132 µs against 145)
PW_FEW_OUTPUTS = 16
# With vgemm's wide tiles (``WIDE``) vgemm wins on the big planes too, from 128 inputs and
# 64 outputs (one thread, alone with bias and ReLU, caches flushed between calls: 256 -> 64
# at 56x56 986 µs against 1233, 128 -> 128 1040 against 1321, 256 -> 128 2024 against
# 2045; with fewer channels pointwise stays ahead: 96 -> 128 842 against sgemm's 897);
# DenseNet-121 0.86-0.89 -> 0.84-0.85 ONNX Runtime's time, ResNet-50 unchanged. Below
# PW_ALL_PIXELS, with the wide tiles, pointwise never runs (stop 35): vgemm or sgemm, as
# ``uses_vgemm`` chooses, beat it on SqueezeNet's 1x1s at 55x55 and 27x27 (one thread, in
# the model: 64 -> 16 at 55x55 86 -> 72 µs, 16 -> 64 95 -> 78, 128 -> 16 162 -> 121, 32 ->
# 128 at 27x27 84 -> 64).
# Planes of a multiple of this many pixels (rows a multiple of 4 KB apart) never run
# pointwise: its 8 output rows and 4 input rows then fall into the same cache sets (64 ->
# 256 at 64x64 5.6-6.7 ms against sgemm's 1.6-1.7 and vgemm's 1.7-1.9)
PW_ALIASED_PIXELS = 1024


@njit(cache=True, nogil=True, inline="always")
def runs_pointwise(pixels: int, kg: int, mg: int) -> bool:
    """Whether a 1x1 stride-1 convolution's image runs ``pointwise`` (else ``_product``:
    vgemm or sgemm). With the wide tiles: on planes of PW_ALL_PIXELS or more, with fewer
    than VGEMM_WIDE_MIN_K inputs or VGEMM_MIN_M outputs. (Without them, below PW_ALL_PIXELS
    vgemm takes only products of 128 terms or more from it: two threads' tiles of a 28x28
    plane, 196 pixels, would be sgemm's.)"""
    if pixels % PW_ALIASED_PIXELS == 0:
        return False
    if WIDE:
        return pixels >= PW_ALL_PIXELS and not (kg >= VGEMM_WIDE_MIN_K and mg >= VGEMM_MIN_M)
    if pixels >= PW_ALL_PIXELS:
        return True
    return pixels >= PW_MIN_PIXELS and (
        (mg <= PW_FEW_OUTPUTS or not _long_product(kg, mg, pixels))
        and (min(kg, mg) <= PW_MAX_CHANNELS or kg * mg <= PW_MAX_WEIGHTS))


@njit(cache=True, nogil=True, fastmath={"contract"})
def pointwise(w: np.ndarray, m0: int, nm: int, x2: np.ndarray, k0: int, kg: int,
              y2: np.ndarray, b: np.ndarray, r2: np.ndarray, has_res: bool,
              act: tuple[int, float, float]) -> None:
    """y2[m0 + m, :] = act(sum_k w[m0 + m, k] * x2[k0 + k, :] + b (+ r2)) for m < nm: a 1x1
    convolution of one image's plane, ``w`` (M, kg), ``x2`` (C, P), ``y2``/``r2`` (M, P).

    Eight output rows at a time are accumulated over four input channels at a time in
    registers (one load and store of the accumulator per 32 multiply-adds), vectorized along
    the pixels, with fused multiply-adds (``contract``, as in the generated kernels: 5-10%
    faster, and each sum is rounded fewer times); each block's bias, residual and activation
    are applied while it is still in cache. Rows are indexed from 0 and blocks from range
    variables, so numba can prove every index non-negative and the loops stay vectors.
    ``r2`` may be ``y2`` itself (an in-place residual, see ``conv_gemm``): the rows then
    start from it plus the bias."""
    full = kg - kg % 4
    nb = nm // 8
    in_place = has_res and r2.ctypes.data == y2.ctypes.data
    add_res = has_res and not in_place
    for blk in range(nb):
        r = m0 + 8 * blk
        _pointwise8(w, r, x2, k0, kg, full, y2, b, in_place)
        _pointwise_finish(y2, r, 8, r2, add_res, act)
    for r in range(m0 + 8 * nb, m0 + nm):
        _pointwise1(w, r, x2, k0, kg, full, y2, b, in_place)
        _pointwise_finish(y2, r, 1, r2, add_res, act)


@njit(cache=True, nogil=True, inline="always")
def _pointwise_finish(y2: np.ndarray, r: int, rows: int, r2: np.ndarray, has_res: bool,
                      act: tuple[int, float, float]) -> None:
    """Residual and activation on rows r .. r+rows-1 (the bias was their start)."""
    for i in range(rows):
        row = y2[r + i]
        if has_res:
            rr = r2[r + i]
            for p in range(row.size):
                row[p] += rr[p]
        _act_inplace(row, act)


@njit(cache=True, nogil=True, inline="always")
def _start_row(y2: np.ndarray, r: int, bv: float, onto: bool) -> None:
    """y2[r] = bv, or y2[r] += bv (``onto``: an in-place residual is the start)."""
    row = y2[r]
    if onto:
        for p in range(row.size):
            row[p] += bv
    else:
        for p in range(row.size):
            row[p] = bv


@njit(cache=True, nogil=True, inline="always")
def _pointwise8(w: np.ndarray, r: int, x2: np.ndarray, k0: int, kg: int, full: int,
                y2: np.ndarray, b: np.ndarray, onto: bool) -> None:
    """Rows r .. r+7 of ``pointwise``, starting from the bias (``onto``: from the rows plus
    the bias). (Indexed as 2-D arrays: with a view per row, LLVM's checks that 12 views
    don't overlap keep the loop scalar.)"""
    pix = y2.shape[1]
    for i in range(8):
        _start_row(y2, r + i, b[r + i], onto)
    for k in range(0, full, 4):
        c = k0 + k
        a00, a01, a02, a03 = w[r, k], w[r, k + 1], w[r, k + 2], w[r, k + 3]
        a10, a11, a12, a13 = w[r + 1, k], w[r + 1, k + 1], w[r + 1, k + 2], w[r + 1, k + 3]
        a20, a21, a22, a23 = w[r + 2, k], w[r + 2, k + 1], w[r + 2, k + 2], w[r + 2, k + 3]
        a30, a31, a32, a33 = w[r + 3, k], w[r + 3, k + 1], w[r + 3, k + 2], w[r + 3, k + 3]
        a40, a41, a42, a43 = w[r + 4, k], w[r + 4, k + 1], w[r + 4, k + 2], w[r + 4, k + 3]
        a50, a51, a52, a53 = w[r + 5, k], w[r + 5, k + 1], w[r + 5, k + 2], w[r + 5, k + 3]
        a60, a61, a62, a63 = w[r + 6, k], w[r + 6, k + 1], w[r + 6, k + 2], w[r + 6, k + 3]
        a70, a71, a72, a73 = w[r + 7, k], w[r + 7, k + 1], w[r + 7, k + 2], w[r + 7, k + 3]
        for p in range(pix):
            v0, v1, v2, v3 = x2[c, p], x2[c + 1, p], x2[c + 2, p], x2[c + 3, p]
            y2[r, p] += a00 * v0 + a01 * v1 + a02 * v2 + a03 * v3
            y2[r + 1, p] += a10 * v0 + a11 * v1 + a12 * v2 + a13 * v3
            y2[r + 2, p] += a20 * v0 + a21 * v1 + a22 * v2 + a23 * v3
            y2[r + 3, p] += a30 * v0 + a31 * v1 + a32 * v2 + a33 * v3
            y2[r + 4, p] += a40 * v0 + a41 * v1 + a42 * v2 + a43 * v3
            y2[r + 5, p] += a50 * v0 + a51 * v1 + a52 * v2 + a53 * v3
            y2[r + 6, p] += a60 * v0 + a61 * v1 + a62 * v2 + a63 * v3
            y2[r + 7, p] += a70 * v0 + a71 * v1 + a72 * v2 + a73 * v3
    for k in range(full, kg):
        for i in range(8):
            a = w[r + i, k]
            for p in range(pix):
                y2[r + i, p] += a * x2[k0 + k, p]


@njit(cache=True, nogil=True, inline="always")
def _pointwise1(w: np.ndarray, r: int, x2: np.ndarray, k0: int, kg: int, full: int,
                y2: np.ndarray, b: np.ndarray, onto: bool) -> None:
    """Row r of ``pointwise`` alone (the rows after the last block of eight)."""
    pix = y2.shape[1]
    _start_row(y2, r, b[r], onto)
    for k in range(0, full, 4):
        c = k0 + k
        a0, a1, a2, a3 = w[r, k], w[r, k + 1], w[r, k + 2], w[r, k + 3]
        for p in range(pix):
            y2[r, p] += (a0 * x2[c, p] + a1 * x2[c + 1, p] + a2 * x2[c + 2, p]
                         + a3 * x2[c + 3, p])
    for k in range(full, kg):
        a = w[r, k]
        for p in range(pix):
            y2[r, p] += a * x2[k0 + k, p]


# --------------------------------------------------------------------------- Winograd


@njit(cache=True, nogil=True, inline="always")
def wino_split(th: int, tw: int, c_dim: int, m_dim: int, batch: int, threads: int,
               positions: int) -> tuple[int, int]:
    """``wino_gemm``'s work items (and ``kernels_wino4.wino4_gemm``'s: ``positions`` is the
    transform's, 16 or 36): (tile rows per block, parts of the output channels).

    A block (``tw`` tiles a row, rounded up to whole vectors) holds ``WINO_BLOCK_TILES``
    tiles or more, and one for each 4 KB of the transformed weights U (every block reads
    all of them: ResNet-50's 11 Winograd steps, best times summed, took 17.6 ms in blocks of
    48 tiles, 14.9 so), fewer where their transformed input and products (``positions`` *
    (C + M) floats a tile) would pass ``WINO_BYTES``, but never fewer than fill whole strips of the
    register tile (48 tiles where ``WIDE``, else 24). On several threads, where numba's even
    runs of these blocks would load the threads unevenly, the cheaper of two other ways by
    ``wino_load``'s estimate:

    - smaller blocks, until there are two a thread;
    - the output channels split in ``threads`` parts (whole groups of 8), each thread
      running every block for its part: it reads only its rows of U but transforms every
      block's input again. ResNet-50's 256 -> 256 at 14x14 on two threads, in the
      network: 1010-1185 µs in blocks of 2 tile rows (each reading all 4 MB of U),
      690-790 split (1270-1330 on one thread)."""
    per_tile = positions * (c_dim + m_dim) * 4
    tiles = max(WINO_BLOCK_TILES, positions * c_dim * m_dim // 1024)
    rows = max(1, min(th, WINO_BYTES // (per_tile * tw), -(-tiles // tw)))
    # at least the fewest tile rows whose tiles are whole strips of the register tile's
    # width: with many channels the bytes above leave one row of 8 or 16 tiles a block,
    # whose products ran on the tile of 8 columns (VGG-19's 512 -> 512 at 28x28, one
    # thread: 24.8 ms in blocks of 16 tiles, 15.8 in blocks of 48)
    width = WR if WIDE else 24
    r_min = 1
    while (r_min * tw) % width != 0 and r_min < th:
        r_min += 1
    # and a multiple of them: 4 rows of 16 tiles made strips of 48 and 16, the 16 on the
    # 8-column tile (SqueezeNet's 32 -> 128 at 27x27, one thread: 430 µs in blocks of 4
    # rows, 326 in blocks of 3)
    rows = min(th, max(r_min, rows // r_min * r_min))
    if threads < 2:
        return rows, 1
    best, most = rows, wino_load(th, rows, batch, threads, m_dim, tw)
    if most * threads <= 1.05 * wino_load(th, rows, batch, 1, m_dim, tw):
        return rows, 1  # even enough
    small = rows
    while small > 1 and batch * ((th + small - 1) // small) < 2 * threads:
        small -= 1
    if small < rows:
        load = wino_load(th, small, batch, threads, m_dim, tw)
        if load < most:
            best, most = small, load
    if m_dim >= 16 * threads:
        part = 8 * (((m_dim + 7) // 8 + threads - 1) // threads)  # the largest part
        if wino_load(th, rows, batch, 1, min(part, m_dim), tw) < most:
            return rows, threads
    return best, 1


@njit(cache=True, nogil=True, inline="always")
def wino_load(th: int, rows: int, batch: int, threads: int, m_dim: int, tw: int) -> float:
    """An estimate of the most work one of ``threads`` threads gets from numba's even runs
    of the blocks of ``rows`` tile rows (``tw`` tiles each) of ``batch`` images, each block
    with ``m_dim`` output channels: per tile row ``m_dim`` output channels' products and
    ``WINO_INPUT`` more for its input's copy and transform, per block its rows of U read
    (``WINO_READ`` multiply-adds a float)."""
    blocks = (th + rows - 1) // rows
    items = batch * blocks
    most = 0.0
    for k in range(threads):
        load = 0.0
        for i in range(k * items // threads, (k + 1) * items // threads):
            nr = min(rows, th - (i % blocks) * rows)
            load += nr * (m_dim + WINO_INPUT) + m_dim * WINO_READ / tw
        most = max(most, load)
    return most


WINO_BYTES = 1024 * 1024
WINO_BLOCK_TILES = 48  # (ResNet blocks' 16 -> 16 at 32x32: 37 µs in blocks of 48, 52 in 256)
WINO_INPUT = 8.0  # a tile row's input copy and transform, in output channels' products
WINO_READ = 4.0  # a float of U read from memory, in multiply-adds


@njit(cache=True, nogil=True, parallel=True)
def wino_gemm(x: np.ndarray, u: np.ndarray, b: np.ndarray, res: np.ndarray, out: np.ndarray,
              cfg: np.ndarray, act: tuple[int, float, float], threads: int) -> None:
    """out (N, M, OH, OW) = act(conv3x3(x (N, C, H, W)) + b (+ res)), stride 1, no dilation,
    by Winograd F(2x2, 3x3): each 2x2 output tile is A^T [U . (B^T d B)] A, the 16 products
    of all tiles of a block done as ``U[xi] (M, C) @ V[xi] (C, tiles)`` on ``u`` (16, M8,
    C), the transformed weights (``templates.pack_wino_gemm``, M8 = max(M, 8)). ``cfg`` =
    (PH, PW). 2.25x fewer multiplications than direct convolution. ``x``, ``res`` and
    ``out`` are C-contiguous; ``out`` may be ``res`` (in place)."""
    ph, pw = cfg[0], cfg[1]
    batch, c_dim = x.shape[0], x.shape[1]
    m_dim, oh_dim, ow_dim = out.shape[1], out.shape[2], out.shape[3]
    th, tw = (oh_dim + 1) // 2, (ow_dim + 1) // 2
    rows, parts = wino_split(th, (tw + 7) // 8 * 8, c_dim, m_dim, batch, threads, 16)
    blocks = (th + rows - 1) // rows
    has_res = res.size == out.size
    # the part outermost: a thread's share of the items (numba splits them into equal runs)
    # is then whole parts, each of every block
    for item in prange(parts * batch * blocks):
        _wino_item(x, u, b, res, out, ph, pw, has_res, act, rows, blocks, parts,
                   np.int64(item))


@njit(cache=True, nogil=True)
def _wino_item(x: np.ndarray, u: np.ndarray, b: np.ndarray, res: np.ndarray,
               out: np.ndarray, ph: int, pw: int, has_res: bool,
               act: tuple[int, float, float], rows: int, blocks: int, parts: int,
               item: np.int64) -> None:
    """Tile rows ``r0`` .. of image ``n``, output channels ``m0`` .. ``m1`` (part ``part``
    of ``parts``: whole groups of 8 rows of U), on 8-lane vectors along each row of tiles
    (its length rounded up to whole vectors, the tiles past the image on zeros):

    1. the input strip under these tiles, zero-padded, each row split into its even and
       odd columns, so that the 4x4 inputs of 8 neighbouring tiles are 16 unit-stride loads;
    2. the input transform, V[xi][c][tile] for the 16 transform positions xi;
    3. per position, M[xi] = U[xi] @ V[xi] on ``vgemm``'s register tile, reading V's rows
       where they lie (strips of 48 tiles where ``WIDE``, then of 24, then of 8);
    4. the inverse transform, bias, residual and activation; each output row's two columns
       interleaved back in registers (a row's last, partial vector by masked loads and
       stores)."""
    c_dim, h_dim, w_dim = x.shape[1], x.shape[2], x.shape[3]
    m_dim, oh_dim, ow_dim = out.shape[1], out.shape[2], out.shape[3]
    m8 = u.shape[1]  # U's rows: M, at least 8 (the register tile's)
    th, tw = (oh_dim + 1) // 2, (ow_dim + 1) // 2
    twp = (tw + 7) // 8 * 8
    n, r0, m0, m1, lo = wino_item_span(item, x.shape[0], blocks, rows, m8, parts)
    nr = min(rows, th - r0)
    tt, tmax = nr * twp, rows * twp  # tiles of this block; V's and M's row pitch
    # 1. the strip: rows 2*r0 - ph .. + 2*nr + 2, each as its even columns then its odd ones,
    # wh each and room for the zeros a last vector stores past them
    wh = twp + 1
    jn = min(w_dim, 2 * wh - pw)  # the input columns under the tiles
    pr, pw2 = pw % 2, pw // 2  # input column j is padded column q = j + pw
    vecs = (jn + 15) // 16  # 16 input columns a step: 8 even and 8 odd ones
    whs = max(wh, pw2 + pr + 8 * vecs)
    e_at, o_at = pr * whs + pw2, (1 - pr) * whs + pw2 + pr  # where even and odd j go
    sh = 2 * nr + 2
    strip = np.zeros(c_dim * sh * 2 * whs, np.float32)
    i0 = 2 * r0 - ph
    xf = x.reshape(x.size)
    for c in range(c_dim):
        for i in range(sh):
            ii = i0 + i
            if 0 <= ii < h_dim:
                src = ((n * c_dim + c) * h_dim + ii) * w_dim
                dst = (c * sh + i) * 2 * whs
                for s in range(vecs):
                    k = jn - 16 * s
                    if k >= 16:
                        a0, a1 = vload(xf, src + 16 * s), vload(xf, src + 16 * s + 8)
                    else:  # (the lanes past the row's end load as zeros)
                        a0 = vloadn(xf, src + 16 * s, min(8, k))
                        a1 = vloadn(xf, src + 16 * s + 8, max(0, k - 8))
                    ev, od = vunzip(a0, a1)
                    vstore(strip, dst + e_at + 8 * s, ev)
                    vstore(strip, dst + o_at + 8 * s, od)
    # 2. V[xi] at xi * vp, a cache line apart beyond their size: at a multiple of 4 KiB
    # every transform's 16 stores fell into one L1 set (3x slower, 128 channels x 56 tiles)
    vp = c_dim * tmax + 16
    vt = empty64(16 * vp)  # (64-byte aligned: simd.empty64)
    rp = 2 * whs  # the strip's row pitch
    # (the inlined helpers get addresses, not arrays: an array argument costs a reference
    # count taken and dropped at each call, and 8 tiles' transform is a few dozen vector
    # operations; SqueezeNet's 16 -> 64 at 55x55 alone 584-759 -> 523-669 µs on one thread,
    # 386-404 -> 336-343 on two)
    sta, vta = address(strip), address(vt)
    for c in range(c_dim):
        for r in range(nr):
            xr = (c * sh + 2 * r) * 2 * whs
            vr = c * tmax + r * twp
            for tj in range(0, twp, 8):
                wino_in8(sta, xr + tj, whs, rp, vta, vr + tj, vp)
    # 3. the products, M[xi] (rows lo .. m1 x tiles) at xi * mp
    mp = (m1 - lo) * tmax + 16
    mt = empty64(16 * mp)
    wino_products(16, u, vt, vp, mt, mp, c_dim, tmax, tt, lo, m1)
    # 4. the inverse transform and the epilogue
    ofa, rfa, mta = address(out), address(res), address(mt)
    for m in range(m0, min(m1, m_dim)):
        bm = vsplat(b[m])
        for r in range(nr):
            oi0 = 2 * (r0 + r)
            pos0 = ((n * m_dim + m) * oh_dim + oi0) * ow_dim
            for tj in range(0, twp, 8):
                cols = min(16, ow_dim - 2 * tj)  # output columns of these 8 tiles
                if cols <= 0:
                    break
                y00, y01, y10, y11 = wino_out8(mta, (m - lo) * tmax + r * twp + tj, mp)
                wino_put(ofa, rfa, pos0 + 2 * tj, y00, y01, bm, cols, has_res, act)
                if oi0 + 1 < oh_dim:  # (an odd last row of tiles has one output row)
                    wino_put(ofa, rfa, pos0 + ow_dim + 2 * tj, y10, y11, bm, cols, has_res,
                             act)
    keep(strip, vt, mt)  # (their addresses were used up to here: ``simd.keep``)


@njit(cache=True, nogil=True, inline="always")
def wino_item_span(item: np.int64, batch: int, blocks: int, rows: int, m8: int,
                   parts: int) -> tuple[int, int, int, int, int]:
    """Work item ``item`` of a Winograd kernel (``wino_gemm``, ``kernels_wino4``): (image
    n, first tile row r0, output channels m0 .. m1, first row of U computed lo). The part
    (of ``parts``: whole groups of 8 rows of U) is outermost, then the image, then the
    block of ``rows`` tile rows; lo is m0, or m1 - 8 where the part has fewer than 8 rows
    (the register tile's)."""
    per = batch * blocks
    part = item // per
    n = (item - part * per) // blocks
    r0 = (item - part * per - n * blocks) * rows
    groups = (m8 + 7) // 8
    m0 = 8 * (part * groups // parts)
    m1 = m8 if part == parts - 1 else 8 * ((part + 1) * groups // parts)
    return int(n), int(r0), int(m0), int(m1), int(min(m0, m1 - 8))


@njit(cache=True, nogil=True, inline="always")
def wino_products(positions: int, u: np.ndarray, vt: np.ndarray, vp: int, mt: np.ndarray,
                  mp: int, c_dim: int, tmax: int, tt: int, lo: int, m1: int) -> None:
    """A Winograd work item's products: for each of the ``positions`` transform positions
    xi, M[xi] (rows lo .. m1 - 1 of U[xi] x the tt tiles, at xi mp of ``mt``, rows tmax
    apart) = U[xi] (``u`` (positions, M8, C)) @ V[xi] (C x tiles at xi vp of ``vt``, rows
    tmax apart) on ``vgemm``'s register tile, reading V's rows where they lie: strips of
    48 tiles where ``WIDE``, then of 24, then of 8; 9-47 last tiles on the tile of 32
    where it fits in V's and M's rows (where WIDE: on the 8-lane tiles after 16-lane ones
    an Intel core runs its multiply-adds on one port), V's columns it reads past tt set to
    zeros first, not whatever the buffer held. 8 rows of U[xi] (in L1) go against all
    strips of V[xi]; the last 8 rows are m1 - 8 .. (those before them computed twice)."""
    m8 = u.shape[1]
    sl = tt // WR * WR
    t32 = WIDE and tt - sl > 8 and sl + 32 <= tmax
    if t32:
        for q in range(positions):
            for c in range(c_dim):
                vt[q * vp + c * tmax + tt:q * vp + c * tmax + sl + 32] = 0.0
    ua, va, ma = address(u), address(vt), address(mt)
    for xi in range(positions):
        for r8 in range(lo, m1, 8):
            rr = min(r8, m1 - 8)
            ao = (xi * m8 + rr) * c_dim
            nxt = ua + 4 * (ao + 8 * c_dim)  # U's next 8 rows, fetched on the way
            s0 = 0
            while s0 < tt:
                nv = (6 if WIDE and s0 + WR <= tt else 4 if t32 and s0 == sl
                      else 3 if s0 + 24 <= tt else 1)
                if nv == 6:  # (called directly: ``kernels_vgemm.vgemm_tile48``)
                    vgemm_tile48(ua, ao, c_dim, va, xi * vp + s0, tmax, c_dim,
                                 ma + 4 * (xi * mp + (rr - lo) * tmax + s0), tmax, 0.0,
                                 nxt, 0, 0, 0)
                else:
                    vgemm_tile(nv, ua, ao, c_dim, va, xi * vp + s0, tmax, c_dim,
                               ma + 4 * (xi * mp + (rr - lo) * tmax + s0), tmax, 0.0, nxt,
                               0, 0, 0)
                s0 += 8 * nv


@njit(cache=True, nogil=True, inline="always")
def wino_in8(src: int, p: int, half: int, rp: int, vt: int, o: int, vp: int) -> None:
    """The input transform of 8 neighbouring tiles (in a row): their 4x4 inputs read from
    rows split into even and odd columns (input row i's even columns of the 8 tiles at
    ``src`` element p + i rp, its odd ones ``half`` on), V = B^T d B stored as 16 vectors,
    position xi at element o + xi vp of ``vt`` (``src`` and ``vt`` are addresses:
    ``simd.address``)."""
    # Z = B^T d: the four input rows combined, for each of the 4 columns
    z00, z10, z20, z30 = _vbt(vload(src, p), vload(src, p + rp), vload(src, p + 2 * rp),
                              vload(src, p + 3 * rp))
    q = p + half
    z01, z11, z21, z31 = _vbt(vload(src, q), vload(src, q + rp), vload(src, q + 2 * rp),
                              vload(src, q + 3 * rp))
    q = p + 1
    z02, z12, z22, z32 = _vbt(vload(src, q), vload(src, q + rp), vload(src, q + 2 * rp),
                              vload(src, q + 3 * rp))
    q = p + half + 1
    z03, z13, z23, z33 = _vbt(vload(src, q), vload(src, q + rp), vload(src, q + 2 * rp),
                              vload(src, q + 3 * rp))
    # V = Z B: each row's columns combined, row i to positions 4i .. 4i + 3
    _vbt_store(vt, o, vp, z00, z01, z02, z03)
    _vbt_store(vt, o + 4 * vp, vp, z10, z11, z12, z13)
    _vbt_store(vt, o + 8 * vp, vp, z20, z21, z22, z23)
    _vbt_store(vt, o + 12 * vp, vp, z30, z31, z32, z33)


@njit(cache=True, nogil=True, inline="always")
def wino_out8(mt: int, p: int, mp: int) -> tuple[F32x8, F32x8, F32x8, F32x8]:
    """The inverse transform of 8 neighbouring tiles: A^T M A from their 16 products
    (position xi at element p + xi mp of the address ``mt``), as output row 0's even and
    odd columns and output row 1's."""
    # S = A^T M: the four rows of positions combined, for each column
    s00, s10 = _vat(vload(mt, p), vload(mt, p + 4 * mp), vload(mt, p + 8 * mp),
                    vload(mt, p + 12 * mp))
    s01, s11 = _vat(vload(mt, p + mp), vload(mt, p + 5 * mp), vload(mt, p + 9 * mp),
                    vload(mt, p + 13 * mp))
    s02, s12 = _vat(vload(mt, p + 2 * mp), vload(mt, p + 6 * mp), vload(mt, p + 10 * mp),
                    vload(mt, p + 14 * mp))
    s03, s13 = _vat(vload(mt, p + 3 * mp), vload(mt, p + 7 * mp), vload(mt, p + 11 * mp),
                    vload(mt, p + 15 * mp))
    y00, y01 = _vat(s00, s01, s02, s03)
    y10, y11 = _vat(s10, s11, s12, s13)
    return y00, y01, y10, y11


@njit(cache=True, nogil=True, inline="always")
def wino_put(of: int, rf: int, pos: int, y0: F32x8, y1: F32x8, bm: F32x8,
             cols: int, has_res: bool, act: tuple[int, float, float]) -> None:
    """Output columns 0 .. cols - 1 (16 at most) from ``pos``: the even ones y0 + bm, the odd
    ones y1 + bm, plus the residual, through the activation. Past ``cols`` nothing is read
    or written (masked loads and stores); the residual is read before the output is
    written (``of`` may be ``rf``; both addresses)."""
    lo, hi = vzip(vadd(y0, bm), vadd(y1, bm))
    relu = act[0] == ACT_RELU
    wino_store(of, rf, pos, lo, min(8, cols), has_res, relu)
    wino_store(of, rf, pos + 8, hi, min(8, max(0, cols - 8)), has_res, relu)
    if act[0] != ACT_NONE and act[0] != ACT_RELU:  # the others element by element
        act_at(of, pos, min(cols, 16), act[0], act[1], act[2])


@njit(cache=True, nogil=True, inline="always")
def wino_store(of: int, rf: int, pos: int, v: F32x8, n: int, has_res: bool,
               relu: bool) -> None:
    """A Winograd kernel's n (0 to 8) output columns from element ``pos`` of address ``of``
    = v plus the residual there (``has_res``), ReLU'd where ``relu``: a whole vector loaded
    and stored as one, fewer lanes masked (nothing past them read or written). The
    residual is read before the output is written (``of`` may be ``rf``)."""
    if n >= 8:
        if has_res:
            v = vadd(v, vload(rf, pos))
        if relu:
            v = vrelu(v)
        vstore(of, pos, v)
    else:
        if has_res:
            v = vadd(v, vloadn(rf, pos, n))
        if relu:
            v = vrelu(v)
        vstoren(of, pos, v, n)


@njit(cache=True, nogil=True, inline="always")
def _vbt(d0: F32x8, d1: F32x8, d2: F32x8, d3: F32x8) -> tuple[F32x8, F32x8, F32x8, F32x8]:
    """B^T applied to (d0, d1, d2, d3), lane by lane: F(2, 3)'s input transform of a line."""
    return vsub(d0, d2), vadd(d1, d2), vsub(d2, d1), vsub(d1, d3)


@njit(cache=True, nogil=True, inline="always")
def _vbt_store(vt: int, o: int, vp: int, z0: F32x8, z1: F32x8, z2: F32x8,
               z3: F32x8) -> None:
    """B^T applied to (z0, .., z3) into vt at o, o + vp, o + 2 vp, o + 3 vp."""
    vstore(vt, o, vsub(z0, z2))
    vstore(vt, o + vp, vadd(z1, z2))
    vstore(vt, o + 2 * vp, vsub(z2, z1))
    vstore(vt, o + 3 * vp, vsub(z1, z3))


@njit(cache=True, nogil=True, inline="always")
def _vat(p0: F32x8, p1: F32x8, p2: F32x8, p3: F32x8) -> tuple[F32x8, F32x8]:
    """A^T applied to (p0, .., p3), lane by lane: F(2, 3)'s output transform of a line."""
    return vadd(vadd(p0, p1), p2), vsub(vsub(p1, p2), p3)
