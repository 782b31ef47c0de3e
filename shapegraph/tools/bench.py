"""The benchmark harness: the issue's workloads against their peers, in one process.

Peers (when installed): the numpy reference interpreter, PyTorch eager (CPU), ONNX Runtime
with the same weights; all on 2 threads. JIT compilation is kept out of the timed region
(every implementation is warmed up first); import and first-call times are measured in
fresh processes by ``startup()``. Run it with ``shapegraph bench`` or
``python benchmarks/bench_executor.py``.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["WORKLOADS", "Workload", "main", "run_bench"]

THREADS = 2


@dataclass(frozen=True)
class Workload:
    name: str
    batches: tuple[int, ...]
    input_shape: tuple[int, ...]  # without the batch
    build: Callable[[], Any]
    flops_per_sample: int


def _mlp(widths: tuple[int, ...]) -> Callable[[], Any]:
    def build() -> Any:
        from shapegraph import nn

        net = nn.Sequential()
        for k, w in enumerate(widths[1:]):
            last = k == len(widths) - 2
            net.add(nn.Dense(w, activation=None if last else "relu"))
        return net

    return build


def _lenet() -> Any:
    from shapegraph import nn

    net = nn.Sequential()
    net.add(nn.Conv2D(6, kernel_size=5, padding=2, activation="relu"),
            nn.MaxPool2D(pool_size=2, strides=2),
            nn.Conv2D(16, kernel_size=5, activation="relu"),
            nn.MaxPool2D(pool_size=2, strides=2),
            nn.Dense(120, activation="relu"), nn.Dense(84, activation="relu"), nn.Dense(10))
    return net


def _resnet() -> Any:
    from shapegraph import nn, ops

    class BasicBlock(nn.Block):
        def __init__(self) -> None:
            super().__init__()
            self.conv1 = nn.Conv2D(16, 3, padding=1, use_bias=False)
            self.bn1 = nn.BatchNorm()
            self.conv2 = nn.Conv2D(16, 3, padding=1, use_bias=False)
            self.bn2 = nn.BatchNorm()

        def forward(self, x: Any) -> Any:
            h = ops.relu(self.bn1(self.conv1(x)))
            return ops.relu(self.bn2(self.conv2(h)) + x)

    net = nn.Sequential()
    net.add(BasicBlock(), BasicBlock(), BasicBlock())
    return net


def _mlp_flops(widths: tuple[int, ...]) -> int:
    return sum(2 * a * b for a, b in itertools.pairwise(widths))


WORKLOADS = (
    Workload("MLP 20-256-10", (1, 2, 64, 1024), (20,), _mlp((20, 256, 10)),
             _mlp_flops((20, 256, 10))),
    Workload("MLP 784-1024-1024-10", (1, 64, 1024), (784,), _mlp((784, 1024, 1024, 10)),
             _mlp_flops((784, 1024, 1024, 10))),
    Workload("LeNet", (1, 64), (1, 28, 28), _lenet,
             2 * (6 * 25 * 28 * 28 + 16 * 6 * 25 * 10 * 10 + 400 * 120 + 120 * 84 + 84 * 10)),
    Workload("ResNet 3 blocks 16ch 32x32", (1, 32), (16, 32, 32), _resnet,
             6 * 2 * 16 * 16 * 9 * 32 * 32),
)


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


# --------------------------------------------------------------------------- peers


def _torch_model(wl: Workload, params: dict[str, np.ndarray]) -> Any:
    import torch

    def t(key: str) -> Any:
        return torch.from_numpy(np.ascontiguousarray(params[key]))

    if wl.name.startswith("MLP"):
        keys = sorted({k.split(".")[0] for k in params}, key=int)
        layers: list[Any] = []
        for i, k in enumerate(keys):
            w = t(f"{k}.weight")
            lin = torch.nn.Linear(w.shape[1], w.shape[0])
            lin.load_state_dict({"weight": w, "bias": t(f"{k}.bias")})
            layers += [lin] + ([torch.nn.ReLU()] if i < len(keys) - 1 else [])
        return torch.nn.Sequential(*layers).eval()
    if wl.name == "LeNet":
        m = torch.nn.Sequential(
            torch.nn.Conv2d(1, 6, 5, padding=2), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
            torch.nn.Conv2d(6, 16, 5), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
            torch.nn.Flatten(), torch.nn.Linear(400, 120), torch.nn.ReLU(),
            torch.nn.Linear(120, 84), torch.nn.ReLU(), torch.nn.Linear(84, 10))
        for idx, key in zip((0, 3, 7, 9, 11), ("0", "2", "4", "5", "6"), strict=True):
            m[idx].load_state_dict({"weight": t(f"{key}.weight"), "bias": t(f"{key}.bias")})
        return m.eval()
    return _torch_resnet(t)


def _torch_resnet(t: Callable[[str], Any]) -> Any:
    import torch

    class Block(torch.nn.Module):  # type: ignore[misc, unused-ignore]
        def __init__(self, prefix: str) -> None:
            super().__init__()
            self.c1 = torch.nn.Conv2d(16, 16, 3, padding=1, bias=False)
            self.b1 = torch.nn.BatchNorm2d(16)
            self.c2 = torch.nn.Conv2d(16, 16, 3, padding=1, bias=False)
            self.b2 = torch.nn.BatchNorm2d(16)
            for c, name in ((self.c1, "conv1"), (self.c2, "conv2")):
                c.load_state_dict({"weight": t(f"{prefix}.{name}.weight")})
            for b, name in ((self.b1, "bn1"), (self.b2, "bn2")):
                p = f"{prefix}.{name}"
                b.load_state_dict({"weight": t(f"{p}.gamma"), "bias": t(f"{p}.beta"),
                                   "running_mean": t(f"{p}.running_mean"),
                                   "running_var": t(f"{p}.running_var")}, strict=False)

        def forward(self, x: Any) -> Any:
            h = torch.relu(self.b1(self.c1(x)))
            return torch.relu(self.b2(self.c2(h)) + x)

    return torch.nn.Sequential(Block("0"), Block("1"), Block("2")).eval()


def _ort_session(model: Any, graph: Any, params: dict[str, np.ndarray], shape: tuple[int, ...]
                 ) -> Any:
    import onnxruntime as ort

    from shapegraph.core.dims import Sym
    from shapegraph.core.types import TensorType
    from shapegraph.onnx import to_onnx

    types = dict(enumerate(model.resolution.types)) if model.resolution else None
    onx = to_onnx(graph, {graph.inputs[0].name: TensorType((Sym("batch"), *shape[1:]))}, params,
                  types=types)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = THREADS
    opts.inter_op_num_threads = 1
    sess = ort.InferenceSession(onx.SerializeToString(), opts,
                                providers=["CPUExecutionProvider"])
    name = graph.inputs[0].name
    return lambda x: sess.run(None, {name: x})[0]


def _peers(wl: Workload, model: Any, graph: Any, params: dict[str, np.ndarray],
           shape: tuple[int, ...]) -> dict[str, Callable[[np.ndarray], Any]]:
    from shapegraph.infer.interpret import run_reference

    name = graph.inputs[0].name
    peers: dict[str, Callable[[np.ndarray], Any]] = {
        "numpy ref": lambda x: run_reference(graph, params, {name: x})}
    with contextlib.suppress(ImportError):
        peers["onnxruntime"] = _ort_session(model, graph, params, shape)
    try:
        import torch

        torch.set_num_threads(THREADS)
        tm = _torch_model(wl, params)

        def run_torch(x: np.ndarray, tm: Any = tm) -> Any:
            with torch.inference_mode():
                return tm(torch.from_numpy(x))

        peers["torch eager"] = run_torch
    except ImportError:
        pass
    return peers


def _blas_bound(params: dict[str, np.ndarray], batch: int) -> Callable[[], Any] | None:
    """The bare sgemm calls an MLP needs (numpy's BLAS, outputs preallocated)."""
    keys = sorted({k.split(".")[0] for k in params}, key=int)
    ws = [np.ascontiguousarray(params[f"{k}.weight"].T) for k in keys]
    xs = [np.ones((batch, w.shape[0]), np.float32) for w in ws]
    outs = [np.empty((batch, w.shape[1]), np.float32) for w in ws]

    def run() -> None:
        for x, w, o in zip(xs, ws, outs, strict=True):
            np.dot(x, w, o)

    return run


# --------------------------------------------------------------------------- the run


def run_workload(wl: Workload, peak: float, quick: bool) -> list[dict[str, Any]]:
    import shapegraph as sg
    from shapegraph import init

    init.seed(0)
    net = wl.build()
    net.initialize(init.Xavier())
    net(np.zeros((1, *wl.input_shape), np.float32))  # create deferred parameters
    _randomize_batchnorm(net)
    model = sg.compile(net, sg.Input("x", ("batch", *wl.input_shape)))
    rows = []
    for batch in wl.batches[:2] if quick else wl.batches:
        x = np.random.default_rng(batch).standard_normal((batch, *wl.input_shape)).astype(
            np.float32)
        t0 = time.perf_counter()
        model(x)
        compile_s = time.perf_counter() - t0
        peers = _peers(wl, model, model.graph, model.params, x.shape)
        want = peers["numpy ref"](x)[0]
        np.testing.assert_allclose(model(x), want, rtol=2e-3, atol=2e-3)
        budget = 0.1 if quick else 0.4
        times = {"shapegraph": median_us(_call(model, x), budget)}
        for name, fn in peers.items():
            if name == "numpy ref" and batch >= 1024 and wl.name.startswith("MLP 784"):
                continue  # minutes of float64 einsum: not informative
            times[name] = median_us(_call(fn, x), budget)
        if wl.name.startswith("MLP"):
            bound = _blas_bound(model.params, batch)
            if bound is not None:
                times["bare sgemm"] = median_us(bound, budget)
        flops = wl.flops_per_sample * batch
        rows.append({"workload": wl.name, "batch": batch, "times": times,
                     "compile_s": compile_s, "flops": flops, "peak": peak})
    return rows


def _call(fn: Callable[[np.ndarray], Any], x: np.ndarray) -> Callable[[], Any]:
    return lambda: fn(x)


def _randomize_batchnorm(net: Any) -> None:
    rng = np.random.default_rng(1)
    for key, p in net.collect_params().items():
        if key.endswith(("running_mean", "beta")):
            p.set_data(rng.normal(0, 0.1, p.shape))
        elif key.endswith(("running_var", "gamma")):
            p.set_data(rng.uniform(0.8, 1.2, p.shape))


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
