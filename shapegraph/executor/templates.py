"""Source templates for shape-specialized numba kernels, and their weight packers.

Each ``*_source`` function returns ``(source, function_name)``: the source of one
``@njit(cache=True, nogil=True, ...)`` function with every static quantity (channels, kernel
size, stride, padding, dilation, groups, spatial sizes, activation, bias/residual flags)
inlined as a literal, so LLVM can unroll and vectorize. The batch is not one of them: it is
read from the arrays at run time, so a new batch size compiles nothing. The source relies
only on ``np``, ``njit``, ``prange``, the names of :mod:`shapegraph.executor.kernels`,
:mod:`shapegraph.executor.kernels_gemm` and :mod:`shapegraph.executor.simd`, and
``kernels_vgemm.vgemm_tile`` (the tile of 48 columns directly: ``vgemm_tile48``).
Each template has a packing function (numpy, run once at plan time) that lays the parameters
out for the kernel.

Convolution algorithms (``conv2d_source`` picks one per shape; all work on a zero-padded copy
of (part of) one image per work item and fuse bias, residual and activation into the
output pass):

* ``wino``: Winograd F(2x2, 3x3) for stride-1 3x3 convolutions with rows of 8k output
  tiles and 8+ input and output channels (ResNet's 16 channels at 32x32), in work items of
  a block of tile rows: its input rows split into even and odd columns, the input
  transform on 8-lane vectors (``simd``) along a row of tiles, 16 small GEMMs on ``vgemm``'s
  register tile, the inverse transform + epilogue. 2.25x fewer multiplies than direct;
  float32 error ~1e-5.
* ``vo``: direct, vectorized along the output channels of a group (>= 16) with a register
  tile of up to 8 output columns; for small output planes (<= 256 pixels, LeNet's conv2)
  whose flattened plane would waste vector lanes. Weights packed [g][c][kh][kw][o].
* ``flat``: direct, stride 1, vectorized along the *flattened* padded output plane (output
  row ``i`` column ``j`` lives at ``i*Wp + j``, so every tap is one contiguous shifted load
  and all taps of a channel are summed in registers before one accumulator update), two
  output channels per pass for kernels of <= 16 taps.
* ``rows``: the same for strided convolutions, looping over output rows.

The direct algorithms' output pass may also take the stride-2 max pool after the
convolution (``pool``, ``template_pools``: LeNet's): it stores each window's maximum, then
the activation, and the convolution's output is never written.

Problems of at least ``PARALLEL_MIN_FLOPS`` (decided at run time, for the batch given) run
their work items (images, each in output-channel halves when one image is that large) with
``prange``. All index arithmetic is built from range variables and
slice views so numba can prove indices non-negative: otherwise its wraparound check turns
every vector load into a gather (measured 8x slower).

>>> import numpy as np
>>> from shapegraph.executor import kernels
>>> src, name = conv2d_source(1, 1, 4, 4, 2, 3, 3, 1, 1, 1, 1, 1, 1, 1, (0, 0.0, 0.0),
...                           True, False)
>>> ns = {"np": np, "prange": range, **vars(kernels)}
>>> ns["njit"] = lambda **kw: (lambda f: kernels.njit(**{**kw, "cache": False})(f))
>>> exec(src, ns)
>>> w = np.ones((2, 1, 3, 3), np.float32); x = np.ones((1, 1, 4, 4), np.float32)
>>> out = np.empty((1, 2, 4, 4), np.float32); e = np.empty((0, 0, 0, 0), np.float32)
>>> ns[name](x, pack_conv2d_weight(w, 1, 1, 4, 4, 2, 3, 3, 1, 1, 1, 1, 1, 1, 1),
...          np.zeros(2, np.float32), e, out)
>>> out[0, 0].tolist()[0]
[4.0, 6.0, 6.0, 4.0]
"""

from __future__ import annotations

import zlib
from typing import NamedTuple, TypeAlias

import numpy as np

from shapegraph.executor.kernels import ACT_NONE, ACT_RELU
from shapegraph.executor.kernels_vgemm import WIDE
from shapegraph.executor.steps import Act, literal

__all__ = [
    "POOL_ALGOS",
    "ConvArgs",
    "ConvConfig",
    "conv2d_config",
    "conv2d_source",
    "maxpool2d_source",
    "maxpool2d_unrolls",
    "pack_conv2d_weight",
    "pack_wino4_gemm",
    "pack_wino_gemm",
    "pooled_size",
    "template_pools",
]

# (N, C, H, W, O, KH, KW, SH, SW, PH, PW, DH, DW, groups): annotate a splatted configuration
# with this so mypy can count the arguments of conv2d_source / pack_conv2d_weight.
ConvArgs: TypeAlias = tuple[int, int, int, int, int, int, int, int, int, int, int, int, int,
                            int]

# A convolution with fewer floating point operations than this runs on one thread: the
# parallel region's fork/join costs more than it saves. Measured: 2-4 µs per region while
# OpenMP's threads spin between regions (jit.py: about 1 ms), 40-55 µs when they sleep (a
# sleeping vCPU is slow to wake; the threshold was 10 MFLOP then). ResNet blocks (4.7 MFLOP
# convolutions) at batch 1 on two threads: 318 µs serial, 223-232 with 0.5-2 MFLOP.
PARALLEL_MIN_FLOPS = 1_000_000
PARALLEL_COMPILE_MIN_FLOPS = 10_000_000
# Output planes up to this size with at least this many output channels per group are
# vectorized along the output channels ("vo"): a short flat plane wastes vector lanes.
VO_MIN_CHANNELS = 16
VO_MAX_PLANE = 256
WINO_M = 2  # Winograd output tile
WINO_ROW_TILES = 8  # tiles a row must be a multiple of (vectors of 8 tiles)
WINO_BLOCK_TILES = 48  # tiles per work item of "wino" (at least; rows of tiles)
FLAT_MR = 2  # "flat"/"rows": output channels per pass over the input
VO_JB = 8  # output columns per register tile (accumulators: JB vectors)


class ConvConfig(NamedTuple):
    """A convolution's static configuration with the derived sizes the emitter needs."""

    N: int
    C: int
    H: int
    W: int
    O: int  # noqa: E741 (the conventional name, as in the kernel interface)
    KH: int
    KW: int
    SH: int
    SW: int
    PH: int
    PW: int
    DH: int
    DW: int
    groups: int
    OH: int
    OW: int
    Hp: int
    Wp: int
    MR: int  # output channels computed per pass over the input
    G: int  # parts per image (work items = N * G): output channels, or "wino"'s tile rows
    parallel: bool  # one image is worth a parallel region (more images: decided at run time)
    algo: str  # "wino", "vo", "flat" or "rows" (see the module docstring)
    JB: int  # "vo": output columns per register tile; "wino": output tile size m


def _out_size(size: int, k: int, s: int, p: int, d: int) -> int:
    return (size + 2 * p - d * (k - 1) - 1) // s + 1


def _algo(C: int, H: int, W: int, O: int, KH: int, KW: int, SH: int, SW: int, PH: int,  # noqa: E741
          PW: int, DH: int, DW: int, groups: int) -> str:
    """Which direct/Winograd variant suits the shape (see the module docstring)."""
    OH, OW = _out_size(H, KH, SH, PH, DH), _out_size(W, KW, SW, PW, DW)
    tw = OW // WINO_M  # tiles a row
    if (KH == KW == 3 and SH == SW == DH == DW == 1 and groups == 1 and OH % WINO_M == 0
            and tw > 0 and tw % WINO_ROW_TILES == 0 and C >= 8 and O >= 8):
        return "wino"
    if O // groups >= VO_MIN_CHANNELS and OH * OW <= VO_MAX_PLANE:
        return "vo"
    return "flat" if SH == 1 and SW == 1 else "rows"


def conv2d_config(
    N: int, C: int, H: int, W: int, O: int, KH: int, KW: int, SH: int, SW: int,  # noqa: E741
    PH: int, PW: int, DH: int, DW: int, groups: int,
) -> ConvConfig:
    """Derived sizes and the algorithm/blocking/threading choice for one convolution."""
    OH, OW = _out_size(H, KH, SH, PH, DH), _out_size(W, KW, SW, PW, DW)
    algo = _algo(C, H, W, O, KH, KW, SH, SW, PH, PW, DH, DW, groups)
    # one image's work; the kernel decides at run time (from the batch) whether to run its
    # items in parallel, and the split into G parts is made for batch 1 (where it counts)
    parallel = 2 * O * OH * OW * (C // groups) * KH * KW >= PARALLEL_MIN_FLOPS
    # "vo" splits each group's output channels in halves (AlexNet's 3x3s in two groups on
    # 12x12 planes, two threads: 2.38 -> 1.2 ms); the others split all output channels
    halved = O // groups if algo == "vo" else O
    G = 2 if parallel and halved % 2 == 0 else 1
    if algo == "wino":  # blocks of tile rows (each transforms only its own input rows)
        G = -(-(OH // WINO_M) // _wino_rows(OH // WINO_M, OW // WINO_M))
    og = O // groups
    # two output channels per pass for small kernels (3x3: 1.6x faster than one), one for
    # large ones (5x5: the second channel's weights spill registers, 1.4x slower)
    mr = FLAT_MR if og % FLAT_MR == 0 and (O // G) % FLAT_MR == 0 and KH * KW <= 16 else 1
    jb = WINO_M if algo == "wino" else min(OW, VO_JB)
    return ConvConfig(N, C, H, W, O, KH, KW, SH, SW, PH, PW, DH, DW, groups, OH, OW,
                      H + 2 * PH, W + 2 * PW, mr, G, parallel, algo, jb)


def pack_conv2d_weight(
    w: np.ndarray, N: int, C: int, H: int, W: int, O: int, KH: int, KW: int, SH: int,  # noqa: E741
    SW: int, PH: int, PW: int, DH: int, DW: int, groups: int,
) -> np.ndarray:
    """The weight (O, C/groups, KH, KW) as the flat float32 array the kernel of
    ``conv2d_source`` with the same configuration reads: index ((o*Cg + c)*KH + kh)*KW + kw
    for the "flat"/"rows" algorithms, (((g*Cg + c)*KH + kh)*KW + kw)*Og + o for "vo"."""
    cfg = conv2d_config(N, C, H, W, O, KH, KW, SH, SW, PH, PW, DH, DW, groups)
    w = np.asarray(w, dtype=np.float32)
    if cfg.algo == "wino":  # (O >= 8: no rows of padding)
        return pack_wino_gemm(w).reshape(-1)
    if cfg.algo == "vo":  # [g][c][kh][kw][o in group]
        og = O // groups
        w = w.reshape(groups, og, C // groups, KH * KW).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(w).reshape(-1).copy()


def pack_wino_gemm(w: np.ndarray) -> np.ndarray:
    """The weights (M, C, 3, 3) transformed for ``wino_gemm``: U[i*4 + j, m, c] =
    (G w[m, c] G^T)[i, j], computed in float64; zero rows up to M = 8 (the register tile's
    rows)."""
    g = np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]], np.float64)
    u = np.einsum("ik,mckl,jl->ijmc", g, w.astype(np.float64), g).reshape(16, *w.shape[:2])
    u8 = np.zeros((16, max(w.shape[0], 8), w.shape[1]), np.float32)
    u8[:, :w.shape[0]] = u
    return u8


def pack_wino4_gemm(w: np.ndarray) -> np.ndarray:
    """The weights (M, C, 3, 3) transformed for ``kernels_wino4.wino4_gemm``: U[i*6 + j, m,
    c] = (G w[m, c] G^T)[i, j] with F(4x4, 3x3)'s G, computed in float64; zero rows up to M
    = 8 (the register tile's rows)."""
    g = np.array([[1 / 4, 0, 0], [-1 / 6, -1 / 6, -1 / 6], [-1 / 6, 1 / 6, -1 / 6],
                  [1 / 24, 1 / 12, 1 / 6], [1 / 24, -1 / 12, 1 / 6], [0, 0, 1]], np.float64)
    u = np.einsum("ik,mckl,jl->ijmc", g, w.astype(np.float64), g).reshape(36, *w.shape[:2])
    u8 = np.zeros((36, max(w.shape[0], 8), w.shape[1]), np.float32)
    u8[:, :w.shape[0]] = u
    return u8


def _name(cfg: ConvConfig, act: Act, has_bias: bool, has_residual: bool,
          pool: tuple[int, int] | None) -> str:
    return (f"conv2d_c{cfg.C}_{cfg.H}x{cfg.W}_o{cfg.O}_k{cfg.KH}x{cfg.KW}"
            f"_s{cfg.SH}x{cfg.SW}_p{cfg.PH}x{cfg.PW}_d{cfg.DH}x{cfg.DW}_g{cfg.groups}"
            f"_a{_act_tag(act)}_b{int(has_bias)}_r{int(has_residual)}"
            + (f"_mp{pool[0]}x{pool[1]}" if pool else ""))


def pooled_size(oh: int, ow: int, pool: tuple[int, int]) -> tuple[int, int]:
    """The output plane of a stride-2 max pool of window ``pool`` (kh, kw), no padding,
    floor mode, over an ``oh`` x ``ow`` plane."""
    return (oh - pool[0]) // 2 + 1, (ow - pool[1]) // 2 + 1


POOL_ALGOS = ("flat", "rows", "vo")
"""The direct algorithms whose output pass takes the max pool after the convolution."""


def template_pools(algo: str, oh: int, ow: int, kh: int, kw: int, sh: int, sw: int,
                   pads: tuple[int, ...]) -> bool:
    """Whether ``conv2d_source`` takes the max pool after a convolution of template
    algorithm ``algo`` into its output pass (``pool``): a direct one ("flat", "rows",
    "vo"; Winograd's output pass is on vectors of tiles), a window of 2x2 to 3x3 with stride
    2 and no padding (floor mode) that fits the ``oh`` x ``ow`` plane."""
    return (algo in POOL_ALGOS and 2 <= kh <= 3 and 2 <= kw <= 3
            and sh == sw == 2 and not any(pads) and oh >= kh and ow >= kw)


def _emit_window_max(e: _Emitter, depth: int, at: str, pitch: int, pool: tuple[int, int],
                     col: int) -> None:
    """m = the maximum of a pool window: the values ``at``(offset) for offsets r * pitch
    + q * col, r < pool[0], q < pool[1] (NaN propagates, as np.maximum)."""
    e(depth, f"m = {at.format(0)}")
    for r in range(pool[0]):
        for q in range(pool[1]):
            if r or q:
                e(depth, f"v = {at.format(r * pitch + q * col)}")
                e(depth, "m = v if v > m or v != v else m")


def _act_tag(act: Act) -> str:
    """The activation in a kernel name: its code, and a digest of its parameters."""
    if act[1:] == (0.0, 0.0):
        return str(act[0])
    return f"{act[0]}_{zlib.crc32(repr(tuple(act[1:])).encode()):08x}"


def _act_code(v: str, act: Act) -> str:
    """Source for ``act`` (code, p0, p1) of the value ``v``, its parameters as literals."""
    if act[0] == ACT_NONE:
        return v
    if act[0] == ACT_RELU:
        return f"zero if {v} < zero else {v}"
    return f"act_apply({v}, {literal((int(act[0]), float(act[1]), float(act[2])))})"


class _Emitter:
    """Collects indented source lines."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.depth_shift = 0  # extra indentation for a block emitted inside a loop

    def __call__(self, depth: int, text: str) -> None:
        self.lines.append("    " * (depth + self.depth_shift) + text)

    def source(self) -> str:
        return "\n".join(self.lines) + "\n"


def _emit_pad(e: _Emitter, cfg: ConvConfig) -> None:
    """xp = image n of x, zero-padded, flat (C, Hp, Wp), or x itself without padding; xb0 =
    offset of image n in xp. Every index below is built from range variables and slice
    views, so numba can prove it non-negative and drop the wraparound check (otherwise the
    loads become gathers)."""
    c, h, w, wp = cfg.C, cfg.H, cfg.W, cfg.Wp
    if cfg.PH == 0 and cfg.PW == 0:
        e(1, "xp = xf")
        e(1, f"xb0 = n * {c * h * w}")
        return
    e(1, f"xp = np.zeros({c * cfg.Hp * wp}, np.float32)")
    e(1, "xb0 = 0")
    e(1, f"xn = xf[n * {c * h * w}:(n + 1) * {c * h * w}]")
    e(1, f"for c in range({c}):")
    e(2, f"for i in range({h}):")
    e(3, f"src = xn[c * {h * w} + i * {w}:]")
    e(3, f"dst = xp[c * {cfg.Hp * wp} + (i + {cfg.PH}) * {wp} + {cfg.PW}:]")
    e(3, "for j in range(wrt):")  # runtime bound: a literal one is unrolled into scatters
    e(4, "dst[j] = src[j]")


def _plane(cfg: ConvConfig) -> tuple[int, int]:
    """(accumulator length per output channel, accumulator row pitch)."""
    if cfg.algo == "flat":
        return (cfg.OH - 1) * cfg.Wp + cfg.OW, cfg.Wp
    return cfg.OH * cfg.OW, cfg.OW


def _emit_block(e: _Emitter, cfg: ConvConfig, has_bias: bool) -> None:
    """Accumulate MR output channels (from local channel ol0) over all their input channels:
    ab[m * plane + p] for output channel o0 + m."""
    cg, og, t, mr = cfg.C // cfg.groups, cfg.O // cfg.groups, cfg.KH * cfg.KW, cfg.MR
    plane, _ = _plane(cfg)
    hw = cfg.Hp * cfg.Wp
    offs = [kh * cfg.DH * cfg.Wp + kw * cfg.DW for kh in range(cfg.KH) for kw in range(cfg.KW)]
    e(2, f"o0 = og * {cfg.O // cfg.G} + ol0")
    e(2, f"cb = xb0 + (o0 // {og}) * {cg * hw}" if cfg.groups > 1 else "cb = xb0")
    e(2, f"ab = acc[ol0 * {plane}:(ol0 + {mr}) * {plane}]")
    for m in range(mr):
        e(2, f"bv = b[o0 + {m}]" if has_bias else "bv = zero")
        e(2, f"for p in range({plane}):")
        e(3, f"ab[{m * plane} + p] = bv")
    e(2, f"for c in range({cg}):")
    e(3, f"xc = xp[cb + c * {hw}:cb + (c + 1) * {hw}]")
    e(3, f"wc = wp[(o0 * {cg} + c) * {t}:]")
    for m in range(mr):
        for k in range(t):
            e(3, f"w{m}_{k} = wc[{m * cg * t + k}]")
    if cfg.algo == "flat":
        e(3, f"for p in range({plane}):")
        depth, pos, xpos = 4, "p", "p"
    else:
        e(3, f"for i in range({cfg.OH}):")
        e(4, f"for j in range({cfg.OW}):")
        depth, pos, xpos = 5, f"i * {cfg.OW} + j", f"i * {cfg.SH * cfg.Wp} + j * {cfg.SW}"
    for k, off in enumerate(offs):
        e(depth, f"x{k} = xc[{xpos} + {off}]")
    for m in range(mr):
        terms = " + ".join(f"w{m}_{k} * x{k}" for k in range(t))
        e(depth, f"ab[{m * plane} + {pos}] += {terms}")


def _emit_epilogue(e: _Emitter, cfg: ConvConfig, act: Act, has_residual: bool,
                   pool: tuple[int, int] | None) -> None:
    """out[n, o] = act(acc + residual), dropping the padded columns of the flat layout;
    with ``pool``, out[n, o] = act(the stride-2 max pool of acc) (an activation that does
    not decrease: the same as the pool of the activated values)."""
    plane, pitch = _plane(cfg)
    ohw, opi = cfg.OH * cfg.OW, cfg.O // cfg.G
    if pool:
        poh, pow_ = pooled_size(cfg.OH, cfg.OW, pool)
        e(1, f"for ol in range({opi}):")
        e(2, f"ar = acc[ol * {plane}:(ol + 1) * {plane}]")
        e(2, f"ob = (n * {cfg.O} + og * {opi} + ol) * {poh * pow_}")
        e(2, f"op = of[ob:ob + {poh * pow_}]")
        e(2, f"for i in range({poh}):")
        e(3, "for j in range(owrt):")  # (owrt: the pooled row's length)
        _emit_window_max(e, 4, f"ar[i * {2 * pitch} + j * 2 + {{}}]", pitch, pool, 1)
        e(4, f"op[i * {pow_} + j] = {_act_code('m', act)}")
        return
    e(1, f"for ol in range({opi}):")
    e(2, f"ar = acc[ol * {plane}:(ol + 1) * {plane}]")
    e(2, f"ob = (n * {cfg.O} + og * {opi} + ol) * {ohw}")
    e(2, f"op = of[ob:ob + {ohw}]")
    if has_residual:
        e(2, f"rp = rf[ob:ob + {ohw}]")
    e(2, f"for i in range({cfg.OH}):")
    e(3, "for j in range(owrt):")
    v = f"ar[i * {pitch} + j]"
    e(4, f"v = {v} + rp[i * {cfg.OW} + j]" if has_residual else f"v = {v}")
    e(4, f"op[i * {cfg.OW} + j] = {_act_code('v', act)}")


def _emit_vo_tile(e: _Emitter, cfg: ConvConfig, jb: int, has_bias: bool) -> None:
    """One register tile: output row i, columns j0 .. j0+jb-1, the output channels of group
    g this work item computes (all of them, or the half from o_lo within the group when
    G = 2), accumulated over the group's input channels in acc[(i*OW + j)*O + o]."""
    o_dim, og, cg, t = cfg.O, cfg.O // cfg.groups, cfg.C // cfg.groups, cfg.KH * cfg.KW
    opi = og // cfg.G  # the item's channels: slices start at o_lo, so indices stay provably
    hw = cfg.Hp * cfg.Wp  # non-negative (range variables) and the loads stay vectors
    e(3, f"tb = (i * {cfg.OW} + j0) * {o_dim} + g * {og} + o_lo")
    e(3, f"ta = acc[tb:tb + {(jb - 1) * o_dim + opi}]")
    e(3, f"for o in range({opi}):")
    e(4, f"bv = bs[g * {og} + o]" if has_bias else "bv = zero")
    for jj in range(jb):
        e(4, f"ta[{jj * o_dim} + o] = bv")
    e(3, f"for c in range({cg}):")
    e(4, f"xr = xp[xb0 + (g * {cg} + c) * {hw} + i * {cfg.SH * cfg.Wp} + j0 * {cfg.SW}:]")
    e(4, f"wc = wp[(g * {cg} + c) * {t * og} + o_lo:]")
    e(4, f"for o in range({opi}):")
    for k in range(t):
        e(5, f"w{k} = wc[{k * og} + o]")
    for jj in range(jb):
        e(5, f"ta[{jj * o_dim} + o] += {_vo_terms(cfg, jj, 0)}")


def _vo_terms(cfg: ConvConfig, jj: int, xoff: int) -> str:
    """sum over taps k of w<k> * (input under tap k for output column j0 + jj)."""
    return " + ".join(
        f"w{kh * cfg.KW + kw} * xr[{xoff + kh * cfg.DH * cfg.Wp + jj * cfg.SW + kw * cfg.DW}]"
        for kh in range(cfg.KH) for kw in range(cfg.KW))


def _emit_vo(e: _Emitter, cfg: ConvConfig, has_bias: bool) -> None:
    """Direct convolution vectorized along output channels (weights packed [g][c][k][o])."""
    full = cfg.OW - cfg.OW % cfg.JB
    e(1, f"o_lo = og * {cfg.O // cfg.groups // cfg.G}")  # (within each group)
    e(1, "bs = b[o_lo:]")
    e(1, f"acc = np.empty({cfg.OH * cfg.OW * cfg.O}, np.float32)")
    e(1, f"for g in range({cfg.groups}):")
    e(2, f"for i in range({cfg.OH}):")
    if full:
        e(3, f"for j0 in range(0, {full}, {cfg.JB}):")
        e.depth_shift = 1
        _emit_vo_tile(e, cfg, cfg.JB, has_bias)
        e.depth_shift = 0
    if cfg.OW % cfg.JB:
        e(3, f"j0 = {full}")
        _emit_vo_tile(e, cfg, cfg.OW % cfg.JB, has_bias)


def _emit_vo_epilogue(e: _Emitter, cfg: ConvConfig, act: Act, has_residual: bool,
                      pool: tuple[int, int] | None) -> None:
    """out[n, o] = act(acc[:, o] + residual): the (pixel, channel) tile back to NCHW; with
    ``pool``, act(the stride-2 max pool of it), as ``_emit_epilogue``."""
    ohw = cfg.OH * cfg.OW
    if pool:
        poh, pow_ = pooled_size(cfg.OH, cfg.OW, pool)
        ohw = poh * pow_
    e(1, "ao = acc[o_lo:]")
    if cfg.groups > 1 and cfg.G > 1:  # this item's half of each group's channels
        og = cfg.O // cfg.groups
        e(1, f"for g in range({cfg.groups}):")
        e(2, f"for oi in range({og // cfg.G}):")
        e(3, f"o = g * {og} + oi")
        e.depth_shift = 1
    else:
        e(1, f"for o in range({cfg.O // cfg.G}):")
    e(2, f"ob = (n * {cfg.O} + o_lo + o) * {ohw}")
    e(2, f"op = of[ob:ob + {ohw}]")
    if has_residual:
        e(2, f"rp = rf[ob:ob + {ohw}]")
    if pool:
        e(2, f"for i in range({poh}):")
        e(3, f"for j in range({pow_}):")
        _emit_window_max(e, 4, f"ao[(i * {2 * cfg.OW} + j * 2) * {cfg.O} + o + {{}}]",
                         cfg.OW * cfg.O, pool, cfg.O)
        e(4, f"op[i * {pow_} + j] = {_act_code('m', act)}")
        e.depth_shift = 0
        return
    e(2, f"for p in range({ohw}):")
    e(3, f"v = ao[p * {cfg.O} + o] + rp[p]" if has_residual else f"v = ao[p * {cfg.O} + o]")
    e(3, f"op[p] = {_act_code('v', act)}")
    e.depth_shift = 0


# --------------------------------------------------------------------------- Winograd

def _wino_rows(th: int, tw: int) -> int:
    """Tile rows per work item of "wino": a multiple of 3 (so that 16 or 32 tiles a row make
    whole strips of 24 for the GEMM's register tile) holding ``WINO_BLOCK_TILES`` tiles or
    more, or all ``th`` rows."""
    rows = 3
    while rows * tw < WINO_BLOCK_TILES:
        rows += 3
    return min(rows, th)


def _emit_wino(e: _Emitter, cfg: ConvConfig, act: Act, has_bias: bool,
               has_residual: bool) -> None:
    """Winograd F(2x2, 3x3) on a block of tile rows of one image (work item ``og`` of image
    ``n``), on 8-lane vectors (``simd``) along a row of tiles:

    1. the block's padded input rows, split into even and odd columns, so that the 4x4
       inputs of 8 neighbouring tiles are 16 unit-stride vector loads;
    2. the input transform, V[xi][c][tile] for the 16 transform positions xi;
    3. per position, M[xi] = U[xi] @ V[xi] (outputs x channels times channels x tiles) by
       ``vgemm``'s 8 x 24 register tile, reading V's rows where they lie;
    4. the inverse transform, bias, residual and activation, the two columns of each output
       row interleaved back in registers.

    A block holds ``WINO_BLOCK_TILES`` tiles or more (rows in threes: whole strips of 24),
    so what it touches stays in L2, and no work item repeats another's transform. The
    output may be the residual (in place): each vector of it is read before it is
    written."""
    m, c_dim, o_dim = cfg.JB, cfg.C, cfg.O
    a = m + 2
    th, tw = cfg.OH // m, cfg.OW // m
    tb = _wino_rows(th, tw)  # tile rows of a block (the last may have fewer)
    tmax = tb * tw  # tiles of a block: the row pitch of V and M
    rmax = m * tb + 2  # padded input rows a block reads
    wh = (cfg.Wp + 1) // 2  # a padded row as its even columns then its odd ones, wh each
    pr, pw = cfg.PW % 2, cfg.PW // 2
    hw, wv = cfg.H * cfg.W, cfg.W // 16 * 16
    e(1, f"tbb = min({tb}, {th} - og * {tb})")  # tile rows of this block
    e(1, f"tt = tbb * {tw}")
    e(1, f"r0 = og * {m * tb}")  # its first padded row
    e(1, f"xd = np.zeros({c_dim * rmax * 2 * wh}, np.float32)")
    e(1, f"xn = xf[n * {c_dim * hw}:(n + 1) * {c_dim * hw}]")
    e(1, f"i_lo = max(r0, {cfg.PH})")  # the padded rows that hold input rows
    e(1, f"i_hi = min(r0 + 2 * tbb + 2, {cfg.H + cfg.PH})")
    e(1, f"for c in range({c_dim}):")
    e(2, "for ip in range(i_lo, i_hi):")
    e(3, f"src = xn[c * {hw} + (ip - {cfg.PH}) * {cfg.W}:]")
    e(3, f"dst = xd[(c * {rmax} + ip - r0) * {2 * wh}:]")
    # input column j is padded column q = j + PW: parity q % 2, index q // 2
    e(3, f"for s in range({wv // 16}):")
    e(4, "ev, od = vunzip(vload(src, 16 * s), vload(src, 16 * s + 8))")
    e(4, f"vstore(dst, {pr * wh + pw} + 8 * s, ev)")
    e(4, f"vstore(dst, {(1 - pr) * wh + pw + pr} + 8 * s, od)")
    if wv < cfg.W:
        e(3, f"for j in range({wv}, {cfg.W}):")
        e(4, f"q = j + {cfg.PW}")
        e(4, f"dst[(q % 2) * {wh} + q // 2] = src[j]")
    e(1, f"vt = empty64({a * a * c_dim * tmax})")  # (64-byte aligned: simd.empty64)
    # (addresses for the inlined helpers: an array argument costs a reference count taken
    # and dropped at each call; kernels_gemm._wino_item says how much)
    e(1, "xda, vta = address(xd), address(vt)")
    e(1, f"for c in range({c_dim}):")
    e(2, "for ti in range(tbb):")
    e(3, f"xr = (c * {rmax} + ti * {m}) * {2 * wh}")
    e(3, f"vr = c * {tmax} + ti * {tw}")
    e(3, f"for tj in range(0, {tw}, 8):")
    e(4, f"wino_in8(xda, xr + tj, {wh}, {2 * wh}, vta, vr + tj, {c_dim * tmax})")
    if WIDE:
        # 9-47 last tiles on the 32-column tile where it fits in V's and M's rows (on the
        # 8-lane tiles after 16-lane ones an Intel core runs its multiply-adds on one port:
        # the ResNet blocks at batch 1, one thread, 0.98 -> 0.90 of ONNX Runtime's time);
        # V's columns it reads past tt are zeros, not whatever the buffer held
        e(1, "sl = tt // 48 * 48")
        e(1, f"if tt - sl > 8 and sl + 32 <= {tmax}:")
        e(2, f"for q in range({a * a * c_dim}):")
        e(3, f"vt[q * {tmax} + tt:q * {tmax} + sl + 32] = 0.0")
    e(1, f"mt = empty64({a * a * o_dim * tmax})")
    e(1, "wa, va, ma = address(wp), address(vt), address(mt)")
    e(1, f"for xi in range({a * a}):")
    e(2, "s0 = 0")
    e(2, "while s0 < tt:")
    # strips of 48 tiles where the machine has 16-lane vectors (the last on the tile of
    # 32, as above), else of 24, then of 8
    e(3, f"nv = 6 if s0 + 48 <= tt else 4 if s0 == sl and tt - s0 > 8 and s0 + 32 <= "
         f"{tmax} else 3 if s0 + 24 <= tt else 1" if WIDE
      else "nv = 3 if s0 + 24 <= tt else 1")
    e(3, f"for r in range(0, {o_dim}, 8):")
    e(4, f"rr = min(r, {o_dim - 8})")  # the last 8 rows (those before them computed twice)
    args = (f"wa, (xi * {o_dim} + rr) * {c_dim}, {c_dim}, va, xi * {c_dim * tmax} + s0, "
            f"{tmax}, {c_dim}, ma + 4 * ((xi * {o_dim} + rr) * {tmax} + s0), {tmax}, 0.0, wa, "
            "0, 0, 0")
    if WIDE:  # the tile of 48 called directly (as in ``kernels_gemm._wino_item``)
        e(4, "if nv == 6:")
        e(5, f"vgemm_tile48({args})")
        e(4, "else:")
        e(5, f"vgemm_tile(nv, {args})")
    else:
        e(4, f"vgemm_tile(nv, {args})")
    e(3, "s0 += 8 * nv")
    ohw, span = cfg.OH * cfg.OW, m * tb * cfg.OW
    rf = "rf" if has_residual else "of"
    e(1, f"ofa, rfa = address(of), address({rf})")
    e(1, f"for o in range({o_dim}):")
    e(2, "bo = vsplat(b[o])" if has_bias else "bo = vzero()")
    e(2, f"ob = (n * {o_dim} + o) * {ohw} + og * {span}")
    e(2, "for ti in range(tbb):")
    e(3, f"mr = o * {tmax} + ti * {tw}")
    e(3, f"orow = ob + ti * {m * cfg.OW}")
    e(3, f"for tj in range(0, {tw}, 8):")
    e(4, f"y00, y01, y10, y11 = wino_out8(ma, mr + tj, {o_dim * tmax})")
    # (the literal flags and activation fold wino_put's branches away)
    put = f"bo, 16, {has_residual}, {literal((int(act[0]), float(act[1]), float(act[2])))})"
    e(4, f"wino_put(ofa, rfa, orow + 2 * tj, y00, y01, {put}")
    e(4, f"wino_put(ofa, rfa, orow + {cfg.OW} + 2 * tj, y10, y11, {put}")
    e(1, "keep(xd, vt, mt)")  # (used through their addresses up to here: simd.keep)


def conv2d_source(
    N: int, C: int, H: int, W: int, O: int, KH: int, KW: int, SH: int, SW: int,  # noqa: E741
    PH: int, PW: int, DH: int, DW: int, groups: int, act: Act, has_bias: bool,
    has_residual: bool, pool: tuple[int, int] | None = None,
) -> tuple[str, str]:
    """Source and name of ``f(x, wp, b, res, out)``: out = act(conv(x, w) + b + res), or
    with ``pool`` (kh, kw) = act(max pool(conv(x, w) + b)), the pool of stride 2 without
    padding (``template_pools``; no residual, and an activation that does not decrease:
    the pool then may come before it), out then the pool's shape.

    x (N, C, H, W) and out (N, O, OH, OW) are C-contiguous float32; ``wp`` is
    ``pack_conv2d_weight(w, N, C, H, W, O, KH, KW, SH, SW, PH, PW, DH, DW, groups)``;
    ``b`` (O,) is read only when ``has_bias``; ``res`` (N, O, OH, OW) is added before the
    activation when ``has_residual`` (pass an empty 4-D array otherwise). The source also
    defines ``<name>_item``, the per-work-item function the kernel calls.
    """
    cfg = conv2d_config(N, C, H, W, O, KH, KW, SH, SW, PH, PW, DH, DW, groups)
    if pool and (has_residual or not template_pools(cfg.algo, cfg.OH, cfg.OW, *pool, 2, 2,
                                                    ())):
        raise ValueError(f"conv2d_source: a {pool[0]}x{pool[1]} max pool after a "
                         f"{cfg.algo!r} convolution into {cfg.OH}x{cfg.OW}"
                         f"{' with a residual' if has_residual else ''} is not fused")
    name = _name(cfg, act, has_bias, has_residual, pool)
    plane, _ = _plane(cfg)
    opi = cfg.O // cfg.G
    e = _Emitter()
    e(0, "@njit(cache=True, nogil=True, fastmath={'contract'})")
    e(0, f"def {name}_item(x, wp, b, res, out, it):")
    e(1, "zero = np.float32(0.0)")
    e(1, "wrt = x.shape[3]")
    e(1, "owrt = out.shape[3]")
    e(1, "xf = x.reshape(x.size)")  # the batch is a run-time size: one kernel for any
    e(1, "of = out.reshape(out.size)")
    if has_residual:
        e(1, "rf = res.reshape(res.size)")
    e(1, f"n = it // {cfg.G}")
    e(1, f"og = it - n * {cfg.G}")
    if cfg.algo == "wino":  # (it copies the rows it reads, split in even and odd columns)
        _emit_wino(e, cfg, act, has_bias, has_residual)
    elif cfg.algo == "vo":
        _emit_pad(e, cfg)
        _emit_vo(e, cfg, has_bias)
        _emit_vo_epilogue(e, cfg, act, has_residual, pool)
    else:
        _emit_pad(e, cfg)
        e(1, f"acc = np.empty({opi * plane}, np.float32)")
        e(1, f"for ob in range({opi // cfg.MR}):")
        e(2, f"ol0 = ob * {cfg.MR}")
        _emit_block(e, cfg, has_bias)
        _emit_epilogue(e, cfg, act, has_residual, pool)
    e(0, "")
    e(0, "")
    flops = 2 * cfg.O * cfg.OH * cfg.OW * (cfg.C // cfg.groups) * cfg.KH * cfg.KW
    # a convolution that stays under 10 MFLOP up to batch 64 gets no parallel loop at all
    # (a parallel function costs numba a second or two more to compile)
    may_run_parallel = flops * 64 >= PARALLEL_COMPILE_MIN_FLOPS
    e(0, f"@njit(cache=True, nogil=True, parallel={may_run_parallel})")
    e(0, f"def {name}(x, wp, b, res, out):")
    e(1, f"items = x.shape[0] * {cfg.G}")
    if may_run_parallel:
        # prange indices are unsigned; the item function takes a signed one. (Calling
        # set_parallel_chunksize here would make the kernel uncacheable: the caller
        # sets it.)
        e(1, f"if items > 1 and x.shape[0] * {flops} >= {PARALLEL_MIN_FLOPS}:")
        e(2, "for it in prange(items):")
        e(3, f"{name}_item(x, wp, b, res, out, np.int64(it))")
        e(2, "return")
    e(1, "for it in range(items):")
    e(2, f"{name}_item(x, wp, b, res, out, np.int64(it))")
    return e.source(), name


# --------------------------------------------------------------------------- max pooling


MAXPOOL_UNROLL_MAX_W = 32
MAXPOOL_UNROLL_MAX_WINDOW = 4


def maxpool2d_unrolls(H: int, W: int, KH: int, KW: int, SH: int, SW: int, PH: int, PW: int,
                      OH: int, OW: int) -> bool:
    """Whether ``maxpool2d_source`` unrolls the window: every window inside the input, a
    window of at most ``MAXPOOL_UNROLL_MAX_WINDOW`` elements and rows of at most
    ``MAXPOOL_UNROLL_MAX_W`` columns. On longer rows the generic separable kernel wins
    (SqueezeNet's 3x3 stride-2 pool over 111 x 111: 0.52 ms unrolled, 0.30 generic), and
    so it does on 3x3 windows (Inception v1's 480 x 27 x 27, stride 2: 0.43 ms unrolled,
    0.38 generic); 2x2 windows on short rows are the unrolled kernel's (LeNet's 2x2 over
    6 x 28 x 28 at batch 64: 0.05 ms against 0.25; 832 x 13 x 13: 0.03 against 0.20), but
    for the stride-2 pools ``kernels_pool.maxpool_s2`` takes (8 outputs a row or more: as
    fast on one thread, and parallel; LeNet's first at batch 64, since stop 35, 51 µs
    against 51 on one thread, 31 against 51 on two). The lowering asks ``runs_s2`` first."""
    return (PH == 0 and PW == 0 and (OH - 1) * SH + KH <= H and (OW - 1) * SW + KW <= W
            and W <= MAXPOOL_UNROLL_MAX_W and KH * KW <= MAXPOOL_UNROLL_MAX_WINDOW)


def maxpool2d_source(
    N: int, C: int, H: int, W: int, KH: int, KW: int, SH: int, SW: int, PH: int, PW: int,
    OH: int, OW: int,
) -> tuple[str, str]:
    """Source and name of ``f(x, out)``: max pooling x (N, C, H, W) -> out (N, C, OH, OW).

    The kernel has the window unrolled; only for the configurations ``maxpool2d_unrolls``
    accepts (the LeNet case: the lowering gives any other the generic ``pool_rows``).
    """
    if not maxpool2d_unrolls(H, W, KH, KW, SH, SW, PH, PW, OH, OW):
        raise ValueError(f"maxpool2d_source: a {KH}x{KW} window, stride {SH}x{SW}, padding "
                         f"{PH}x{PW} over {H}x{W} is not unrolled (maxpool2d_unrolls)")
    name = f"maxpool2d_c{C}_{H}x{W}_k{KH}x{KW}_s{SH}x{SW}_p{PH}x{PW}_o{OH}x{OW}"
    e = _Emitter()
    e(0, "@njit(cache=True, nogil=True)")
    e(0, f"def {name}(x, out):")
    e(1, "owrt = out.shape[3]")  # runtime bound: a literal one is unrolled into gathers
    e(1, "xf = x.reshape(x.size)")  # the batch is a run-time size
    e(1, "of = out.reshape(out.size)")
    e(1, f"for nc in range(x.shape[0] * {C}):")
    e(2, f"xs = xf[nc * {H * W}:(nc + 1) * {H * W}]")
    e(2, f"os = of[nc * {OH * OW}:(nc + 1) * {OH * OW}]")
    e(2, f"for i in range({OH}):")
    e(3, "for j in range(owrt):")
    _emit_window_max(e, 4, f"xs[i * {SH * W} + j * {SW} + {{}}]", W, (KH, KW), 1)
    e(4, f"os[i * {OW} + j] = m")
    return e.source(), name
