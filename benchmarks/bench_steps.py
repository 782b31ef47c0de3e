"""Each step of a light ONNX model timed inside the model, next to ONNX Runtime's nodes.

Whole-model ratios say how far a model is from ONNX Runtime; this says where. The model
(one of the onnx package's nine light models, with random weights) is compiled with every
step called from Python (``codegen.STEP_MIN_MACS`` set to 0, as ResNet-50's plan runs
anyway), and each kernel call is timed with the caches and threads as the model leaves
them: the median over ``--calls`` forward calls, per step, on one thread and on two.
ONNX Runtime runs the same proto in the same process with its profiler on: the median of
each node's kernel time over as many calls. Printed: the forward times, the kernels summed
by name, ONNX Runtime's ops summed by type, and (``--steps``) every step and every node in
order, each with its one-thread / two-thread scaling. The two lists are not matched to each
other (ONNX Runtime's graph is rewritten into its blocked layout), but the layer order is
the same. Calling each step from Python adds a few microseconds a step.

Run: ``python benchmarks/bench_steps.py resnet50 [--calls 30] [--steps]`` (the model
named as ``shapegraph bench --models`` names it).
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import tempfile
import time
from typing import Any

import numpy as np
import onnx

import shapegraph as sg
from shapegraph.tools.peers import ort_runner, set_threads
from shapegraph.tools.workloads import ONNX_WORKLOADS, matches, random_weights, symbolic_batch


def instrument(model: Any) -> list[tuple[str, float]]:
    """Time every kernel call of ``model``'s plan: each (kernel, seconds) is appended to the
    list returned."""
    runner = next(iter(model._runners.values()))
    module = runner.gen.module
    rec: list[tuple[str, float]] = []
    for name, fn in list(vars(module).items()):
        if type(fn).__name__ == "CPUDispatcher":
            def timed(*args: Any, fn: Any = fn, name: str = name) -> None:
                t = time.perf_counter()
                fn(*args)
                rec.append((name, time.perf_counter() - t))
            setattr(module, name, timed)
    runner.gen.forget_calls()  # (calls from Python kept since the first: through the wrappers)
    return rec


def step_times(model: Any, rec: list[tuple[str, float]], x: np.ndarray,
               calls: int) -> tuple[float, list[tuple[str, float]]]:
    """(median forward seconds, [(kernel, median seconds)] per step) on numba's threads."""
    for _ in range(3):
        model(x)
    totals, runs = [], []
    for _ in range(calls):
        rec.clear()
        t = time.perf_counter()
        model(x)
        totals.append(time.perf_counter() - t)
        runs.append(list(rec))
    steps = [(runs[0][i][0], float(np.median([r[i][1] for r in runs])))
             for i in range(len(runs[0]))]
    return float(np.median(totals)), steps


def ort_times(proto: onnx.ModelProto, name: str, x: np.ndarray, threads: int,
              calls: int) -> tuple[float, list[tuple[str, str, float]]]:
    """(median forward seconds, [(node, op, median kernel seconds)] in run order); the
    forward timed without the profiler, the nodes with it."""
    import onnxruntime as ort

    data = proto.SerializeToString()
    run = ort_runner(data, name, threads)
    for _ in range(3):
        run(x)
    totals = []
    for _ in range(calls):
        t = time.perf_counter()
        run(x)
        totals.append(time.perf_counter() - t)
    with tempfile.TemporaryDirectory() as tmp:
        opts = ort.SessionOptions()  # (ort_runner's, with the profiler on)
        opts.intra_op_num_threads, opts.inter_op_num_threads = threads, 1
        opts.log_severity_level = 3
        opts.enable_profiling = True
        opts.profile_file_prefix = os.path.join(tmp, "ort")
        sess = ort.InferenceSession(data, opts, providers=["CPUExecutionProvider"])
        for _ in range(calls):
            sess.run(None, {name: x})
        with open(sess.end_profiling()) as f:
            events = json.load(f)
    nodes: dict[str, list[tuple[float, str]]] = collections.defaultdict(list)
    for e in events:
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time"):
            nodes[e["name"][:-len("_kernel_time")]].append(
                (e["dur"] / 1e6, e["args"].get("op_name", "?")))
    return float(np.median(totals)), [
        (k, v[0][1], float(np.median([d for d, _ in v]))) for k, v in nodes.items()]


def summed(rows: list[tuple[str, float, float]]) -> list[tuple[str, int, float, float]]:
    acc: dict[str, list[float]] = collections.defaultdict(lambda: [0, 0.0, 0.0])
    for key, one, two in rows:
        acc[key][0] += 1
        acc[key][1] += one
        acc[key][2] += two
    return sorted(((k, int(n), a, b) for k, (n, a, b) in acc.items()), key=lambda r: -r[2])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", help="one of the light models, named as in `shapegraph bench "
                    "--models` (alexnet, densenet, inceptionv1, inceptionv2, resnet50, "
                    "shufflenet, squeezenet, vgg, zfnet)")
    ap.add_argument("--calls", type=int, default=30, help="forward calls per figure")
    ap.add_argument("--steps", action="store_true", help="also every step and node")
    ap.add_argument("--batch", type=int, default=0, help="run at this batch size (the "
                    "model's batch made symbolic; only the models whose batch can be: "
                    "densenet, squeezenet); default: the model's own")
    args = ap.parse_args()
    names = [wl.name for wl in ONNX_WORKLOADS]
    picked = [wl for wl in ONNX_WORKLOADS if matches(wl.name, [args.model], names)]
    if len(picked) != 1:
        ap.error(f"model {args.model!r} names {len(picked)} of the light models "
                 f"({', '.join(names)}); name one")
    import shapegraph.executor.codegen as codegen

    proto = random_weights(onnx.load(picked[0].path()))
    if args.batch:
        proto = symbolic_batch(proto)
    codegen.STEP_MIN_MACS = 0  # every step called from Python, so each can be timed
    loaded = sg.load_onnx(proto)
    ((name, t),) = loaded.input_types.items()
    shape = tuple(args.batch if i == 0 and args.batch else int(d)
                  for i, d in enumerate(t.shape))
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    model = sg.compile(loaded)
    model(x)  # (compiles)
    rec = instrument(model)
    ours, theirs = {}, {}
    for threads in (1, 2):
        set_threads(threads)
        ours[threads] = step_times(model, rec, x, args.calls)
        theirs[threads] = ort_times(proto, name, x, threads, args.calls)
    us = 1e6
    print(f"{picked[0].name} at batch {x.shape[0]}, forward ms, one thread / two: shapegraph "
          f"{ours[1][0] * 1e3:.2f} / {ours[2][0] * 1e3:.2f} (steps summed "
          f"{sum(s for _, s in ours[1][1]) * 1e3:.2f} / "
          f"{sum(s for _, s in ours[2][1]) * 1e3:.2f}), ONNX Runtime "
          f"{theirs[1][0] * 1e3:.2f} / {theirs[2][0] * 1e3:.2f}")
    mine = [(n, a, b) for (n, a), (_, b) in zip(ours[1][1], ours[2][1], strict=True)]
    two = {k: b for k, _, b in theirs[2][1]}  # (the same nodes on two threads, by name)
    node_rows = [(k, op, a, two.get(k, float("nan"))) for k, op, a in theirs[1][1]]
    nodes = [(op, a, b) for _, op, a, b in node_rows]
    for title, rows in (("shapegraph kernel", summed(mine)),
                        ("ONNX Runtime op", summed(nodes))):
        print(f"\n{title:<28} {'steps':>5} {'1T µs':>9} {'2T µs':>9} {'1T/2T':>6}")
        for key, n, a, b in rows:
            print(f"{key[:28]:<28} {n:5d} {a * us:9.0f} {b * us:9.0f} {a / max(b, 1e-12):6.2f}")
    if args.steps:
        print(f"\n{'step':>4} {'shapegraph kernel':<40} {'1T µs':>9} {'2T µs':>9} {'1T/2T':>6}")
        for i, (n, a, b) in enumerate(mine):
            print(f"{i:4d} {n[:40]:<40} {a * us:9.0f} {b * us:9.0f} {a / max(b, 1e-12):6.2f}")
        print(f"\n{'ONNX Runtime node':<40} {'op':<14} {'1T µs':>9} {'2T µs':>9} {'1T/2T':>6}")
        for k, op, a, b in node_rows:
            print(f"{k[:40]:<40} {op[:14]:<14} {a * us:9.0f} {b * us:9.0f} "
                  f"{a / max(b, 1e-12):6.2f}")


if __name__ == "__main__":
    main()
