"""``vconv``: a convolution as an implicit GEMM on ``vgemm``'s register tiles, no im2col.

``conv_gemm`` copies each tile of im2col (``Kg`` rows of the pixels under every kernel
tap) before its product; a 7x7 stride-2 stem on 3 channels writes and reads 7.4 MB of it
for 12544 pixels. Here the product's B operand is read straight from the input: the
input is copied once, zero-padded and, for a column stride s, split into s column phases
(``xq[c, q, r, j] = x[c, r - PH, j*s + q - PW]``), so that under every tap (c, i, t) the
24 output pixels of a row's strip read 24 consecutive floats of one phase's row. A tile of
8 output channels x 24 pixels of an output row accumulates over the taps in registers
(``kernels_vgemm``), the weights (M, C/groups x KH x KW) read in place. Bias, residual and
activation are applied to each output row while it is in cache (``_epilogue``).

Work items are output rows (x images x groups), spread over numba's threads. Every size
is a runtime value: one compiled kernel for every layer and batch size.

>>> import numpy as np
>>> x = np.ones((1, 1, 4, 4), np.float32); w = np.ones((8, 9), np.float32)
>>> out = np.empty((1, 8, 4, 4), np.float32); e = np.empty((0, 0, 0, 0), np.float32)
>>> cfg = np.array([3, 3, 1, 1, 1, 1, 1, 1, 1], np.int64)
>>> vconv(x, w, np.zeros(8, np.float32), e, out, cfg, (0, 0.0, 0.0), 1)
>>> out[0, 7, 0].tolist()
[4.0, 6.0, 6.0, 4.0]
"""

from __future__ import annotations

import numpy as np

from shapegraph.executor.jit import njit, prange
from shapegraph.executor.kernels_gemm import _epilogue
from shapegraph.executor.kernels_vgemm import MR, NR, _put, _tile
from shapegraph.executor.simd import address

__all__ = ["vconv", "vconv_layout"]


@njit(cache=True, nogil=True, inline="always")
def vconv_layout(h_dim: int, w_dim: int, oh_dim: int, ow_dim: int, kh: int, kw: int,
                 sh: int, sw: int, dh: int, dw: int) -> tuple[int, int]:
    """(rows, row length) of one phase of one channel of the padded input: the rows the
    output reaches, and its columns over the stride plus NR of slack (a strip's last tile
    reads up to NR - 1 floats past its row's last pixel; they are multiplied into columns
    that are never stored)."""
    hp = max((oh_dim - 1) * sh + (kh - 1) * dh + 1, 1)
    wp = max((ow_dim - 1) * sw + (kw - 1) * dw + 1, w_dim)
    return hp, (wp + sw - 1) // sw + NR


@njit(cache=True, nogil=True, parallel=True)
def vconv(x: np.ndarray, w: np.ndarray, b: np.ndarray, res: np.ndarray, out: np.ndarray,
          cfg: np.ndarray, act: tuple[int, float, float], threads: int) -> None:
    """out (N, M, OH, OW) = act(conv(x (N, C, H, W)) + b (+ res)), as ``conv_gemm`` (the
    same arguments: ``w`` (M, C/groups * KH * KW), ``cfg`` = (KH, KW, SH, SW, PH, PW, DH,
    DW, groups), ``res`` empty, out's shape, or ``out`` itself), for groups of at least 8
    output channels (``MR``). ``threads`` is taken for the same call as ``conv_gemm`` and
    not used: the rows are always a parallel loop over numba's threads."""
    kh, kw, sh, sw, ph, pw, dh, dw, groups = (cfg[0], cfg[1], cfg[2], cfg[3], cfg[4],
                                              cfg[5], cfg[6], cfg[7], cfg[8])
    batch, c_dim, h_dim, w_dim = x.shape[0], x.shape[1], x.shape[2], x.shape[3]
    m_dim, oh_dim, ow_dim = out.shape[1], out.shape[2], out.shape[3]
    cg, mg = c_dim // groups, m_dim // groups
    if mg < MR:
        raise ValueError("vconv: fewer than 8 output channels a group")
    kg = cg * kh * kw
    hp, wq = vconv_layout(h_dim, w_dim, oh_dim, ow_dim, kh, kw, sh, sw, dh, dw)
    plane = hp * wq  # one phase of one channel
    # (zeroed by _phases: np.zeros here, in a parallel function, becomes a parallel loop of
    # its own, and after a plan's first call that ran 5500 page faults a call, 2.8 -> 30 ms)
    xq = np.empty(batch * c_dim * sw * plane, np.float32)
    # one parallel loop each, also on one thread (unlike conv_gemm, no serial twin: the
    # convolutions this takes are of several MFLOP, where a parallel region's few µs do not
    # count, and the twin doubled its compile time)
    for nc in prange(batch * c_dim):
        _phases(x, nc, ph, pw, sw, hp, wq, xq)
    # where each tap's row of B starts, from a row's first pixel (w's column order)
    offs = np.empty(kg, np.int64)
    for c in range(cg):
        for i in range(kh):
            for t in range(kw):
                q, shift = (t * dw) % sw, (t * dw) // sw
                offs[(c * kh + i) * kw + t] = ((c * sw + q) * hp + i * dh) * wq + shift
    has_res = res.size == out.size
    in_place = has_res and res.ctypes.data == out.ctypes.data
    y3 = out.reshape(batch, m_dim, oh_dim * ow_dim)
    r3 = res.reshape(batch, m_dim, oh_dim * ow_dim) if has_res else y3
    for item in prange(batch * groups * oh_dim):
        _vconv_row(xq, w, b, r3, y3, offs, cg, mg, kg, sh, sw, plane, wq, groups, oh_dim,
                   ow_dim, has_res, in_place, act, np.int64(item))


@njit(cache=True, nogil=True)
def _phases(x: np.ndarray, nc: int, ph: int, pw: int, sw: int, hp: int, wq: int,
            xq: np.ndarray) -> None:
    """Channel ``nc`` (image x channel, flat) of x into its ``sw`` zero-padded column
    phases in ``xq``: xq[nc, q, r, j] = x[r - ph, j * sw + q - pw], 0 outside x."""
    h_dim, w_dim = x.shape[2], x.shape[3]
    xc = x.reshape(x.shape[0] * x.shape[1], h_dim, w_dim)[nc]
    base = nc * sw * hp * wq
    xq[base:base + sw * hp * wq] = 0.0
    for r in range(max(ph, 0), min(h_dim + ph, hp)):
        src = xc[r - ph]
        for q in range(sw):
            # columns j with 0 <= j * sw + q - pw < w_dim
            j0 = max(0, (pw - q + sw - 1) // sw)
            j1 = min(wq, (w_dim + pw - q + sw - 1) // sw)
            row = xq[base + (q * hp + r) * wq:]
            for j in range(j0, j1):
                row[j] = src[j * sw + q - pw]


@njit(cache=True, nogil=True)
def _vconv_row(xq: np.ndarray, w: np.ndarray, b: np.ndarray, r3: np.ndarray,
               y3: np.ndarray, offs: np.ndarray, cg: int, mg: int, kg: int, sh: int,
               sw: int, plane: int, wq: int, groups: int, oh_dim: int, ow_dim: int,
               has_res: bool, in_place: bool, act: tuple[int, float, float],
               item: np.int64) -> None:
    """Output row ``oh`` of group ``g`` of image ``n`` (item = (n * groups + g) * OH +
    oh): its strips of 24 pixels (a last one of 8 or fewer: 8), 8 output channels at a time."""
    per_image = groups * oh_dim
    n = int(item // per_image)
    g = int(item - n * per_image) // oh_dim
    oh = int(item - n * per_image - g * oh_dim)
    pixels = oh_dim * ow_dim
    tmp = np.empty(MR * NR, np.float32)
    w_at, y_at, tmp_at = address(w), address(y3), address(tmp)
    x_at, offs_at = address(xq), address(offs)
    beta = 1.0 if in_place else 0.0  # in place: the products are added to the residual
    c0 = (n * groups + g) * cg  # the group's first input channel, among all images'
    xbase = c0 * sw * plane + oh * sh * wq
    ybase = n * y3.shape[1] * pixels + oh * ow_dim  # out[n, 0, oh, 0]
    m_first = g * mg
    for s0 in range(0, ow_dim, NR):
        wd = min(NR, ow_dim - s0)
        nv = 1 if wd <= 8 else 3  # vectors the tile computes (16 columns: 24, through tmp)
        for r0 in range(0, mg, MR):
            rr = min(r0, mg - MR)  # the last block ends at the group's last channel
            m = m_first + rr
            nxt = w_at + 4 * kg * (m + MR if rr + MR < mg else m_first)
            if rr == r0 and wd == nv * 8:
                _tile(nv, w_at, m * kg, kg, x_at, xbase + s0, offs_at, kg,
                      y_at + 4 * (ybase + m * pixels + s0), pixels, beta, nxt)
            else:
                _tile(nv, w_at, m * kg, kg, x_at, xbase + s0, offs_at, kg, tmp_at, NR, 0.0,
                      nxt)
                _put(tmp, r0 - rr, y_at, ybase + (m_first + r0) * pixels + s0, pixels,
                     min(MR, mg - r0), wd, beta)
    _epilogue(y3[n], m_first, mg, oh * ow_dim, ow_dim, b, r3[n], has_res and not in_place,
              act)
