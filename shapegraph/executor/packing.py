"""Weight packing, once per plan: dense weights transposed and scaled by any folded
batchnorm, conv weights folded and laid out the way their specialized kernel wants, each
weight given its slot in the plan's weight buffer.
"""

from __future__ import annotations

import numpy as np

from shapegraph.executor.kernels import NARROW_UNITS, sgemm_packs
from shapegraph.executor.kernels_cpool import pack_conv_maxpool
from shapegraph.executor.kernels_dw import pack_dwconv
from shapegraph.executor.kernels_oconv import DENSE_TILED_WEIGHTS, pack_dense, pack_oconv
from shapegraph.executor.kernels_vgemm import WIDE, WR
from shapegraph.executor.steps import Arg, Lowered, Step, act_arg, has_residual
from shapegraph.executor.templates import (
    POOL_ALGOS,
    ConvArgs,
    _out_size,
    conv2d_config,
    conv2d_source,
    maxpool2d_source,
    maxpool2d_unrolls,
    pack_conv2d_weight,
    pack_wino4_gemm,
    pack_wino_gemm,
)

__all__ = ["conv_algorithm", "is_depthwise", "pack", "pack_wino4_gemm", "pack_wino_gemm"]


_TEMPLATE_ALGOS = {"wino": "Winograd F(2x2, 3x3), generated for the shape",
                   "flat": "direct (flat plane), generated for the shape",
                   "vo": "direct (vectorized over output channels), generated for the shape",
                   "rows": "direct (strided rows), generated for the shape"}


def conv_algorithm(cfg: ConvArgs) -> str:
    """``dwconv`` (``kernels_dw``: vectors along output rows) for depthwise convolutions
    of more than one tap (one input channel a group; ShuffleNet's 3x3s 1.1-2x faster than
    the generated direct kernels, one compiled kernel for all of them); ``gemm``
    (``kernels_gemm.conv_gemm``: sgemm or ``vgemm`` on the input plane or on
    im2col tiles) for 1x1 convolutions; ``wino_gemm`` (Winograd F(2x2, 3x3) on ``vgemm``'s
    register tile: 100-185 GFLOP/s-equivalent on one thread) for stride-1 3x3
    convolutions with at least 32 inputs and 64 outputs (or 128 and 32, or 16 and 64 on
    planes of ``WINO_16_MIN_WIDTH`` columns or more), on planes of ``WINO_MIN_WIDTH``
    columns or more (with fewer channels its transforms cost more than
    it saves, and on 7x7 planes half its vector lanes are padding); but ``wino4_gemm``
    (``kernels_wino4``: Winograd F(4x4, 3x3), 230-510 GFLOP/s-equivalent on one thread)
    for every stride-1 3x3 (ungrouped, undilated) on planes of WINO4_MIN_WIDTH columns or
    more with WINO4_MIN_CHANNELS inputs and outputs or more; ``gemm`` (im2col)
    for the others onto a plane that is one strip of the wide register tile
    (``fills_strip``: 7x7) with GEMM_STRIP_MIN_K products an output or more and
    OCONV_MIN_3X3_OUTPUTS outputs;
    ``oconv`` (``kernels_oconv``: the implicit GEMM vectorized over output channels) for
    the other kernels of more than one tap with OCONV_MIN_K products per output (input
    channels of a group x taps) and OCONV_MIN_OUTPUTS outputs a group, but stride-1 3x3s
    with fewer than OCONV_MIN_3X3_OUTPUTS; ``gemm`` (im2col) for the strided ones left
    with 16 products or more; otherwise the algorithm of the specialized template
    (``templates.conv2d_config``: Winograd or direct). Grouped convolutions with few
    channels per group stay direct."""
    c, o, (kh, kw, sh, sw), groups = cfg[1], cfg[4], cfg[5:9], cfg[13]
    cg, og = c // groups, o // groups
    k = cg * kh * kw
    if is_depthwise(cfg):
        return "dwconv"
    if kh * kw == 1:
        return "gemm" if k >= 16 and og >= 8 else conv2d_config(*cfg).algo
    oh, ow = _out_hw(cfg)  # (for the 3x3s Winograd takes: W + 2 PW - 2)
    if (kh, kw, sh, sw, cfg[11], cfg[12], groups) == (3, 3, 1, 1, 1, 1, 1):
        if ow >= WINO4_MIN_WIDTH and c >= WINO4_MIN_CHANNELS and o >= WINO4_MIN_CHANNELS:
            return "wino4_gemm"
        if (((c >= 32 and o >= 64) or (c >= 128 and o >= 32)
             or (c >= 16 and o >= 64 and ow >= WINO_16_MIN_WIDTH))
                and ow >= WINO_MIN_WIDTH):
            return "wino_gemm"
    if (groups == 1 and k >= GEMM_STRIP_MIN_K and og >= OCONV_MIN_3X3_OUTPUTS
            and fills_strip(oh * ow)):
        return "gemm"
    if (k >= OCONV_MIN_K and og >= OCONV_MIN_OUTPUTS
            and not ((kh, kw, sh, sw) == (3, 3, 1, 1) and og < OCONV_MIN_3X3_OUTPUTS)):
        return "oconv"
    if k >= 16 and og >= 8 and sh * sw > 1:
        return "gemm"
    return conv2d_config(*cfg).algo


def fills_strip(pixels: int) -> bool:
    """Whether an output plane of ``pixels`` is one strip of ``vgemm``'s wide register
    tile and at most GEMM_STRIP_DOTS columns more (its dot products): a 7x7 plane, 48 + 1,
    where ``WIDE``."""
    return WIDE and WR <= pixels <= WR + GEMM_STRIP_DOTS


def is_depthwise(cfg: ConvArgs) -> bool:
    """A depthwise convolution ``dwconv`` takes: one input channel a group (of several),
    more than one tap."""
    c, kh, kw, groups = cfg[1], cfg[5], cfg[6], cfg[13]
    return groups > 1 and c == groups and kh * kw > 1


def _out_hw(cfg: ConvArgs) -> tuple[int, int]:
    """A convolution's output plane (its padding taken as symmetric)."""
    h, w, (kh, kw, sh, sw, ph, pw, dh, dw) = cfg[2], cfg[3], cfg[5:13]
    return _out_size(h, kh, sh, ph, dh), _out_size(w, kw, sw, pw, dw)


# oconv against what each convolution ran before it (stop 26, 2026-12-06; one thread, each
# convolution's best of 20 calls in its model, ONNX Runtime's in the same process in
# brackets; benchmarks/README.md "Stop 26"):
# - the 7x7 stride-2 stems (were stop 25's vconv, now removed): ResNet-50's 3.13 -> 2.82
#   ms [2.14], DenseNet-121's, Inception v1's and v2's 2.98-3.13 -> 2.65-2.79;
# - strided 3x3s (were im2col + vgemm): ResNet-50's 128 -> 128 at 56 -> 28 2.86 -> 2.71
#   [2.03], 256 at 28 -> 14 2.56 -> 2.51, 512 at 14 -> 7 2.69 -> 2.74; Inception v2's
#   4-13% slower (128 -> 160 at 28 -> 14 0.81 -> 0.85 [0.68]);
# - 3x3s on 7x7 and 13x13 planes with 1 MB of weights or more (were im2col + vgemm):
#   ResNet-50's 512 at 7x7 5.38 -> 5.17 for two [4.68], Inception v1's 3-13% faster;
# - 5x5s (were vconv, im2col + vgemm or a generated kernel): Inception v1's 32 -> 96 at
#   27x27 1.39 -> 1.07, 16 -> 32 at 27x27 0.49 -> 0.22, 24 -> 64 at 13x13 0.61 -> 0.31;
# - 3x3s a generated kernel ran: Inception v1's 96 -> 208 at 13x13 0.77 -> 0.64,
#   SqueezeNet's expands within 3% either way (and four generated kernels fewer to compile,
#   about 4 s each, cold), but DenseNet-121's 128 -> 32 at 7x7, sixteen of them, 0.88 ->
#   1.28 ms (fixed costs: the input's copy, two parallel loops) [0.77]: so stride-1 3x3s
#   need OCONV_MIN_3X3_OUTPUTS.
# With 27 products (3x3 on 3 channels: SqueezeNet's stem) 0.70 -> 0.90: OCONV_MIN_K. With
# 16 outputs (LeNet's 6 -> 16 5x5 on 10x10 planes, a generated kernel) the whole LeNet took
# 28.0 µs against 21.1 at batch 1 and 1065 against 880 at batch 64: OCONV_MIN_OUTPUTS.
# Whole models, ours / ONNX Runtime in alternating turns, before -> after: DenseNet-121
# 1.03 -> 0.99, Inception v1 0.69 -> 0.66, VGG-19 0.81 -> 0.75, AlexNet 0.74 -> 0.69,
# ZFNet-512 0.65 -> 0.61; ResNet-50, Inception v2, SqueezeNet, ShuffleNet unchanged.
OCONV_MIN_K = 64
OCONV_MIN_OUTPUTS = 32
OCONV_MIN_3X3_OUTPUTS = 64

# Convolutions onto 7x7 planes (48 + 1 pixels: one strip of vgemm's wide tile and a dot
# product) with 1024 products an output or more run im2col and vgemm, not oconv (stop 39,
# one thread; alone, µs, oconv / gemm: ResNet-50's 512 -> 512 at 7x7 1658 / 1553, its
# stride-2 512 at 14x14 1787 / 1556, Inception v2's 256 at 14x14 stride 2 511 / 439, 128
# -> 192 at 14x14 stride 2 194 / 175, 192 -> 320 at 7x7 421 / 400; 160 and 192 -> 224 at
# 7x7 even; in ResNet-50, its weights read from memory, its three 2.1-2.5 ms -> 1.66-1.79;
# but 6x6 planes, 24 + 12, not: Inception v1's 192 -> 384 at 6x6 392 / 572; nor 32 outputs:
# DenseNet-121's 128 -> 32 at 7x7 on its generated kernel 42, 55 on gemm).
GEMM_STRIP_MIN_K = 1024
GEMM_STRIP_DOTS = 4


# wino_gemm (on 8-lane vectors since stop 28) against oconv, one convolution alone with
# bias and ReLU, µs, one thread / two (2026-12-06, benchmarks/README.md "Stop 28"): the 3x3s
# on planes of 12x12 and more with 32+ inputs and 64+ outputs are faster: SqueezeNet's 32
# -> 128 at 27x27 419 / 249 against 545 / 312, 64 -> 256 at 13x13 347 / 252 against 490 /
# 271; Inception v1's 160 -> 320 at 13x13 960 / 668 against 1494 / 788; AlexNet's 256 -> 384
# at 13x13 1799 / 1311 against 2808 / 1427; VGG-19's 512 -> 512 at 14x14 6313 / 3376
# against 8850 / 4436; ZFNet's 512 -> 512 at 12x12 5208 / 2504 against 6356 / 3207; but
# SqueezeNet's 48 -> 192 at 13x13 on two threads 157 against 148 (210 against 280 on one).
# On 7x7 and 6x6 planes it is slower (4 or 3 tiles a row fill half a vector or less): 224
# -> 224 at 7x7 554 / 338 against 477 / 262, 512 -> 512 at 7x7 3668 against 2520. 16 -> 64
# at 55x55 read 562 / 289 against 602 / 353, but 1.04x oconv's time on two threads in an
# earlier run: left to oconv then (taken since stop 31: WINO_16_MIN_WIDTH). (Before stop
# 28 its transforms were scalar loops: 16 -> 64 at 55x55 0.96 ms against the direct
# kernel's 0.65, 512 at 14x14 on two threads 6.2-7.4 against 5.5-5.8.)
WINO_MIN_WIDTH = 11  # output columns at least (6 tiles a row: 3/4 of a vector)
# 16 -> 64 at 55x55 (SqueezeNet's first two expands), in the model, each step's median of
# 100 calls, two alternating runs, µs, one thread / two (stop 31): wino_gemm 628 / 277, 568
# / 356, 582 / 294, 549 / 368 against oconv's 640 / 338, 620 / 366, 657 / 335, 627 / 366;
# and SqueezeNet then compiles no oconv at all (5 s of a cold first call). Narrower planes
# with 16 inputs stay on oconv: no network here has one to measure.
WINO_16_MIN_WIDTH = 28
# Stride-1 3x3s on planes of 20 columns or more run F(4x4, 3x3) (``kernels_wino4``: 36
# products a 4x4 tile, 2.25 an output against F(2x2, 3x3)'s 4). One convolution alone, µs, wino_gemm
# -> wino4_gemm, one thread / two (stop 41): ResNet-50's 64 -> 64 at 56x56 1014 / 529 ->
# 715 / 412-449, 128 -> 128 at 28x28 777 / 453 -> 623 / 330; SqueezeNet's 16 -> 64 at
# 55x55 331 / 179 -> 245 / 140, 32 -> 128 at 27x27 232 / 135 -> 194 / 115; Inception v2's
# 64 -> 192 at 56x56 2763 / 1387 -> 1822 / 981; VGG-19's 256 at 56x56 11.6 / 6.8 ms ->
# 7.3 / 4.5; DenseNet-121's 128 -> 32 at 28x28 266 / 179 -> 229 / 134; 64 -> 64 at 20x20
# 165 / 114 -> 149 / 101. Its rows of tiles are rounded up to whole vectors of 8 tiles, 32
# columns: at 17x17 (5 tiles a row) 261 / 148 -> 308 / 176, at 14x14 75 -> 100.
WINO4_MIN_WIDTH = 20
# ... and from 8 inputs and 8 outputs: on those planes it also beats the kernels generated
# for the shape and oconv with fewer channels (one convolution alone, µs, one thread / two,
# the generated kernel -> wino4_gemm): the ResNet blocks' 16 -> 16 at 32x32 40 / 32 -> 37 /
# 29, 32 -> 32 at 48x48 261 -> 221, 16 -> 32 at 27x27 95 -> 52, 32 -> 32 at 28x28 184 / 107
# -> 86 / 54, 8 -> 32 at 28x28 57 -> 39, 8 -> 8 at 32x32 21 / 20 -> 21 / 19. (With 3
# inputs: even on VGG-19's first, 3 -> 64 at 224x224, 3468 -> 3464, where im2col and vgemm
# took 2290; 3 -> 32 at 112x112 423 -> 327. The bound stays at 8: that first convolution,
# the only one here, would rather go to im2col, not done.)
WINO4_MIN_CHANNELS = 8


def pack(out: Lowered, folded: dict[int, tuple[np.ndarray, np.ndarray]],
         specialize: bool) -> Lowered:
    """Give every weight of ``out``'s steps its slot, folding each dense/conv step's
    ``folded[id(step)]`` (scale, shift) into its weights; ``specialize`` generates a
    kernel per convolution and max-pool configuration."""
    for step in out.steps:
        scale_shift = folded.get(id(step))
        if step.kernel == "dense":
            assert scale_shift is not None
            scale, shift = scale_shift
            wt, b = step.args[1].ref, step.args[2].ref
            if wt.shape[1] <= NARROW_UNITS:  # (M, K) as it came: dot products per output
                step.kernel = "dense_narrow"
                step.args[1] = Arg("slot", out.slot((wt * scale[None, :]).T))
            elif wt.size >= DENSE_TILED_WEIGHTS or (
                    WIDE and sgemm_packs(step.args[0].shape[0], wt.shape[1], wt.shape[0])):
                # large, or a product OpenBLAS would pack: register tiles on packed strips
                step.kernel, step.algo = "dense_tiled", "register tiles on packed column strips"
                step.args[1] = Arg("slot", out.slot(pack_dense(wt * scale[None, :])))
                step.args.append(Arg("threads", None))
            else:
                step.args[1] = Arg("slot", out.slot(wt * scale[None, :]))
            step.args[2] = Arg("slot", out.slot(b * scale + shift))
            step.args[3] = act_arg(step.act)
        elif step.kernel == "conv":
            assert scale_shift is not None
            scale, shift = scale_shift
            w = step.args[1].ref[0]
            cfg: ConvArgs = step.args[1].ref[1]
            b = step.args[2].ref
            wf = w * scale.reshape(-1, 1, 1, 1)
            bias = Arg("slot", out.slot(b * scale + shift))
            algo = conv_algorithm(cfg) if specialize else ""
            assert not step.planes or algo == "dwconv", "a shuffle folded into no dwconv"
            assert not step.pool or algo in ("gemm", "oconv", *POOL_ALGOS), \
                "a max pool folded wrongly"
            if algo in ("wino_gemm", "wino4_gemm"):
                x, res, y = step.args[0], step.args[3], step.args[4]
                four = algo == "wino4_gemm"
                step.kernel = algo
                step.algo = f"Winograd F({'4x4' if four else '2x2'}, 3x3), register-tiled"
                u = pack_wino4_gemm(wf) if four else pack_wino_gemm(wf)
                step.args = [x, Arg("slot", out.slot(u)), bias, res, y,
                             Arg("ints", (cfg[9], cfg[10])), act_arg(step.act),
                             Arg("threads", None)]
            elif algo in ("gemm", "oconv", "dwconv"):  # the same arguments, their own weights
                x, res, y = step.args[0], step.args[3], step.args[4]
                ints: tuple[int, ...] = (*cfg[5:13], cfg[13])
                if step.pool:  # (fusion.py: the max pool after it is no step)
                    step.kernel = "conv_maxpool"
                    step.algo = ("implicit GEMM over output channels, row by row, each "
                                 "max-pooled as it is done (the stride-2 pool after it)")
                    wk = pack_conv_maxpool(wf)
                    ints += step.pool
                elif algo == "dwconv":
                    step.kernel, step.algo = "dwconv", "depthwise, vectorized along rows"
                    if step.planes:  # (lower.py: the shuffle's transpose is gone)
                        step.algo += ", through the channel shuffle before it"
                        ints += step.planes
                    wk = pack_dwconv(wf)
                elif algo == "oconv":
                    step.kernel, step.algo = "oconv", "implicit GEMM over output channels"
                    wk = pack_oconv(wf, cfg[13])
                else:
                    step.kernel = "conv_gemm"
                    step.algo = ("GEMM on the input plane (1x1)"
                                 if cfg[5:11] == (1, 1, 1, 1, 0, 0) else "GEMM on im2col tiles")
                    wk = wf.reshape(wf.shape[0], -1)
                step.args = [x, Arg("slot", out.slot(wk)), bias, res, y, Arg("ints", ints),
                             act_arg(step.act), Arg("threads", None)]
                if step.pool:
                    del step.args[3]  # (conv_maxpool takes no residual)
            elif specialize:
                step.algo = _TEMPLATE_ALGOS[conv2d_config(*cfg).algo]
                pool = (step.pool[0], step.pool[1]) if step.pool else None
                if pool:  # (fusion.py: the max pool after it is no step)
                    step.algo += f", max-pooled ({pool[0]}x{pool[1]}, stride 2) as it is stored"
                src, name = conv2d_source(*cfg, step.act, True, has_residual(step), pool)
                step.source = (src, name)
                step.kernel = name
                step.args[1] = Arg("slot", out.slot(pack_conv2d_weight(wf, *cfg)))
                step.args[2] = bias
            else:  # the generic kernel: compiled once, whatever the configuration
                x, y = step.args[0], step.args[4]
                step.kernel = "conv2d"
                step.args = [x, Arg("slot", out.slot(wf)), bias,
                             *(Arg("lit", v) for v in (*cfg[7:13], cfg[13])), act_arg(step.act), y]
        elif (step.kernel in ("pool_rows", "pool_plane") and specialize
              and (k := _pool_window(step)) is not None
              and maxpool2d_unrolls(*(x := step.args[0]).shape[2:], *k,
                                    *(y := step.args[-2]).shape[2:])):  # k: kh, kw, sh, sw, ph, pw
            src, name = maxpool2d_source(*x.shape, *k, *y.shape[2:])
            step.source, step.kernel, step.args = (src, name), name, [x, y]
            step.algo = "max pool with the window unrolled"
        else:
            for i, arg in enumerate(step.args):
                if arg.kind == "w":
                    step.args[i] = Arg("slot", out.slot(arg.ref))
    return out


def _pool_window(step: Step) -> list[int] | None:
    """A max pool step's (kh, kw, sh, sw, ph, pw); None for an average. (``pool_plane``
    takes no padding: its windows lie inside the input.)"""
    if step.kernel == "pool_plane":
        return [a.ref for a in step.args[1:5]] + [0, 0] if step.args[5].ref else None
    return [a.ref for a in step.args[1:7]] if step.args[7].ref else None
