"""``conv_maxpool``: a convolution on im2col tiles and the stride-2 max pool after it, in
bands of rows, so that the convolution's output is never written out whole.

SqueezeNet's stem (3 -> 64 channels, 3x3 stride 2, 224 -> 111) writes 3 MB that its max
pool (3x3 stride 2 -> 55) reads straight back: with 27 products an output the stem is as
much memory traffic as arithmetic, and ``conv_gemm`` plus ``maxpool_s2`` took 1.0-1.4 ms
on one thread against ONNX Runtime's 0.6-0.7 for the two nodes.

Here each work item (an image's run of pooled rows) goes down its rows in bands of
``BAND_PIXELS`` convolution outputs or so: it builds the im2col tile of the convolution
rows the band's pooled rows read (``conv_gemm``'s ``_im2col``), multiplies it into a band
buffer that stays in L2 (``_product``: sgemm, or ``vgemm`` for long products), and pools
the buffer's rows into the output (``kernels_pool.s2_row``). A window's rows overlap the
next band's when the window is 3 rows high: the band's last row is moved to the buffer's
top and not computed again. The bias and the activation come after the pool, on a
quarter of the elements: a maximum commutes with adding a per-channel constant and with
an activation that never decreases, exactly in floating point, NaN included (both
propagate it). The lowering folds in an activation written before the pool only where
they commute (none or ReLU: ``fuses_maxpool``), and one written after it as it is.

The pool is ``maxpool_s2``'s (``kernels_pool.runs_s2``: stride 2, a window of up to 3x3
inside the input, rows of 8 outputs or more); the convolution any that ``conv_gemm`` runs
on im2col tiles without groups. Every size is a runtime value.

>>> import numpy as np
>>> x = np.ones((1, 1, 20, 20), np.float32); w = np.ones((2, 9), np.float32)
>>> out = np.empty((1, 2, 9, 9), np.float32)
>>> cfg = np.array([3, 3, 1, 1, 1, 1, 1, 1, 1, 3, 3, 20, 20], np.int64)
>>> conv_maxpool(x, w, np.zeros(2, np.float32), out, cfg, (1, 0.0, 0.0), 1)
>>> out[0, 1, 0, :3].tolist()
[9.0, 9.0, 9.0]
"""

from __future__ import annotations

import numpy as np

from shapegraph.executor.jit import njit, prange
from shapegraph.executor.kernels import ACT_NONE, ACT_RELU, _copy_floats, _epilogue
from shapegraph.executor.kernels_gemm import (
    COL_BYTES,
    GATHER_MAX_OW,
    PARALLEL_MIN_FLOPS,
    _im2col,
    _im2col_gather,
    _product,
)
from shapegraph.executor.kernels_pool import s2_row
from shapegraph.executor.simd import address

__all__ = ["BAND_PIXELS", "conv_maxpool", "fuses_maxpool"]

# convolution outputs a band computes (about: whole pairs of rows): its product's output
# tile stays in L2 while it is pooled
BAND_PIXELS = 512


def fuses_maxpool(act: tuple[int, float, float]) -> bool:
    """Whether a max pool after a convolution with this activation may pool first and
    apply the activation after (it does not decrease anywhere): none or ReLU."""
    return act[0] in (ACT_NONE, ACT_RELU) and act[1:] == (0.0, 0.0)


@njit(cache=True, nogil=True, parallel=True)
def conv_maxpool(x: np.ndarray, w: np.ndarray, b: np.ndarray, out: np.ndarray,
                 cfg: np.ndarray, act: tuple[int, float, float], threads: int) -> None:
    """out (N, M, PH, PW) = maxpool(act(conv(x (N, C, H, W)) + b)); ``w`` is (M, C * KH *
    KW) (``conv_gemm``'s packing), ``cfg`` = (KH, KW, SH, SW, PH, PW, DH, DW, groups = 1,
    the pool's KH and KW, the convolution's output OH and OW); the pool has stride 2 and
    its windows lie inside the convolution's output; ``act`` is applied after the pool.
    ``threads`` as ``conv_gemm``'s."""
    kh, kw, sh, sw, ph, pw, dh, dw = (cfg[0], cfg[1], cfg[2], cfg[3], cfg[4], cfg[5],
                                      cfg[6], cfg[7])
    pkh, pkw, oh, ow = cfg[9], cfg[10], cfg[11], cfg[12]
    batch, c_dim = x.shape[0], x.shape[1]
    m_dim, poh, pow_ = out.shape[1], out.shape[2], out.shape[3]
    if (cfg[8] != 1 or w.shape[0] != m_dim or w.shape[1] != c_dim * kh * kw
            or b.size != m_dim or out.shape[0] != batch or not 1 <= pkh <= 3
            or not 2 <= pkw <= 3 or pow_ < 8 or (poh - 1) * 2 + pkh > oh
            or (pow_ - 1) * 2 + pkw > ow
            or (x.shape[2] + 2 * ph - dh * (kh - 1) - 1) // sh + 1 != oh
            or (x.shape[3] + 2 * pw - dw * (kw - 1) - 1) // sw + 1 != ow):
        raise ValueError("conv_maxpool: the weight, bias, output or cfg do not fit the input")
    kg = c_dim * kh * kw
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
    pooled rows, band by band."""
    kh, kw, sh, sw, ph, pw, dh, dw = (cfg[0], cfg[1], cfg[2], cfg[3], cfg[4], cfg[5],
                                      cfg[6], cfg[7])
    pkh, pkw, ow = cfg[9], cfg[10], cfg[12]
    c_dim, m_dim, poh, pow_ = x.shape[1], out.shape[1], out.shape[2], out.shape[3]
    kg = c_dim * kh * kw
    bi = item // runs
    run = item - bi * runs
    r_lo, r_hi = run * poh // runs, (run + 1) * poh // runs
    # pooled rows a band: about BAND_PIXELS outputs, and an im2col tile of at most
    # conv_gemm's COL_BYTES (a long product's)
    band = max(1, min(BAND_PIXELS, COL_BYTES // (4 * kg)) // (2 * ow))
    cap = 2 * (band - 1) + pkh  # convolution rows a band reads
    buf = np.empty((m_dim, cap * ow), np.float32)
    m = np.empty(ow + 48, np.float32)
    ba, ma, oa = address(buf), address(m), address(out)
    yv = out[bi].reshape(m_dim, poh * pow_)
    have_lo, have_hi = 0, 0  # the convolution rows in buf (from its row 0)
    for a in range(r_lo, r_hi, band):
        e = min(a + band, r_hi)
        c_lo, c_hi = 2 * a, 2 * (e - 1) + pkh
        keep = have_hi - c_lo if have_lo < c_lo < have_hi else 0
        if keep > 0:  # the rows this band shares with the last: to the buffer's top
            _move(ba, m_dim, cap * ow, (c_lo - have_lo) * ow, keep * ow)
        p0 = (c_lo + keep) * ow
        np_ = (c_hi - c_lo - keep) * ow
        col = np.empty((kg, np_), np.float32)
        if ow <= GATHER_MAX_OW:
            _im2col_gather(x[bi], 0, c_dim, kh, kw, sh, sw, ph, pw, dh, dw, ow, p0, np_, col)
        else:
            _im2col(x[bi], 0, c_dim, kh, kw, sh, sw, ph, pw, dh, dw, ow, p0, np_, col)
        # (the operands as conv_gemm passes them: one compile of _product)
        _product(m_dim, np_, kg, w[0:], kg, col[:, :np_], np_, buf[:, keep * ow:], cap * ow,
                 0.0, b[0:], False, False)
        have_lo, have_hi = c_lo, c_hi
        for mm in range(m_dim):
            for i in range(a, e):
                s2_row(ba, mm * cap * ow + (2 * i - c_lo) * ow, ow, pkh, pkw, ma, oa,
                       ((bi * m_dim + mm) * poh + i) * pow_, pow_)
        _epilogue(yv, 0, m_dim, a * pow_, (e - a) * pow_, b, yv, False, act)


@njit(cache=True, nogil=True, inline="always")
def _move(ba: int, rows: int, stride: int, src: int, n: int) -> None:
    """Each of ``rows`` rows of ``stride`` floats from address ``ba``: its n floats from
    element ``src`` to its start (``src`` >= n: no overlap)."""
    for r in range(rows):
        o = ba + 4 * r * stride
        _copy_floats(o + 4 * src, o, n)
