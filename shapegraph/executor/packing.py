"""Weight packing, once per plan: dense weights transposed and scaled by any folded
batchnorm, conv weights folded and laid out the way their specialized kernel wants, each
weight given its slot in the plan's weight buffer.
"""

from __future__ import annotations

import numpy as np

from shapegraph.executor.kernels import NARROW_UNITS
from shapegraph.executor.kernels_gemm import DENSE_SPLIT_WEIGHTS
from shapegraph.executor.steps import Arg, Lowered, Step, act_arg, has_residual
from shapegraph.executor.templates import (
    ConvArgs,
    _out_size,
    conv2d_config,
    conv2d_source,
    maxpool2d_source,
    maxpool2d_unrolls,
    pack_conv2d_weight,
)

__all__ = ["conv_algorithm", "pack", "pack_wino_gemm"]


_TEMPLATE_ALGOS = {"wino": "Winograd F(2x2, 3x3), generated for the shape",
                   "flat": "direct (flat plane), generated for the shape",
                   "vo": "direct (vectorized over output channels), generated for the shape",
                   "rows": "direct (strided rows), generated for the shape"}


def conv_algorithm(cfg: ConvArgs) -> str:
    """``gemm`` (``kernels_gemm.conv_gemm``: sgemm or ``vgemm`` on im2col tiles) for 1x1 and
    strided convolutions, where the direct kernels reach 15-35 GFLOP/s and sgemm 50-80 on
    one core (ResNet-50's shapes, benchmarks/README.md), and for 5x5 and larger kernels with
    many channels (``LARGE_KERNEL_MIN_K``); of those, ``vconv`` (the implicit GEMM, no
    im2col) where it wins (``_vconv_wins``: the stems, 5x5s on wide rows); ``wino_gemm``
    (Winograd F(2x2, 3x3) with sgemm: 110-170 GFLOP/s-equivalent) for stride-1 3x3
    convolutions with at least 64 inputs and 64 outputs (or 128 and 32), on planes of
    14x14 or more, with enough tiles for its transformed weights
    (``WINO_WEIGHT_BYTES_PER_TILE``; with fewer channels its transforms cost more than it
    saves, and on 7x7 planes the products are too small); otherwise the algorithm of the
    specialized template (``templates.conv2d_config``: Winograd or direct, 90-105
    GFLOP/s on stride-1 3x3). Grouped convolutions with few channels per group stay
    direct."""
    c, o, (kh, kw, sh, sw), groups = cfg[1], cfg[4], cfg[5:9], cfg[13]
    cg, og = c // groups, o // groups
    if cg * kh * kw >= 16 and og >= 8 and (kh * kw == 1 or sh * sw > 1):
        return "vconv" if _vconv_wins(cfg) else "gemm"
    if kh * kw > 16 and cg * kh * kw >= LARGE_KERNEL_MIN_K and og >= 64:
        # 5x5 and larger with many channels: see LARGE_KERNEL_MIN_K
        return "vconv" if _vconv_wins(cfg) else "gemm"
    oh, ow = _out_hw(cfg)  # (for the 3x3s Winograd takes: H + 2 PH - 2)
    tiles = ((oh + 1) // 2) * ((ow + 1) // 2)
    if ((kh, kw, sh, sw, cfg[11], cfg[12], groups) == (3, 3, 1, 1, 1, 1, 1)
            and ((c >= 64 and o >= 64) or (c >= 128 and o >= 32)) and oh * ow >= 196
            and 16 * 4 * c * o <= WINO_WEIGHT_BYTES_PER_TILE * tiles):
        return "wino_gemm"
    if (kh * kw > 1 and og >= 64 and oh * ow <= GEMM_MAX_PIXELS
            and 4 * og * cg * kh * kw >= GEMM_MIN_WEIGHT_BYTES):
        return "gemm"  # small planes, large weights: see GEMM_MAX_PIXELS
    return conv2d_config(*cfg).algo


def _out_hw(cfg: ConvArgs) -> tuple[int, int]:
    """A convolution's output plane (its padding taken as symmetric)."""
    h, w, (kh, kw, sh, sw, ph, pw, dh, dw) = cfg[2], cfg[3], cfg[5:13]
    return _out_size(h, kh, sh, ph, dh), _out_size(w, kw, sw, pw, dw)


def _vconv_wins(cfg: ConvArgs) -> bool:
    """Whether a convolution that would take ``conv_gemm``'s im2col runs ``vconv`` (the
    implicit GEMM) instead: a kernel of more than one tap, 64 products per output or more
    (fewer: the register tile's start and end cost more than an im2col tile), 8 output
    channels a group, output rows of VCONV_MIN_OW pixels or more (shorter rows waste most of
    a 24-pixel strip), and a group's weights within VCONV_MAX_WEIGHT_BYTES (each output row
    reads all of them again)."""
    c, o, kh, kw, groups = cfg[1], cfg[4], cfg[5], cfg[6], cfg[13]
    cg, og = c // groups, o // groups
    return (kh * kw > 1 and cg * kh * kw >= 64 and og >= 8 and _out_hw(cfg)[1] >= VCONV_MIN_OW
            and 4 * og * cg * kh * kw <= VCONV_MAX_WEIGHT_BYTES)


# vconv against conv_gemm (vgemm on im2col tiles), one convolution alone, one thread,
# 2026-12-06 (benchmarks/README.md, "Stop 25"): the 7x7 stride-2 stems 3->64 at 224x224
# 3.16 ms against 3.88, AlexNet's 11x11 stride 4 1.83 against 2.34, 5x5 32->96 at 28x28
# 1.56 against 1.79; but on output rows of 13 or 7 pixels 1.3-1.4x slower (a strip of 24
# pixels mostly empty), with 27 products (3x3 on 3 channels) 1.7x slower, and with
# ResNet-50's strided 3x3s' 0.6-9 MB of weights, read again for every output row, 1.2-1.7x
VCONV_MIN_OW = 24
VCONV_MAX_WEIGHT_BYTES = 512 * 1024


# Stride-1 kernels on output planes of at most this many pixels (13x13) with a group's
# weights of GEMM_MIN_WEIGHT_BYTES or more (and 64 outputs) run conv_gemm (vgemm on im2col
# tiles) rather than the generated direct kernel: the product streams its weights once,
# prefetched, where the direct kernel reads them once per output channel pair. One thread,
# each convolution's best of 20 calls in its model, against the template: ResNet-50's
# 512 -> 512 3x3 at 7x7 2.73 ms against 3.06-3.43, Inception v1's 3x3s on 13x13 and 6x6
# 3-14% faster (160 -> 320 at 13x13 1.63 against 1.69; 192 -> 384 at 6x6 0.57 against
# 0.65). Not VGG-19's 512 -> 512 at 14x14 (10.9 against 10.1 ms), nor SqueezeNet's 3x3s
# with 0.4-0.6 MB of weights (64 -> 256 at 13x13 0.63 against 0.54). It also spares the
# compile of a generated kernel (about 4 s each, cold).
GEMM_MAX_PIXELS = 169
GEMM_MIN_WEIGHT_BYTES = 1024 * 1024


# Stride-1 kernels of more than 16 taps (5x5) run the GEMM from this many products per
# output (input channels of a group x taps), with 64 output channels or more: the direct
# kernels compute one output channel per pass for them (two would spill registers), and
# reach 55-60 GFLOP/s. One thread, one convolution alone, against the generated kernel:
# AlexNet's 5x5 groups of 48 -> 128 at 26x26 5.4 ms against 7.2, Inception v1's 32 -> 96
# at 28x28 1.66 against 2.04 and 48 -> 128 at 7x7 0.21 against 0.27; with fewer channels
# the direct kernel wins (16 -> 32 at 14x14 55 µs against 119, LeNet's 6 -> 16 at batch
# 64 0.35 ms against 1.10)
LARGE_KERNEL_MIN_K = 800


# Winograd against the generated direct kernel (one thread / two, one convolution alone,
# 2026-12-05, after wino_gemm's transformed planes stopped sharing an L1 set): 64 -> 64 at
# 56x56 1.9 / 1.1-1.3 ms against 2.5 / 1.3 (ONNX Runtime 2.05 / 1.04); 64 -> 192 at 55x55
# 5.7 against 7.2; 128 -> 32 at 56x56 2.06 / 1.14 against 2.54 / 1.33; VGG's 64 -> 64 at
# 224x224 31.8 / 16.1 against 43 / 26 (ONNX Runtime 35.4 / 17.9) and 128 -> 128 at 112x112
# 26.7 / 13.3 against 39.4 / 20.2 (33.3 / 16.6): no plane is too large. It is not taken
# with fewer channels: 64 -> 32 at 56x56 1.15 / 0.8-1.2 against 1.29 / 0.7-0.8, 32 -> 96
# at 56x56 1.89 against 1.86, 16 -> 64 at 55x55 0.96 against 0.65.
# Winograd's transformed weights (16 x C x M floats) are read once per block of tiles: with
# few tiles for them (512 channels on a 14x14 plane: 342 KB a tile) the direct kernel wins
# (1.11x ONNX Runtime's time against 1.30x), with more it loses (256 channels at 14x14,
# 85 KB a tile: 0.85x against 1.13x; 512 at 28x28, 85 KB: 0.98x against 1.11x). One
# thread, one convolution alone, benchmarks/bench_conv_shapes.py's setup. (Measured again
# after the L1 fix: 512 at 14x14 8.6-9.3 ms against 9.7-9.9 on one thread, but 6.2-7.4
# against 5.5-5.8 on two.)
WINO_WEIGHT_BYTES_PER_TILE = 128 * 1024


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
            else:
                step.args[1] = Arg("slot", out.slot(wt * scale[None, :]))
                if wt.size >= DENSE_SPLIT_WEIGHTS:  # large: its columns split over threads
                    step.kernel = "dense_split"
                    step.args.append(Arg("threads", None))
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
            if algo == "wino_gemm":
                x, res, y = step.args[0], step.args[3], step.args[4]
                step.kernel, step.algo = "wino_gemm", "Winograd F(2x2, 3x3) with sgemm"
                step.args = [x, Arg("slot", out.slot(pack_wino_gemm(wf))), bias, res, y,
                             Arg("ints", (cfg[9], cfg[10])), act_arg(step.act),
                             Arg("threads", None)]
            elif algo in ("gemm", "vconv"):
                x, res, y = step.args[0], step.args[3], step.args[4]
                step.kernel = "conv_gemm" if algo == "gemm" else "vconv"
                direct = cfg[5:11] == (1, 1, 1, 1, 0, 0)
                step.algo = ("implicit GEMM on the padded input" if algo == "vconv"
                             else "GEMM on the input plane (1x1)" if direct
                             else "GEMM on im2col tiles")
                step.args = [x, Arg("slot", out.slot(wf.reshape(wf.shape[0], -1))), bias, res,
                             y, Arg("ints", (*cfg[5:13], cfg[13])), act_arg(step.act),
                             Arg("threads", None)]
            elif specialize:
                step.algo = _TEMPLATE_ALGOS[conv2d_config(*cfg).algo]
                src, name = conv2d_source(*cfg, step.act, True, has_residual(step))
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


def pack_wino_gemm(w: np.ndarray) -> np.ndarray:
    """The weights (M, C, 3, 3) transformed for ``wino_gemm``: U[i*4 + j, m, c] =
    (G w[m, c] G^T)[i, j], computed in float64."""
    g = np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]], np.float64)
    u = np.einsum("ik,mckl,jl->ijmc", g, w.astype(np.float64), g)
    return np.ascontiguousarray(u.reshape(16, w.shape[0], w.shape[1]), dtype=np.float32)
