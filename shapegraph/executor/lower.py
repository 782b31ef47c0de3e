"""Lowering: a graph with concrete types becomes kernel steps.

Each node becomes one kernel call through its op record's lowering kind, an alias
(flatten, reshape, dropout: no work), a constant folded at plan time, or is fused into
the step that produced its input by a rule of :mod:`~shapegraph.executor.fusion` (an
activation into the dense/conv before it, a batchnorm folded into its weights, a residual
add into a convolution's output pass). :mod:`~shapegraph.executor.packing` then packs
the weights, once per plan. A node without a kernel (its op
has none, or the op's lowering declines the configuration) becomes a ``ref`` step that
calls the op's numpy reference, with the reason recorded (``Lowered.ref_reasons``); the
steps around it are still compiled (codegen splits the plan into compiled segments).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from math import prod
from typing import Any

import numpy as np

from shapegraph.core.dims import as_int
from shapegraph.core.graph import Graph, Node
from shapegraph.core.types import TensorType
from shapegraph.executor.fusion import bn_affine, channel_affine, try_fuse
from shapegraph.executor.kernels import AFFINE_PARALLEL_MIN
from shapegraph.executor.kernels_pool import POOL_PARALLEL_MIN, runs_plane, runs_s2, runs_same
from shapegraph.executor.packing import is_depthwise, pack
from shapegraph.executor.steps import NO_ACT, Act, Arg, Lowered, Step, act_arg
from shapegraph.opset.common import norm_axis
from shapegraph.opset.registry import get_op

__all__ = ["Arg", "Lowered", "Step", "lower"]


def _shape(types: Mapping[int, TensorType], v: int) -> tuple[int, ...]:
    return tuple(as_int(d) for d in types[v].shape)


def transpose_runs(shape: Sequence[int], axes: Sequence[int]
                   ) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The output sizes of ``x.transpose(axes)`` and the input's element strides along
    them, with size-1 dims dropped and neighbouring output dims that are one run in the
    input merged: ShuffleNet's channel shuffle (1, 4, 68, 14, 14) by (0, 2, 1, 3, 4) is
    (68, 4, 196) with strides (196, 13328, 1), so the kernel copies runs of 196 contiguous
    elements instead of 14."""
    x_strides = [prod(shape[i + 1:]) for i in range(len(shape))]
    sizes: list[int] = []
    strides: list[int] = []
    for a in axes:
        if shape[a] == 1:
            continue
        if sizes and strides[-1] == x_strides[a] * shape[a]:
            sizes[-1] *= shape[a]
            strides[-1] = x_strides[a]
        else:
            sizes.append(shape[a])
            strides.append(x_strides[a])
    return tuple(sizes) or (1,), tuple(strides) or (1,)


class _Lowerer:
    def __init__(self, graph: Graph, types: Mapping[int, TensorType],
                 params: Mapping[str, np.ndarray], specialize: bool,
                 consts: Mapping[int, np.ndarray] | None = None) -> None:
        self.g, self.types, self.params = graph, types, params
        self.consts = consts or {}
        self.specialize = specialize
        self.out = Lowered()
        self.producer: dict[int, Step] = {}  # value -> step that writes it (fusable)
        self.folded: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # step id -> (scale, shift)
        # transpose step id -> (its input's shape, its axes)
        self.transposes: dict[int, tuple[tuple[int, ...], tuple[int, ...]]] = {}
        self.outputs = set(graph.outputs)
        self.consumers = graph.consumers
        # the lowering kinds of the op records (``OpDef.lowering.kind``) this lowerer has
        self.kinds: dict[str, Callable[[Node], bool]] = {
            "alias": self.op_alias, "constant": self.op_constant, "param": self.op_param,
            "dense": self.op_dense, "conv": self.op_conv, "activation": self.op_activation,
            "batchnorm": self.op_batchnorm, "layernorm": self.op_layernorm,
            "softmax": self.op_softmax, "binary": self.op_binary, "pool": self.op_pool,
            "global_pool": self.op_global_pool, "concat": self.op_concat,
            "embedding": self.op_embedding, "transpose": self.op_transpose,
            "matmul": self.op_matmul, "reduce": self._reduce, "prelu": self.op_prelu,
            "lrn": self.op_lrn}

    def shape(self, v: int) -> tuple[int, ...]:
        return _shape(self.types, v)

    def base(self, v: int) -> int:
        while v in self.out.alias:
            v = self.out.alias[v]
        return v

    def val(self, v: int, shape: tuple[int, ...] | None = None) -> Arg:
        return Arg("val", v, shape if shape is not None else self.shape(v))

    def emit(self, node: Node, kernel: str, args: list[Arg], reads: list[int],
             inplace: int | None = None, **kw: Any) -> Step:
        step = Step(kernel, args, node.outputs[0], reads, inplace, node.id, **kw)
        self.out.steps.append(step)
        self.producer[node.outputs[0]] = step
        return step

    def fusable(self, v: int, kernels: tuple[str, ...]) -> Step | None:
        """The step producing ``v`` if a node consuming ``v`` may fuse into it."""
        step = self.producer.get(v)
        if step is None or step.kernel not in kernels:
            return None
        if v in self.outputs or len(self.consumers.get(v, ())) != 1:
            return None
        return step

    # ---------------------------------------------------------------------------- ops

    def node(self, n: Node) -> None:
        """Lower ``n`` by its record's lowering kind; a node whose op has none, or whose
        kind declines the configuration, runs its numpy reference."""
        rec = get_op(n.op)
        if rec.value_rule is not None and all(v in self.consts for v in n.outputs):
            for v in n.outputs:  # known at plan time (shape arithmetic): no step at all
                self.out.weight_values[v] = self.out.slot(self.consts[v])
            return
        if try_fuse(self, n):  # folded into the step that produced its input
            return
        low = rec.lowering
        handler = self.kinds.get(low.kind) if low is not None else None
        if handler is None or not handler(n):
            self.ref(n)

    def code(self, n: Node) -> int:
        """The kernel code of ``n``'s op (which activation, binary op, reduction)."""
        low = get_op(n.op).lowering
        assert low is not None
        return low.code

    def act(self, n: Node) -> Act:
        """``n`` as an activation the kernels take: its code with the attributes its
        lowering names as parameters (leaky relu's alpha) in order, 0.0 for the rest."""
        low = get_op(n.op).lowering
        assert low is not None
        ps = [float(n.attrs[p]) for p in low.params] + [0.0, 0.0]
        return (low.code, ps[0], ps[1])

    def ref(self, n: Node) -> None:
        """A step running the op's numpy reference, with the reason it has no kernel: what
        the declining ``op_*`` said (``decline``), else the op record's ``no_kernel``."""
        reason = (self.out.ref_reasons.get(n.id) or get_op(n.op).no_kernel
                  or f"no lowering for op `{n.op}`")
        self.out.ref_reasons[n.id] = reason
        self.out.ref_nodes.append(n.id)
        self.emit(n, "ref", [], list(n.inputs))

    def decline(self, n: Node, reason: str) -> bool:
        """An ``op_*`` has no kernel for this configuration: ``n`` becomes a ref step and
        the memory report says ``reason``."""
        self.out.ref_reasons[n.id] = reason
        return False

    def op_alias(self, n: Node) -> bool:
        self.out.alias[n.outputs[0]] = n.inputs[0]
        return True

    def op_constant(self, n: Node) -> bool:
        self.out.weight_values[n.outputs[0]] = self.out.slot(np.asarray(n.attrs["value"]))
        return True

    def op_param(self, n: Node) -> bool:
        self.out.weight_values[n.outputs[0]] = self.out.slot(self.p(n, "value"))
        return True

    def p(self, n: Node, role: str) -> np.ndarray:
        return np.asarray(self.params[n.param_key(role)], dtype=np.float32)

    def op_dense(self, n: Node) -> bool:
        x, y = n.inputs[0], n.outputs[0]
        xs, ys = self.shape(x), self.shape(y)
        units = ys[-1]
        rows = xs[0] if n.attrs["flatten"] else prod(xs[:-1])
        k = prod(xs) // rows
        w = self.p(n, "weight")
        b = self.p(n, "bias") if "bias" in dict(n.params) else np.zeros(units, np.float32)
        step = self.emit(n, "dense", [self.val(x, (rows, k)), Arg("w", w.T), Arg("w", b),
                                      act_arg(NO_ACT), self.val(y, (rows, units))], [x],
                         channel_axis=len(ys) - 1)
        self.folded[id(step)] = (np.ones(units, np.float32), np.zeros(units, np.float32))
        return True

    def op_conv(self, n: Node) -> bool:
        if n.attrs["pads_end"] != n.attrs["padding"]:
            return self.decline(n, _ASYMMETRIC)
        if n.attrs["auto_pad"] != "NOTSET":
            return self.decline(n, _AUTO_PAD)
        if n.attrs["ndim"] == 3:
            return self.op_conv3d(n)
        if len(n.inputs) > 1:
            return self.decline(n, "the weight is a graph value (ONNX Conv(X, W)), not a "
                                "parameter: no kernel packs it yet")
        x, y = n.inputs[0], n.outputs[0]
        a = n.attrs
        nd = a["ndim"]
        x4, y4 = _as_4d(self.shape(x), nd), _as_4d(self.shape(y), nd)
        kern = _pad2(a["kernel"], nd, 1)
        cfg = (*x4, y4[1], *kern, *_pad2(a["strides"], nd, 1), *_pad2(a["padding"], nd, 0),
               *_pad2(a["dilation"], nd, 1), a["groups"])
        w = self.p(n, "weight").reshape(y4[1], -1, *kern)
        b = self.p(n, "bias") if "bias" in dict(n.params) else np.zeros(y4[1], np.float32)
        src = x
        planes: tuple[int, ...] = ()
        shuffle = self._shuffle(x, x4) if self.specialize and is_depthwise(cfg) else None
        if shuffle is not None:  # the depthwise kernel reads the shuffle's input in its order
            src, planes, transpose = shuffle
            self.out.steps.remove(transpose)
        step = self.emit(n, "conv", [self.val(src, x4), Arg("convw", (w, cfg)), Arg("w", b),
                                     Arg("empty4", None), self.val(y, y4)], [src],
                         channel_axis=1, planes=planes)
        self.folded[id(step)] = (np.ones(y4[1], np.float32), np.zeros(y4[1], np.float32))
        return True

    def _shuffle(self, x: int, x4: tuple[int, int, int, int]
                 ) -> tuple[int, tuple[int, ...], Step] | None:
        """Whether ``x``, a convolution's input (N, C, H, W), is a channel shuffle read by
        nothing else (ShuffleNet's: reshape to (N, g, C/g, H, W), transpose (0, 2, 1, 3, 4),
        reshape back): a transpose that moves only axes which together are C (the batch
        axis first, the axes after them, H x W, in place), its output seen as x through
        reshapes only, none of them read elsewhere or a graph output. Then (the transpose's
        input, the channel of it each of x's channels is, the transpose's step)."""
        v = x
        while True:
            if v in self.outputs or len(self.consumers.get(v, ())) != 1:
                return None
            if v not in self.out.alias:
                break
            v = self.out.alias[v]
        step = self.producer.get(v)
        if step is None or step.kernel != "transpose" or id(step) not in self.transposes:
            return None
        shape, axes = self.transposes[id(step)]
        n, c, h, w = x4
        if len(shape) < 2 or shape[0] != n or axes[0] != 0:
            return None
        for k in range(len(shape), 1, -1):  # axes 1 .. k-1 the channels, k .. the plane
            if (prod(shape[1:k]) == c and prod(shape[k:]) == h * w
                    and axes[k:] == tuple(range(k, len(shape)))):
                order = np.arange(c).reshape(shape[1:k]).transpose([a - 1 for a in axes[1:k]])
                return step.reads[0], tuple(int(p) for p in order.reshape(-1)), step
        return None

    def op_activation(self, n: Node) -> bool:
        x, y = n.inputs[0], n.outputs[0]
        flat = (prod(self.shape(y)),)
        self.emit(n, "activation", [self.val(x, flat), act_arg(self.act(n)),
                                    self.val(y, flat)], [x], inplace=x)
        return True

    def op_prelu(self, n: Node) -> bool:
        x, y = n.inputs[0], n.outputs[0]
        xs = self.shape(x)
        view = (xs[0], xs[1], prod(xs[2:]))
        self.emit(n, "prelu", [self.val(x, view), Arg("w", self.p(n, "alpha")),
                               self.val(y, view)], [x], inplace=x)
        return True

    def op_batchnorm(self, n: Node) -> bool:
        x, y = n.inputs[0], n.outputs[0]
        xs = self.shape(x)
        axis = norm_axis(n.attrs["axis"], len(xs))
        assert axis is not None
        scale, shift = bn_affine(self, n)
        view = (prod(xs[:axis]), xs[axis], prod(xs[axis + 1:]))
        threads = _step_threads(prod(view), AFFINE_PARALLEL_MIN)
        self.emit(n, "channel_affine", [self.val(x, view), Arg("w", scale), Arg("w", shift),
                                        act_arg(NO_ACT), self.val(y, view), threads],
                  [x], inplace=x, channel_axis=axis)
        return True

    def op_layernorm(self, n: Node) -> bool:
        x, y = n.inputs[0], n.outputs[0]
        xs = self.shape(x)
        axis = norm_axis(n.attrs["axis"], len(xs))
        if axis != len(xs) - 1:
            return self.decline(n, f"no kernel for axis {axis} of rank {len(xs)}: the "
                                "layernorm kernel normalizes the last axis")
        view = (prod(xs[:-1]), xs[-1])
        self.emit(n, "layernorm", [self.val(x, view), Arg("w", self.p(n, "gamma")),
                                   Arg("w", self.p(n, "beta")),
                                   Arg("lit", n.attrs["epsilon"]),
                                   self.val(y, view)], [x])
        return True

    def op_softmax(self, n: Node) -> bool:
        x, y = n.inputs[0], n.outputs[0]
        xs = self.shape(x)
        axis = norm_axis(n.attrs["axis"], len(xs))
        assert axis is not None
        view = (prod(xs[:axis]), xs[axis], prod(xs[axis + 1:]))
        self.emit(n, "softmax", [self.val(x, view), self.val(y, view),
                                     Arg("lit", self.code(n) == 1)], [x])
        return True

    def known(self, v: int) -> np.ndarray | None:
        """The value of ``v`` when it is known at plan time (a weight or a constant)."""
        v = self.base(v)
        if v in self.out.weight_values:
            return self.out.weights[self.out.weight_values[v]]
        return self.consts.get(v)

    def per_channel(self, n: Node, port: int) -> tuple[int, np.ndarray] | None:
        """(axis, vector) when ``n`` (add, sub, mul, div) combines its input ``port`` with a
        constant that varies along one axis of that input only (a per-channel scale of
        shape (C, 1, 1)) and the result has the input's shape; the vector has the input's
        size along that axis (broadcast from 1 where the constant is constant)."""
        main, other = n.inputs[port], n.inputs[1 - port]
        value = self.known(other)
        xs, ys, os = self.shape(main), self.shape(n.outputs[0]), self.shape(other)
        if value is None or xs != ys or not xs or len(os) > len(xs) or value.size != prod(os):
            return None
        cs = (1,) * (len(xs) - len(os)) + os  # the constant's shape here, not its base's
        varying = [j for j, d in enumerate(cs) if d != 1]
        if len(varying) > 1:
            return None
        axis = varying[0] if varying else len(xs) - 1
        vec = np.broadcast_to(value.reshape(-1).astype(np.float32), (xs[axis],))
        return axis, np.ascontiguousarray(vec)

    def op_binary(self, n: Node) -> bool:
        a, b = n.inputs
        y = n.outputs[0]
        ys = self.shape(y)
        for port in (0, 1) if n.op in ("add", "mul") else (0,):
            found = self.per_channel(n, port)
            if found is not None:  # a per-channel scale or shift: a channel affine step
                axis, vec = found
                x = n.inputs[port]
                scale, shift = channel_affine(n.op, vec)
                view = (prod(ys[:axis]), ys[axis], prod(ys[axis + 1:]))
                threads = _step_threads(prod(view), AFFINE_PARALLEL_MIN)
                self.emit(n, "channel_affine", [self.val(x, view), Arg("w", scale),
                                                Arg("w", shift), act_arg(NO_ACT),
                                                self.val(y, view), threads],
                          [x], inplace=x, channel_axis=axis)
                return True
        if len(ys) > 4:
            return self.decline(n, f"no kernel for rank {len(ys)}: the broadcasting kernel "
                                "takes up to rank 4")
        shape4 = (1,) * (4 - len(ys)) + ys
        args = [self.val(a, (prod(self.shape(a)),)), Arg("ints", _bstrides(self.shape(a), ys)),
                self.val(b, (prod(self.shape(b)),)), Arg("ints", _bstrides(self.shape(b), ys)),
                self.val(y, (prod(ys),)), Arg("ints", shape4), Arg("lit", self.code(n))]
        inplace = a if self.shape(a) == ys else None
        self.emit(n, "binary", args, [a, b], inplace=inplace)
        return True

    def ready(self, v: int, step: Step) -> bool:
        """``v`` exists before ``step`` runs (a graph input, a weight, or written earlier)."""
        v = self.base(v)
        if self.g.values[v].producer is None or v in self.out.weight_values:
            return True
        for s in self.out.steps:
            if s is step:
                return False
            if s.writes == v:
                return True
        return False

    def op_global_pool(self, n: Node) -> bool:
        x, y = n.inputs[0], n.outputs[0]
        xs = self.shape(x)
        self.emit(n, "global_pool", [self.val(x, (xs[0], xs[1], prod(xs[2:]))),
                                     Arg("lit", n.attrs["kind"] == "max"),
                                     self.val(y, (xs[0], xs[1]))], [x])
        return True

    def op_pool(self, n: Node) -> bool:
        # the 2-D kernels clip windows to the input and take the output size from the
        # output: end padding only changes that size, except in an average's divisor
        # when padding counts (Inception v2's max pools pad [0, 0, 1, 1])
        a = n.attrs
        if a["pads_end"] != a["padding"] and (
                a["ndim"] == 3 or (a["kind"] == "avg" and a["count_include_pad"])):
            return self.decline(n, _ASYMMETRIC)
        if n.attrs["auto_pad"] != "NOTSET":
            return self.decline(n, _AUTO_PAD)
        if any(d != 1 for d in n.attrs["dilation"]):
            return self.decline(n, "dilated pooling (ONNX dilations): the pooling kernels "
                                "take contiguous windows")
        x, y = n.inputs[0], n.outputs[0]
        nd = n.attrs["ndim"]
        if nd == 3:
            return self.op_pool3d(n)
        k, s, p = (_pad2(n.attrs[a], nd, d) for a, d in
                   (("kernel", 1), ("strides", 1), ("padding", 0)))
        if (not any(p) and not any(a["pads_end"]) and k == _as_4d(self.shape(x), nd)[2:]
                and prod(_as_4d(self.shape(y), nd)[2:]) == 1):  # one window: the whole plane
            return self.op_global_pool(n)  # (ResNet-50's 7x7 average: 0.41 ms, now 0.03)
        xs, ys = _as_4d(self.shape(x), nd), _as_4d(self.shape(y), nd)
        is_max = n.attrs["kind"] == "max"
        flags = [Arg("lit", is_max), Arg("lit", not is_max and n.attrs["count_include_pad"])]
        sizes: tuple[int, ...]
        if is_max and runs_s2(*xs[2:], *k, *s, *p, *ys[2:]):
            kernel, sizes, flags = "maxpool_s2", (*k, *p), []
            algo = "stride 2 on vectors: window rows' maximum, then even and odd columns"
        elif runs_plane(*xs[2:], *k, *s, *p, *ys[2:]):  # (no padding: not an argument)
            kernel, sizes = "pool_plane", (*k, *s)
            flags = flags[:1]  # (an average's divisor is the window's size)
            algo = "chunks of whole planes: flat passes along the rows, the columns, then picks"
        elif runs_same(*xs[2:], *k, *s, *p, *ys[2:]):  # (stride 1: not an argument)
            kernel, sizes = "pool_same", (*k, *p)
            algo = "whole planes, one shifted pass per window row and column"
        elif not is_max:  # (on pool_rows 2-4x the time: ShuffleNet's 3x3 stride-2 pad-1)
            self.emit(n, "dwpool", [self.val(x, xs), self.val(y, ys), Arg("ints", (
                *k, *s, *p, 0, int(bool(n.attrs["count_include_pad"])))),
                _step_threads(prod(xs), POOL_PARALLEL_MIN)], [x],
                algo="the depthwise kernel's blocks: a vector sum of the window's taps")
            return True
        else:
            kernel, sizes = "pool_rows", (*k, *s, *p)
            algo = "separable: window rows into a row buffer, then its columns"
        self.emit(n, kernel, [self.val(x, xs), *(Arg("lit", v) for v in sizes), *flags,
                              self.val(y, ys), _step_threads(prod(xs), POOL_PARALLEL_MIN)],
                  [x], algo=algo)
        return True

    # 3-D convolution and pooling, LRN: the kernels of ``kernels_nd`` (the generic conv3d
    # takes no activation: an activation after it is a step of its own)

    def op_conv3d(self, n: Node) -> bool:
        if len(n.inputs) > 1:
            return self.decline(n, "the weight is a graph value (ONNX Conv(X, W)), not a "
                                "parameter: no kernel packs it yet")
        a, (x, y) = n.attrs, (n.inputs[0], n.outputs[0])
        channels = self.shape(y)[1]
        b = self.p(n, "bias") if "bias" in dict(n.params) else np.zeros(channels, np.float32)
        lits = (*a["strides"], *a["padding"], *a["dilation"], a["groups"])
        self.emit(n, "conv3d", [self.val(x), Arg("w", self.p(n, "weight").reshape(
            channels, -1, *a["kernel"])), Arg("w", b), *(Arg("lit", int(v)) for v in lits),
            self.val(y)], [x])
        return True

    def op_pool3d(self, n: Node) -> bool:
        x, y, a = n.inputs[0], n.outputs[0], n.attrs
        args = [self.val(x), *(Arg("lit", int(v)) for v in (
            *a["kernel"], *a["strides"], *a["padding"]))]
        if a["kind"] == "avg":
            args.append(Arg("lit", a["count_include_pad"]))
        self.emit(n, f"{a['kind']}pool3d", [*args, self.val(y)], [x])
        return True

    def op_lrn(self, n: Node) -> bool:
        x, y = n.inputs[0], n.outputs[0]
        xs = self.shape(x)
        view = (xs[0], xs[1], prod(xs[2:]))
        self.emit(n, "lrn", [self.val(x, view), *(Arg("lit", n.attrs[k]) for k in (
            "size", "alpha", "beta", "bias")), self.val(y, view)], [x])
        return True

    def op_concat(self, n: Node) -> bool:
        y = n.outputs[0]
        ys = self.shape(y)
        axis = norm_axis(n.attrs["axis"], len(ys))
        assert axis is not None
        outer, inner = prod(ys[:axis]), prod(ys[axis + 1:])
        offset = 0
        for i, v in enumerate(n.inputs):
            width = self.shape(v)[axis]
            args = [self.val(v, (outer, width, inner)), self.val(y, (outer, ys[axis], inner)),
                    Arg("lit", offset)]
            step = Step("copy_block", args, y, [v] if i == 0 else [v, y], None, n.id)
            self.out.steps.append(step)
            offset += width
        return True

    def op_embedding(self, n: Node) -> bool:
        x, y = n.inputs[0], n.outputs[0]
        count = prod(self.shape(x))
        dim = self.shape(y)[-1]
        self.emit(n, "gather_rows", [Arg("w", self.p(n, "weight")),
                                     Arg("idx", x, (count,)), self.val(y, (count, dim))], [x])
        return True

    def op_transpose(self, n: Node) -> bool:
        x, y = n.inputs[0], n.outputs[0]
        xs = self.shape(x)
        if len(xs) > 6:
            return self.decline(n, f"no kernel for rank {len(xs)}: the transpose kernel takes "
                                "up to rank 6")
        axes = n.attrs["axes"] or tuple(reversed(range(len(xs))))
        axes = [int(norm_axis(a, len(xs))) for a in axes]  # type: ignore[arg-type]
        sizes, strides = transpose_runs(xs, axes)
        step = self.emit(n, "transpose", [
            self.val(x, (prod(xs),)), Arg("ints", (0,) * (6 - len(sizes)) + strides),
            self.val(y, (prod(xs),)), Arg("ints", (1,) * (6 - len(sizes)) + sizes)], [x])
        self.transposes[id(step)] = (tuple(xs), tuple(axes))
        return True

    def op_matmul(self, n: Node) -> bool:
        a, b = n.inputs
        ra, rb = len(self.shape(a)), len(self.shape(b))
        if ra != 2 or rb != 2:
            return self.decline(n, f"no kernel for ranks {ra} and {rb}: the matmul kernel "
                                "multiplies 2-D operands")
        self.emit(n, "np.dot", [self.val(a), self.val(b), self.val(n.outputs[0])], [a, b])
        return True

    def _reduce(self, n: Node) -> bool:
        """mean, sum, max, min: one contiguous run of reduced axes is an (outer, axis,
        inner) view for ``reduce_axis``; separated runs (axes (0, 2)) go to
        ``reduce_strided``, up to 6 merged dims."""
        from shapegraph.opset.reduce import reduced_axes

        x, y = n.inputs[0], n.outputs[0]
        xs = self.shape(x)
        axes = reduced_axes(n.attrs["axis"], len(xs))
        assert not isinstance(axes, str)  # propagation accepted the node
        runs: list[list[int]] = []  # [size, reduced]: adjacent dims of one kind merged
        for j, d in enumerate(xs):
            if d != 1 and runs and runs[-1][1] == (j in axes):
                runs[-1][0] *= d
            elif d != 1:  # a dim of size 1 changes neither the layout nor the count
                runs.append([d, int(j in axes)])
        kind = Arg("lit", self.code(n))
        reduced = [i for i, r in enumerate(runs) if r[1]]
        if len(reduced) <= 1:
            k = reduced[0] if reduced else len(runs)
            outer, inner = prod(r[0] for r in runs[:k]), prod(r[0] for r in runs[k + 1:])
            size = runs[k][0] if reduced else 1
            self.emit(n, "reduce_axis", [self.val(x, (outer, size, inner)), kind,
                                         self.val(y, (outer, inner))], [x])
            return True
        if len(runs) > 6:
            return self.decline(n, f"no kernel for {len(runs)} alternating runs of reduced and "
                                "kept dims: reduce_strided takes up to 6")
        strides, acc = [], 1
        for size, red in reversed(runs):
            strides.append(0 if red else acc)
            acc *= 1 if red else size
        shape6 = (1,) * (6 - len(runs)) + tuple(r[0] for r in runs)
        self.emit(n, "reduce_strided", [self.val(x, (prod(xs),)), Arg("ints", shape6),
                                        Arg("ints", (0,) * (6 - len(runs)) + tuple(
                                            reversed(strides))), kind,
                                        self.val(y, (prod(self.shape(y)),))], [x])
        return True


    def finish(self) -> Lowered:
        return pack(self.out, self.folded, self.specialize)


_AUTO_PAD = ("auto_pad SAME with strides (ONNX): the padding follows the input size, and the "
             "kernels take it as given")
_ASYMMETRIC = ("asymmetric padding (ONNX pads [begin, end] that differ): the convolution and "
               "pooling kernels pad both sides alike")


def _as_4d(shape: tuple[int, ...], nd: int) -> tuple[int, int, int, int]:
    return (shape[0], shape[1], 1, shape[2]) if nd == 1 else shape  # type: ignore[return-value]


def _pad2(values: Any, nd: int, fill: int) -> tuple[int, int]:
    vals = tuple(int(v) for v in values)
    return (fill, vals[0]) if nd == 1 else (vals[0], vals[1])


def _bstrides(shape: tuple[int, ...], out: tuple[int, ...]) -> tuple[int, ...]:
    """Element strides of a contiguous ``shape`` broadcast to ``out`` (rank padded to 4)."""
    full = (1,) * (len(out) - len(shape)) + shape
    strides = [prod(full[i + 1:]) if full[i] != 1 else 0 for i in range(len(full))]
    return tuple([0] * (4 - len(out)) + strides)


def lower(graph: Graph, types: Mapping[int, TensorType], params: Mapping[str, np.ndarray],
          specialize: bool = True, consts: Mapping[int, np.ndarray] | None = None,
          reuse: Sequence[np.ndarray] = ()) -> Lowered:
    """Lower ``graph`` (every type concrete) with parameter arrays by key; ``specialize``
    uses convolution kernels generated for each configuration (for whole-graph compiled
    plans) instead of the generic kernel. ``consts`` are the values propagation knows
    for these shapes (shape arithmetic): nodes that compute only those are folded.
    ``reuse``: another plan's lowered weights, kept where this lowering makes equal ones."""
    lw = _Lowerer(graph, types, params, specialize, consts or {})
    lw.out.reuse = reuse
    for n in graph.nodes:
        lw.node(n)
    return lw.finish()


def _step_threads(elements: int, minimum: int) -> Arg:
    """A parallel step's thread count: the plan's threads from ``minimum`` elements (the
    kernel's own bound: ``AFFINE_PARALLEL_MIN``, ``POOL_PARALLEL_MIN``), else one. A
    smaller step keeps its plan serial, so that a small model keeps its short call path and
    BLAS its own threads (a seed-sized MLP with a batchnorm first: 2.1 µs a call, 8.5 when
    the step asked for threads). The one is a typed int ("one"), not a literal, so that
    both share the kernel's compiled code."""
    return Arg("threads", None) if elements >= minimum else Arg("one", 1)
