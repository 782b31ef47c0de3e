"""numba kernels for 2-D max and average pooling and for global pooling.

Like :mod:`shapegraph.executor.kernels`: float32, C-contiguous, the output preallocated and
passed last, nothing returned; shapes are validated before any call (the output sizes come
from ``out``, so ceil-mode windows need nothing more). The semantics are
``pool_reference``'s (:mod:`shapegraph.opset.conv`): window positions outside the input
are ignored by a max (a window with none gives -inf) and NaN propagates like
``np.maximum``; an average divides by the window positions inside the padded input
(``count_include_pad``) or inside the input (at least 1).

A 2-D pool is computed separably, one output row at a time: the rows of its window are
reduced column by column into a row buffer (contiguous, vectorized), then the buffer's
columns are reduced across the window. For a stride of 2 or more the buffer is first split
into its stride phases, so that each window column is a contiguous slice too: SqueezeNet's
3x3 stride-2 max pool over 64 x 111 x 111 went from 1.45 ms (windows read element by
element) to 0.3 ms. A stride-1 pool that keeps the size (Inception's 3x3 pad-1 pools) runs
``pool_same``: where its window reaches at most one column to either side, one pass over
each output row on 8-lane vectors, the row's neighbours one lane away through lane shifts
(``simd.vprev``, ``simd.vnext``); otherwise on whole planes, since their rows (13 or 27
columns) are too short to vectorize one by one. Windows that all lie inside planes of up to 56x56
(most strided pools of the light models but their stems) are reduced over chunks of whole
planes at once instead (``pool_plane``): a loop over a row of 13 or 27 output columns runs
as scalar code, and a flat pass over many planes does not. Stride-2 max pools of up to
3x3 with rows of 8 outputs or more, or with windows the padding clips, run ``maxpool_s2``
instead, on 8-lane vectors (``simd``). The lowering picks the path for each step (``runs_s2``,
``runs_plane``, ``runs_same``); ``maxpool2d`` and ``avgpool2d`` pick it at run
time. Generated plans see these names through the header of
:mod:`shapegraph.executor.codegen`.

>>> import numpy as np
>>> x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
>>> out = np.empty((1, 1, 2, 2), np.float32)
>>> maxpool2d(x, 2, 2, 2, 2, 0, 0, out); out[0, 0].tolist()
[[5.0, 7.0], [13.0, 15.0]]
>>> avgpool2d(x, 3, 3, 2, 2, 1, 1, False, out); out[0, 0].tolist()
[[2.5, 4.0], [8.5, 10.0]]
"""

from __future__ import annotations

from typing import Any

import numpy as np

from shapegraph.executor.jit import prange
from shapegraph.executor.kernels import _jit, _plane_runs, _plane_span
from shapegraph.executor.simd import (
    address,
    keep,
    vadd,
    vdiv,
    vload,
    vloadn,
    vloadnf,
    vmax,
    vnext,
    vprev,
    vsplat,
    vstore,
    vstoren,
    vunzip,
    vzero,
)

__all__ = ["avgpool2d", "global_pool", "maxpool2d", "maxpool_s2", "pool_plane", "pool_rows",
           "pool_same", "runs_plane", "runs_s2", "runs_same", "s2_row"]

# numpy's error model: a float division is not checked for a zero divisor (every divisor
# here is at least 1), so it vectorizes (256 x 28 x 28 average's divisions: 164 µs to 19)
_kernel = _jit(cache=True, nogil=True, error_model="numpy")
_parallel = _jit(cache=True, nogil=True, error_model="numpy", parallel=True)
_inline = _jit(inline="always")

# A pool over at least this many input elements splits its planes over the threads it is
# given (a parallel region costs about 2 µs while OpenMP's threads spin, jit.py; such a
# pool takes 15 µs or more on one); a smaller one runs no parallel region (_plane_runs)
POOL_PARALLEL_MIN = 32768


@_inline
def _window(o: int, s: int, p: int, k: int, n: int) -> tuple[int, int, int, int]:
    """Window of output position ``o``: (first, last+1) clipped to the input [0, n), the
    number of window positions inside the padded input [-p, n + p), and inside the input."""
    start = o * s - p
    stop = start + k
    lo = max(start, 0)
    hi = min(stop, n)
    padded = max(min(stop, n + p) - max(start, -p), 0)
    return lo, hi, padded, max(hi - lo, 0)


@_inline
def _col_range(q: int, s: int, p: int, w: int, ow: int) -> tuple[int, int]:
    """Output columns j whose window column q (input column j*s - p + q) is inside [0, w)."""
    lo = max(0, (p - q + s - 1) // s) if p - q > 0 else 0
    hi = min(ow, (w - 1 + p - q) // s + 1) if w - 1 + p - q >= 0 else 0
    return lo, hi


@_inline
def _reduce_columns(buf: np.ndarray, phases: np.ndarray, sw: int, kw: int, is_max: bool,
                    orow: np.ndarray) -> None:
    """orow[j] = reduce over q < kw of buf[j*sw + q]. At stride 1 the window columns are
    slices of ``buf``; otherwise ``buf`` is first split into its ``sw`` phases
    (phase r holds buf[r], buf[sw + r], ...), so that column q is the slice of phase
    q % sw from q // sw."""
    ow = orow.size
    src = buf
    pitch = 0
    if sw > 1:
        pitch = ow + (kw - 1) // sw
        if sw == 2:  # a literal stride: the split vectorizes
            for u in range(pitch):
                phases[u] = buf[2 * u]
                phases[pitch + u] = buf[2 * u + 1]
        else:
            for r in range(sw):
                for u in range(pitch):
                    phases[r * pitch + u] = buf[u * sw + r]
        src = phases
    for j in range(ow):
        orow[j] = src[j]
    for q in range(1, kw):
        a = q // sw
        _combine(orow, 0, src, (q - a * sw) * pitch + a, ow, is_max)


@_inline
def _mx(m: float, v: float) -> float:
    """max(m, v) with NaN from either side propagating, like ``np.maximum``."""
    return v if v > m or v != v else m


@_inline
def _combine(dst: np.ndarray, d0: int, src: np.ndarray, s0: int, n: int,
             is_max: bool) -> None:
    """dst[d0 + t] = dst[d0 + t] op src[s0 + t] for t < n, on views from d0 and s0 (max:
    NaN propagates like np.maximum)."""
    dv = dst[d0:d0 + n]
    sv = src[s0:s0 + n]
    if is_max:
        for t in range(n):
            dv[t] = _mx(dv[t], sv[t])
    else:
        for t in range(n):
            dv[t] += sv[t]


@_parallel
def pool_same(x: np.ndarray, kh: int, kw: int, ph: int, pw: int, is_max: bool,
              count_include_pad: bool, out: np.ndarray, threads: int) -> None:
    """A stride-1 pool whose output has the input's size (Inception's 3x3 pad-1 pools),
    one whole plane at a time: each window row is one shifted add (or max) over the flat
    plane, and so is each window column, whose few elements that wrap into the next row
    are then computed again at the row ends. Rows of 13 or 27 columns are too short to
    vectorize one at a time (512 x 13 x 13 max: 0.28 ms row by row, 0.11 whole)."""
    n_dim, c_dim, h, w = x.shape
    hw = h * w
    xf = x.reshape(x.size)
    of = out.reshape(out.size)
    div = np.empty(0 if is_max else hw, np.float32)  # an average's divisor, by position
    for i in range(h if not is_max else 0):
        _, _, rp, rn = _window(i, 1, ph, kh, h)
        for j in range(w):
            _, _, cp, cn = _window(j, 1, pw, kw, w)
            div[i * w + j] = max(rp * cp if count_include_pad else rn * cn, 1)
    planes = n_dim * c_dim
    items = _plane_runs(planes, hw, threads, POOL_PARALLEL_MIN)
    rows = kw - 1 - pw <= 1 and pw <= 1  # a window of a column or two to each side at most
    if items == 1:
        if rows:
            _same_rows(xf, of, h, w, kh, ph, pw, kw - 1 - pw, is_max, div, np.int64(0),
                       planes)
        else:
            _same_planes(xf, of, h, w, kh, kw, ph, pw, is_max, div, np.int64(0), planes)
        return
    for it in prange(items):
        lo, hi = _plane_span(np.int64(it), items, planes)
        if rows:
            _same_rows(xf, of, h, w, kh, ph, pw, kw - 1 - pw, is_max, div, lo, hi)
        else:
            _same_planes(xf, of, h, w, kh, kw, ph, pw, is_max, div, lo, hi)


@_kernel
def _same_rows(xf: np.ndarray, of: np.ndarray, h: int, w: int, kh: int, ph: int, pw: int,
               rt: int, is_max: bool, div: np.ndarray, lo: int | np.int64, hi: int) -> None:
    """Planes lo .. hi-1 of ``pool_same`` where the window reaches at most one column to
    either side (``rt`` = kw - 1 - pw <= 1, pw <= 1: Inception's 3x3 pad-1 pools), one row at
    a time on 8-lane vectors: each vector of the row is the window rows' sum (or maximum)
    there, combined with the lane before it and after it (``vprev``, ``vnext``); the lanes
    past the row's end load as 0 for a sum and -inf for a maximum (the window positions
    outside are ignored). One pass, where ``_same_planes`` makes eight over each plane
    (576 x 14 x 14 3x3 average, one thread: 132 µs to 71; ONNX Runtime, on channel
    blocks, 33)."""
    if is_max:  # (each a copy with the flag constant: no branch on it in the loops)
        _rows_pass(xf, of, h, w, kh, ph, pw, rt, True, div, lo, hi)
    else:
        _rows_pass(xf, of, h, w, kh, ph, pw, rt, False, div, lo, hi)


@_inline
def _rows_pass(xf: np.ndarray, of: np.ndarray, h: int, w: int, kh: int, ph: int, pw: int,
               rt: int, is_max: bool, div: np.ndarray, lo: int | np.int64, hi: int) -> None:
    """``_same_rows``'s loops."""
    hw = h * w
    nv = (w + 7) // 8
    last = w - 8 * (nv - 1)  # the last vector's lanes in the row
    fill = np.float32(-np.inf) if is_max else np.float32(0.0)
    fv = vsplat(fill)
    for plane in range(lo, hi):
        base = plane * hw
        for i in range(h):
            r0, r1 = max(0, i - ph), min(h, i - ph + kh)
            prev = fv
            cur = _window_rows(xf, base + 8 * 0, w, r0, r1, 8 if nv > 1 else last, is_max,
                               fill)
            for q in range(nv):
                nxt = fv
                if q + 1 < nv:
                    nxt = _window_rows(xf, base + 8 * (q + 1), w, r0, r1,
                                       8 if q + 2 < nv else last, is_max, fill)
                acc = cur
                if pw == 1:
                    acc = vmax(acc, vprev(prev, cur)) if is_max else vadd(acc, vprev(prev, cur))
                if rt == 1:
                    acc = vmax(acc, vnext(cur, nxt)) if is_max else vadd(acc, vnext(cur, nxt))
                at = i * w + 8 * q
                n = 8 if q + 1 < nv else last
                if not is_max:
                    acc = vdiv(acc, vload(div, at) if n == 8
                               else vloadnf(div, at, n, np.float32(1.0)))
                if n == 8:
                    vstore(of, base + at, acc)
                else:
                    vstoren(of, base + at, acc, n)
                prev, cur = cur, nxt


@_inline
def _window_rows(xf: np.ndarray, at: int, w: int, r0: int, r1: int, n: int, is_max: bool,
                 fill: np.float32) -> Any:
    """The sum (or maximum) over rows r0 .. r1-1 of the n <= 8 floats from ``at`` in each
    (rows ``w`` apart), the other lanes ``fill``."""
    if n == 8:  # (a masked load builds its mask each time; one loop choosing its load
        # per row ran 20% slower: the choice is not taken out of the loop)
        v = vload(xf, at + r0 * w)
        for r in range(r0 + 1, r1):
            u = vload(xf, at + r * w)
            v = vmax(v, u) if is_max else vadd(v, u)
        return v
    v = vloadnf(xf, at + r0 * w, n, fill)
    for r in range(r0 + 1, r1):
        u = vloadnf(xf, at + r * w, n, fill)
        v = vmax(v, u) if is_max else vadd(v, u)
    return v


@_kernel
def _same_planes(xf: np.ndarray, of: np.ndarray, h: int, w: int, kh: int, kw: int,
                 ph: int, pw: int, is_max: bool, div: np.ndarray, lo: int | np.int64, hi: int
                 ) -> None:
    """Planes lo .. hi-1 of ``pool_same`` (``xf``, ``of``: the input and output, flat)."""
    hw = h * w
    v = np.empty(hw, np.float32)
    right = kw - 1 - pw  # window columns right of the centre
    for plane in range(lo, hi):
        xp = xf[plane * hw:(plane + 1) * hw]
        op = of[plane * hw:(plane + 1) * hw]
        for t in range(hw):  # window row ph: the row itself (ph < kh)
            v[t] = xp[t]
        for r in range(kh):
            d = r - ph  # output row i reads input row i + d
            if d < 0:
                _combine(v, -d * w, xp, 0, (h + d) * w, is_max)
            elif d > 0:
                _combine(v, 0, xp, d * w, (h - d) * w, is_max)
        for t in range(hw):
            op[t] = v[t]
        for q in range(kw):
            e = q - pw
            if e < 0:
                _combine(op, -e, v, 0, hw + e, is_max)
            elif e > 0:
                _combine(op, 0, v, e, hw - e, is_max)
        for jj in range(pw + right):  # the columns whose window crosses a row end, again
            j = jj if jj < pw else w - right + (jj - pw)
            if j < 0 or j >= w:
                continue
            c_lo, c_hi, _, _ = _window(j, 1, pw, kw, w)
            for i in range(h):
                acc = v[i * w + c_lo]
                for t in range(c_lo + 1, c_hi):
                    u = v[i * w + t]
                    if is_max:
                        acc = _mx(acc, u)
                    else:
                        acc += u
                op[i * w + j] = acc
        if not is_max:
            for t in range(hw):
                op[t] = op[t] / div[t]


# Pools whose windows all lie inside planes of at most this many pixels run ``pool_plane``
# (one thread, against ``pool_rows``: 832 x 13 x 13, 3x3 stride 2: 0.062 ms against
# 0.254, ONNX Runtime 0.037; 480 x 27 x 27: 0.16 against 0.37; 128 x 55 x 55: 0.17
# against 0.23; 512 x 14 x 14, 2x2: 0.038 against 0.152; but 64 x 111 x 111: 0.36 against
# 0.30, its passes leave L1)
PLANE_MAX_PIXELS = 56 * 56
PLANE_CHUNK = 4096  # floats of planes per pass of ``pool_plane`` (at least one plane)


@_inline
def _taps(dst: np.ndarray, src: np.ndarray, k: int, d: int, n: int, is_max: bool) -> None:
    """dst[t] = src[t] op src[t + d] op ... op src[t + (k-1)d] for t < n, in one flat loop
    for windows of 2 or 3 (on views indexed from 0, and with the branches outside the
    loops, so that each one vectorizes)."""
    dv = dst[:n]
    s0 = src[:n]
    s1 = src[d:d + n]
    s2 = src[2 * d:2 * d + n] if k == 3 else s1
    if k == 3 and is_max:
        for t in range(n):
            dv[t] = _mx(_mx(s0[t], s1[t]), s2[t])
    elif k == 3:
        for t in range(n):
            dv[t] = (s0[t] + s1[t]) + s2[t]
    elif k == 2 and is_max:
        for t in range(n):
            dv[t] = _mx(s0[t], s1[t])
    else:
        for t in range(n):
            dv[t] = s0[t]
        for q in range(1, k):
            _combine(dst, 0, src, q * d, n, is_max)


def runs_plane(h: int, w: int, kh: int, kw: int, sh: int, sw: int, ph: int, pw: int,
               oh: int, ow: int) -> bool:
    """Whether a 2-D pool runs ``pool_plane``: every window inside a small plane."""
    return (ph == 0 and pw == 0 and (oh - 1) * sh + kh <= h and (ow - 1) * sw + kw <= w
            and h * w <= PLANE_MAX_PIXELS)


_runs_plane = _inline(runs_plane)


@_parallel
def pool_plane(x: np.ndarray, kh: int, kw: int, sh: int, sw: int, is_max: bool,
               out: np.ndarray, threads: int) -> None:
    """A 2-D pool whose windows all lie inside its small planes (``runs_plane``), a chunk
    of whole planes at a time in flat passes, none of them a loop over one row (a vector
    loop over 13 columns runs as scalar code): the windows are reduced along the rows at
    stride 1 over the whole chunk, then along the columns, and every output picks its
    value. Windows that cross a row or plane end give values no output picks."""
    n_dim, c_dim, h, w = x.shape
    planes = n_dim * c_dim
    items = _plane_runs(planes, h * w, threads, POOL_PARALLEL_MIN)
    if items == 1:
        _plane_chunks(x, kh, kw, sh, sw, is_max, out, np.int64(0), planes)
        return
    for it in prange(items):
        lo, hi = _plane_span(np.int64(it), items, planes)
        _plane_chunks(x, kh, kw, sh, sw, is_max, out, lo, hi)


@_kernel
def _plane_chunks(x: np.ndarray, kh: int, kw: int, sh: int, sw: int, is_max: bool,
                  out: np.ndarray, lo: int | np.int64, hi: int) -> None:
    """Planes lo .. hi-1 of ``pool_plane``, a chunk at a time."""
    h, w = x.shape[2], x.shape[3]
    oh, ow = out.shape[2], out.shape[3]
    pb = h * w
    chunk = min(max(PLANE_CHUNK // pb, 1), hi - lo)
    hz = np.empty(chunk * pb, np.float32)
    vt = np.empty(chunk * pb, np.float32)
    area = np.float32(kh * kw)
    last = (oh - 1) * sh * w + (ow - 1) * sw + 1  # one past a plane's last pick
    xf = x.reshape(x.size)
    of = out.reshape(out.size)
    for p0 in range(lo, hi, chunk):
        np_ = min(chunk, hi - p0)
        _taps(hz, xf[p0 * pb:(p0 + np_) * pb], kw, 1, np_ * pb - (kw - 1), is_max)
        _taps(vt, hz, kh, w, (np_ - 1) * pb + last, is_max)
        ops = of[p0 * oh * ow:(p0 + np_) * oh * ow]
        j = 0
        row = 0
        v = 0
        for t in range(np_ * oh * ow):  # the picks, row and plane ends by counting
            ops[t] = vt[v] if is_max else vt[v] / area
            j += 1
            v += sw
            if j == ow:
                j = 0
                row += 1
                v += sh * w - ow * sw
                if row == oh:
                    row = 0
                    v += pb - oh * sh * w


def runs_s2(h: int, w: int, kh: int, kw: int, sh: int, sw: int, ph: int, pw: int,
            oh: int, ow: int) -> bool:
    """Whether a max pool runs ``maxpool_s2`` (the caller knows it is a max): stride 2, a
    window of at most 3 x 3 (2 or 3 columns), padded before by less than the window,
    every window with a row and a column inside the input (a max pool's padding never
    wins: a window is clipped to the input), and output rows of 8 columns or more
    (SqueezeNet's three 3x3 pools, one thread, against ``pool_rows`` over 64 x 111 x 111
    and ``pool_plane`` over 128 x 55 x 55 and 256 x 27 x 27, in benchmarks/README.md
    "Stop 28"), or of any length where a window is clipped (``pool_plane`` takes no
    padding: Inception v2's three 3x3 pools padded after, [0, 0, 1, 1], took 0.32-0.51
    ms each on ``pool_rows``, one thread, and take 0.06-0.16 here, since stop 39; on
    shorter rows inside the input ``pool_plane`` is faster: 256 x 13 x 13, 19 µs against
    24)."""
    clipped = ph > 0 or pw > 0 or (oh - 1) * 2 + kh > h or (ow - 1) * 2 + kw > w
    return (sh == 2 and sw == 2 and 0 <= ph < kh and 0 <= pw < kw and 1 <= kh <= 3
            and 2 <= kw <= 3 and (oh - 1) * 2 - ph < h and (ow - 1) * 2 - pw < w
            and (ow >= 8 or clipped))


@_parallel
def maxpool_s2(x: np.ndarray, kh: int, kw: int, ph: int, pw: int, out: np.ndarray,
               threads: int) -> None:
    """A stride-2 max pool with ``ph`` rows and ``pw`` columns of padding before
    (``runs_s2``; any after: the output's size says), one output row at a time on 8-lane
    vectors: its window rows' maximum (the rows inside the input), then each output's 2
    or 3 columns of it, split into even and odd columns in registers
    (``simd.vunzip``)."""
    n_dim, c_dim, h, w = x.shape
    planes = n_dim * c_dim
    items = _plane_runs(planes, h * w, threads, POOL_PARALLEL_MIN)
    if items == 1:
        _s2_planes(x, kh, kw, ph, pw, out, np.int64(0), planes)
        return
    for it in prange(items):
        lo, hi = _plane_span(np.int64(it), items, planes)
        _s2_planes(x, kh, kw, ph, pw, out, lo, hi)


@_kernel
def _s2_planes(x: np.ndarray, kh: int, kw: int, ph: int, pw: int, out: np.ndarray,
               lo: int | np.int64, hi: int) -> None:
    """Planes lo .. hi-1 of ``maxpool_s2``."""
    h, w = x.shape[2], x.shape[3]
    oh, ow = out.shape[2], out.shape[3]
    # a window's rows' maximum, from column -pw (room for whole vectors); the columns
    # outside the input stay -inf: a padding column never wins
    m = np.full(w + 48 + pw, -np.inf, np.float32)
    xa, ma, oa = address(x), address(m), address(out)
    for plane in range(lo, hi):
        for i in range(oh):
            r0 = max(2 * i - ph, 0)
            rows = min(2 * i - ph + kh, h) - r0
            s2_row(xa, (plane * h + r0) * w, w, rows, kw, pw, ma, oa,
                   (plane * oh + i) * ow, ow)
    keep(m)  # (its address was used up to here: ``simd.keep``)


@_inline
def s2_row(xa: int, r0: int, w: int, kh: int, kw: int, pw: int, ma: int, oa: int, o0: int,
           ow: int) -> None:
    """One output row of a stride-2 max pool: the ``ow`` floats from element o0 at address
    ``oa`` = the maxima of the ``kh`` x ``kw`` windows at columns -pw, 2 - pw, .. of the
    ``kh`` rows of ``w`` floats from element r0 at address ``xa`` (a window's columns
    outside the rows ignored). ``ma``: room for the window rows' maximum (``w`` + 48 +
    ``pw`` floats), its first ``pw`` and every one from ``pw + w`` on -inf. Addresses,
    not arrays: an inlined function's array arguments cost a reference count taken and
    dropped (two calls) every row, which was half of SqueezeNet's 128 x 55 x 55 pool
    (131 µs, 75 with addresses)."""
    for t in range(0, w - 7, 8):  # m = the window rows' maximum, column by column
        v = vload(xa, r0 + t)
        for r in range(1, kh):
            v = vmax(v, vload(xa, r0 + r * w + t))
        vstore(ma, pw + t, v)
    t = w // 8 * 8
    if t < w:  # (a last part vector: nothing past the row is read, -inf after it)
        v = vloadnf(xa, r0 + t, w - t, np.float32(-np.inf))
        for r in range(1, kh):
            v = vmax(v, vloadnf(xa, r0 + r * w + t, w - t, np.float32(-np.inf)))
        vstore(ma, pw + t, v)
    # out[j] = max(m[2j], m[2j + 1] (, m[2j + 2])): m's even and odd columns, the evens of
    # the next 8 outputs' read ahead for m[2j + 2] (``vnext``; m is read only where it was
    # stored whole: a load across two recent stores waits for both)
    ev, od = vunzip(vload(ma, 0), vload(ma, 8))
    for j in range(0, ow, 8):
        ev_next, od_next = vunzip(vload(ma, 2 * j + 16), vload(ma, 2 * j + 24))
        v = vmax(ev, od)
        if kw == 3:
            v = vmax(v, vnext(ev, ev_next))
        n = min(8, ow - j)
        if n == 8:
            vstore(oa, o0 + j, v)
        else:
            vstoren(oa, o0 + j, v, n)
        ev, od = ev_next, od_next


def runs_same(h: int, w: int, kh: int, kw: int, sh: int, sw: int, ph: int, pw: int,
              oh: int, ow: int) -> bool:
    """Whether a 2-D pool over (h, w) planes runs ``pool_same`` (else ``pool_rows``). The
    lowering asks this once per step and emits the one kernel, so that a model compiles
    only the paths it runs (ResNet-50's pools took 5.8 s of its cold compile with both
    paths behind every call). It wins at every plane size measured (3x3 pad 1, one thread,
    against ``pool_rows``: 576 x 14 x 14 average 0.11 ms against 0.42; 64 x 56 x 56 0.11
    against 0.21; 32 x 112 x 112 0.25 against 0.36; max pools likewise)."""
    return sh == 1 and sw == 1 and oh == h and ow == w and ph < kh and pw < kw


_runs_same = _inline(runs_same)
_runs_s2 = _inline(runs_s2)


@_inline
def _pool2d(x: np.ndarray, kh: int, kw: int, sh: int, sw: int, ph: int, pw: int,
            is_max: bool, count_include_pad: bool, out: np.ndarray) -> None:
    """Any of the three paths, chosen at run time (``maxpool2d`` and ``avgpool2d``; plans
    call the path their step needs directly)."""
    if is_max and _runs_s2(x.shape[2], x.shape[3], kh, kw, sh, sw, ph, pw, out.shape[2],
                           out.shape[3]):
        maxpool_s2(x, kh, kw, ph, pw, out, 1)
    elif _runs_plane(x.shape[2], x.shape[3], kh, kw, sh, sw, ph, pw, out.shape[2],
                     out.shape[3]):
        pool_plane(x, kh, kw, sh, sw, is_max, out, 1)
    elif _runs_same(x.shape[2], x.shape[3], kh, kw, sh, sw, ph, pw, out.shape[2],
                    out.shape[3]):
        pool_same(x, kh, kw, ph, pw, is_max, count_include_pad, out, 1)
    else:
        pool_rows(x, kh, kw, sh, sw, ph, pw, is_max, count_include_pad, out, 1)


@_parallel
def pool_rows(x: np.ndarray, kh: int, kw: int, sh: int, sw: int, ph: int, pw: int,
              is_max: bool, count_include_pad: bool, out: np.ndarray, threads: int) -> None:
    """Any 2-D pool, one output row at a time (the module docstring's separable scheme)."""
    n_dim, c_dim, h, w = x.shape
    ow_dim = out.shape[3]
    cols = np.empty(ow_dim, np.float32)  # each output column's divisor part, once
    for j in range(ow_dim):
        _, _, padded, inside = _window(j, sw, pw, kw, w)
        cols[j] = padded if count_include_pad else inside
    planes = n_dim * c_dim
    items = _plane_runs(planes, h * w, threads, POOL_PARALLEL_MIN)
    if items == 1:
        _rows_planes(x, kh, kw, sh, sw, ph, pw, is_max, count_include_pad, out, cols,
                     np.int64(0), planes)
        return
    for it in prange(items):
        lo, hi = _plane_span(np.int64(it), items, planes)
        _rows_planes(x, kh, kw, sh, sw, ph, pw, is_max, count_include_pad, out, cols, lo,
                     hi)


@_kernel
def _rows_planes(x: np.ndarray, kh: int, kw: int, sh: int, sw: int, ph: int, pw: int,
                 is_max: bool, count_include_pad: bool, out: np.ndarray, cols: np.ndarray,
                 lo: int | np.int64, hi: int) -> None:
    """Planes lo .. hi-1 of ``pool_rows``."""
    h, w = x.shape[2], x.shape[3]
    oh_dim, ow_dim = out.shape[2], out.shape[3]
    bw = (ow_dim - 1) * sw + kw  # buffer column b is input column b - pw
    wn = max(min(w, bw - pw), 0)  # the input columns some window covers
    init = np.float32(-np.inf) if is_max else np.float32(0.0)
    # the padding columns are never written: they keep the value that ignores them
    buf = np.full(max(bw, pw + wn) + sw, init, np.float32)
    phases = np.empty(buf.size + sw * kw, np.float32)
    xf = x.reshape(x.size)
    of = out.reshape(out.size)
    mid = buf[pw:pw + wn]
    for plane in range(lo, hi):
        xp = xf[plane * h * w:(plane + 1) * h * w]
        for i in range(oh_dim):
            h0, h1, padded, inside = _window(i, sh, ph, kh, h)
            if h1 <= h0:  # a ceil-mode window wholly in the padding
                mid[:] = init
            else:
                r0 = xp[h0 * w:h0 * w + wn]
                for t in range(wn):
                    mid[t] = r0[t]
                for r in range(h0 + 1, h1):
                    _combine(mid, 0, xp, r * w, wn, is_max)
            o0 = (plane * oh_dim + i) * ow_dim
            orow = of[o0:o0 + ow_dim]
            _reduce_columns(buf, phases, sw, kw, is_max, orow)
            if not is_max:
                rows = np.float32(padded if count_include_pad else inside)
                for j in range(ow_dim):
                    orow[j] = orow[j] / max(rows * cols[j], np.float32(1.0))


@_kernel
def maxpool2d(
    x: np.ndarray, kh: int, kw: int, sh: int, sw: int, ph: int, pw: int, out: np.ndarray
) -> None:
    """Max pooling x (N, C, H, W) -> out (N, C, OH, OW) with window (kh, kw), strides
    (sh, sw) and leading padding (ph, pw); OH/OW come from ``out``."""
    _pool2d(x, kh, kw, sh, sw, ph, pw, True, False, out)


@_kernel
def avgpool2d(
    x: np.ndarray, kh: int, kw: int, sh: int, sw: int, ph: int, pw: int,
    count_include_pad: bool, out: np.ndarray,
) -> None:
    """Average pooling x (N, C, H, W) -> out (N, C, OH, OW) (OH/OW from ``out``)."""
    _pool2d(x, kh, kw, sh, sw, ph, pw, False, count_include_pad, out)


@_kernel
def global_pool(x: np.ndarray, is_max: bool, out: np.ndarray) -> None:
    """out[n, c] = max or mean of x[n, c, :]; x (N, C, S) C-contiguous, out (N, C). A mean
    sums its plane in two 8-lane vectors of float32 partial sums (a lane sums one float
    in 16), added up in float64: SqueezeNet's 1000 x 169 average 49 -> 10 µs against
    eight float64 running sums (a scalar add an element), its error against float64
    2e-8 (numpy's float32 mean: 3e-8)."""
    n_dim, c_dim, s_dim = x.shape
    if not x.flags.c_contiguous:
        raise ValueError("global_pool: the input is not C-contiguous")
    if is_max:
        for n in range(n_dim):
            for c in range(c_dim):
                m = -np.inf
                for s in range(s_dim):
                    v = x[n, c, s]
                    if v > m or v != v:
                        m = v
                out[n, c] = m
        return
    xa = address(x)
    lanes = np.empty(8, np.float32)
    la = address(lanes)
    for p in range(n_dim * c_dim):
        k = p * s_dim
        e = k + s_dim
        a, b = vzero(), vzero()
        while k + 16 <= e:
            a = vadd(a, vload(xa, k))
            b = vadd(b, vload(xa, k + 8))
            k += 16
        if k + 8 <= e:
            a = vadd(a, vload(xa, k))
            k += 8
        if k < e:  # (the lanes past the plane load as zeros)
            b = vadd(b, vloadn(xa, k, e - k))
        vstore(la, 0, vadd(a, b))
        total = 0.0
        for i in range(8):
            total += lanes[i]
        out[p // c_dim, p % c_dim] = total / s_dim
    keep(lanes)  # (used through its address up to here: ``simd.keep``)
