"""``oconv``: a convolution as an implicit GEMM vectorized over output channels.

``conv_gemm`` copies each tile of im2col (the pixels under every kernel tap) before its
product, and its products vectorize over output pixels: on the small planes of a
network's later layers (7x7, 13x13) most of a vector of 24 pixels is empty. Here the lanes
hold output channels, as ONNX Runtime's blocked-channel (NCHWc) kernels do: a register tile
of 8 output pixels (any 8: they need not share a row) by 24 output channels (three
vectors; two tiles of 16 for a group's last channels where a tile of 8 would be left)
accumulates over the products ``(block, i, t, c)`` of input channels and kernel taps in 24
registers. Each step loads 24 weights (the plan packs each group's weights as strips of
output channels, K x 24 contiguous: ``pack_oconv``) and broadcasts the 8 pixels' input
values. The input is copied, an image at a time, zero-padded, into blocks of 8 channels
interleaved along the pixels (``xp[g, block, r, j, c]``): a pixel's 8 channels under a
tap are one 32-byte read, and a tile's reads move along rows as the taps do. The tile is
transposed in registers (``simd.vtranspose8``) and stored as 8 consecutive pixels of each
of its channels' rows of the NCHW output; bias, residual and activation follow as in
``conv_gemm`` (``_epilogue``).

Only the weights are laid out by the plan: input and output stay NCHW, so the kernel
mixes with every other step. Any stride, padding, dilation and group count; 8 output
channels a group or more. An image at a time, its work items (block of 128 pixels, group,
strip of channels) are spread over numba's threads in runs of consecutive ones; every
size is a runtime value (one compiled kernel for every layer and batch size), and the
tiles are C functions compiled once (as ``kernels_vgemm``'s).

A dense layer is the same product with the rows as its pixels (``dense_tiled``): the tile
broadcasts 8 rows' inputs against a row of 24 weights of a strip (``pack_dense``) and
stores its 8 x 24 results as they lie in the output's rows.

>>> import numpy as np
>>> x = np.ones((1, 1, 4, 4), np.float32); w = np.ones((8, 1, 3, 3), np.float32)
>>> out = np.empty((1, 8, 4, 4), np.float32); e = np.empty((0, 0, 0, 0), np.float32)
>>> cfg = np.array([3, 3, 1, 1, 1, 1, 1, 1, 1], np.int64)
>>> oconv(x, pack_oconv(w, 1), np.zeros(8, np.float32), e, out, cfg, (0, 0.0, 0.0), 1)
>>> out[0, 7, 0].tolist()
[4.0, 6.0, 6.0, 4.0]
>>> y = np.empty((9, 30), np.float32)
>>> dense_tiled(np.ones((9, 2), np.float32), pack_dense(np.ones((2, 30), np.float32)),
...             np.full(30, 0.5, np.float32), (0, 0.0, 0.0), y, 1)
>>> float(y.min()), float(y.max())
(2.5, 2.5)
"""

from __future__ import annotations

from typing import Any

import numpy as np
from llvmlite import binding as _llvm  # type: ignore[import-untyped]
from numba import cfunc, types

from shapegraph.executor import helpers
from shapegraph.executor.jit import njit, prange
from shapegraph.executor.kernels import _bias_act_rows, _epilogue
from shapegraph.executor.regs import NR, WIDE, WR, _put
from shapegraph.executor.simd import (
    address,
    fload,
    iload,
    keep,
    prefetch,
    vfma,
    vload,
    vput,
    vsplat,
    vtranspose8,
    vzero,
    wfma,
    whi,
    wlo,
    wload,
    wput,
    wsplat,
    wzero,
)

__all__ = ["DENSE_TILED_WEIGHTS", "OC_PIXELS", "channel_block", "dense_tiled", "oconv",
           "pack_dense", "pack_oconv", "strip", "strips_of"]

# (kernels_vgemm's C functions compile in a helper meanwhile, where they are not cached)
helpers.share_import(__name__, "shapegraph.executor.kernels_vgemm")

PIXELS = 8  # output pixels in a register tile
# steps ahead that a tile asks for its strip's weights (on the way from memory in a
# network: ResNet-50's five convolutions on oconv 13.7 -> 11.4 ms on one thread, on an
# Intel Xeon whose two 512-bit FMA units outrun its memory; 16 steps ahead 11.5)
OT_AHEAD = 32
LANES = 24  # output channels in a register tile (a group's last: 8 or 16)
WIDE_LANES = WR  # ... 48 where ``WIDE`` (16-lane vectors; a group's last: 8 to 32)
TMP_ROW = WR  # a scratch tile's row: room for a wide tile's
OC_PIXELS = 128  # output pixels of a work item
OC_TILE_COST = 8  # a tile's cost besides its lanes (its 8 broadcasts a product)


@njit(cache=True, nogil=True)
def strips_of(og: int) -> int:
    """How many strips of output channels a group of ``og`` has (``strip``)."""
    og8 = (og + 7) // 8 * 8
    if WIDE:
        q, r = divmod(og8, WIDE_LANES)
        return q + (2 if r == 40 else 1 if r > 0 else 0)
    q, r = divmod(og8, LANES)
    return q + 1 if r > 0 else q


@njit(cache=True, nogil=True)
def strip(og: int, s: int) -> tuple[int, int]:
    """(first lane, lanes) of strip s of a group of ``og`` output channels: 24 lanes each,
    the last 8 or 16 (past og: zero weights, not stored), but two of 16 where a last of 8
    would follow one of 24 (a tile of 8 lanes loads as much as one of 24). Where ``WIDE``:
    48 lanes each, the last 8, 16, 24 or 32, or 24 and 16 for 40, and two of 32 where a
    last of 16 would follow one of 48 (the 16-lane tile runs on 8-lane vectors: a step of
    48 + 16 lanes took 20 cycles of multiply-adds, 32 + 32 take 16)."""
    og8 = (og + 7) // 8 * 8
    if WIDE:
        q, r = divmod(og8, WIDE_LANES)
        if r == 40 and s >= q:
            return WIDE_LANES * q + 24 * (s - q), 24 - 8 * (s - q)
        if r == 16 and q >= 1 and s >= q - 1:
            return WIDE_LANES * (q - 1) + 32 * (s - q + 1), 32
        return WIDE_LANES * s, min(WIDE_LANES, og8 - WIDE_LANES * s)
    q, r = divmod(og8, LANES)
    if r == 8 and q >= 1 and s >= q - 1:
        return LANES * (q - 1) + 16 * (s - q + 1), 16
    return LANES * s, min(LANES, og8 - LANES * s)


def channel_block(cg: int) -> int:
    """Input channels a block of ``oconv``'s copy holds: 8, or all of a group's fewer."""
    return min(8, cg)


def pack_oconv(w: np.ndarray, groups: int) -> np.ndarray:
    """The weights (M, C/groups, KH, KW) as ``oconv`` reads them: for each group, its
    output channels in strips (``strip``: of 24 lanes, the last 8 or 16, zero-filled past
    the group's last channel), each strip K x lanes, flat. K runs over the group's input
    channels in blocks (``channel_block``: its last zero-filled), then the taps, then the
    channels of a block."""
    m, cg, kh, kw = w.shape
    og = m // groups
    og8 = -(-og // 8) * 8
    cb = channel_block(cg)
    cgp = -(-cg // cb) * cb
    wg = np.zeros((groups, og8, cgp // cb, cb, kh, kw), np.float32)
    wg.reshape(groups, og8, cgp, kh, kw)[:, :og, :cg] = w.reshape(groups, og, cg, kh, kw)
    k = cgp * kh * kw
    wk = wg.transpose(0, 1, 2, 4, 5, 3).reshape(groups, og8, k)  # (block, i, t, channel)
    return _in_strips(wk, og)


def _in_strips(wk: np.ndarray, og: int) -> np.ndarray:
    """``wk`` (groups, og8, K), a group's rows padded to a multiple of 8, as the tiles read
    it: each group's rows in strips (``strip``), each strip K x lanes, flat."""
    # (their Python functions: compiling them would cost a cold first call 0.3 s)
    lanes = [strip.py_func(og, s) for s in range(strips_of.py_func(og))]
    if not lanes:
        return np.zeros(0, np.float32)
    strips = [np.ascontiguousarray(wk[:, a:a + n].transpose(0, 2, 1)).reshape(len(wk), -1)
              for a, n in lanes]
    return np.ascontiguousarray(np.concatenate(strips, axis=1).reshape(-1))


@njit(cache=True, nogil=True, parallel=True)
def oconv(x: np.ndarray, w: np.ndarray, b: np.ndarray, res: np.ndarray, out: np.ndarray,
          cfg: np.ndarray, act: tuple[int, float, float], threads: int) -> None:
    """out (N, M, OH, OW) = act(conv(x (N, C, H, W)) + b (+ res)), as ``conv_gemm`` (the
    same arguments, ``w`` packed by ``pack_oconv``; ``cfg`` = (KH, KW, SH, SW, PH, PW, DH,
    DW, groups), ``res`` empty, out's shape, or ``out`` itself), for groups of at least 8
    output channels. The work items (a block of 128 pixels x a group x a strip of
    channels, block by block) go in one run of consecutive items a thread (``threads``),
    of equal work to a tile (``_oconv_part``): a run reads and writes its own part of the
    image (handed out one item at a time, both threads read all of the input's copy, and
    ResNet-50's 7x7 stem took 1.86 ms on two threads against 2.53 on one; in runs 1.29)."""
    kh, kw, sh, sw, ph, pw, dh, dw, groups = (cfg[0], cfg[1], cfg[2], cfg[3], cfg[4],
                                              cfg[5], cfg[6], cfg[7], cfg[8])
    batch, c_dim = x.shape[0], x.shape[1]
    m_dim, oh_dim, ow_dim = out.shape[1], out.shape[2], out.shape[3]
    cg, mg = c_dim // groups, m_dim // groups
    if mg < PIXELS:
        raise ValueError("oconv: fewer than 8 output channels a group")
    pixels = oh_dim * ow_dim
    if pixels == 0:
        return
    cb = min(8, cg)  # channel_block
    nb = (cg + cb - 1) // cb  # blocks a group
    kg = nb * cb * kh * kw
    # the input, zero-padded, each group's channels in blocks of cb: xp[n, g, block, r, j,
    # c] = x[n, g * cg + block * cb + c, r - PH, j - PW] (0 outside x and past cg), so
    # that a pixel's channels under a tap are consecutive floats
    hp = max((oh_dim - 1) * sh + (kh - 1) * dh + 1, 1)
    wp = max((ow_dim - 1) * sw + (kw - 1) * dw + 1, 1)
    plane = hp * wp * cb
    # one image's at a time (at batch 8, ResNet-50's 128-channel 3x3 would copy 14 MB);
    # np.empty: np.zeros in a parallel function is a parallel loop of its own, and _block
    # writes every float
    xp = np.empty(groups * nb * plane, np.float32)
    # each product's offset from its pixel's first (pack_oconv's order), each pixel's first
    offs = np.empty(kg, np.int64)
    for blk in range(nb):
        for i in range(kh):
            for t in range(kw):
                for c in range(cb):
                    offs[((blk * kh + i) * kw + t) * cb + c] = (
                        blk * plane + ((i * dh) * wp + t * dw) * cb + c)
    pix = np.empty(max(pixels, PIXELS), np.int64)  # (a plane of fewer than 8 pixels: the
    for p in range(pixels):                         # last one again, computed, not stored)
        pix[p] = ((p // ow_dim) * sh * wp + (p % ow_dim) * sw) * cb
    for p in range(pixels, PIXELS):
        pix[p] = pix[pixels - 1]
    has_res = res.size == out.size
    in_place = has_res and res.ctypes.data == out.ctypes.data
    y3 = out.reshape(batch, m_dim, pixels)
    r3 = res.reshape(batch, m_dim, pixels) if has_res else y3
    strips = strips_of(mg)
    blocks = (pixels + OC_PIXELS - 1) // OC_PIXELS
    # the work of a tile of strip s: its lanes and OC_TILE_COST (its broadcasts), as
    # _oconv_part counts it
    strip_work = 0
    for s in range(strips):
        strip_work += OC_TILE_COST + strip(mg, s)[1]
    work = groups * (pixels + PIXELS - 1) // PIXELS * strip_work
    parts = max(1, min(threads, work // (OC_TILE_COST + 8)))
    for n in range(batch):
        for item in prange(groups * nb * hp):
            _block(x, n, np.int64(item), cg, cb, nb, ph, pw, hp, wp, xp)
        for part in prange(parts):
            _oconv_part(xp, w, b, r3, y3, offs, pix, mg, kg, nb * plane, groups, strips,
                        blocks, has_res, in_place, act, n, part * work // parts,
                        (part + 1) * work // parts)


@njit(cache=True, nogil=True)
def _block(x: np.ndarray, n: int, item_: int | np.int64, cg: int, cb: int, nb: int, ph: int,
           pw: int, hp: int, wp: int, xp: np.ndarray) -> None:
    """Row r of channel block ``blk`` of group g of image n into ``xp`` (item = (g * nb +
    blk) * hp + r): xp[g, blk, r, j, c] = x[n, g * cg + blk * cb + c, r - ph, j - pw], 0
    outside x and past the group's channels. A block of 8 channels goes 8 pixels at a
    time: 8 vectors of 8 pixels (one per channel) transposed in registers into 8 vectors
    of 8 channels (one per pixel), stored as they lie (ResNet-50's 128-channel input at
    56x56: 0.34 ms a call a float at a time)."""
    h_dim, w_dim = x.shape[2], x.shape[3]
    item = int(item_)
    r = item % hp
    blk = item // hp % nb
    g = item // (hp * nb)
    row = xp[item * wp * cb:(item + 1) * wp * cb]
    if r < ph or r - ph >= h_dim:
        row[:] = 0.0
        return
    j0, j1 = max(pw, 0), min(w_dim + pw, wp)
    row[:j0 * cb] = 0.0
    row[j1 * cb:] = 0.0
    nc = min(cb, cg - blk * cb)  # the block's channels (the rest of its lanes are 0)
    c0 = g * cg + blk * cb
    j = j0
    if nc == 8 and x.strides[3] == 4:
        at = address(row)
        a0 = address(x[n, c0, r - ph]) - 4 * pw  # (element j: column j - pw)
        a1 = address(x[n, c0 + 1, r - ph]) - 4 * pw
        a2 = address(x[n, c0 + 2, r - ph]) - 4 * pw
        a3 = address(x[n, c0 + 3, r - ph]) - 4 * pw
        a4 = address(x[n, c0 + 4, r - ph]) - 4 * pw
        a5 = address(x[n, c0 + 5, r - ph]) - 4 * pw
        a6 = address(x[n, c0 + 6, r - ph]) - 4 * pw
        a7 = address(x[n, c0 + 7, r - ph]) - 4 * pw
        while j + 8 <= j1:
            _store8(vtranspose8(vload(a0, j), vload(a1, j), vload(a2, j), vload(a3, j),
                                vload(a4, j), vload(a5, j), vload(a6, j), vload(a7, j)),
                    at, 8 * j, 8, 0.0)
            j += 8
    elif nc < cb:
        row[j0 * cb:j1 * cb] = 0.0
    for c in range(nc):
        src = x[n, c0 + c, r - ph]
        for jj in range(j, j1):
            row[jj * cb + c] = src[jj - pw]


@njit(cache=True, nogil=True)
def _oconv_part(xp: np.ndarray, w: np.ndarray, b: np.ndarray, r3: np.ndarray,
                y3: np.ndarray, offs: np.ndarray, pix: np.ndarray, mg: int, kg: int,
                group_floats: int, groups: int, strips: int, blocks: int, has_res: bool,
                in_place: bool, act: tuple[int, float, float], n: int, lo: int,
                hi: int) -> None:
    """The work from ``lo`` to ``hi`` of image n: the work items ((q * groups + g) * strips
    + s: strip s of group g at the pixels of block q), in order, each a tile of 8 pixels
    costing its strip's lanes + OC_TILE_COST, a part's first and last items cut at a tile
    (where its work crosses ``lo``, ``hi``). (In whole items, a thread's even share of
    them left ResNet-50's 3x3s on two threads at 1.53-1.81x their one-thread speed: 11
    strips of 48 lanes for 512 channels at 7x7 split 5 / 6, 256 at 14x14 in two blocks of
    128 and 68 pixels 3 / 3 strips of 48, 48, 48 / 48, 48, 16.)"""
    pixels = y3.shape[2]
    at = 0
    for q in range(blocks):
        p_lo = q * OC_PIXELS
        tiles = (min(pixels, p_lo + OC_PIXELS) - p_lo + PIXELS - 1) // PIXELS
        for gs in range(groups * strips):
            cost = OC_TILE_COST + strip(mg, gs % strips)[1]
            span = cost * tiles
            if at + span > lo and at < hi:
                t0 = (max(lo, at) - at + cost - 1) // cost
                t1 = (min(hi, at + span) - at + cost - 1) // cost
                if t1 > t0:
                    _oconv_item(xp, w, b, r3, y3, offs, pix, mg, kg, group_floats, gs // strips,
                                gs % strips, has_res, in_place, act, n, p_lo + t0 * PIXELS,
                                min(pixels, p_lo + t1 * PIXELS))
            at += span
            if at >= hi:
                return


@njit(cache=True, nogil=True)
def _oconv_item(xp: np.ndarray, w: np.ndarray, b: np.ndarray, r3: np.ndarray,
                y3: np.ndarray, offs: np.ndarray, pix: np.ndarray, mg: int, kg: int,
                group_floats: int, g: int, s: int, has_res: bool, in_place: bool,
                act: tuple[int, float, float], n: int, p_first: int, p_end: int) -> None:
    """The output channels of strip s of group g at pixels p_first .. p_end - 1 of image n,
    tile by tile (``xp``: image n's copy)."""
    pixels = y3.shape[2]
    og8 = (mg + 7) // 8 * 8
    lane0, width = strip(mg, s)
    nm = min(width, mg - lane0)  # its channels
    m0 = g * mg + lane0
    tmp = np.empty(WIDE_LANES * NR, np.float32)  # a tile the output cannot hold (a channel's
    # 8 pixels a row, rows NR apart)
    x_at = address(xp) + 4 * g * group_floats
    w_at, pix_at, offs_at, tmp_at = address(w), address(pix), address(offs), address(tmp)
    bo = (g * og8 + lane0) * kg
    beta = 1.0 if in_place else 0.0  # in place: the products are added to the residual
    yv = y3[n]
    y_at = address(yv) + 4 * m0 * pixels  # out[n, m0, 0]
    nv = width // 8
    for p0 in range(p_first, p_end, PIXELS):
        if p0 + PIXELS <= pixels and nm == width:
            _otile(nv, x_at, pix_at + 8 * p0, kg, offs_at, w_at, bo, y_at + 4 * p0, pixels,
                   beta, 0)
            continue
        # the last tile: the 8 pixels that end at the plane's last (stored from p0 on)
        pp = max(min(p0, pixels - PIXELS), 0)
        _otile(nv, x_at, pix_at + 8 * pp, kg, offs_at, w_at, bo, tmp_at, NR, 0.0, 0)
        _put(tmp[p0 - pp:], np.int64(0), y_at, p0, pixels, nm,
             min(PIXELS, p_end - pp) - (p0 - pp), beta, np.int64(NR))
    _epilogue(yv, m0, nm, p_first, p_end - p_first, b, r3[n], has_res and not in_place, act)
    keep(tmp)  # (used through its address up to here: ``simd.keep``)


# --------------------------------------------------------------------------- dense


def pack_dense(wt: np.ndarray) -> np.ndarray:
    """A dense layer's weight ``wt`` (K, M) as ``dense_tiled`` reads it: its columns in
    strips (``strip``: 24 lanes, the last 8 or 16, zero-filled past M), each strip K x
    lanes row by row, one after the other (strip s from element lane0 * K)."""
    k, m = wt.shape
    wz = np.zeros((1, -(-m // 8) * 8, k), np.float32)
    wz[0, :m] = wt.T
    return _in_strips(wz, m)


# Dense layers of at least this many weights run ``dense_tiled`` (else ``kernels.dense``:
# BLAS, whose small-matrix kernels win below it). One thread, the layer alone, µs, against
# ``dense`` (2026-12-06): 64 x 784 x 1024 932 against 1283, 64 x 1024 x 1024 1384 against
# 1927, 8 x 2048 x 1000 550 against 1617, 2 x 784 x 1024 60 against 80, 8 x 512 x 512 55
# against 158; 1 row within 3% either way; 2 rows of 512 x 512 26 against 20 (OpenBLAS's
# small kernels), 64 x 120 x 84 15 against 13. Two threads, against stop 26's
# ``dense_split`` (both on numba's threads): 8 x 9216 x 4096 6.5 ms against 19.1, 1 x 9216
# x 4096 4.1 against 4.4, 64 x 784 x 1024 0.50 against 0.72. Where ``vgemm`` has its wide
# tiles, also a smaller layer whose product OpenBLAS would pack (rows x weights above
# ``kernels.SMALL_SGEMM_MNK``; stop 35, one thread / two, µs: LeNet's 64 x 400 x 120 75 /
# 75 against 57 / 47, 32 x 400 x 120 46 / 46 against 29 / 25, 64 x 256 x 256 100 / 99
# against 78 / 47; below the line dense stays ahead: 64 x 120 x 84 12.6 against 15.6).
DENSE_TILED_WEIGHTS = 1 << 18
DENSE_TILE_ROWS = 8  # from this many rows, register tiles of 8 rows (else row by row)
DENSE_ITEM_ROWS = 64  # rows of a work item (a strip's weights are read once for them)
DENSE_PARTS = 4  # runs of work items a thread, from 8 rows (for the balance under load)


@njit(cache=True, nogil=True, parallel=True)
def dense_tiled(x: np.ndarray, wp: np.ndarray, b: np.ndarray, act: tuple[int, float, float],
                out: np.ndarray, threads: int) -> None:
    """out (N, M) = act(x (N, K) @ wt (K, M) + b), ``wp`` = ``pack_dense(wt)``: the
    implicit GEMM of ``oconv`` with the rows as its pixels and the columns as its output
    channels (8 rows x 24 columns a register tile, the weights read in strips as packed,
    nothing copied at run time). Fewer than ``DENSE_TILE_ROWS`` rows: each row against
    each strip in vector accumulators (``_dense_rows``). The work items (a strip x up to
    64 rows, fewer where that makes two a thread) go in ``threads`` runs (``DENSE_PARTS``
    runs a thread from 8 rows) over a parallel loop, whose iterations the plans hand out
    one at a time (about 0.08 µs each: the wide MLP's 43 strips at batch 1, one iteration
    each, 48 µs against 45 for its first layer). A layer of ``DENSE_TILED_WEIGHTS`` has
    work enough for two threads at one row."""
    n, k = x.shape
    m = out.shape[1]
    if n == 0 or m == 0:
        return
    if k == 0:
        for i in range(n):  # (loops: an array assignment here is a parallel loop)
            for j in range(m):
                out[i, j] = 0.0
    else:
        xc = x if x.flags.c_contiguous else np.ascontiguousarray(x)  # (a caller's view)
        strips = strips_of(m)
        # items of up to 64 rows; on several threads, fewer rows (whole tiles of 8) where
        # that makes two items a thread (LeNet's 64 x 400 x 120 alone: 3 strips of 64 rows,
        # one thread with two of them, 56 µs on one thread, 50 on two; 6 items of 32 rows:
        # 31 on two)
        chunks = 1 if n < DENSE_TILE_ROWS else (n + DENSE_ITEM_ROWS - 1) // DENSE_ITEM_ROWS
        if n >= DENSE_TILE_ROWS and threads > 1:
            chunks = max(chunks, min((2 * threads + strips - 1) // strips, n // PIXELS))
        rows_per = ((n + chunks - 1) // chunks + PIXELS - 1) // PIXELS * PIXELS
        chunks = (n + rows_per - 1) // rows_per
        offs = np.empty(k, np.int64)  # the tiles' K terms, one apart (by a loop: here
        for j in range(k):  # np.arange would be a parallel loop of its own, k iterations
            offs[j] = j  # handed out one at a time: 60 µs at K = 784, the layer's 45)
        items = strips * chunks
        parts = max(1, min(items, threads * (1 if n < DENSE_TILE_ROWS else DENSE_PARTS)))
        for part in prange(parts):
            tmp = np.empty(PIXELS * TMP_ROW, np.float32)
            for item in range(part * items // parts, (part + 1) * items // parts):
                _dense_item(xc, wp, out, offs, tmp, rows_per, np.int64(item))
    _bias_act_rows(out, b, act)


@njit(cache=True, nogil=True)
def _dense_item(x: np.ndarray, wp: np.ndarray, out: np.ndarray, offs: np.ndarray,
                tmp: np.ndarray, rows_per: int, item: np.int64) -> None:
    """Strip s of the output's columns at rows ``rows_per`` q .. + rows_per - 1 (item = q
    strips + s), 8 rows a tile; a last tile of fewer rows is the last 8 rows, through a
    scratch tile. Fewer than 8 rows in all: ``_dense_rows``."""
    n, k = x.shape
    m = out.shape[1]
    strips = strips_of(m)
    s = int(item % strips)
    q = int(item // strips)
    if n < DENSE_TILE_ROWS:
        _dense_rows(x, wp, out, s, tmp)
        return
    lane0, width = strip(m, s)
    nm = min(width, m - lane0)
    nv = width // 8
    r_first = q * rows_per
    r_end = min(n, r_first + rows_per)
    pix = np.empty(PIXELS, np.int64)  # the tile's rows, K apart
    x_at, w_at, pix_at, offs_at = address(x), address(wp), address(pix), address(offs)
    out_at, tmp_at = address(out), address(tmp)
    bo = lane0 * k
    for r0 in range(r_first, r_end, PIXELS):
        full = r0 + PIXELS <= n and nm == width
        rr = r0 if full else min(r0, n - PIXELS)
        for i in range(PIXELS):
            pix[i] = (rr + i) * k
        if full:
            _otile(nv, x_at, pix_at, k, offs_at, w_at, bo, out_at + 4 * (r0 * m + lane0), 8,
                   0.0, m)
            continue
        _otile(nv, x_at, pix_at, k, offs_at, w_at, bo, tmp_at, 8, 0.0, TMP_ROW)
        _put(tmp, r0 - rr, out_at, r0 * m + lane0, m, min(r0 + PIXELS, r_end) - r0, nm,
             0.0, np.int64(TMP_ROW))
    keep(pix)  # (used through its address up to here: ``simd.keep``)


@njit(cache=True, nogil=True)
def _dense_rows(x: np.ndarray, wp: np.ndarray, out: np.ndarray, s: int,
                tmp: np.ndarray) -> None:
    """Strip s of every row of out, two rows at a time (``_pair``); a last single row as
    two halves of its K, summed, so that the products still form twice as many chains of
    vector multiply-adds as the strip has vectors (one chain a vector would wait on the
    multiply-add's latency: 2x400x120 took 5.3 µs against OpenBLAS's 4.1). ``tmp``: 48
    floats of scratch."""
    n, k = x.shape
    m = out.shape[1]
    lane0, width = strip(m, s)
    nm = min(width, m - lane0)
    w_at, x_at, tmp_at = address(wp) + 4 * lane0 * k, address(x), address(tmp)
    for i in range(0, n - 1, 2):
        _pair(width, x_at + 4 * i * k, x_at + 4 * (i + 1) * k, w_at, w_at, k, tmp_at)
        _put(tmp, np.int64(0), address(out), i * m + lane0, m, np.int64(2), nm, 0.0,
             np.int64(TMP_ROW))
    if n % 2:
        i = n - 1
        half = k // 2
        row = x_at + 4 * i * k
        _pair(width, row, row + 4 * half, w_at, w_at + 4 * half * width, half, tmp_at)
        for lane in range(nm):
            v = tmp[lane] + tmp[TMP_ROW + lane]
            for j in range(2 * half, k):  # (an odd K's last term)
                v += x[i, j] * wp[lane0 * k + j * width + lane]
            out[i, lane0 + lane] = v


@njit(cache=True, nogil=True)
def _pair(width: int, x0: int, x1: int, w0: int, w1: int, k: int, dst: int) -> None:
    """At address dst, the ``width`` (48, 32, 24, 16 or 8) floats of sum_j x0[j] w0[j, :]
    and TMP_ROW floats later (as ``_put`` reads rows) those of sum_j x1[j] w1[j, :], j < k
    (x0, x1: addresses of k floats; w0, w1: of k rows of ``width`` floats)."""
    if width > 24:
        _pair_wide(width, x0, x1, w0, w1, k, dst)
        return
    a0 = vzero()
    a1 = vzero()
    a2 = vzero()
    b0 = vzero()
    b1 = vzero()
    b2 = vzero()
    if width == 24:
        for j in range(k):
            u = vsplat(fload(x0, j))
            v = vsplat(fload(x1, j))
            a0 = vfma(u, vload(w0, 24 * j), a0)
            a1 = vfma(u, vload(w0, 24 * j + 8), a1)
            a2 = vfma(u, vload(w0, 24 * j + 16), a2)
            b0 = vfma(v, vload(w1, 24 * j), b0)
            b1 = vfma(v, vload(w1, 24 * j + 8), b1)
            b2 = vfma(v, vload(w1, 24 * j + 16), b2)
    elif width == 16:
        for j in range(k):
            u = vsplat(fload(x0, j))
            v = vsplat(fload(x1, j))
            a0 = vfma(u, vload(w0, 16 * j), a0)
            a1 = vfma(u, vload(w0, 16 * j + 8), a1)
            b0 = vfma(v, vload(w1, 16 * j), b0)
            b1 = vfma(v, vload(w1, 16 * j + 8), b1)
    else:
        for j in range(k):
            a0 = vfma(vsplat(fload(x0, j)), vload(w0, 8 * j), a0)
            b0 = vfma(vsplat(fload(x1, j)), vload(w1, 8 * j), b0)
    vput(dst, 0, a0, 0.0)
    vput(dst, 8, a1, 0.0)
    vput(dst, 16, a2, 0.0)
    vput(dst, TMP_ROW, b0, 0.0)
    vput(dst, TMP_ROW + 8, b1, 0.0)
    vput(dst, TMP_ROW + 16, b2, 0.0)


@njit(cache=True, nogil=True)
def _pair_wide(width: int, x0: int, x1: int, w0: int, w1: int, k: int, dst: int) -> None:
    """``_pair`` of 48 or 32 floats, on 16-lane vectors (``WIDE``'s strips)."""
    a0 = wzero()
    a1 = wzero()
    a2 = wzero()
    b0 = wzero()
    b1 = wzero()
    b2 = wzero()
    if width == 48:
        for j in range(k):
            u = wsplat(fload(x0, j))
            v = wsplat(fload(x1, j))
            a0 = wfma(u, wload(w0, 48 * j), a0)
            a1 = wfma(u, wload(w0, 48 * j + 16), a1)
            a2 = wfma(u, wload(w0, 48 * j + 32), a2)
            b0 = wfma(v, wload(w1, 48 * j), b0)
            b1 = wfma(v, wload(w1, 48 * j + 16), b1)
            b2 = wfma(v, wload(w1, 48 * j + 32), b2)
    else:
        for j in range(k):
            u = wsplat(fload(x0, j))
            v = wsplat(fload(x1, j))
            a0 = wfma(u, wload(w0, 32 * j), a0)
            a1 = wfma(u, wload(w0, 32 * j + 16), a1)
            b0 = wfma(v, wload(w1, 32 * j), b0)
            b1 = wfma(v, wload(w1, 32 * j + 16), b1)
    wput(dst, 0, a0, 0.0)
    wput(dst, 16, a1, 0.0)
    wput(dst, 32, a2, 0.0)
    wput(dst, TMP_ROW, b0, 0.0)
    wput(dst, TMP_ROW + 16, b1, 0.0)
    wput(dst, TMP_ROW + 32, b2, 0.0)


@njit(cache=True, nogil=True, inline="always")
def _ahead(b: int, bj: int, width: int) -> None:
    """Ask for the cache lines of the strip's weights ``OT_AHEAD`` steps after step ``bj``
    (steps of ``width`` floats from address ``b``), on their way from memory."""
    pf = b + 4 * (bj + width * OT_AHEAD)
    for q in range(0, 4 * width, 64):
        prefetch(pf + q)


# The register tiles, written out (see kernels_vgemm): each accumulator a variable of its
# own, 8 pixels' bases held in registers through the loop over the products.
@njit(cache=True, nogil=True, inline="always")
def _store8(rows: Any, dst: int, o: int, ld: int, beta: float) -> None:
    """The 8 vectors ``rows`` at address ``dst`` from element o, ``ld`` apart (+ beta *
    what was there)."""
    vput(dst, o, rows[0], beta)
    vput(dst, o + ld, rows[1], beta)
    vput(dst, o + 2 * ld, rows[2], beta)
    vput(dst, o + 3 * ld, rows[3], beta)
    vput(dst, o + 4 * ld, rows[4], beta)
    vput(dst, o + 5 * ld, rows[5], beta)
    vput(dst, o + 6 * ld, rows[6], beta)
    vput(dst, o + 7 * ld, rows[7], beta)


@njit(cache=True, nogil=True)
def _otile24(x: int, pix: int, k: int, offs: int, b: int, bo: int, dst: int, ld: int,
             beta: float, ldp: int) -> None:
    p0 = iload(pix, 0); p1 = iload(pix, 1); p2 = iload(pix, 2); p3 = iload(pix, 3)  # noqa: E702
    p4 = iload(pix, 4); p5 = iload(pix, 5); p6 = iload(pix, 6); p7 = iload(pix, 7)  # noqa: E702
    c00 = vzero(); c01 = vzero(); c02 = vzero()  # noqa: E702
    c10 = vzero(); c11 = vzero(); c12 = vzero()  # noqa: E702
    c20 = vzero(); c21 = vzero(); c22 = vzero()  # noqa: E702
    c30 = vzero(); c31 = vzero(); c32 = vzero()  # noqa: E702
    c40 = vzero(); c41 = vzero(); c42 = vzero()  # noqa: E702
    c50 = vzero(); c51 = vzero(); c52 = vzero()  # noqa: E702
    c60 = vzero(); c61 = vzero(); c62 = vzero()  # noqa: E702
    c70 = vzero(); c71 = vzero(); c72 = vzero()  # noqa: E702
    for j in range(k):
        o = iload(offs, j)
        bj = bo + 24 * j
        _ahead(b, bj, 24)
        w0 = vload(b, bj)
        w1 = vload(b, bj + 8)
        w2 = vload(b, bj + 16)
        a = vsplat(fload(x, p0 + o))
        c00 = vfma(a, w0, c00); c01 = vfma(a, w1, c01); c02 = vfma(a, w2, c02)  # noqa: E702
        a = vsplat(fload(x, p1 + o))
        c10 = vfma(a, w0, c10); c11 = vfma(a, w1, c11); c12 = vfma(a, w2, c12)  # noqa: E702
        a = vsplat(fload(x, p2 + o))
        c20 = vfma(a, w0, c20); c21 = vfma(a, w1, c21); c22 = vfma(a, w2, c22)  # noqa: E702
        a = vsplat(fload(x, p3 + o))
        c30 = vfma(a, w0, c30); c31 = vfma(a, w1, c31); c32 = vfma(a, w2, c32)  # noqa: E702
        a = vsplat(fload(x, p4 + o))
        c40 = vfma(a, w0, c40); c41 = vfma(a, w1, c41); c42 = vfma(a, w2, c42)  # noqa: E702
        a = vsplat(fload(x, p5 + o))
        c50 = vfma(a, w0, c50); c51 = vfma(a, w1, c51); c52 = vfma(a, w2, c52)  # noqa: E702
        a = vsplat(fload(x, p6 + o))
        c60 = vfma(a, w0, c60); c61 = vfma(a, w1, c61); c62 = vfma(a, w2, c62)  # noqa: E702
        a = vsplat(fload(x, p7 + o))
        c70 = vfma(a, w0, c70); c71 = vfma(a, w1, c71); c72 = vfma(a, w2, c72)  # noqa: E702
    if ldp:  # pixel i's vector v at dst + i ldp + v ld
        _store8((c00, c10, c20, c30, c40, c50, c60, c70), dst, 0 * ld, ldp, beta)
        _store8((c01, c11, c21, c31, c41, c51, c61, c71), dst, 1 * ld, ldp, beta)
        _store8((c02, c12, c22, c32, c42, c52, c62, c72), dst, 2 * ld, ldp, beta)
    else:  # channel 8 v + r's row at dst + (8 v + r) ld
        _store8(vtranspose8(c00, c10, c20, c30, c40, c50, c60, c70), dst, 0 * ld, ld, beta)
        _store8(vtranspose8(c01, c11, c21, c31, c41, c51, c61, c71), dst, 8 * ld, ld, beta)
        _store8(vtranspose8(c02, c12, c22, c32, c42, c52, c62, c72), dst, 16 * ld, ld, beta)


@njit(cache=True, nogil=True)
def _otile16(x: int, pix: int, k: int, offs: int, b: int, bo: int, dst: int, ld: int,
             beta: float, ldp: int) -> None:
    p0 = iload(pix, 0); p1 = iload(pix, 1); p2 = iload(pix, 2); p3 = iload(pix, 3)  # noqa: E702
    p4 = iload(pix, 4); p5 = iload(pix, 5); p6 = iload(pix, 6); p7 = iload(pix, 7)  # noqa: E702
    c00 = vzero(); c01 = vzero()  # noqa: E702
    c10 = vzero(); c11 = vzero()  # noqa: E702
    c20 = vzero(); c21 = vzero()  # noqa: E702
    c30 = vzero(); c31 = vzero()  # noqa: E702
    c40 = vzero(); c41 = vzero()  # noqa: E702
    c50 = vzero(); c51 = vzero()  # noqa: E702
    c60 = vzero(); c61 = vzero()  # noqa: E702
    c70 = vzero(); c71 = vzero()  # noqa: E702
    for j in range(k):
        o = iload(offs, j)
        bj = bo + 16 * j
        _ahead(b, bj, 16)
        w0 = vload(b, bj)
        w1 = vload(b, bj + 8)
        a = vsplat(fload(x, p0 + o))
        c00 = vfma(a, w0, c00); c01 = vfma(a, w1, c01)  # noqa: E702
        a = vsplat(fload(x, p1 + o))
        c10 = vfma(a, w0, c10); c11 = vfma(a, w1, c11)  # noqa: E702
        a = vsplat(fload(x, p2 + o))
        c20 = vfma(a, w0, c20); c21 = vfma(a, w1, c21)  # noqa: E702
        a = vsplat(fload(x, p3 + o))
        c30 = vfma(a, w0, c30); c31 = vfma(a, w1, c31)  # noqa: E702
        a = vsplat(fload(x, p4 + o))
        c40 = vfma(a, w0, c40); c41 = vfma(a, w1, c41)  # noqa: E702
        a = vsplat(fload(x, p5 + o))
        c50 = vfma(a, w0, c50); c51 = vfma(a, w1, c51)  # noqa: E702
        a = vsplat(fload(x, p6 + o))
        c60 = vfma(a, w0, c60); c61 = vfma(a, w1, c61)  # noqa: E702
        a = vsplat(fload(x, p7 + o))
        c70 = vfma(a, w0, c70); c71 = vfma(a, w1, c71)  # noqa: E702
    if ldp:  # pixel i's vector v at dst + i ldp + v ld
        _store8((c00, c10, c20, c30, c40, c50, c60, c70), dst, 0 * ld, ldp, beta)
        _store8((c01, c11, c21, c31, c41, c51, c61, c71), dst, 1 * ld, ldp, beta)
    else:  # channel 8 v + r's row at dst + (8 v + r) ld
        _store8(vtranspose8(c00, c10, c20, c30, c40, c50, c60, c70), dst, 0 * ld, ld, beta)
        _store8(vtranspose8(c01, c11, c21, c31, c41, c51, c61, c71), dst, 8 * ld, ld, beta)


@njit(cache=True, nogil=True)
def _otile8(x: int, pix: int, k: int, offs: int, b: int, bo: int, dst: int, ld: int,
            beta: float, ldp: int) -> None:
    p0 = iload(pix, 0); p1 = iload(pix, 1); p2 = iload(pix, 2); p3 = iload(pix, 3)  # noqa: E702
    p4 = iload(pix, 4); p5 = iload(pix, 5); p6 = iload(pix, 6); p7 = iload(pix, 7)  # noqa: E702
    c00 = vzero()
    c10 = vzero()
    c20 = vzero()
    c30 = vzero()
    c40 = vzero()
    c50 = vzero()
    c60 = vzero()
    c70 = vzero()
    for j in range(k):
        o = iload(offs, j)
        bj = bo + 8 * j
        _ahead(b, bj, 8)
        w0 = vload(b, bj)
        a = vsplat(fload(x, p0 + o))
        c00 = vfma(a, w0, c00)
        a = vsplat(fload(x, p1 + o))
        c10 = vfma(a, w0, c10)
        a = vsplat(fload(x, p2 + o))
        c20 = vfma(a, w0, c20)
        a = vsplat(fload(x, p3 + o))
        c30 = vfma(a, w0, c30)
        a = vsplat(fload(x, p4 + o))
        c40 = vfma(a, w0, c40)
        a = vsplat(fload(x, p5 + o))
        c50 = vfma(a, w0, c50)
        a = vsplat(fload(x, p6 + o))
        c60 = vfma(a, w0, c60)
        a = vsplat(fload(x, p7 + o))
        c70 = vfma(a, w0, c70)
    if ldp:  # pixel i's vector v at dst + i ldp + v ld
        _store8((c00, c10, c20, c30, c40, c50, c60, c70), dst, 0 * ld, ldp, beta)
    else:  # channel 8 v + r's row at dst + (8 v + r) ld
        _store8(vtranspose8(c00, c10, c20, c30, c40, c50, c60, c70), dst, 0 * ld, ld, beta)


@njit(cache=True, nogil=True)
def _otile48(x: int, pix: int, k: int, offs: int, b: int, bo: int, dst: int, ld: int,
             beta: float, ldp: int) -> None:
    """``_otile24`` on 16-lane vectors: 8 pixels x 48 channels (``WIDE``)."""
    p0 = iload(pix, 0); p1 = iload(pix, 1); p2 = iload(pix, 2); p3 = iload(pix, 3)  # noqa: E702
    p4 = iload(pix, 4); p5 = iload(pix, 5); p6 = iload(pix, 6); p7 = iload(pix, 7)  # noqa: E702
    c00 = wzero(); c01 = wzero(); c02 = wzero()  # noqa: E702
    c10 = wzero(); c11 = wzero(); c12 = wzero()  # noqa: E702
    c20 = wzero(); c21 = wzero(); c22 = wzero()  # noqa: E702
    c30 = wzero(); c31 = wzero(); c32 = wzero()  # noqa: E702
    c40 = wzero(); c41 = wzero(); c42 = wzero()  # noqa: E702
    c50 = wzero(); c51 = wzero(); c52 = wzero()  # noqa: E702
    c60 = wzero(); c61 = wzero(); c62 = wzero()  # noqa: E702
    c70 = wzero(); c71 = wzero(); c72 = wzero()  # noqa: E702
    for j in range(k):
        o = iload(offs, j)
        bj = bo + 48 * j
        w0 = wload(b, bj)
        w1 = wload(b, bj + 16)
        w2 = wload(b, bj + 32)
        _ahead(b, bj, 48)
        a = wsplat(fload(x, p0 + o))
        c00 = wfma(a, w0, c00); c01 = wfma(a, w1, c01); c02 = wfma(a, w2, c02)  # noqa: E702
        a = wsplat(fload(x, p1 + o))
        c10 = wfma(a, w0, c10); c11 = wfma(a, w1, c11); c12 = wfma(a, w2, c12)  # noqa: E702
        a = wsplat(fload(x, p2 + o))
        c20 = wfma(a, w0, c20); c21 = wfma(a, w1, c21); c22 = wfma(a, w2, c22)  # noqa: E702
        a = wsplat(fload(x, p3 + o))
        c30 = wfma(a, w0, c30); c31 = wfma(a, w1, c31); c32 = wfma(a, w2, c32)  # noqa: E702
        a = wsplat(fload(x, p4 + o))
        c40 = wfma(a, w0, c40); c41 = wfma(a, w1, c41); c42 = wfma(a, w2, c42)  # noqa: E702
        a = wsplat(fload(x, p5 + o))
        c50 = wfma(a, w0, c50); c51 = wfma(a, w1, c51); c52 = wfma(a, w2, c52)  # noqa: E702
        a = wsplat(fload(x, p6 + o))
        c60 = wfma(a, w0, c60); c61 = wfma(a, w1, c61); c62 = wfma(a, w2, c62)  # noqa: E702
        a = wsplat(fload(x, p7 + o))
        c70 = wfma(a, w0, c70); c71 = wfma(a, w1, c71); c72 = wfma(a, w2, c72)  # noqa: E702
    if ldp:  # pixel i's vector v (16 lanes: two of 8) at dst + i ldp + 2 v ld
        wput(dst, 0 * ldp + 0 * ld, c00, beta)
        wput(dst, 0 * ldp + 2 * ld, c01, beta)
        wput(dst, 0 * ldp + 4 * ld, c02, beta)
        wput(dst, 1 * ldp + 0 * ld, c10, beta)
        wput(dst, 1 * ldp + 2 * ld, c11, beta)
        wput(dst, 1 * ldp + 4 * ld, c12, beta)
        wput(dst, 2 * ldp + 0 * ld, c20, beta)
        wput(dst, 2 * ldp + 2 * ld, c21, beta)
        wput(dst, 2 * ldp + 4 * ld, c22, beta)
        wput(dst, 3 * ldp + 0 * ld, c30, beta)
        wput(dst, 3 * ldp + 2 * ld, c31, beta)
        wput(dst, 3 * ldp + 4 * ld, c32, beta)
        wput(dst, 4 * ldp + 0 * ld, c40, beta)
        wput(dst, 4 * ldp + 2 * ld, c41, beta)
        wput(dst, 4 * ldp + 4 * ld, c42, beta)
        wput(dst, 5 * ldp + 0 * ld, c50, beta)
        wput(dst, 5 * ldp + 2 * ld, c51, beta)
        wput(dst, 5 * ldp + 4 * ld, c52, beta)
        wput(dst, 6 * ldp + 0 * ld, c60, beta)
        wput(dst, 6 * ldp + 2 * ld, c61, beta)
        wput(dst, 6 * ldp + 4 * ld, c62, beta)
        wput(dst, 7 * ldp + 0 * ld, c70, beta)
        wput(dst, 7 * ldp + 2 * ld, c71, beta)
        wput(dst, 7 * ldp + 4 * ld, c72, beta)
    else:  # channel 16 v + r's row at dst + (16 v + r) ld: each half transposed
        _store8(vtranspose8(wlo(c00), wlo(c10), wlo(c20), wlo(c30),
                            wlo(c40), wlo(c50), wlo(c60), wlo(c70)), dst, 0 * ld, ld, beta)
        _store8(vtranspose8(whi(c00), whi(c10), whi(c20), whi(c30),
                            whi(c40), whi(c50), whi(c60), whi(c70)), dst, 8 * ld, ld, beta)
        _store8(vtranspose8(wlo(c01), wlo(c11), wlo(c21), wlo(c31),
                            wlo(c41), wlo(c51), wlo(c61), wlo(c71)), dst, 16 * ld, ld, beta)
        _store8(vtranspose8(whi(c01), whi(c11), whi(c21), whi(c31),
                            whi(c41), whi(c51), whi(c61), whi(c71)), dst, 24 * ld, ld, beta)
        _store8(vtranspose8(wlo(c02), wlo(c12), wlo(c22), wlo(c32),
                            wlo(c42), wlo(c52), wlo(c62), wlo(c72)), dst, 32 * ld, ld, beta)
        _store8(vtranspose8(whi(c02), whi(c12), whi(c22), whi(c32),
                            whi(c42), whi(c52), whi(c62), whi(c72)), dst, 40 * ld, ld, beta)


@njit(cache=True, nogil=True)
def _otile32(x: int, pix: int, k: int, offs: int, b: int, bo: int, dst: int, ld: int,
             beta: float, ldp: int) -> None:
    """``_otile24`` on 16-lane vectors: 8 pixels x 32 channels (``WIDE``)."""
    p0 = iload(pix, 0); p1 = iload(pix, 1); p2 = iload(pix, 2); p3 = iload(pix, 3)  # noqa: E702
    p4 = iload(pix, 4); p5 = iload(pix, 5); p6 = iload(pix, 6); p7 = iload(pix, 7)  # noqa: E702
    c00 = wzero(); c01 = wzero()  # noqa: E702
    c10 = wzero(); c11 = wzero()  # noqa: E702
    c20 = wzero(); c21 = wzero()  # noqa: E702
    c30 = wzero(); c31 = wzero()  # noqa: E702
    c40 = wzero(); c41 = wzero()  # noqa: E702
    c50 = wzero(); c51 = wzero()  # noqa: E702
    c60 = wzero(); c61 = wzero()  # noqa: E702
    c70 = wzero(); c71 = wzero()  # noqa: E702
    for j in range(k):
        o = iload(offs, j)
        bj = bo + 32 * j
        _ahead(b, bj, 32)
        w0 = wload(b, bj)
        w1 = wload(b, bj + 16)
        a = wsplat(fload(x, p0 + o))
        c00 = wfma(a, w0, c00); c01 = wfma(a, w1, c01)  # noqa: E702
        a = wsplat(fload(x, p1 + o))
        c10 = wfma(a, w0, c10); c11 = wfma(a, w1, c11)  # noqa: E702
        a = wsplat(fload(x, p2 + o))
        c20 = wfma(a, w0, c20); c21 = wfma(a, w1, c21)  # noqa: E702
        a = wsplat(fload(x, p3 + o))
        c30 = wfma(a, w0, c30); c31 = wfma(a, w1, c31)  # noqa: E702
        a = wsplat(fload(x, p4 + o))
        c40 = wfma(a, w0, c40); c41 = wfma(a, w1, c41)  # noqa: E702
        a = wsplat(fload(x, p5 + o))
        c50 = wfma(a, w0, c50); c51 = wfma(a, w1, c51)  # noqa: E702
        a = wsplat(fload(x, p6 + o))
        c60 = wfma(a, w0, c60); c61 = wfma(a, w1, c61)  # noqa: E702
        a = wsplat(fload(x, p7 + o))
        c70 = wfma(a, w0, c70); c71 = wfma(a, w1, c71)  # noqa: E702
    if ldp:  # pixel i's vector v (16 lanes: two of 8) at dst + i ldp + 2 v ld
        wput(dst, 0 * ldp + 0 * ld, c00, beta); wput(dst, 0 * ldp + 2 * ld, c01, beta)  # noqa: E702
        wput(dst, 1 * ldp + 0 * ld, c10, beta); wput(dst, 1 * ldp + 2 * ld, c11, beta)  # noqa: E702
        wput(dst, 2 * ldp + 0 * ld, c20, beta); wput(dst, 2 * ldp + 2 * ld, c21, beta)  # noqa: E702
        wput(dst, 3 * ldp + 0 * ld, c30, beta); wput(dst, 3 * ldp + 2 * ld, c31, beta)  # noqa: E702
        wput(dst, 4 * ldp + 0 * ld, c40, beta); wput(dst, 4 * ldp + 2 * ld, c41, beta)  # noqa: E702
        wput(dst, 5 * ldp + 0 * ld, c50, beta); wput(dst, 5 * ldp + 2 * ld, c51, beta)  # noqa: E702
        wput(dst, 6 * ldp + 0 * ld, c60, beta); wput(dst, 6 * ldp + 2 * ld, c61, beta)  # noqa: E702
        wput(dst, 7 * ldp + 0 * ld, c70, beta); wput(dst, 7 * ldp + 2 * ld, c71, beta)  # noqa: E702
    else:  # channel 16 v + r's row at dst + (16 v + r) ld: each half transposed
        _store8(vtranspose8(wlo(c00), wlo(c10), wlo(c20), wlo(c30),
                            wlo(c40), wlo(c50), wlo(c60), wlo(c70)), dst, 0 * ld, ld, beta)
        _store8(vtranspose8(whi(c00), whi(c10), whi(c20), whi(c30),
                            whi(c40), whi(c50), whi(c60), whi(c70)), dst, 8 * ld, ld, beta)
        _store8(vtranspose8(wlo(c01), wlo(c11), wlo(c21), wlo(c31),
                            wlo(c41), wlo(c51), wlo(c61), wlo(c71)), dst, 16 * ld, ld, beta)
        _store8(vtranspose8(whi(c01), whi(c11), whi(c21), whi(c31),
                            whi(c41), whi(c51), whi(c61), whi(c71)), dst, 24 * ld, ld, beta)


_OTILE_SIG = types.void(types.intp, types.intp, types.intp, types.intp, types.intp,
                        types.intp, types.intp, types.intp, types.intp, types.float64,
                        types.intp)


@cfunc(_OTILE_SIG, cache=True)
def _otile_c(nv: int, x: int, pix: int, k: int, offs: int, b: int, bo: int, dst: int,
             ld: int, beta: float, ldp: int) -> None:
    """C[8nv, 8] = (A[8, k] @ B[k, 8nv])^T (+ beta * C), C the floats at address ``dst``,
    rows ``ld`` apart (with ``ldp`` not 0, C^T instead: its row i (8nv floats) at element
    i ldp, each of the row's vectors of 8 ``ld`` after the one before): A[i, j] is the
    float at address ``x`` plus pix[i] + offs[j] elements (``pix``, ``offs``: the
    addresses of 8 and k int64s), B the k x 8nv floats at address ``b`` from element bo,
    rows 8nv apart; nv is 3, 2 or 1, or 6 or 4 where ``WIDE`` (16-lane vectors)."""
    if nv == 6:
        _otile48(x, pix, k, offs, b, bo, dst, ld, beta, ldp)
    elif nv == 4:
        _otile32(x, pix, k, offs, b, bo, dst, ld, beta, ldp)
    elif nv == 3:
        _otile24(x, pix, k, offs, b, bo, dst, ld, beta, ldp)
    elif nv == 2:
        _otile16(x, pix, k, offs, b, bo, dst, ld, beta, ldp)
    else:
        _otile8(x, pix, k, offs, b, bo, dst, ld, beta, ldp)


_OTILE_SYMBOL = "shapegraph_oconv_tile"
_llvm.add_symbol(_OTILE_SYMBOL, _otile_c.address)
_otile: Any = types.ExternalFunction(_OTILE_SYMBOL, _OTILE_SIG)

helpers.mark_imported(__file__)
