"""The benchmark harness: timing, the run and the report. The workloads (networks) are in
:mod:`~shapegraph.tools.workloads`, the peers that run them in :mod:`~shapegraph.tools.peers`.

Each workload runs against its peers, in one process.

Peers (when installed): the numpy reference interpreter, PyTorch eager (CPU), ONNX Runtime
with the same weights; all on 2 threads. JIT compilation is kept out of the timed region
(every implementation is warmed up first); import and first-call times are measured in
fresh processes by ``startup()``. Run it with ``shapegraph bench`` or
``python benchmarks/bench_executor.py``.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from shapegraph.tools.peers import THREADS, blas_bound, peer_runners
from shapegraph.tools.workloads import WORKLOADS, Workload, randomize_batchnorm

__all__ = ["main", "median_us", "run_bench", "run_workload"]

def median_us(fn: Callable[[], Any], budget_s: float = 0.4, min_runs: int = 5) -> float:
    """Median time of one call in microseconds, over batches of calls for ``budget_s``."""
    fn()
    t0 = time.perf_counter()
    fn()
    one = max(time.perf_counter() - t0, 1e-7)
    per = max(1, int(0.01 / one))  # batches of ~10 ms
    samples: list[float] = []
    deadline = time.perf_counter() + budget_s
    while len(samples) < min_runs or time.perf_counter() < deadline:
        t = time.perf_counter()
        for _ in range(per):
            fn()
        samples.append((time.perf_counter() - t) / per)
        if len(samples) > 200:
            break
    return statistics.median(samples) * 1e6


def sgemm_peak_gflops() -> float:
    a = np.random.default_rng(0).standard_normal((2048, 2048)).astype(np.float32)
    out = np.empty_like(a)
    np.dot(a, a, out)
    t = min(_time(lambda: np.dot(a, a, out)) for _ in range(5))
    return 2 * 2048**3 / t / 1e9


def _time(fn: Callable[[], Any]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


# --------------------------------------------------------------------------- the run


def run_workload(wl: Workload, peak: float, quick: bool) -> list[dict[str, Any]]:
    import shapegraph as sg
    from shapegraph import init

    init.seed(0)
    net = wl.build()
    net.initialize(init.Xavier())
    net(np.zeros((1, *wl.input_shape), np.float32))  # create deferred parameters
    randomize_batchnorm(net)
    model = sg.compile(net, sg.Input("x", ("batch", *wl.input_shape)))
    rows = []
    for batch in wl.batches[:2] if quick else wl.batches:
        x = np.random.default_rng(batch).standard_normal((batch, *wl.input_shape)).astype(
            np.float32)
        t0 = time.perf_counter()
        model(x)
        compile_s = time.perf_counter() - t0
        peers = peer_runners(wl, model, model.graph, model.params, x.shape)
        want = peers["numpy ref"](x)[0]
        np.testing.assert_allclose(model(x), want, rtol=2e-3, atol=2e-3)
        budget = 0.1 if quick else 0.4
        times = {"shapegraph": median_us(_call(model, x), budget)}
        for name, fn in peers.items():
            if name == "numpy ref" and batch >= 1024 and wl.name.startswith("MLP 784"):
                continue  # minutes of float64 einsum: not informative
            times[name] = median_us(_call(fn, x), budget)
        if wl.name.startswith("MLP"):
            bound = blas_bound(model.params, batch)
            if bound is not None:
                times["bare sgemm"] = median_us(bound, budget)
        flops = wl.flops_per_sample * batch
        rows.append({"workload": wl.name, "batch": batch, "times": times,
                     "compile_s": compile_s, "flops": flops, "peak": peak})
    return rows


def _call(fn: Callable[[np.ndarray], Any], x: np.ndarray) -> Callable[[], Any]:
    return lambda: fn(x)


def _verdicts(row: dict[str, Any]) -> list[str]:
    t = row["times"]
    ours = t["shapegraph"]
    out = []
    ort, torch = t.get("onnxruntime"), t.get("torch eager")
    if row["batch"] <= 2:
        if ort:
            out.append(_goal(f"<= 0.25x ONNX Runtime ({ours / ort:.2f}x)", ours <= 0.25 * ort))
        if torch:
            out.append(_goal(f"<= 0.1x PyTorch ({ours / torch:.3f}x)", ours <= 0.1 * torch))
    if row["workload"].startswith("MLP") and row["batch"] == 1024 and "bare sgemm" in t:
        r = ours / t["bare sgemm"]
        out.append(_goal(f"within 1.05x of bare sgemm ({r:.2f}x)", r <= 1.05))
    big = (row["workload"] == "LeNet" and row["batch"] == 64) or (
        row["workload"].startswith("ResNet") and row["batch"] == 32)
    if big and ort:
        out.append(_goal(f"faster than ONNX Runtime ({ours / ort:.2f}x)", ours < ort))
    return out


def _goal(text: str, ok: bool) -> str:
    return f"{'met' if ok else 'MISSED'}: {text}"


def _peak_pct(row: dict[str, Any], us: float) -> float:
    """Percent of the machine's sgemm peak a forward of ``us`` microseconds reaches."""
    return float(row["flops"] / (us * 1e-6) / 1e9 / row["peak"] * 100)


def print_rows(rows: list[dict[str, Any]]) -> None:
    peers = ["shapegraph", "onnxruntime", "torch eager", "numpy ref", "bare sgemm"]
    head = f"{'workload':<28} {'batch':>5} " + " ".join(f"{p:>12}" for p in peers)
    print(head + "  % peak (ours / ort)  compile s")
    for r in rows:
        t = r["times"]
        cells = " ".join(f"{t[p]:12.1f}" if p in t else f"{'-':>12}" for p in peers)
        ort = f"{_peak_pct(r, t['onnxruntime']):5.1f}" if "onnxruntime" in t else "    -"
        print(f"{r['workload']:<28} {r['batch']:>5} {cells}  "
              f"{_peak_pct(r, t['shapegraph']):5.1f} / "
              f"{ort}        {r['compile_s']:6.2f}")
        for v in _verdicts(r):
            print(f"{'':<35}{v}")


def startup() -> dict[str, float]:
    """Import time, first call with a cold JIT cache, first call with a warm one (fresh
    processes, the seed MLP at batch 2)."""
    import tempfile

    code = ("import time; t=time.perf_counter(); import shapegraph as sg; import numpy as np; "
            "from shapegraph import nn; i=time.perf_counter()-t; "
            "net=nn.Sequential(); net.add(nn.Dense(256, activation='relu'), nn.Dense(10)); "
            "net.initialize(); m=sg.compile(net, sg.Input('x', ('batch', 20))); "
            "x=np.ones((2,20),np.float32); t=time.perf_counter(); m(x); "
            "print(i, time.perf_counter()-t)")
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "SHAPEGRAPH_CACHE": tmp, "NUMBA_CACHE_DIR": tmp}
        runs = [subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                               text=True, check=True).stdout.split() for _ in range(2)]
    return {"import_s": float(runs[1][0]), "first_call_cold_s": float(runs[0][1]),
            "first_call_warm_s": float(runs[1][1])}


def _blas_info() -> str:
    try:
        from threadpoolctl import threadpool_info

        return "; ".join(f"{os.path.basename(i['filepath'])}: {i.get('architecture')} "
                         f"{i['num_threads']} threads" for i in threadpool_info())
    except ImportError:
        return "threadpoolctl not installed"


def run_bench(quick: bool = False) -> int:
    """Run every workload, print the table and the goals; returns 0."""
    os.environ.setdefault("OMP_NUM_THREADS", str(THREADS))
    peak = sgemm_peak_gflops()
    print(f"machine: {os.cpu_count()} cores; sgemm peak {peak:.0f} GFLOP/s; BLAS: {_blas_info()}")
    print("times: median microseconds per forward call (JIT compilation excluded)")
    rows: list[dict[str, Any]] = []
    for wl in WORKLOADS:
        rows += run_workload(wl, peak, quick)
    print_rows(rows)
    if not quick:
        s = startup()
        print(f"start-up: import {s['import_s']:.2f} s; first call (JIT) cold cache "
              f"{s['first_call_cold_s']:.2f} s, warm cache {s['first_call_warm_s']:.2f} s")
    return 0


def main() -> None:
    sys.exit(run_bench(quick="--quick" in sys.argv))
