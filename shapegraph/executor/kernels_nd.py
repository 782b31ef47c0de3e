"""numba kernels for 3-D convolution and pooling, and for local response normalization.

Like :mod:`shapegraph.executor.kernels`: float32, C-contiguous, the output preallocated and
passed last, nothing returned; shapes are validated before any call (the output sizes come
from ``out``). The semantics are the numpy references' (``conv_reference``,
``pool_reference`` in :mod:`shapegraph.opset.conv`, ``lrn_reference`` in
:mod:`shapegraph.opset.lrn`). Generated plans see these names through the header of
:mod:`shapegraph.executor.codegen`.

>>> import numpy as np
>>> x = np.arange(8, dtype=np.float32).reshape(1, 1, 2, 2, 2)
>>> out = np.empty((1, 1, 1, 1, 1), np.float32)
>>> maxpool3d(x, 2, 2, 2, 2, 2, 2, 0, 0, 0, out); float(out[0, 0, 0, 0, 0])
7.0
"""

from __future__ import annotations

import numpy as np

from shapegraph.executor.jit import prange
from shapegraph.executor.kernels import _jit
from shapegraph.executor.kernels_pool import _col_range, _window

__all__ = ["avgpool3d", "conv3d", "lrn", "maxpool3d"]

# parallel over the independent (batch, channel) planes: a 3-D plane is big enough for
# the fork/join of a parallel region to pay off
_kernel = _jit(cache=True, nogil=True)
_parallel = _jit(cache=True, nogil=True, parallel=True)


# --------------------------------------------------------------------------- convolution


@_parallel
def conv3d(
    x: np.ndarray, w: np.ndarray, b: np.ndarray, sd: int, sh: int, sw: int,
    pd: int, ph: int, pw: int, dd: int, dh: int, dw: int, groups: int, out: np.ndarray,
) -> None:
    """Direct 3-D convolution (any stride, padding, dilation, groups): x (N, C, D, H, W),
    w (O, C/groups, KD, KH, KW), b (O,) or empty, out (N, O, OD, OH, OW) = conv(x, w) + b.
    Each (n, o) output volume is one parallel iteration; taps outside the input are
    skipped (zero padding)."""
    n_dim, _, d, h, wd = x.shape
    o_dim, cg, kd_dim, kh_dim, kw_dim = w.shape
    og = o_dim // groups
    od_dim, oh_dim, ow_dim = out.shape[2], out.shape[3], out.shape[4]
    for item in prange(n_dim * o_dim):
        n = item // o_dim
        o = item % o_dim
        acc = out[n, o]
        acc[:, :, :] = b[o] if b.size == o_dim else 0.0
        c0 = (o // og) * cg
        for c in range(cg):
            xc = x[n, c0 + c]
            for kd in range(kd_dim):
                i_lo, i_hi = _col_range(kd * dd, sd, pd, d, od_dim)
                for kh in range(kh_dim):
                    j_lo, j_hi = _col_range(kh * dh, sh, ph, h, oh_dim)
                    for kw in range(kw_dim):
                        l_lo, l_hi = _col_range(kw * dw, sw, pw, wd, ow_dim)
                        wv = w[o, c, kd, kh, kw]
                        for i in range(i_lo, i_hi):
                            xz = xc[i * sd - pd + kd * dd]
                            for j in range(j_lo, j_hi):
                                xr = xz[j * sh - ph + kh * dh]
                                ar = acc[i, j]
                                col = kw * dw - pw
                                for q in range(l_lo, l_hi):
                                    ar[q] += wv * xr[q * sw + col]


# --------------------------------------------------------------------------- pooling


@_parallel
def maxpool3d(
    x: np.ndarray, kd: int, kh: int, kw: int, sd: int, sh: int, sw: int,
    pd: int, ph: int, pw: int, out: np.ndarray,
) -> None:
    """Max pooling x (N, C, D, H, W) -> out (N, C, OD, OH, OW) (sizes from ``out``, ceil
    mode allowed); window positions outside the input are ignored (a window with none
    gives -inf), NaN propagates."""
    n_dim, c_dim, d, h, wd = x.shape
    od_dim, oh_dim, ow_dim = out.shape[2], out.shape[3], out.shape[4]
    for item in prange(n_dim * c_dim):
        n = item // c_dim
        c = item % c_dim
        xc = x[n, c]
        for i in range(od_dim):
            z0, z1, _, _ = _window(i, sd, pd, kd, d)
            for j in range(oh_dim):
                r0, r1, _, _ = _window(j, sh, ph, kh, h)
                for q in range(ow_dim):
                    q0, q1, _, _ = _window(q, sw, pw, kw, wd)
                    m = -np.inf
                    for z in range(z0, z1):
                        for r in range(r0, r1):
                            for col in range(q0, q1):
                                v = xc[z, r, col]
                                if v > m or v != v:
                                    m = v
                    out[n, c, i, j, q] = m


@_parallel
def avgpool3d(
    x: np.ndarray, kd: int, kh: int, kw: int, sd: int, sh: int, sw: int,
    pd: int, ph: int, pw: int, count_include_pad: bool, out: np.ndarray,
) -> None:
    """Average pooling x (N, C, D, H, W) -> out (N, C, OD, OH, OW) (sizes from ``out``,
    ceil mode allowed). The divisor counts window positions inside the padded input when
    ``count_include_pad``, else inside the input (at least 1), as ``pool_reference``."""
    n_dim, c_dim, d, h, wd = x.shape
    od_dim, oh_dim, ow_dim = out.shape[2], out.shape[3], out.shape[4]
    for item in prange(n_dim * c_dim):
        n = item // c_dim
        c = item % c_dim
        xc = x[n, c]
        for i in range(od_dim):
            z0, z1, zp, zn = _window(i, sd, pd, kd, d)
            for j in range(oh_dim):
                r0, r1, rp, rn = _window(j, sh, ph, kh, h)
                for q in range(ow_dim):
                    q0, q1, qp, qn = _window(q, sw, pw, kw, wd)
                    t = 0.0
                    for z in range(z0, z1):
                        for r in range(r0, r1):
                            for col in range(q0, q1):
                                t += xc[z, r, col]
                    cnt = zp * rp * qp if count_include_pad else zn * rn * qn
                    out[n, c, i, j, q] = t / max(cnt, 1)


# --------------------------------------------------------------------------- LRN


@_parallel
def lrn(x: np.ndarray, size: int, alpha: float, beta: float, bias: float,
        out: np.ndarray) -> None:
    """Local response normalization across channels, as ONNX's LRN: x, out (N, C, S)
    (S: the spatial dims flattened), out = x / (bias + alpha/size * sum of x^2 over
    channels c - (size-1)//2 .. c + ceil((size-1)/2), clipped to [0, C))^beta.
    Each (n, c) row is one parallel iteration; its sum of squares is accumulated in
    float64 along contiguous rows (a running sum would turn an inf into NaNs further on)."""
    n_dim, c_dim, s_dim = x.shape
    before = (size - 1) // 2
    after = size - 1 - before
    scale = alpha / size
    for item in prange(n_dim * c_dim):
        n = item // c_dim
        c = item % c_dim
        acc = np.zeros(s_dim, np.float64)
        for k in range(max(c - before, 0), min(c + after + 1, c_dim)):
            xk = x[n, k]
            for s in range(s_dim):
                v = np.float64(xk[s])
                acc[s] += v * v
        xc = x[n, c]
        oc = out[n, c]
        if beta == 0.75:  # d**0.75 = sqrt(d) * sqrt(sqrt(d)): sqrt vectorizes, pow does not
            for s in range(s_dim):
                r = np.sqrt(bias + scale * acc[s])
                oc[s] = xc[s] / (r * np.sqrt(r))
        elif beta == 0.5:
            for s in range(s_dim):
                oc[s] = xc[s] / np.sqrt(bias + scale * acc[s])
        elif beta == 1.0:
            for s in range(s_dim):
                oc[s] = xc[s] / (bias + scale * acc[s])
        else:
            for s in range(s_dim):
                oc[s] = xc[s] / (bias + scale * acc[s]) ** beta
