"""Microbenchmarks of the executor's compute kernels on the real workload layers.

Each layer runs three ways in one process: our numba kernel (specialized template for
convolutions, generic kernels for pools and dense), ONNX Runtime (a one-layer ONNX model, 2
intra-op threads; conv + bias + residual add + relu are separate nodes that ORT fuses) and
numpy. Medians in microseconds; JIT compilation is kept out of the timed region and reported
separately (cold: empty cache; warm: loading the on-disk cache in a fresh process). GFLOP/s
and the fraction of the machine's sgemm peak (a 2048^3 numpy float32 matmul, measured in the
same run) are printed for our kernels.

OpenMP: the executor sets OMP_WAIT_POLICY=passive; this script also asks numba for dynamic
scheduling (``numba.set_parallel_chunksize(1)``): with passive waits the woken worker often
lands on the caller's core, and with the default static split the kernel then runs at
one-thread speed. (Binding threads with OMP_PROC_BIND fixes that but pins the main thread,
and every thread it creates later, ORT's and OpenBLAS's included, to one core.) The
CPU time other processes used during the run is printed: the machine is shared, and a busy
core makes every 2-thread number meaningless.

Run: ``python benchmarks/bench_kernels.py [--quick]`` (unset OPENBLAS_CORETYPE first if set).
"""

from __future__ import annotations

import argparse
import importlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from shapegraph.executor import kernels as K
from shapegraph.executor import templates as T

HEADER = ("import numpy as np\nfrom numba import njit, prange\n"
          "from shapegraph.executor.kernels import *  # noqa: F403\n"
          "from shapegraph.executor.kernels_pool import *  # noqa: F403\n\n\n")


def median_us(fn: Callable[[], Any], budget_s: float = 0.4, min_runs: int = 5) -> float:
    """Median wall time of ``fn`` in µs over as many runs as fit the budget."""
    for _ in range(3):
        fn()
    times: list[float] = []
    end = time.perf_counter() + budget_s
    while len(times) < min_runs or (time.perf_counter() < end and len(times) < 2000):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times)) * 1e6


def cpu_ticks() -> tuple[int, int]:
    """(busy jiffies of the whole machine, jiffies of this process) so far."""
    with open("/proc/stat") as f:
        v = [int(t) for t in f.readline().split()[1:]]
    busy = sum(v) - v[3] - v[4]  # minus idle and iowait
    with open("/proc/self/stat") as f:
        st = f.read().rsplit(")", 1)[1].split()
    return busy, int(st[11]) + int(st[12])


def interleaved(fns: list[Callable[[], Any]], rounds: int = 3,
                budget_s: float = 0.25) -> list[float]:
    """Medians (µs) of each function, measured in turns ``rounds`` times; the best round of
    each is kept, so a burst of load from another process hits no implementation alone."""
    best = [float("inf")] * len(fns)
    for _ in range(rounds):
        for i, fn in enumerate(fns):
            best[i] = min(best[i], median_us(fn, budget_s))
    return best


def sgemm_peak() -> float:
    a = np.random.default_rng(0).standard_normal((2048, 2048)).astype(np.float32)
    return 2 * 2048**3 / median_us(lambda: a @ a, 1.0) / 1e3


# --------------------------------------------------------------------------- ONNX Runtime


def ort_session(nodes: list[Any], inputs: dict[str, np.ndarray], out_shape: tuple[int, ...],
                inits: dict[str, np.ndarray]) -> Callable[[], Any]:
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    vi = [helper.make_tensor_value_info(k, TensorProto.FLOAT, list(v.shape))
          for k, v in inputs.items()]
    out = helper.make_tensor_value_info("y", TensorProto.FLOAT, list(out_shape))
    graph = helper.make_graph(nodes, "layer", vi, [out],
                              [numpy_helper.from_array(v, k) for k, v in inits.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    sess = ort.InferenceSession(model.SerializeToString(), so,
                                providers=["CPUExecutionProvider"])
    return lambda: sess.run(None, inputs)


def chain(first: Any, tail: list[tuple[str, list[str]]]) -> list[Any]:
    """``first`` (output "t0") followed by nodes op(prev, *extra) -> ... -> "y"."""
    from onnx import helper

    nodes, prev = [first], "t0"
    for i, (op, extra) in enumerate(tail):
        name = "y" if i == len(tail) - 1 else f"t{i + 1}"
        nodes.append(helper.make_node(op, [prev, *extra], [name]))
        prev = name
    if not tail:
        nodes.append(helper.make_node("Identity", ["t0"], ["y"]))
    return nodes


# --------------------------------------------------------------------------- layers


@dataclass
class Row:
    layer: str
    batch: int
    flops: float
    ours: float
    ort: float
    numpy: float
    compile_cold: float = float("nan")
    compile_warm: float = float("nan")


@dataclass(frozen=True)
class Conv:
    name: str
    C: int
    H: int
    O: int  # noqa: E741
    K: int
    P: int
    residual: bool = False


def numpy_conv(x: np.ndarray, w: np.ndarray, b: np.ndarray, p: int) -> np.ndarray:
    """im2col with sliding_window_view + one matmul (the 'straightforward numpy')."""
    n, c, _, _ = x.shape
    o, _, k, _ = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    cols = np.lib.stride_tricks.sliding_window_view(xp, (k, k), axis=(2, 3))
    oh, ow = cols.shape[2], cols.shape[3]
    cols = cols.transpose(0, 2, 3, 1, 4, 5).reshape(n * oh * ow, c * k * k)
    y: np.ndarray = np.maximum(cols @ w.reshape(o, -1).T + b, 0)
    return y.reshape(n, oh, ow, o).transpose(0, 3, 1, 2)


def generated_module(convs: list[Conv], batches: dict[str, list[int]],
                     pools: list[tuple[int, int, int]], tmp: str) -> tuple[Any, dict[Any, str]]:
    """Write every template's source into one module (as the code generator does); import it."""
    src, names = HEADER, dict[Any, str]()
    for cv in convs:
        for n in batches[cv.name]:
            cfg: T.ConvArgs = (n, cv.C, cv.H, cv.H, cv.O, cv.K, cv.K, 1, 1, cv.P, cv.P, 1, 1, 1)
            s, name = T.conv2d_source(*cfg, K.ACT_RELU, True, cv.residual)
            src += s + "\n\n"
            names[(cv, n)] = name
    for n, c, h in pools:
        s, name = T.maxpool2d_source(n, c, h, h, 2, 2, 2, 2, 0, 0, h // 2, h // 2)
        src += s + "\n\n"
        names[(n, c, h)] = name
    with open(os.path.join(tmp, MODULE + ".py"), "w") as f:
        f.write(src)
    sys.path.insert(0, tmp)
    return importlib.import_module(MODULE), names


MODULE = "bench_gen_kernels"


def first_call_s(mod: Any, name: str, args: tuple[Any, ...]) -> float:
    t = time.perf_counter()
    getattr(mod, name)(*args)
    return time.perf_counter() - t


WARM_SCRIPT = """
import sys, time, numpy as np
sys.path.insert(0, {d!r})
import {m} as mod
res = []
for name, shapes in {calls!r}:
    args = [np.zeros(s, np.float32) for s in shapes]
    t = time.perf_counter(); getattr(mod, name)(*args); res.append(time.perf_counter() - t)
print(" ".join(map(str, res)))
"""


def bench_convs(mod: Any, names: dict[Any, str],
                calls: list[tuple[str, list[tuple[int, ...]]]]) -> list[Row]:
    from onnx import helper

    rng = np.random.default_rng(0)
    rows = []
    for key, name in names.items():
        if not isinstance(key[0], Conv):
            continue
        cv, n = key
        oh = cv.H + 2 * cv.P - cv.K + 1
        x = rng.standard_normal((n, cv.C, cv.H, cv.H)).astype(np.float32)
        w = (rng.standard_normal((cv.O, cv.C, cv.K, cv.K)) * 0.1).astype(np.float32)
        b = rng.standard_normal(cv.O).astype(np.float32)
        res = (rng.standard_normal((n, cv.O, oh, oh)).astype(np.float32) if cv.residual
               else np.empty((0, 0, 0, 0), np.float32))
        out = np.empty((n, cv.O, oh, oh), np.float32)
        cfg: T.ConvArgs = (n, cv.C, cv.H, cv.H, cv.O, cv.K, cv.K, 1, 1, cv.P, cv.P, 1, 1, 1)
        wp = T.pack_conv2d_weight(w, *cfg)
        args = (x, wp, b, res, out)
        cold = first_call_s(mod, name, args)
        calls.append((name, [a.shape for a in args]))
        fn = getattr(mod, name)
        node = helper.make_node("Conv", ["x", "w", "b"], ["t0"], kernel_shape=[cv.K, cv.K],
                                pads=[cv.P] * 4)
        tail = [("Add", ["r"])] if cv.residual else []
        feeds = {"x": x, **({"r": res} if cv.residual else {})}
        ort_run = ort_session(chain(node, [*tail, ("Relu", [])]), feeds, out.shape,
                              {"w": w, "b": b})
        fn(*args)
        np.testing.assert_allclose(out, ort_run()[0], rtol=1e-3, atol=1e-3)
        ours, t_ort = interleaved([lambda: fn(*args), ort_run])  # noqa: B023 (used right away)
        t_np = median_us(lambda: numpy_conv(x, w, b, cv.P), 0.2, 3)  # noqa: B023
        flops = 2.0 * n * cv.O * oh * oh * cv.C * cv.K * cv.K
        rows.append(Row(f"{cv.name}", n, flops, ours, t_ort, t_np, cold))
    return rows


def warm_compile_times(tmp: str, calls: list[tuple[str, list[tuple[int, ...]]]],
                       rows: list[Row]) -> None:
    """First-call times of the same kernels in a fresh process: loading numba's disk cache."""
    out_text = subprocess.run(
        [sys.executable, "-c", WARM_SCRIPT.format(d=tmp, m=MODULE, calls=calls)],
        capture_output=True, text=True, check=True).stdout.split()
    for row, warm in zip(rows, out_text, strict=True):
        row.compile_warm = float(warm)


def bench_pool(mod: Any, names: dict[Any, str], name: str, n: int, c: int, h: int,
               calls: list[tuple[str, list[tuple[int, ...]]]]) -> Row:
    from onnx import helper

    x = np.random.default_rng(1).standard_normal((n, c, h, h)).astype(np.float32)
    out = np.empty((n, c, h // 2, h // 2), np.float32)
    fn = getattr(mod, names[(n, c, h)])
    cold = first_call_s(mod, names[(n, c, h)], (x, out))
    calls.append((names[(n, c, h)], [x.shape, out.shape]))
    node = helper.make_node("MaxPool", ["x"], ["t0"], kernel_shape=[2, 2], strides=[2, 2])
    ort_run = ort_session(chain(node, []), {"x": x}, out.shape, {})
    np.testing.assert_allclose(out, ort_run()[0])
    ours, t_ort = interleaved([lambda: fn(x, out), ort_run])
    t_np = median_us(lambda: x.reshape(n, c, h // 2, 2, h // 2, 2).max(axis=(3, 5)))
    return Row(name, n, float(out.size * 4), ours, t_ort, t_np, cold)


def bench_dense(name: str, n: int, k: int, m: int, relu: bool) -> Row:
    from onnx import helper

    rng = np.random.default_rng(2)
    x = rng.standard_normal((n, k)).astype(np.float32)
    w = (rng.standard_normal((m, k)) * 0.05).astype(np.float32)
    b = rng.standard_normal(m).astype(np.float32)
    wt = np.ascontiguousarray(w.T)
    out = np.empty((n, m), np.float32)
    act = K.ACT_RELU if relu else K.ACT_NONE
    t = time.perf_counter()
    K.dense(x, wt, b, act, out)
    cold = time.perf_counter() - t
    node = helper.make_node("Gemm", ["x", "w", "b"], ["t0"], transB=1)
    ort_run = ort_session(chain(node, [("Relu", [])] if relu else []), {"x": x}, out.shape,
                          {"w": w, "b": b})
    np.testing.assert_allclose(out, ort_run()[0], rtol=1e-3, atol=1e-3)
    ours, t_ort, t_np = interleaved([
        lambda: K.dense(x, wt, b, act, out), ort_run,
        lambda: np.maximum(x @ w.T + b, 0) if relu else x @ w.T + b])
    return Row(name, n, 2.0 * n * k * m, ours, t_ort, t_np, cold)


def print_table(rows: list[Row], peak: float) -> None:
    head = (f"{'layer':<22}{'batch':>6}{'ours us':>10}{'ORT us':>10}{'numpy us':>10}"
            f"{'ORT/ours':>9}{'GFLOP/s':>9}{'%peak':>7}{'ORT GF/s':>9}"
            f"{'jit cold s':>11}{'warm s':>8}")
    print(head)
    print("-" * len(head))
    for r in rows:
        gf = r.flops / r.ours / 1e3
        print(f"{r.layer:<22}{r.batch:>6}{r.ours:>10.1f}{r.ort:>10.1f}{r.numpy:>10.1f}"
              f"{r.ort / r.ours:>9.2f}{gf:>9.1f}{100 * gf / peak:>6.0f}%"
              f"{r.flops / r.ort / 1e3:>9.1f}{r.compile_cold:>11.2f}{r.compile_warm:>8.2f}")


LENET1 = Conv("lenet conv1 1-6 k5p2", 1, 28, 6, 5, 2)
LENET2 = Conv("lenet conv2 6-16 k5", 6, 14, 16, 5, 0)
RES = Conv("resnet 16-16 k3p1", 16, 32, 16, 3, 1)
RES_ADD = Conv("resnet +residual", 16, 32, 16, 3, 1, residual=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="only the large batches")
    args = ap.parse_args()
    from threadpoolctl import threadpool_info

    for info in threadpool_info():
        print(f"# {info['internal_api']} {info.get('architecture')} threads="
              f"{info['num_threads']} {os.path.basename(info['filepath'])}")
    import numba

    numba.set_parallel_chunksize(1)  # dynamic scheduling, as recommended for the runtime
    start, wall = cpu_ticks(), time.perf_counter()
    peak = sgemm_peak()
    print(f"# sgemm peak (numpy 2048^3 float32): {peak:.0f} GFLOP/s; OMP_WAIT_POLICY="
          f"{os.environ.get('OMP_WAIT_POLICY')}, parallel chunksize 1")
    lenet_b, res_b = ([64], [32]) if args.quick else ([1, 64], [1, 32])
    batches = {LENET1.name: lenet_b, LENET2.name: lenet_b, RES.name: res_b,
               RES_ADD.name: res_b}
    pools = [(n, c, h) for n in lenet_b for c, h in ((6, 28), (16, 10))]
    calls: list[tuple[str, list[tuple[int, ...]]]] = []
    with tempfile.TemporaryDirectory() as tmp:
        mod, names = generated_module([LENET1, LENET2, RES, RES_ADD], batches, pools, tmp)
        rows = bench_convs(mod, names, calls)
        rows += [bench_pool(mod, names, f"lenet maxpool {c}x{h}", n, c, h, calls)
                 for n, c, h in pools]
        warm_compile_times(tmp, calls, rows)
    for n in lenet_b:
        rows += [bench_dense("lenet dense 400-120", n, 400, 120, True),
                 bench_dense("lenet dense 120-84", n, 120, 84, True),
                 bench_dense("lenet dense 84-10", n, 84, 10, False)]
    for n in [64, 1024] if args.quick else [1, 64, 1024]:
        rows.append(bench_dense("dense 784-1024", n, 784, 1024, True))
    print_table(rows, max(peak, sgemm_peak()))
    end = cpu_ticks()
    other = (end[0] - start[0]) - (end[1] - start[1])
    hz = os.sysconf("SC_CLK_TCK")
    print(f"# other processes used {100 * other / hz / (time.perf_counter() - wall):.0f}% "
          "of one core during the run (2 cores in all)")


if __name__ == "__main__":
    main()
