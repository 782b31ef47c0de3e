"""A plan with one step that has no kernel: segments against the whole plan step by step.

Before issue 9, one ``ref`` step (a node without a kernel) made the whole plan run step by
step in Python; now the steps around it stay compiled, in segments, with the reference
step between them. Both run here in one process on the same plan (same lowering, same
specialized kernels, same memory plan): *before* is that plan's code generated as plain
Python (what the old code generator did for any plan with a ref step), *after* is the
plan as ``sg.compile`` runs it now. For scale: the reference step alone, and a variant of
the network that has a kernel for every step (the LayerNorm on the last axis, or no
transpose), run as one compiled function.
Each repeat times every variant back to back, each as the median over many calls, in
microseconds per forward call; the table gives the least disturbed repeat's figure (the
machine is shared) and the ratio before/after as median and min-max over the repeats.
JIT compilation happens before timing.

Run: ``python benchmarks/bench_segments.py [--quick]``.
"""

# ruff: noqa: E402  (thread counts are set before numpy and numba load)

from __future__ import annotations

import argparse
import os
import time

# one thread for numba, OpenMP and BLAS: the difference measured here is Python between
# kernels, and on a shared machine a parallel region waiting for a descheduled thread
# costs milliseconds (set these before the run to measure something else)
for _var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
from collections.abc import Callable
from typing import Any

import numpy as np

import shapegraph as sg
from shapegraph import nn, ops
from shapegraph.executor.codegen import _ref_step, generate
from shapegraph.executor.lower import lower
from shapegraph.executor.plan import plan_memory
from shapegraph.executor.runtime import Runner


def median_us(fn: Callable[[], Any], budget_s: float) -> float:
    """Median wall time of ``fn`` in µs over as many runs as fit the budget (at least 5)."""
    for _ in range(3):
        fn()
    times: list[float] = []
    end = time.perf_counter() + budget_s
    while len(times) < 5 or (time.perf_counter() < end and len(times) < 5000):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times)) * 1e6


Net = tuple[nn.Block, tuple[Any, ...]]


def conv_channel_ln(fallback: bool) -> Net:
    """ConvNeXt-style: a LayerNorm over channels (axis 1 of NCHW) between convolutions
    (without fallback: over the last axis, which has a kernel)."""
    net = nn.Sequential()
    net.add(nn.Conv2D(16, 3, padding=1, activation="relu"),
            nn.LayerNorm(axis=1 if fallback else -1),
            nn.Conv2D(16, 3, padding=1, activation="relu"), nn.MaxPool2D(2),
            nn.Conv2D(32, 3, activation="relu"), nn.GlobalAvgPool2D(), nn.Dense(10))
    return net, ("batch", 3, 16, 16)


def mlp_seq_ln(fallback: bool) -> Net:
    """Six position-wise Dense layers with a LayerNorm over the sequence axis between
    (without fallback: over the features, the last axis)."""
    net = nn.Sequential()
    for _ in range(3):
        net.add(nn.Dense(64, activation="relu", flatten=False))
    net.add(nn.LayerNorm(axis=1 if fallback else -1))
    for _ in range(3):
        net.add(nn.Dense(64, activation="relu", flatten=False))
    return net, ("batch", 16, 64)


class Rank7(nn.Block):
    """Twelve position-wise Dense layers on a rank-7 input with a transpose of rank 7 (no
    kernel: the transpose kernel takes up to rank 6) between; a cheap reference step."""

    def __init__(self, fallback: bool) -> None:
        super().__init__()
        self.fallback = fallback
        self.a = nn.Sequential()
        self.b = nn.Sequential()
        for k in range(12):
            (self.a if k < 6 else self.b).add(nn.Dense(32, activation="relu", flatten=False))

    def forward(self, x):  # type: ignore[no-untyped-def]
        h = self.a(x)
        if self.fallback:
            h = ops.transpose(h, (0, 2, 1, 3, 4, 5, 6))
        return self.b(h)


def dense_rank7(fallback: bool) -> Net:
    return Rank7(fallback), ("batch", 2, 2, 2, 2, 2, 32)


def before_runner(model: sg.CompiledModel, x: np.ndarray) -> Runner:
    """The same plan, its code generated as plain Python (the old path for ref plans)."""
    res = model.resolve([x.shape])
    types = {v: t for v, t in enumerate(res.types) if t is not None}
    lowered = lower(model.graph, types, model.params, specialize=True)
    plan = plan_memory(model.graph, types, lowered)
    return Runner(plan, generate(plan, model.graph, model.params, debug=True), [])


def build(make: Callable[[bool], Net], fallback: bool, batch: int
          ) -> tuple[sg.CompiledModel, Runner, np.ndarray]:
    net, shape = make(fallback)
    net.initialize()
    model = sg.compile(net, sg.Input("x", shape))
    x = np.random.default_rng(0).standard_normal((batch, *shape[1:])).astype(np.float32)
    model(x)
    runner = model._runners[(x.shape,)]
    assert isinstance(runner, Runner)
    return model, runner, x


def measure(name: str, make: Callable[[bool], Net], batch: int, repeats: int,
            budget: float) -> None:
    model, after, x = build(make, True, batch)
    assert len(after.gen.refs) == 1
    before = before_runner(model, x)
    np.testing.assert_allclose(before.run([x])[0], model(x), rtol=1e-5, atol=1e-5)
    (i,) = after.gen.refs
    ref = _ref_step(after.plan, model.graph, model.params, i)
    out = [np.empty(s, np.float32) for s in after.out_shapes]
    _, full, _ = build(make, False, batch)  # the variant without fallback
    assert not full.gen.refs
    b, a, r, f = [], [], [], []
    for _ in range(repeats):
        b.append(median_us(lambda: before.run([x]), budget))
        a.append(median_us(lambda: after.run([x]), budget))
        r.append(median_us(lambda: ref(after.weights, after.arena(), x, *out), budget / 2))
        f.append(median_us(lambda: full.run([x]), budget / 2))
    ratios = np.array(b) / np.array(a)
    steps = len(after.plan.lowered.steps)
    print(f"| {name} | {batch} | {steps} ({len(after.gen.segments)} segments + 1 ref) | "
          f"{min(b):.1f} | {min(a):.1f} | {min(r):.1f} | "
          f"{min(f):.1f} | {np.median(ratios):.2f}x ({ratios.min():.2f}-"
          f"{ratios.max():.2f}) |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    repeats, budget = (3, 0.1) if args.quick else (9, 0.3)
    print("| network | batch | steps | before: step by step | after: segments | "
          "of which the ref step | all compiled (variant with a kernel) | "
          "before/after (min-max) |")
    print("|---|---|---|---|---|---|---|---|")
    for batch in (1, 32):
        measure("conv + channel LayerNorm", conv_channel_ln, batch, repeats, budget)
        measure("6 Dense + sequence LayerNorm", mlp_seq_ln, batch, repeats, budget)
        measure("12 Dense + rank-7 transpose", dense_rank7, batch, repeats, budget)


if __name__ == "__main__":
    main()
