"""Generic numba kernels of the executor: float32, C-contiguous, writing into preallocated outputs.

Every kernel is ``@njit(cache=True, nogil=True)`` and takes its output as the last array
argument; nothing is returned. Shapes are validated by the caller (the planner) before any
call, so kernels only guard what is cheap to guard (e.g. an out-of-range embedding index).

The specialized convolution kernels live in :mod:`shapegraph.executor.templates`, which emits
source code that relies on this module's names (``act_apply`` and the ``ACT_*`` codes, from
:mod:`shapegraph.executor.acts`).

>>> import numpy as np
>>> x = np.array([[1.0, -2.0]], np.float32); wt = np.eye(2, dtype=np.float32)
>>> out = np.empty((1, 2), np.float32)
>>> dense(x, wt, np.empty(0, np.float32), (ACT_RELU, 0.0, 0.0), out); out.tolist()
[[1.0, 0.0]]
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, TypeVar, cast

import numpy as np

from shapegraph.executor.acts import (
    ACT_ABS,
    ACT_CLIP,
    ACT_ELU,
    ACT_EXP,
    ACT_GELU,
    ACT_HARD_SIGMOID,
    ACT_LEAKY_RELU,
    ACT_LOG,
    ACT_NONE,
    ACT_RELU,
    ACT_SELU,
    ACT_SIGMOID,
    ACT_SILU,
    ACT_SOFTRELU,
    ACT_SOFTSIGN,
    ACT_SQRT,
    ACT_SQUARE,
    ACT_TANH,
    MATH_CODES,
    NO_ACT,
    act_apply,
    act_at,
)
from shapegraph.executor.blas import sgemm_rm
from shapegraph.executor.jit import njit, prange
from shapegraph.executor.simd import address, vload, vloadn, vstore, vstoren, vunzip
from shapegraph.opset.elementwise import BINARY_CODES
from shapegraph.opset.reduce import REDUCE_CODES

__all__ = [
    "ACT_ABS",
    "ACT_CLIP",
    "ACT_ELU",
    "ACT_EXP",
    "ACT_GELU",
    "ACT_HARD_SIGMOID",
    "ACT_LEAKY_RELU",
    "ACT_LOG",
    "ACT_NONE",
    "ACT_RELU",
    "ACT_SELU",
    "ACT_SIGMOID",
    "ACT_SILU",
    "ACT_SOFTRELU",
    "ACT_SOFTSIGN",
    "ACT_SQRT",
    "ACT_SQUARE",
    "ACT_TANH",
    "MATH_CODES",
    "NO_ACT",
    "OP_ADD",
    "OP_DIV",
    "OP_MUL",
    "OP_SUB",
    "REDUCE_CODES",
    "RED_MAX",
    "RED_MEAN",
    "RED_MIN",
    "RED_SUM",
    "act_apply",
    "activation",
    "binary",
    "channel_affine",
    "conv2d",
    "copy_block",
    "dense",
    "dense_narrow",
    "gather_rows",
    "layernorm",
    "prelu",
    "reduce_axis",
    "reduce_strided",
    "sgemm_packs",
    "softmax",
    "transpose",
]

OP_ADD = BINARY_CODES["add"]
OP_SUB = BINARY_CODES["sub"]
OP_MUL = BINARY_CODES["mul"]
OP_DIV = BINARY_CODES["div"]

RED_SUM = REDUCE_CODES["sum"]
RED_MEAN = REDUCE_CODES["mean"]
RED_MAX = REDUCE_CODES["max"]
RED_MIN = REDUCE_CODES["min"]

F = TypeVar("F", bound=Callable[..., Any])


def _jit(**options: Any) -> Callable[[F], F]:
    """``numba.njit(**options)`` with a type mypy can see (the decorated function keeps its
    signature)."""
    return cast(Callable[[F], F], njit(**options))


_kernel = _jit(cache=True, nogil=True)
_inline = _jit(inline="always")

# --------------------------------------------------------------------------- activations


@_kernel
def _act_inplace(y: np.ndarray, act: tuple[int, float, float]) -> None:
    """Apply ``act`` to a flat (contiguous) array in place; the switch is outside the loops
    so each loop vectorizes."""
    n = y.size
    if act[0] == ACT_NONE:
        return
    if act[0] == ACT_RELU:
        for i in range(n):
            v = y[i]
            y[i] = 0.0 if v < 0.0 else v
    else:  # (one C function, compiled once: ``acts.act_at``)
        act_at(address(y), 0, n, act[0], act[1], act[2])


@_kernel
def activation(x: np.ndarray, act: tuple[int, float, float], out: np.ndarray) -> None:
    """out = act(x) on 1-D arrays of equal length (``out`` may be ``x``)."""
    n = x.size
    if act[0] == ACT_RELU:
        for i in range(n):
            v = x[i]
            out[i] = 0.0 if v < 0.0 else v
    elif act[0] == ACT_NONE:
        for i in range(n):
            out[i] = x[i]
    else:
        for i in range(n):
            out[i] = act_apply(x[i], act)


@_kernel
def prelu(x: np.ndarray, alpha: np.ndarray, out: np.ndarray) -> None:
    """out[n, c, s] = x if x >= 0 else alpha[c] * x; x/out (N, C, S), alpha (C,) or (1,)
    (one slope for every channel); ``out`` may be ``x``."""
    n_dim, c_dim, s_dim = x.shape
    shared = alpha.size == 1
    for n in range(n_dim):
        for c in range(c_dim):
            a = alpha[0] if shared else alpha[c]
            for s in range(s_dim):
                v = x[n, c, s]
                out[n, c, s] = a * v if v < 0.0 else v


# --------------------------------------------------------------------------- dense


@_kernel
def _epilogue(yv: np.ndarray, m0: int, nm: int, p0: int, np_: int, b: np.ndarray,
              rv: np.ndarray, has_res: bool, act: tuple[int, float, float]) -> None:
    """yv[m0:m0+nm, p0:p0+np_] = act(yv + bias[m] (+ residual)): a convolution's tile after
    its product (``conv_gemm``, ``oconv``). The rows are views from p0, indexed from 0: an
    index numba can't prove non-negative gets a wraparound check that keeps the loop from
    vectorizing (it cost a 64x56x56 -> 256 1x1 convolution 0.2 ms of its 1.4)."""
    for m in range(m0, m0 + nm):
        row = yv[m, p0:p0 + np_]
        bm = b[m]
        if has_res:
            rrow = rv[m, p0:p0 + np_]
            for j in range(np_):
                row[j] += bm + rrow[j]
        elif bm != 0.0:
            for j in range(np_):
                row[j] += bm
        _act_inplace(row, act)


@_kernel
def _bias_act_rows(out: np.ndarray, b: np.ndarray, act: tuple[int, float, float]) -> None:
    """out[i, :] = act(out[i, :] + b) (b may be empty: no bias); relu + bias in one pass."""
    n, m = out.shape
    if b.size == m:
        if act[0] == ACT_RELU:
            for i in range(n):
                for j in range(m):
                    v = out[i, j] + b[j]
                    out[i, j] = 0.0 if v < 0.0 else v
            return
        for i in range(n):
            for j in range(m):
                out[i, j] += b[j]
    _act_inplace(out.reshape(n * m), act)


# rows up to which a dense layer is row-by-row sgemv (measured against sgemm on weights of
# 784 x 1024 to 9216 x 4096: sgemv faster up to 4 rows, even at 8, slower from 16) ...
GEMV_ROWS = 4
# ... unless rows x K x M is at most SMALL_SGEMM_MNK, where sgemm needs no packing
# (OpenBLAS's small-matrix kernel) and beats per-row sgemv from 2 rows: 2 x 20 x 256 0.26 µs
# against 0.34, 2 x 512 x 512 14.8 against 22.4, 4 x 784 x 64 3.5 against 10.0; above it
# sgemm packs the weight: 4 x 512 x 512 95 µs against 44, 2 x 1024 x 512 183 against 48
SMALL_SGEMM_MNK = 1_000_000
"""The most multiply-adds (m n k) of a product OpenBLAS's sgemm runs on its small-matrix
kernel, reading the operands where they lie (its SkylakeX kernels' ``sgemm_small_kernel_
permit``, 100^3, which it runs on AVX-512); above, it packs them, and ``vgemm`` and
``dense_tiled`` win (``kernels_gemm.uses_vgemm``, ``packing``). Measured here at 524 288
(small) and 1 048 576 (packed), and on 518 products against ``vgemm`` (stop 35)."""


def sgemm_packs(m: int, n: int, k: int) -> bool:
    """Whether OpenBLAS's sgemm packs an m x k by k x n product (more than
    ``SMALL_SGEMM_MNK`` multiply-adds) rather than run its small-matrix kernel on it: the
    line ``dense``'s sgemv rows, ``kernels_gemm.uses_vgemm`` and ``packing``'s
    ``dense_tiled`` choice are drawn at."""
    return m * n * k > SMALL_SGEMM_MNK


_sgemm_packs = _inline(sgemm_packs)


@_inline
def no_product(x: np.ndarray, out: np.ndarray) -> bool:
    """Whether a dense layer's out (N, M) = x (N, K) @ W needs no product: an empty output,
    or K = 0 (then out is zeroed here, and the bias is still to be added)."""
    if out.size == 0 or x.shape[1] == 0:
        out[:, :] = 0.0
        return True
    return False


@_kernel
def dense(x: np.ndarray, wt: np.ndarray, b: np.ndarray, act: tuple[int, float, float],
          out: np.ndarray) -> None:
    """out (N, M) = act(x (N, K) @ wt (K, M) + b (M,)); ``wt`` is weight.T made contiguous at
    plan time; an empty ``b`` means no bias. The product is BLAS sgemm (scipy's OpenBLAS,
    about 0.5 µs per call: a hand loop lost at every size measured, even 1x20x256), called
    directly on C-contiguous operands (``np.dot`` checks them first: 0.1 µs a call), then
    one pass for bias and activation. One row, or up to ``GEMV_ROWS`` rows with a weight
    too large for OpenBLAS's small-matrix sgemm (``SMALL_SGEMM_MNK``), is one
    matrix-vector product per row instead: sgemm copies (packs) the whole weight matrix on
    every call, which a few rows do not pay back (ResNet-50's 2048 x 1000 at batch 1: 0.72
    ms as sgemm, 0.10 ms as sgemv; the wide MLP's 1024 x 1024: 0.38 ms, 0.055 ms)."""
    n, k = x.shape
    m = out.shape[1]
    if not no_product(x, out):
        if n == 1 or (n <= GEMV_ROWS and _sgemm_packs(n, m, k)):
            for i in range(n):
                np.dot(x[i], wt, out[i])
        elif x.flags.c_contiguous and wt.flags.c_contiguous and out.flags.c_contiguous:
            sgemm_rm(n, m, k, x, k, wt, m, out, m, 0.0)  # straight on the views
        else:
            np.dot(x, wt, out)
    _bias_act_rows(out, b, act)



# output units up to which a dense layer keeps its weight untransposed (M, K) and, for a few
# rows, computes each output as one dot product over K (``dense_narrow``)
NARROW_UNITS = 16


@_jit(cache=True, nogil=True, fastmath={"reassoc", "contract"})
def dense_narrow(x: np.ndarray, w: np.ndarray, b: np.ndarray,
                 act: tuple[int, float, float], out: np.ndarray) -> None:
    """``dense`` for at most ``NARROW_UNITS`` outputs, with the weight as it is, ``w`` (M,
    K): up to ``GEMV_ROWS`` rows each output is one vectorized dot product; more rows are
    one sgemm on ``w``'s transpose. OpenBLAS's sgemv is slow for few outputs (the seed
    MLP's 256 x 10: 0.48 µs, against 0.15 as dot products; 1024 x 10: 1.8 against 0.6).
    The dot products are summed in any order (``reassoc``: vectorized), as BLAS does."""
    n, k = x.shape
    m = out.shape[1]
    if not no_product(x, out):
        if n <= GEMV_ROWS:
            for i in range(n):
                xi = x[i]
                oi = out[i]
                for j in range(m):
                    wj = w[j]
                    acc = np.float32(0.0)
                    for t in range(k):
                        acc += wj[t] * xi[t]
                    oi[j] = acc
        else:
            np.dot(x, w.T, out)
    _bias_act_rows(out, b, act)


# --------------------------------------------------------------------------- normalization


# A channel affine over at least this many elements splits its planes over the threads it
# is given (DenseNet-121's batchnorm + relu before each convolution: 2.2 ms of its 66 on
# one thread)
AFFINE_PARALLEL_MIN = 32768


@_inline
def _plane_runs(planes: int, size: int, threads: int, minimum: int) -> int:
    """Work items (runs of whole planes) of a kernel over ``planes`` planes of ``size``
    elements: one per thread of ``threads`` from ``minimum`` elements, else one, which the
    kernel runs without a parallel region at all (a region of one item still wakes every
    thread: a pool of 8 planes of 14x14 took 58 µs a call after 2 ms idle, 9 without)."""
    if threads < 2 or planes < 2 or planes * size < minimum:
        return 1
    return min(threads, planes)


@_inline
def _plane_span(it: np.int64, items: int, planes: int) -> tuple[int, int]:
    """The planes of work item ``it`` of ``items``: lo .. hi-1."""
    return int(it * planes // items), int((it + 1) * planes // items)


@_inline
def _copy_floats(s_at: int, d_at: int, n: int) -> None:
    """The ``n`` floats from address ``s_at`` to ``d_at`` (not overlapping), 8 at a time,
    the last part loaded and stored masked."""
    j = 0
    while j + 8 <= n:
        vstore(d_at, j, vload(s_at, j))
        j += 8
    if j < n:
        vstoren(d_at, j, vloadn(s_at, j, n - j), n - j)


@_inline
def _split_pairs(s_at: int, e_at: int, o_at: int, n: int) -> None:
    """The ``n`` floats from address ``s_at`` split into their even ones, from ``e_at``,
    and their odd ones, from ``o_at``: 16 at a time on vectors (``simd.vunzip``), the last
    part loaded and stored masked (nothing past the row or past either half is touched).
    The stride-2 copies of im2col and of ``dwconv`` (addresses: no reference counts)."""
    j = 0
    while j + 16 <= n:
        ev, od = vunzip(vload(s_at, j), vload(s_at, j + 8))
        vstore(e_at, j // 2, ev)
        vstore(o_at, j // 2, od)
        j += 16
    if j < n:
        left = n - j
        ev, od = vunzip(vloadn(s_at, j, min(left, 8)), vloadn(s_at, j + 8, max(left - 8, 0)))
        vstoren(e_at, j // 2, ev, (left + 1) // 2)
        vstoren(o_at, j // 2, od, left // 2)


@_jit(cache=True, nogil=True, parallel=True)
def channel_affine(
    x: np.ndarray, scale: np.ndarray, shift: np.ndarray, act: tuple[int, float, float],
    out: np.ndarray, threads: int,
) -> None:
    """out[n, c, :] = act(x[n, c, :] * scale[c] + shift[c]); x/out (N, C, S), e.g. batchnorm
    with running statistics already folded into scale/shift; ``out`` may be ``x``. The
    (n, c) planes run in one run per thread of ``threads`` when there are enough elements,
    each plane's activation right after its affine, while it is in cache."""
    planes = x.shape[0] * x.shape[1]
    items = _plane_runs(planes, x.shape[2], threads, AFFINE_PARALLEL_MIN)
    if items == 1:
        _affine_planes(x, scale, shift, act, out, 0, planes)  # no parallel region at all
        return
    for it in prange(items):
        lo, hi = _plane_span(np.int64(it), items, planes)
        _affine_planes(x, scale, shift, act, out, lo, hi)


@_inline
def _affine_planes(x: np.ndarray, scale: np.ndarray, shift: np.ndarray,
                   act: tuple[int, float, float], out: np.ndarray, lo: int, hi: int) -> None:
    """Planes lo .. hi-1 (flat (n, c) indices) of ``channel_affine``."""
    c_dim, s_dim = x.shape[1], x.shape[2]
    for p in range(lo, hi):
        n = p // c_dim
        c = p - n * c_dim
        a = scale[c]
        b = shift[c]
        xr = x[n, c]
        orow = out[n, c]
        for s in range(s_dim):
            orow[s] = xr[s] * a + b
        if act[0] != ACT_NONE:
            _act_inplace(orow, act)


@_kernel
def layernorm(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float, out: np.ndarray
) -> None:
    """Normalize each row of x/out (R, C): (x - mean) / sqrt(var + eps) * gamma + beta, with
    mean and variance accumulated in float64 (two passes)."""
    r_dim, c_dim = x.shape
    for r in range(r_dim):
        s = 0.0
        for c in range(c_dim):
            s += x[r, c]
        mean = s / c_dim
        q = 0.0
        for c in range(c_dim):
            d = x[r, c] - mean
            q += d * d
        inv = 1.0 / math.sqrt(q / c_dim + eps)
        for c in range(c_dim):
            out[r, c] = (x[r, c] - mean) * inv * gamma[c] + beta[c]


@_kernel
def softmax(x: np.ndarray, out: np.ndarray, log: bool) -> None:
    """Softmax (or log-softmax) of x/out (A, B, C) over axis 1, max-subtracted for stability."""
    a_dim, b_dim, c_dim = x.shape
    for a in range(a_dim):
        for c in range(c_dim):
            m = -np.inf
            for b in range(b_dim):
                m = max(m, x[a, b, c])
            s = 0.0
            for b in range(b_dim):
                s += math.exp(x[a, b, c] - m)
            if log:
                ls = math.log(s)
                for b in range(b_dim):
                    out[a, b, c] = x[a, b, c] - m - ls
            else:
                inv = 1.0 / s
                for b in range(b_dim):
                    out[a, b, c] = math.exp(x[a, b, c] - m) * inv


# --------------------------------------------------------------------------- elementwise


@_inline
def _binop(u: float, v: float, op: int) -> float:
    if op == OP_ADD:
        return u + v
    if op == OP_SUB:
        return u - v
    if op == OP_MUL:
        return u * v
    return u / v


@_kernel
def _binary_flat(a: np.ndarray, b: np.ndarray, out: np.ndarray, op: int) -> None:
    """Same-shape elementwise op; one loop per op so each vectorizes."""
    n = out.size
    if op == OP_ADD:
        for i in range(n):
            out[i] = a[i] + b[i]
    elif op == OP_SUB:
        for i in range(n):
            out[i] = a[i] - b[i]
    elif op == OP_MUL:
        for i in range(n):
            out[i] = a[i] * b[i]
    else:
        for i in range(n):
            out[i] = a[i] / b[i]


@_kernel
def _binary_row(
    a: np.ndarray, ai: int, sa: int, b: np.ndarray, bi: int, sb: int,
    out: np.ndarray, oi: int, n: int, op: int,
) -> None:
    """out[oi + i] = a[ai + i*sa] op b[bi + i*sb] for i < n (sa, sb are 0 or 1 mostly).
    Contiguous rows are views indexed from 0, which numba can prove non-negative (an
    index from ``oi`` gets a wraparound check that keeps the loop scalar)."""
    o = out[oi:oi + n]
    if sa == 1 and sb == 1:
        _binary_flat(a[ai:ai + n], b[bi:bi + n], o, op)
    elif sa == 1 and sb == 0:
        ar = a[ai:ai + n]
        v = b[bi]
        for i in range(n):
            o[i] = _binop(ar[i], v, op)
    elif sa == 0 and sb == 1:
        u = a[ai]
        br = b[bi:bi + n]
        for i in range(n):
            o[i] = _binop(u, br[i], op)
    else:
        for i in range(n):
            o[i] = _binop(a[ai + i * sa], b[bi + i * sb], op)


@_kernel
def binary(
    a: np.ndarray, a_strides: np.ndarray, b: np.ndarray, b_strides: np.ndarray,
    out: np.ndarray, out_shape: np.ndarray, op: int,
) -> None:
    """Broadcasting ``out = a op b`` (op: 0 add, 1 sub, 2 mul, 3 div) on flat C arrays.

    ``out_shape`` is the output shape padded on the left to rank 4; ``a_strides`` and
    ``b_strides`` are the operands' element strides for those 4 dims (0 where broadcast).
    ``out`` may be ``a`` (or ``b``) when that operand has the output's shape.
    """
    d0, d1, d2, d3 = out_shape[0], out_shape[1], out_shape[2], out_shape[3]
    c2 = d3
    c1 = d2 * c2
    c0 = d1 * c1
    if (a.size == out.size and b.size == out.size and a_strides[0] == c0
            and a_strides[1] == c1 and a_strides[2] == c2 and a_strides[3] == 1
            and b_strides[0] == c0 and b_strides[1] == c1 and b_strides[2] == c2
            and b_strides[3] == 1):
        _binary_flat(a, b, out, op)
        return
    for i0 in range(d0):
        for i1 in range(d1):
            for i2 in range(d2):
                ai = i0 * a_strides[0] + i1 * a_strides[1] + i2 * a_strides[2]
                bi = i0 * b_strides[0] + i1 * b_strides[1] + i2 * b_strides[2]
                oi = i0 * c0 + i1 * c1 + i2 * c2
                _binary_row(a, ai, a_strides[3], b, bi, b_strides[3], out, oi, d3, op)


# --------------------------------------------------------------------------- reductions


@_inline
def _reduce_init(kind: int) -> float:
    if kind == RED_MAX:
        return -math.inf
    if kind == RED_MIN:
        return math.inf
    return 0.0


@_inline
def _reduce_final(acc: float, kind: int, count: int) -> float:
    if kind == RED_MEAN:
        return acc / count if count > 0 else math.nan  # numpy: the mean of nothing is NaN
    return acc


@_inline
def _combine(acc: float, v: float, kind: int) -> float:
    """One step of the reduction ``kind``; max and min propagate NaN."""
    if kind == RED_MAX:
        return v if v > acc or v != v else acc
    if kind == RED_MIN:
        return v if v < acc or v != v else acc
    return acc + v


@_kernel
def _reduce_vec(v: np.ndarray, kind: int) -> float:
    """The reduction of a 1-D array (sums in float64), four accumulators at a time (a
    single one is a chain of dependent adds: 2.3x slower on a long sum)."""
    a0 = a1 = a2 = a3 = _reduce_init(kind)
    n = v.size
    m = n - n % 4
    for i in range(0, m, 4):
        a0 = _combine(a0, v[i], kind)
        a1 = _combine(a1, v[i + 1], kind)
        a2 = _combine(a2, v[i + 2], kind)
        a3 = _combine(a3, v[i + 3], kind)
    for i in range(m, n):
        a0 = _combine(a0, v[i], kind)
    return _combine(_combine(a0, a1, kind), _combine(a2, a3, kind), kind)


@_kernel
def _reduce_row(row: np.ndarray, acc: np.ndarray, kind: int) -> None:
    """acc[c] = acc[c] op row[c]."""
    for c in range(row.size):
        acc[c] = _combine(acc[c], row[c], kind)


@_kernel
def reduce_axis(x: np.ndarray, kind: int, out: np.ndarray) -> None:
    """out (A, C) = the sum, mean, max or min (``kind``, a ``RED_*`` code) of x (A, B, C)
    over axis 1. Reducing every axis is the view (1, N, 1). Sums accumulate in float64;
    max and min propagate NaN; the mean of an empty axis is NaN."""
    a_dim, b_dim, c_dim = x.shape
    if c_dim == 1:
        for a in range(a_dim):
            out[a, 0] = _reduce_final(_reduce_vec(x[a, :, 0], kind), kind, b_dim)
        return
    acc = np.empty(c_dim, np.float64)
    for a in range(a_dim):
        acc[:] = _reduce_init(kind)
        for b in range(b_dim):
            _reduce_row(x[a, b], acc, kind)
        for c in range(c_dim):
            out[a, c] = _reduce_final(acc[c], kind, b_dim)


@_kernel
def reduce_strided(
    x: np.ndarray, x_shape: np.ndarray, out_strides: np.ndarray, kind: int, out: np.ndarray
) -> None:
    """out (flat) = the reduction ``kind`` of x (flat, C order of ``x_shape``, rank padded
    to 6) over the dims whose ``out_strides`` entry is 0 (the others are the output's
    element strides): reductions over axes that are not next to each other, e.g. (0, 2)."""
    acc = np.empty(out.size, np.float64)
    acc[:] = _reduce_init(kind)
    s0, s1, s2, s3, s4, s5 = out_strides[0], out_strides[1], out_strides[2], \
        out_strides[3], out_strides[4], out_strides[5]
    n5 = x_shape[5]
    k = 0
    for i0 in range(x_shape[0]):
        for i1 in range(x_shape[1]):
            for i2 in range(x_shape[2]):
                for i3 in range(x_shape[3]):
                    for i4 in range(x_shape[4]):
                        base = i0 * s0 + i1 * s1 + i2 * s2 + i3 * s3 + i4 * s4
                        if s5 == 0:
                            acc[base] = _combine(acc[base], _reduce_vec(x[k:k + n5], kind),
                                                 kind)
                        else:  # the last dim is kept: its output stride is 1
                            _reduce_row(x[k:k + n5], acc[base:base + n5], kind)
                        k += n5
    count = x.size // out.size if out.size > 0 else 0
    for i in range(out.size):
        out[i] = _reduce_final(acc[i], kind, count)


# --------------------------------------------------------------------------- convolution


@_kernel
def _conv_plane(
    xc: np.ndarray, wv: float, acc: np.ndarray, i0: int, sh: int, sw: int, ph: int, pw: int,
    oh_dim: int, ow_dim: int,
) -> None:
    """acc[i, j] += wv * xc[i*sh - ph + i0, j*sw - pw + ...] for one kernel tap, only where
    the tap falls inside the input (the tap's column offset is folded into ``pw``)."""
    h, w = xc.shape
    j_lo = max(0, (pw + sw - 1) // sw)
    j_hi = min(ow_dim, (w - 1 + pw) // sw + 1) if w - 1 + pw >= 0 else 0
    for i in range(oh_dim):
        r = i * sh - ph + i0
        if r < 0 or r >= h:
            continue
        for j in range(j_lo, j_hi):
            acc[i, j] += wv * xc[r, j * sw - pw]


@_kernel
def conv2d(
    x: np.ndarray, w: np.ndarray, b: np.ndarray, sh: int, sw: int, ph: int, pw: int,
    dh: int, dw: int, groups: int, act: tuple[int, float, float], out: np.ndarray,
) -> None:
    """Generic direct convolution (any stride, padding, dilation, groups): x (N, C, H, W),
    w (O, C/groups, KH, KW), b (O,) or empty, out (N, O, OH, OW) = act(conv(x, w) + b).
    1-D convolutions are called with H = KH = 1."""
    n_dim = x.shape[0]
    o_dim, cg, kh_dim, kw_dim = w.shape
    og = o_dim // groups
    oh_dim, ow_dim = out.shape[2], out.shape[3]
    for n in range(n_dim):
        for o in range(o_dim):
            acc = out[n, o]
            acc[:, :] = b[o] if b.size == o_dim else 0.0
            c0 = (o // og) * cg
            for c in range(cg):
                xc = x[n, c0 + c]
                for kh in range(kh_dim):
                    for kw in range(kw_dim):
                        _conv_plane(xc, w[o, c, kh, kw], acc, kh * dh, sh, sw, ph,
                                    pw - kw * dw, oh_dim, ow_dim)
    if act[0] != ACT_NONE:
        _act_inplace(out.reshape(out.size), act)


# --------------------------------------------------------------------------- data movement


@_kernel
def gather_rows(w: np.ndarray, idx: np.ndarray, out: np.ndarray) -> None:
    """out[i, :] = w[idx[i], :]; an index outside [0, V) gives a row of zeros (never reads out
    of bounds; the caller validates indices before the call)."""
    v_dim, d_dim = w.shape
    for i in range(idx.size):
        r = idx[i]
        if 0 <= r < v_dim:
            for d in range(d_dim):
                out[i, d] = w[r, d]
        else:
            for d in range(d_dim):
                out[i, d] = 0.0


@_kernel
def copy_block(src: np.ndarray, out: np.ndarray, offset: int) -> None:
    """out[:, offset:offset + B, :] = src for src (A, B, C), out (A, T, C) (concat)."""
    a_dim, b_dim, c_dim = src.shape
    for a in range(a_dim):
        for b in range(b_dim):
            for c in range(c_dim):
                out[a, offset + b, c] = src[a, b, c]


@_kernel
def transpose(
    x: np.ndarray, x_strides: np.ndarray, out: np.ndarray, out_shape: np.ndarray
) -> None:
    """out (flat, C order of ``out_shape``, rank padded to 6) = x (flat) read with the element
    strides ``x_strides`` (the input's strides permuted to output order)."""
    s0, s1, s2, s3, s4, s5 = x_strides[0], x_strides[1], x_strides[2], x_strides[3], \
        x_strides[4], x_strides[5]
    n5 = out_shape[5]
    k = 0
    for i0 in range(out_shape[0]):
        for i1 in range(out_shape[1]):
            for i2 in range(out_shape[2]):
                for i3 in range(out_shape[3]):
                    for i4 in range(out_shape[4]):
                        base = i0 * s0 + i1 * s1 + i2 * s2 + i3 * s3 + i4 * s4
                        if s5 == 1:  # a contiguous run (the lowering merges dims into
                            src = x[base:base + n5]  # runs as long as they go); copied
                            dst = out[k:k + n5]  # between views, whose indices can't be
                            for i5 in range(n5):  # negative, it vectorizes: ShuffleNet's
                                dst[i5] = src[i5]  # shuffle, 48 to 4.4 µs
                        else:
                            for i5 in range(n5):
                                out[k + i5] = x[base + i5 * s5]
                        k += n5
