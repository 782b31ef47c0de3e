"""The ten most expensive convolution shapes of the nine light ONNX models, one at a time.

Every Conv node of the onnx package's nine light models (AlexNet, DenseNet-121, Inception
v1/v2, ResNet-50, ShuffleNet, SqueezeNet, VGG-19, ZFNet-512) at batch 1 is a shape: input
channels and plane, output channels, kernel, stride, padding, dilation, groups. Shapes are
ranked by the FLOPs they take across the nine models (FLOPs of one call times the number of
Conv nodes with that shape), and the top ``--top`` are timed alone: a one-node ONNX model
(the Conv with random weights and a bias) compiled by shapegraph and run by ONNX Runtime in
the same process, in turns, ``--rounds`` rounds. Reported per shape: both medians with their
min-max, the ratio (round by round), shapegraph's GFLOP/s and its % of the sgemm peak
measured in the same run, and the algorithm shapegraph chose (from its memory plan).

Run: ``python benchmarks/bench_conv_shapes.py [--threads 1] [--top 10] [--batch 1]``
"""

from __future__ import annotations

import argparse
import collections
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

import shapegraph as sg
from shapegraph.infer.propagate import propagate
from shapegraph.tools.bench import measure, ratio, sgemm_peak_gflops, spread
from shapegraph.tools.peers import ort_runner, set_threads
from shapegraph.tools.workloads import ONNX_WORKLOADS, random_weights


@dataclass(frozen=True)
class ConvShape:
    c: int
    h: int
    w: int
    o: int
    kernel: tuple[int, int]
    strides: tuple[int, int]
    pads: tuple[int, int, int, int]
    dilations: tuple[int, int]
    group: int

    def out_hw(self) -> tuple[int, int]:
        (kh, kw), (sh, sw), (dh, dw) = self.kernel, self.strides, self.dilations
        p0, p1, p2, p3 = self.pads
        return ((self.h + p0 + p2 - dh * (kh - 1) - 1) // sh + 1,
                (self.w + p1 + p3 - dw * (kw - 1) - 1) // sw + 1)

    def flops(self, batch: int = 1) -> int:
        oh, ow = self.out_hw()
        kh, kw = self.kernel
        return 2 * batch * self.o * oh * ow * (self.c // self.group) * kh * kw

    def label(self) -> str:
        k, s = self.kernel, self.strides
        g = f" g{self.group}" if self.group > 1 else ""
        pad = "" if not any(self.pads) else f" p{self.pads[0]}"
        return (f"{self.c}x{self.h}x{self.w} -> {self.o}, {k[0]}x{k[1]} s{s[0]}{pad}{g}")


def conv_shapes(proto: Any) -> list[ConvShape]:
    """The shape of every 2-D Conv node of ``proto`` (the batch is not part of it), as
    shapegraph's propagation resolves it for the declared input."""
    model = sg.load_onnx(proto)
    res = propagate(model.graph, {k: t.shape for k, t in model.input_types.items()})
    out = []
    for n in model.graph.nodes:
        a = n.attrs
        if n.op != "conv" or a["ndim"] != 2 or a["auto_pad"] != "NOTSET":
            continue
        x = res.types[n.inputs[0]]
        assert x is not None
        _, c, h, wd = (int(d) for d in x.shape)
        pads = (*a["padding"], *a["pads_end"])
        out.append(ConvShape(c, h, wd, a["channels"], a["kernel"], a["strides"], pads,
                             a["dilation"], a["groups"]))
    return out


def ranked(batch: int) -> list[tuple[ConvShape, int, set[str]]]:
    """Every shape with its count and models, most FLOPs across the models first."""
    count: collections.Counter[ConvShape] = collections.Counter()
    models: dict[ConvShape, set[str]] = collections.defaultdict(set)
    for wl in ONNX_WORKLOADS:
        for s in conv_shapes(random_weights(onnx.load(wl.path()))):
            count[s] += 1
            models[s].add(wl.name)
    order = sorted(count, key=lambda s: -s.flops(batch) * count[s])
    return [(s, count[s], models[s]) for s in order]


def one_conv(s: ConvShape, batch: int) -> Any:
    """A one-node ONNX model: Conv(x, W, B) with random weights."""
    rng = np.random.default_rng(0)
    kh, kw = s.kernel
    w = (rng.standard_normal((s.o, s.c // s.group, kh, kw)) /
         np.sqrt(s.c // s.group * kh * kw)).astype(np.float32)
    b = rng.standard_normal(s.o).astype(np.float32)
    oh, ow = s.out_hw()
    node = helper.make_node("Conv", ["x", "W", "B"], ["y"], kernel_shape=list(s.kernel),
                            strides=list(s.strides), pads=list(s.pads),
                            dilations=list(s.dilations), group=s.group)
    graph = helper.make_graph(
        [node], "conv",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, s.c, s.h, s.w])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, s.o, oh, ow])],
        [numpy_helper.from_array(w, "W"), numpy_helper.from_array(b, "B")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--top", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--budget", type=float, default=1.0, help="seconds per shape")
    args = ap.parse_args()
    set_threads(args.threads)
    shapes = ranked(args.batch)
    total = sum(s.flops(args.batch) * n for s, n, _ in shapes)
    peak = sgemm_peak_gflops(args.threads)
    print(f"{len(shapes)} distinct conv shapes in the nine models, {total / 1e9:.1f} GFLOP at "
          f"batch {args.batch}; {args.threads} thread(s); sgemm peak {peak:.0f} GFLOP/s\n")
    print("| shape (C x H x W -> O) | n | share | shapegraph ms | ORT ms | ratio | GFLOP/s "
          "| % peak | algorithm |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---|")
    x = np.random.default_rng(1)
    for s, n, _ in shapes[:args.top]:
        proto = one_conv(s, args.batch)
        model = sg.compile(sg.load_onnx(proto))
        xin = x.standard_normal((args.batch, s.c, s.h, s.w)).astype(np.float32)
        ort = ort_runner(proto.SerializeToString(), "x", args.threads)
        np.testing.assert_allclose(model(xin), ort(xin), rtol=2e-3, atol=2e-3)
        (runner,) = model._runners.values()
        algo = next(st.algo for st in runner.plan.lowered.steps if st.algo)
        t = measure({"ours": lambda m=model, a=xin: m(a), "ort": lambda o=ort, a=xin: o(a)},
                    args.budget, args.rounds)
        ours, theirs = spread(t["ours"]), spread(t["ort"])
        gf = s.flops(args.batch) / (ours.median * 1e-6) / 1e9
        print(f"| {s.label()} | {n} | {100 * s.flops(args.batch) * n / total:.1f}% "
              f"| {_ms(ours)} | {_ms(theirs)} | {ratio(t['ours'], t['ort']).fmt(2)} "
              f"| {gf:.0f} | {100 * gf / peak:.0f}% | {algo} |")


def _ms(s: Any) -> str:
    return f"{s.median / 1e3:.2f} ({s.lo / 1e3:.2f}-{s.hi / 1e3:.2f})"


if __name__ == "__main__":
    main()
