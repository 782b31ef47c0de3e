"""Fusion rules, as data: which consumer folds into which producing step, when, and how.

A rule names the consumer (a lowering kind, optionally only some ops), the kernels of the
steps it may fuse into, a condition on the pair (layouts, axes, what the step already
carries) and the rewrite. The lowerer tries the rules for a node before lowering it on
its own (``_Lowerer.node``); the producing step must be the only reader of the value
and the value must not be a graph output (``_Lowerer.fusable``).

The axis condition of the batchnorm fold is part of its rule: a batchnorm folds into the
weights only when it normalizes the axis its producer writes channels on (a dense with
``flatten=False`` writes its units on the *last* axis, a convolution on axis 1).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from shapegraph.core.graph import Node
from shapegraph.executor.kernels_cpool import fuses_maxpool, pools, takes_conv
from shapegraph.executor.packing import conv_algorithm
from shapegraph.executor.steps import NO_ACT, Arg, Step, act_arg, has_residual
from shapegraph.executor.templates import POOL_ALGOS, pooled_size, template_pools
from shapegraph.opset.common import norm_axis
from shapegraph.opset.registry import get_op

if TYPE_CHECKING:  # the lowerer applies these rules (lower.py imports this module)
    from shapegraph.executor.lower import _Lowerer

__all__ = ["FUSIONS", "Fusion", "bn_affine", "channel_affine", "try_fuse"]

# (lowerer, consumer node, producing step, the consumer's input port that step writes)
Condition = Callable[["_Lowerer", Node, Step, int], bool]
Rewrite = Callable[["_Lowerer", Node, Step, int], None]


@dataclass(frozen=True)
class Fusion:
    """Fuse a ``consumer`` node (a lowering kind; ``ops`` narrows it) into the step that
    produced one of its inputs (``ports``), when that step's kernel is in ``producers``
    and ``when`` holds; ``fuse`` rewrites the step."""

    name: str
    consumer: str
    producers: tuple[str, ...]
    when: Condition
    fuse: Rewrite
    ops: tuple[str, ...] = ()
    ports: tuple[int, ...] = (0,)


def _absorb(lw: _Lowerer, n: Node, step: Step, port: int) -> None:
    """The consumer's output is now the step's output."""
    lw.out.alias[n.outputs[0]] = n.inputs[port]
    lw.producer[n.outputs[0]] = step


def _no_activation_yet(lw: _Lowerer, n: Node, step: Step, port: int) -> bool:
    return step.act == NO_ACT


def _activation(lw: _Lowerer, n: Node, step: Step, port: int) -> None:
    step.act = lw.act(n)
    if step.kernel == "channel_affine":
        step.args[3] = act_arg(step.act)
    _absorb(lw, n, step, port)


def _bn_on_channel_axis(lw: _Lowerer, n: Node, step: Step, port: int) -> bool:
    axis = norm_axis(n.attrs["axis"], len(lw.shape(n.inputs[0])))
    return (axis == step.channel_axis and step.act == NO_ACT and id(step) in lw.folded
            and not has_residual(step) and not step.pool)


def _fold_batchnorm(lw: _Lowerer, n: Node, step: Step, port: int) -> None:
    scale, shift = bn_affine(lw, n)
    s0, t0 = lw.folded[id(step)]
    lw.folded[id(step)] = (s0 * scale, t0 * scale + shift)
    _absorb(lw, n, step, port)


def _residual_fits(lw: _Lowerer, n: Node, step: Step, port: int) -> bool:
    main, skip = n.inputs[port], n.inputs[1 - port]
    return (lw.specialize and step.act == NO_ACT and not has_residual(step) and not step.pool
            and lw.shape(skip) == lw.shape(main) and lw.ready(skip, step))


def _residual(lw: _Lowerer, n: Node, step: Step, port: int) -> None:
    """The skip value becomes the step's residual; the memory plan may write the output
    over it where it dies here (every convolution kernel reads a residual element only to
    write the output element at the same place; ``conv_gemm`` adds its products to it)."""
    skip = n.inputs[1 - port]
    step.args[3] = lw.val(skip, step.args[4].shape)
    step.reads.append(skip)
    step.inplace = skip
    _absorb(lw, n, step, port)


def _channel_constant_fits(lw: _Lowerer, n: Node, step: Step, port: int) -> bool:
    if n.op in ("sub", "div") and port != 0:  # c - x, c / x: not an affine map of x
        return False
    found = lw.per_channel(n, port)
    if found is None or found[0] != step.channel_axis or step.act != NO_ACT:
        return False
    # folding reorders the arithmetic: only where that cannot turn a number into NaN
    if not np.all(np.isfinite(found[1])) or (n.op == "div" and not np.all(found[1])):
        return False
    return step.kernel == "channel_affine" or (id(step) in lw.folded
                                                and not has_residual(step) and not step.pool)


def _fold_channel_constant(lw: _Lowerer, n: Node, step: Step, port: int) -> None:
    """x * s, x + t, x - t, x / s by a per-channel constant, composed with the producer's
    scale and shift (a dense/conv's weights and bias, or a channel affine step's own), as
    a batchnorm folds."""
    found = lw.per_channel(n, port)
    assert found is not None
    scale, shift = (a.astype(np.float64) for a in channel_affine(n.op, found[1]))
    if step.kernel == "channel_affine":
        s0, t0 = step.args[1].ref.astype(np.float64), step.args[2].ref.astype(np.float64)
    else:
        s0, t0 = (a.astype(np.float64) for a in lw.folded[id(step)])
    s1, t1 = (s0 * scale).astype(np.float32), (t0 * scale + shift).astype(np.float32)
    if step.kernel == "channel_affine":
        step.args[1], step.args[2] = Arg("w", s1), Arg("w", t1)
    else:
        lw.folded[id(step)] = (s1, t1)
    _absorb(lw, n, step, port)


def _maxpool_fits(lw: _Lowerer, n: Node, step: Step, port: int) -> bool:
    """A 2-D max pool that ``conv_maxpool`` takes (``pools``: stride 2, a window of up to
    3x3, padding smaller than it, no ceil mode) after a convolution without groups that
    it takes (``takes_conv``: one on im2col tiles, not the 1x1 on the input plane, or an
    ``oconv`` one on rows of whole tiles), or one that a generated direct convolution
    takes into its output pass (``templates.template_pools``: stride 2, 2x2 to 3x3, no
    padding; LeNet's); with no residual, and an activation, if any, that does not
    decrease (``fuses_maxpool``): the pool may then come first."""
    a = n.attrs
    if (not lw.specialize or a["kind"] != "max" or a["ndim"] != 2
            or a["auto_pad"] != "NOTSET" or any(d != 1 for d in a["dilation"])
            or a["ceil_mode"] or step.pool or step.planes
            or has_residual(step) or not fuses_maxpool(step.act)):
        return False
    cfg = step.args[1].ref[1]
    algo = conv_algorithm(cfg)
    oh, ow = step.args[4].shape[2:]
    if algo in POOL_ALGOS:
        (kh, kw), (sh, sw) = a["kernel"], a["strides"]
        return (template_pools(algo, oh, ow, kh, kw, sh, sw, (*a["padding"], *a["pads_end"]))
                and pooled_size(oh, ow, (kh, kw)) == tuple(lw.shape(n.outputs[0])[2:]))
    if (cfg[13] != 1 or not takes_conv(algo, ow)
            or cfg[5:11] == (1, 1, 1, 1, 0, 0)):  # (the 1x1: GEMM on the input plane)
        return False
    # (its Python function: compiled, it would cost a cold plan 0.3 s)
    return bool(pools.py_func(*step.args[4].shape[2:], *a["kernel"], *a["strides"],
                              *a["padding"], *a["pads_end"], *lw.shape(n.outputs[0])[2:]))


def _maxpool(lw: _Lowerer, n: Node, step: Step, port: int) -> None:
    """The step writes the pool's output (the convolution's is never made)."""
    y = n.outputs[0]
    step.pool = (*n.attrs["kernel"], *step.args[4].shape[2:], *n.attrs["padding"],
                 *n.attrs["pads_end"])
    step.args[4] = lw.val(y)
    step.writes = y
    del lw.producer[n.inputs[port]]
    lw.producer[y] = step


def channel_affine(op: str, vec: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(scale, shift) per channel of ``x op vec`` (add, sub, mul, div): the step a
    per-channel constant runs as, and what it folds into its producer. ``x / 0`` is
    ``x * inf``, as numpy's division gives."""
    one, zero = np.ones_like(vec), np.zeros_like(vec)
    if op == "mul":
        return vec, zero
    if op == "div":
        with np.errstate(divide="ignore"):
            return 1.0 / vec, zero
    return one, vec if op == "add" else -vec


FUSIONS: tuple[Fusion, ...] = (
    Fusion("an activation (or unary math) in its producer's output pass", "activation",
           ("dense", "conv", "channel_affine"), _no_activation_yet, _activation),
    Fusion("a batchnorm folded into the weights and bias of its producer", "batchnorm",
           ("dense", "conv"), _bn_on_channel_axis, _fold_batchnorm),
    Fusion("a per-channel scale or shift (ONNX's batchnorm as Mul and Add) folded into "
           "the scale and shift of its producer", "binary", ("dense", "conv",
                                                             "channel_affine"),
           _channel_constant_fits, _fold_channel_constant, ops=("mul", "add", "sub", "div"),
           ports=(0, 1)),
    Fusion("a residual add in the convolution's output pass (specialized kernels)",
           "binary", ("conv",), _residual_fits, _residual, ops=("add",), ports=(0, 1)),
    Fusion("a stride-2 max pool computed band by band with the convolution before it "
           "(specialized kernels)", "pool", ("conv",), _maxpool_fits, _maxpool),
)


def bn_affine(lw: _Lowerer, n: Node) -> tuple[np.ndarray, np.ndarray]:
    """A batchnorm's running statistics as one scale and shift per channel (float32)."""
    eps = n.attrs["epsilon"]
    mean = lw.p(n, "running_mean").astype(np.float64)
    var = lw.p(n, "running_var").astype(np.float64)
    gamma = lw.p(n, "gamma").astype(np.float64) if n.attrs["scale"] else 1.0
    beta = lw.p(n, "beta").astype(np.float64) if n.attrs["center"] else 0.0
    scale = gamma / np.sqrt(var + eps)
    shift = beta - mean * scale
    return (np.broadcast_to(scale, mean.shape).astype(np.float32),
            np.broadcast_to(shift, mean.shape).astype(np.float32))


def try_fuse(lw: _Lowerer, n: Node) -> bool:
    """Apply the first rule that fits ``n``; False when none does."""
    low = get_op(n.op).lowering
    if low is None:
        return False
    for rule in FUSIONS:
        if rule.consumer != low.kind or (rule.ops and n.op not in rule.ops):
            continue
        for port in rule.ports:
            step = lw.fusable(n.inputs[port], rule.producers)
            if step is not None and rule.when(lw, n, step, port):
                rule.fuse(lw, n, step, port)
                return True
    return False
