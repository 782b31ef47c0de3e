"""The benchmark harness: timing, the run and the report. The workloads (networks) are in
:mod:`~shapegraph.tools.workloads`, the peers that run them in :mod:`~shapegraph.tools.peers`.

Each workload runs against its peers, in one process, with the same weights: the networks
written with ``shapegraph.nn`` against the numpy reference interpreter, PyTorch eager (CPU)
and ONNX Runtime (the graph exported); the onnx package's light CNNs against ONNX Runtime on
the same proto (random weights). JIT compilation is kept out of the timed region: every
implementation is warmed up first, and shapegraph's first call at each batch size (the
plan and its kernels) is reported separately, as is ONNX Runtime's session creation.

Every time is a median over ``rounds`` rounds, each the median of batches of calls for
``budget / rounds`` seconds; the implementations take turns within a round, and a ratio
(shapegraph / ONNX Runtime) is taken round by round. Figures are printed as
``median (min-max over the rounds)``.

Modes: ``--threads 1,2`` runs each workload on each thread count; ``--busy`` measures each
workload again while a CPU-bound "busy neighbour" process runs (started and always stopped
by the harness) and reports each implementation's rise; ``--torch-first`` runs the
workloads in two child processes, one that imports torch before shapegraph and one that does
not, and reports shapegraph's slowdown. Run it with ``shapegraph bench`` or
``python benchmarks/bench_executor.py``.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from shapegraph.tools.bench_options import (
    DESCRIPTION,
    BenchOptions,
    add_bench_arguments,
    options_from,
)
from shapegraph.tools.peers import blas_bound, ort_runner, peer_runners, set_threads
from shapegraph.tools.workloads import (
    ONNX_WORKLOADS,
    WORKLOADS,
    OnnxWorkload,
    Workload,
    graph_flops,
    matches,
    random_weights,
    randomize_batchnorm,
    symbolic_batch,
)

__all__ = ["BenchOptions", "Case", "Spread", "busy_neighbour", "main", "measure", "median_us",
           "onnx_cases", "run_bench", "select_workloads", "sgemm_peak_gflops", "spread"]

OURS, ORT = "shapegraph", "onnxruntime"
BURNER = ("import os\np = os.getppid()\nwhile os.getppid() == p:\n"
          "    for _ in range(1000000):\n        pass\n")  # ends with its parent


# --------------------------------------------------------------------------- timing


def median_us(fn: Callable[[], Any], budget_s: float = 0.4, min_runs: int = 5) -> float:
    """Median time of one call in microseconds, over batches of calls for ``budget_s``
    (after one warm-up call)."""
    fn()
    return sample_us(fn, budget_s, min_runs)


def sample_us(fn: Callable[[], Any], budget_s: float, min_runs: int = 3) -> float:
    """Median time of one call in microseconds over at least ``min_runs`` batches of calls
    (each about 10 ms) and ``budget_s`` seconds; no warm-up."""
    t0 = time.perf_counter()
    fn()
    one = max(time.perf_counter() - t0, 1e-7)
    per = max(1, int(0.01 / one))  # batches of ~10 ms
    samples: list[float] = [one] if per == 1 else []
    deadline = t0 + budget_s
    while len(samples) < min_runs or time.perf_counter() < deadline:
        t = time.perf_counter()
        for _ in range(per):
            fn()
        samples.append((time.perf_counter() - t) / per)
        if len(samples) > 200:
            break
    return statistics.median(samples) * 1e6


def measure(impls: dict[str, Callable[[], Any]], budget_s: float, rounds: int
            ) -> dict[str, list[float]]:
    """Each implementation's time per call (µs), one figure per round; within a round the
    implementations take turns, so that a ratio can be taken round by round."""
    for fn in impls.values():
        fn()  # warm-up (caches, thread pools)
    out: dict[str, list[float]] = {k: [] for k in impls}
    for _ in range(rounds):
        for k, fn in impls.items():
            out[k].append(sample_us(fn, budget_s / max(rounds, 1) / max(len(impls), 1)))
    return out


@dataclass(frozen=True)
class Spread:
    """A median with the min-max around it."""

    median: float
    lo: float
    hi: float

    def fmt(self, digits: int | None = None, unit: str = "") -> str:
        if digits is None:  # one decimal below 100 (by the median), none above
            digits = 1 if abs(self.median) < 100 else 0

        def f(v: float) -> str:
            return f"{v:.{digits}f}"

        return f"{f(self.median)}{unit} ({f(self.lo)}-{f(self.hi)})"


def spread(values: Sequence[float]) -> Spread:
    return Spread(statistics.median(values), min(values), max(values))


def ratio(num: Sequence[float], den: Sequence[float], paired: bool = True) -> Spread:
    """``num / den``: round by round when the rounds were measured in turns (``paired``),
    else the ratio of the medians with the widest min-max the two spreads allow."""
    if paired and len(num) == len(den):
        return spread([a / b for a, b in zip(num, den, strict=True)])
    n, d = spread(num), spread(den)
    return Spread(n.median / d.median, n.lo / d.hi, n.hi / d.lo)


def sgemm_peak_gflops(threads: int | None = None) -> float:
    """numpy's sgemm rate on 2048x2048 (best of 3), on ``threads`` BLAS threads (when
    threadpoolctl is installed; else the BLAS default)."""
    a = np.random.default_rng(0).standard_normal((2048, 2048)).astype(np.float32)
    out = np.empty_like(a)
    limit: Any = contextlib.nullcontext()
    if threads is not None:
        with contextlib.suppress(ImportError):
            from threadpoolctl import threadpool_limits

            limit = threadpool_limits(limits=threads, user_api="blas")
    with limit:
        np.dot(a, a, out)
        t = min(_time(lambda: np.dot(a, a, out)) for _ in range(3))
    return 2 * 2048**3 / t / 1e9


def _time(fn: Callable[[], Any]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


@contextlib.contextmanager
def busy_neighbour(settle_s: float = 0.2) -> Iterator[subprocess.Popen[bytes]]:
    """A CPU-bound process (a Python busy loop, pinned to nothing) for the duration of the
    block; it is stopped on the way out whatever happens (an error, ^C), and it ends by
    itself if this process dies first."""
    proc = subprocess.Popen([sys.executable, "-c", BURNER], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(settle_s)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:  # pragma: no cover
            proc.kill()
            proc.wait()


# --------------------------------------------------------------------------- the cases


@dataclass
class Case:
    """One workload at one batch size, ready to time: shapegraph's forward (compiled and
    checked), its peers for a thread count, and what was measured on the way."""

    workload: str
    batch: int
    flops: int
    compile_s: float  # shapegraph: sg.compile (at the first batch) + the first call
    ours: Callable[[], Any]
    peers: Callable[[int, bool], dict[str, Callable[[], Any]]]  # (threads, use_torch)
    ort_session_s: float | None = None
    error: str | None = None  # shapegraph's output differs from the reference


@dataclass(frozen=True)
class Skip:
    workload: str
    batch: int
    reason: str


def _agree(got: Any, want: Any, rtol: float = 2e-3, atol: float = 1e-4) -> str | None:
    got, want = np.asarray(got), np.asarray(want)
    if got.shape != want.shape and got.size == want.size:
        got = got.reshape(want.shape)
    try:
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)
    except AssertionError:
        if got.shape != want.shape:
            return f"output shape {got.shape}, reference {want.shape}"
        err = float(np.max(np.abs(got.astype(np.float64) - want)))
        return f"WRONG RESULT: max abs error {err:.3g} against the reference"
    return None


def _call(fn: Callable[[np.ndarray], Any], x: np.ndarray) -> Callable[[], Any]:
    return lambda: fn(x)


def gluon_cases(wl: Workload, batches: Sequence[int]) -> Iterator[Case]:
    """A ``shapegraph.nn`` workload at each of ``batches``: Xavier weights, batchnorm
    statistics away from the identity, compiled once for a symbolic batch."""
    import shapegraph as sg
    from shapegraph import init
    from shapegraph.infer.interpret import run_reference

    init.seed(0)
    net = wl.build()
    net.initialize(init.Xavier())
    net(np.zeros((1, *wl.input_shape), np.float32))  # create deferred parameters
    randomize_batchnorm(net)
    t0 = time.perf_counter()
    model = sg.compile(net, sg.Input("x", ("batch", *wl.input_shape)))
    compile_s = time.perf_counter() - t0
    for batch in batches:
        x = np.random.default_rng(batch).standard_normal((batch, *wl.input_shape)).astype(
            np.float32)
        t0 = time.perf_counter()
        got = model(x)
        first = compile_s + time.perf_counter() - t0
        compile_s = 0.0
        error = _agree(got, run_reference(model.graph, model.params, {"x": x})[0])

        def peers(threads: int, use_torch: bool, x: np.ndarray = x, batch: int = batch
                  ) -> dict[str, Callable[[], Any]]:
            fns = peer_runners(wl, model, model.graph, model.params, x.shape, threads,
                               use_torch)
            out = {k: _call(fn, x) for k, fn in fns.items()
                   if not (k == "numpy ref" and batch >= 1024 and wl.name.startswith("MLP 784"))
                   }  # the numpy ref there is minutes of float64 einsum: not informative
            if wl.name.startswith("MLP"):
                bound = blas_bound(model.params, batch)
                if bound is not None:
                    out["bare sgemm"] = bound
            return out

        flops = graph_flops(model.graph, model.resolve([x.shape]))
        yield Case(wl.name, batch, flops, first, _call(model, x), peers, error=error)


def onnx_cases(wl: OnnxWorkload, batches: Sequence[int]) -> Iterator[Case | Skip]:
    """A light model at each of ``batches``, with random weights (ONNX Runtime runs the same
    proto). A batch other than the declared one runs only when shapegraph finds the batch
    can be symbolic; else it is skipped with the diagnostic that says why."""
    import onnx

    import shapegraph as sg

    proto = onnx.load(wl.path())
    model: Any = sg.load_onnx(proto)
    ((name, t),) = model.input_types.items()
    declared, rest = int(t.shape[0]), tuple(int(d) for d in t.shape[1:])
    reason = None
    if any(b != declared for b in batches):
        sym = symbolic_batch(proto)
        sym_model: Any = sg.load_onnx(sym)
        report = sg.check(sym_model, ("N", *rest))
        if report.ok and not report.diagnostics:
            proto = sym
        else:
            d = report.diagnostics[0]
            reason = (f"batch pinned to {declared}: {d.code} at {d.path}: "
                      f"{d.message.splitlines()[0]}")
    compiled: Any = None
    blob = b""
    for batch in batches:
        if batch != declared and reason:
            yield Skip(wl.name, batch, reason)
            continue
        if compiled is None:
            proto = random_weights(proto)  # made now: a skipped model needs none
            model, blob = sg.load_onnx(proto), proto.SerializeToString()
            t0 = time.perf_counter()
            compiled = (sg.compile(model) if reason or all(b == declared for b in batches)
                        else sg.compile(model, sg.Input(name, ("N", *rest))))
            compile_s = time.perf_counter() - t0
        x = np.random.default_rng(batch).standard_normal((batch, *rest)).astype(np.float32)
        t0 = time.perf_counter()
        got = compiled(x)
        first = compile_s + time.perf_counter() - t0
        compile_s = 0.0
        t0 = time.perf_counter()
        ref = ort_runner(blob, name, 1)
        session_s = time.perf_counter() - t0
        error = _agree(got, ref(x))

        def peers(threads: int, use_torch: bool, x: np.ndarray = x, blob: bytes = blob
                  ) -> dict[str, Callable[[], Any]]:
            return {ORT: _call(ort_runner(blob, name, threads), x)}

        flops = graph_flops(compiled.graph, compiled.resolve([x.shape]))
        yield Case(wl.name, batch, flops, first, _call(compiled, x), peers, session_s, error)


# --------------------------------------------------------------------------- the run


def select_workloads(models: Sequence[str], quick: bool
                     ) -> list[Workload | OnnxWorkload]:
    """The workloads to run: those whose names match one of ``models``; without a filter,
    all of them, or with ``quick`` only the ``shapegraph.nn`` ones (the light CNNs take
    minutes to compile cold)."""
    every: list[Workload | OnnxWorkload] = [*WORKLOADS, *ONNX_WORKLOADS]
    if models:
        names = [w.name for w in every]
        return [w for w in every if matches(w.name, models, names)]
    return list(WORKLOADS) if quick else every


def workload_names() -> list[str]:
    return [w.name for w in (*WORKLOADS, *ONNX_WORKLOADS)]


def _batches(wl: Workload | OnnxWorkload, opts: BenchOptions) -> list[int]:
    own = list(wl.batches[:2] if opts.quick else wl.batches)
    return [b for b in own if b in opts.batches] if opts.batches else own


def cases(wl: Workload | OnnxWorkload, opts: BenchOptions) -> Iterator[Case | Skip]:
    batches = _batches(wl, opts)
    if not batches:
        return iter(())
    if isinstance(wl, OnnxWorkload):
        return onnx_cases(wl, batches)
    return gluon_cases(wl, batches)


def run_case(case: Case, opts: BenchOptions) -> list[dict[str, Any]]:
    """Time ``case`` on each thread count (and, with ``busy``, again next to a burner)."""
    rows = []
    for n in opts.threads:
        set_threads(n)
        impls = {OURS: case.ours, **case.peers(n, opts.use_torch)}
        row: dict[str, Any] = {
            "workload": case.workload, "batch": case.batch, "threads": n,
            "flops": case.flops, "compile_s": case.compile_s,
            "ort_session_s": case.ort_session_s, "error": case.error,
            "times": measure(impls, opts.budget_s, opts.n_rounds)}
        if opts.busy:
            with busy_neighbour():
                row["busy"] = measure(impls, opts.budget_s, opts.n_rounds)
        rows.append(row)
    return rows


def collect(opts: BenchOptions, on_row: Callable[[dict[str, Any]], None] | None = None
            ) -> list[dict[str, Any]]:
    """Every selected workload's rows (a skipped batch is a row with ``skipped``)."""
    rows: list[dict[str, Any]] = []
    for wl in select_workloads(opts.models, opts.quick):
        for case in cases(wl, opts):
            if isinstance(case, Skip):
                new = [{"workload": case.workload, "batch": case.batch,
                        "skipped": case.reason}]
            else:
                new = run_case(case, opts)
            for r in new:
                if on_row:
                    on_row(r)
            rows += new
    return rows


# --------------------------------------------------------------------------- the report


def _stat(row: dict[str, Any], impl: str, key: str = "times") -> Spread | None:
    t = row.get(key, {}).get(impl)
    return spread(t) if t else None


def _ratio(row: dict[str, Any], key: str = "times") -> Spread | None:
    t = row.get(key, {})
    return ratio(t[OURS], t[ORT]) if OURS in t and ORT in t else None


def _verdicts(row: dict[str, Any]) -> list[str]:
    """Issue 11's goals that concern this row, met or missed by the median."""
    t = row["times"]
    name, batch = row["workload"], row["batch"]
    out = []
    r = _ratio(row)
    torch = t.get("torch eager")
    if r is not None:
        goal = None
        if name == "MLP 20-256-10" and batch <= 2:
            goal = 0.35
        elif name.startswith("MLP 784") and batch == 64:
            goal = 1.0
        elif (name == "LeNet" and batch == 64) or (name.startswith("ResNet 3") and batch == 32):
            goal = 0.9
        elif name in {w.name for w in ONNX_WORKLOADS}:
            goal = 1.0
        if goal is not None:
            out.append(_goal(f"<= {goal}x ONNX Runtime ({r.fmt(2)}x)", r.median <= goal))
    if batch <= 2 and torch:
        rt = ratio(t[OURS], torch)
        out.append(_goal(f"<= 0.1x PyTorch ({rt.fmt(3)}x)", rt.median <= 0.1))
    if name.startswith("MLP") and batch == 1024 and "bare sgemm" in t:
        rb = ratio(t[OURS], t["bare sgemm"])
        out.append(_goal(f"within 1.05x of bare sgemm ({rb.fmt(2)}x)", rb.median <= 1.05))
    return out


def _goal(text: str, ok: bool) -> str:
    return f"{'met' if ok else 'MISSED'}: {text}"


def _gflops(row: dict[str, Any], us: float) -> float:
    return float(row["flops"] / (us * 1e-6) / 1e9)


def _columns(rows: Sequence[dict[str, Any]], key: str = "times") -> list[str]:
    order = [OURS, ORT, "torch eager", "numpy ref", "bare sgemm"]
    present = {k for r in rows for k in r.get(key, {})}
    return [p for p in order if p in present]


def print_rows(rows: Sequence[dict[str, Any]], peaks: dict[int, float]) -> None:
    """The main table: times (µs, median and min-max over rounds), shapegraph / ONNX Runtime,
    GFLOP/s and % of the sgemm peak (ours / ORT), compile times, then the goals."""
    cols = _columns(rows)
    print(f"{'workload':<27} {'batch':>5} {'thr':>3} "
          + " ".join(f"{c + ' µs':>20}" for c in cols)
          + f" {'ours / ORT':>18} {'GFLOP/s ours/ORT':>17} {'% peak ours/ORT':>16}"
          + f" {'compile s ours/ORT':>19}")
    for r in rows:
        head = f"{r['workload']:<27} {r['batch']:>5}"
        if "skipped" in r:
            print(f"{head}     skipped: {r['skipped']}")
            continue
        cells = " ".join(f"{s.fmt():>20}" if (s := _stat(r, c)) else f"{'-':>20}"
                         for c in cols)
        rt = _ratio(r)
        ours, ort = _stat(r, OURS), _stat(r, ORT)
        assert ours is not None
        peak = peaks.get(r["threads"]) or max(peaks.values())
        g_ours = _gflops(r, ours.median)
        g_ort = f"{_gflops(r, ort.median):.1f}" if ort else "-"
        p_ort = f"{_gflops(r, ort.median) / peak * 100:.1f}" if ort else "-"
        sess = f"{r['ort_session_s']:.2f}" if r.get("ort_session_s") is not None else "-"
        comp = f"{r['compile_s']:.2f} / {sess}"
        print(f"{head} {r['threads']:>3} {cells} {rt.fmt(2) if rt else '-':>18} "
              f"{f'{g_ours:.1f} / {g_ort}':>17} "
              f"{f'{g_ours / peak * 100:.1f} / {p_ort}':>16} "
              f"{comp:>19}")
        if r.get("error"):
            print(f"{'':<37}{r['error']}")
        for v in _verdicts(r):
            print(f"{'':<37}{v}")


def print_busy(rows: Sequence[dict[str, Any]]) -> None:
    """Quiet and busy times per implementation, each one's rise (busy / quiet), and whether
    shapegraph's rise is no more than ONNX Runtime's."""
    rows = [r for r in rows if "busy" in r]
    if not rows:
        return
    cols = [c for c in _columns(rows) if c in (OURS, ORT, "torch eager")]
    print("\nbusy neighbour: a CPU-bound process running during the second measurement; "
          "rise = busy / quiet")
    print(f"{'workload':<27} {'batch':>5} {'thr':>3} "
          + " ".join(f"{c + ' quiet µs':>22} {'busy µs':>20} {'rise':>18}" for c in cols))
    for r in rows:
        cells = []
        for c in cols:
            q, b = _stat(r, c), _stat(r, c, "busy")
            if q is None or b is None:
                cells.append(f"{'-':>22} {'-':>20} {'-':>18}")
                continue
            rise = ratio(r["busy"][c], r["times"][c], paired=False)
            cells.append(f"{q.fmt():>22} {b.fmt():>20} {rise.fmt(2) + 'x':>18}")
        print(f"{r['workload']:<27} {r['batch']:>5} {r['threads']:>3} " + " ".join(cells))
        t, b = r["times"], r["busy"]
        if OURS in t and ORT in t:
            ours = ratio(b[OURS], t[OURS], paired=False).median
            theirs = ratio(b[ORT], t[ORT], paired=False).median
            print(f"{'':<37}{_goal(f'rise no more than ONNX Runtime rise ({ours:.2f}x vs {theirs:.2f}x)', ours <= theirs)}")  # noqa: E501


def _blas_info() -> str:
    try:
        from threadpoolctl import threadpool_info

        return "; ".join(f"{os.path.basename(i['filepath'])}: {i.get('architecture')} "
                         f"{i['num_threads']} threads" for i in threadpool_info())
    except ImportError:
        return "threadpoolctl not installed (BLAS threads not limited)"


def startup() -> dict[str, float]:
    """Import time, first call with a cold JIT cache, first call with a warm one (fresh
    processes, the seed MLP at batch 2)."""
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


def run_bench(quick: bool = False, opts: BenchOptions | None = None) -> int:
    """Run the selected workloads, print the tables and the goals; returns the exit code."""
    opts = opts or BenchOptions(quick=quick)
    if opts.torch_first:
        return run_torch_first(opts)
    if opts.models and not select_workloads(opts.models, opts.quick):
        print(f"shapegraph bench: --models {','.join(opts.models)} matches no workload "
              f"(there are: {', '.join(workload_names())})", file=sys.stderr)
        return 2
    os.environ.setdefault("OMP_NUM_THREADS", str(max(opts.threads)))
    peaks = {n: sgemm_peak_gflops(n) for n in opts.threads}
    print(f"machine: {os.cpu_count()} cores; sgemm peak "
          + ", ".join(f"{p:.0f} GFLOP/s on {n} thread{'s' if n > 1 else ''}"
                      for n, p in peaks.items()) + f"; BLAS: {_blas_info()}")
    print(f"times: median µs per forward call over {opts.n_rounds} rounds (min-max of the "
          f"rounds); JIT compilation excluded (compile s: shapegraph's first call, ONNX "
          f"Runtime's session creation)", flush=True)

    def progress(r: dict[str, Any]) -> None:
        what = (f"skipped ({r['skipped']})" if "skipped" in r else
                f"{r['threads']} thread(s): {spread(r['times'][OURS]).fmt()} µs")
        print(f"  ... {r['workload']} batch {r['batch']}: {what}", file=sys.stderr,
              flush=True)

    rows = collect(opts, progress)
    # a busy machine lowers the peak: take the better of the measurements before and after
    peaks = {n: max(p, sgemm_peak_gflops(n)) for n, p in peaks.items()}
    print("sgemm peak (the better of before and after the run): "
          + ", ".join(f"{p:.0f} GFLOP/s on {n} thread{'s' if n > 1 else ''}"
                      for n, p in peaks.items()))
    print_rows(rows, peaks)
    print_busy(rows)
    if opts.json_path:
        with open(opts.json_path, "w") as f:
            json.dump({"peaks": peaks, "rows": rows,
                       "torch_loaded": "torch" in sys.modules}, f)
    if not opts.quick and not opts.models:
        s = startup()
        print(f"start-up: import {s['import_s']:.2f} s; first call (JIT) cold cache "
              f"{s['first_call_cold_s']:.2f} s, warm cache {s['first_call_warm_s']:.2f} s")
    return 0


# --------------------------------------------------------------------------- torch first

_CHILD = "import sys\nfrom shapegraph.tools.cli import main\nsys.exit(main(sys.argv[1:]))\n"


def child_args(opts: BenchOptions, json_path: str) -> list[str]:
    """The ``shapegraph bench`` arguments of a ``--torch-first`` child (no PyTorch peer:
    the plain child must not load torch at all)."""
    args = ["bench", "--no-torch", "--json", json_path,
            "--threads", ",".join(map(str, opts.threads)), "--rounds", str(opts.n_rounds),
            "--budget", str(opts.budget_s)]
    if opts.quick:
        args.append("--quick")
    if opts.models:
        args += ["--models", ",".join(opts.models)]
    if opts.batches:
        args += ["--batches", ",".join(map(str, opts.batches))]
    if opts.busy:
        args.append("--busy")
    return args


def run_torch_first(opts: BenchOptions) -> int:
    """The workloads in a child process that imports torch before shapegraph and in one that
    never imports torch; shapegraph's slowdown (torch first / plain) per workload."""
    if importlib.util.find_spec("torch") is None:
        print("shapegraph bench: --torch-first needs PyTorch, which is not installed "
              "(pip install torch==2.13.0, or 'shapegraph[bench]')", file=sys.stderr)
        return 2
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label, first in (("plain", ""), ("torch first", "import torch  # noqa\n")):
            path = os.path.join(tmp, f"{label.replace(' ', '_')}.json")
            print(f"==== child process: {label} "
                  f"({'imports torch before shapegraph' if first else 'never imports torch'})",
                  flush=True)
            proc = subprocess.run([sys.executable, "-c", first + _CHILD,
                                   *child_args(opts, path)])
            if proc.returncode != 0:
                print(f"shapegraph bench: the {label} child process failed "
                      f"(exit {proc.returncode})", file=sys.stderr)
                return proc.returncode or 2
            with open(path) as f:
                results[label] = json.load(f)
    plain, tf = results["plain"], results["torch first"]
    if plain["torch_loaded"] or not tf["torch_loaded"]:  # pragma: no cover
        print("shapegraph bench: torch was loaded in the wrong child", file=sys.stderr)
        return 2
    print_torch_first(plain["rows"], tf["rows"])
    if opts.json_path:
        with open(opts.json_path, "w") as f:
            json.dump({"plain": plain, "torch_first": tf}, f)
    return 0


def print_torch_first(plain: Sequence[dict[str, Any]], tf: Sequence[dict[str, Any]]) -> None:
    """shapegraph's and ONNX Runtime's slowdown in the torch-first process."""
    def key(r: dict[str, Any]) -> tuple[Any, ...]:
        return (r["workload"], r["batch"], r.get("threads"))

    other = {key(r): r for r in tf}
    print("\ntorch first: time in a process that imported torch before shapegraph / time in "
          "one that never imported torch (goal: shapegraph <= 1.1x)")
    print(f"{'workload':<27} {'batch':>5} {'thr':>3} {'shapegraph plain µs':>22} "
          f"{'torch first µs':>20} {'slowdown':>18} {'ORT slowdown':>18}")
    for r in plain:
        o = other.get(key(r))
        if "skipped" in r or o is None or "times" not in o:
            continue
        p, t = r["times"], o["times"]
        ort = (ratio(t[ORT], p[ORT], paired=False).fmt(2) + "x" if ORT in p and ORT in t
               else "-")
        slow = ratio(t[OURS], p[OURS], paired=False)
        print(f"{r['workload']:<27} {r['batch']:>5} {r['threads']:>3} "
              f"{spread(p[OURS]).fmt():>22} {spread(t[OURS]).fmt():>20} "
              f"{slow.fmt(2) + 'x':>18} {ort:>18}")
        print(f"{'':<37}{_goal(f'<= 1.1x slower with torch first ({slow.median:.2f}x)', slow.median <= 1.1)}")  # noqa: E501


def main(argv: Sequence[str] | None = None) -> None:
    """``python benchmarks/bench_executor.py [options]``: the same as ``shapegraph bench``."""
    ap = argparse.ArgumentParser(prog="bench_executor.py", description=DESCRIPTION)
    add_bench_arguments(ap)
    sys.exit(run_bench(opts=options_from(ap.parse_args(argv))))
