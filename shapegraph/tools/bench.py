"""The benchmark harness: timing, the run and the report. The workloads (networks) are in
:mod:`~shapegraph.tools.workloads`, the peers that run them in :mod:`~shapegraph.tools.peers`.

Each workload runs against its peers, in one process, with the same weights: the networks
written with ``shapegraph.nn`` against the numpy reference interpreter, PyTorch eager (CPU)
and ONNX Runtime (the graph exported); the onnx package's light CNNs against ONNX Runtime on
the same proto (random weights). JIT compilation is kept out of the timed region: every
implementation is warmed up first, and shapegraph's first call at each batch size (the
plan and its kernels) is reported separately, as is ONNX Runtime's session creation.

Every time is a median over ``rounds`` rounds, each the median of batches of calls for
``budget / rounds`` seconds; the implementations take turns within a round (each turn
once no thread of the process spins any more, :func:`wait_quiet`, and after up to 50 ms of
untimed calls, ``SETTLE_S``), and a ratio (shapegraph / ONNX
Runtime) is taken round by round. Figures are printed as
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
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from rich.console import Console
from rich.text import Text

from shapegraph.tools.bench_machine import (
    LoadMeter,
    PlainProgress,
    RichProgress,
    busy_warning,
    installed,
    missing_note,
    missing_peers,
    progress_for,
    sample_load,
)
from shapegraph.tools.bench_options import (
    DESCRIPTION,
    BenchOptions,
    add_bench_arguments,
    options_from,
)
from shapegraph.tools.bench_report import (
    NAMES,
    ORT,
    OURS,
    PLOT_KINDS,
    Figure,
    Spread,
    busy_table,
    figures,
    main_table,
    notes,
    plot_ratios,
    ratio,
    spread,
    spread_warning,
    stdout_console,
    write_csv,
)
from shapegraph.tools.bench_torch_first import child_args, run_torch_first
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

__all__ = ["BenchOptions", "Case", "Spread", "busy_neighbour", "child_args", "main", "measure",
           "median_us", "onnx_cases", "ratio", "run_bench", "select_workloads", "sgemm_peak_gflops",
           "spread"]

Progress = PlainProgress | RichProgress
StepFn = Callable[[str, int, float], None]  # (implementation, round, fraction done)

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


def measure(impls: dict[str, Callable[[], Any]], budget_s: float, rounds: int,
            on_step: StepFn | None = None) -> dict[str, list[float]]:
    """Each implementation's time per call (µs), one figure per round; within a round the
    implementations take turns, so that a ratio can be taken round by round. ``on_step``
    hears of each (implementation, round) before it is timed, with the fraction done."""
    for fn in impls.values():
        fn()  # warm-up (caches, thread pools)
    out: dict[str, list[float]] = {k: [] for k in impls}
    steps = max(rounds * len(impls), 1)
    turn = budget_s / max(rounds, 1) / max(len(impls), 1)
    for r in range(rounds):
        for i, (k, fn) in enumerate(impls.items()):
            if on_step:
                on_step(k, r + 1, (r * len(impls) + i) / steps)
            wait_quiet()
            settle(fn, min(SETTLE_S, turn))
            out[k].append(sample_us(fn, turn))
    return out


# Each turn starts with this long of untimed calls: on a VM a thread that was idle while
# the other implementation's threads ran is slow for a while (numba's second thread on
# SqueezeNet after ONNX Runtime's turn: about 50 ms at 1.5x its time), and a turn of a
# few calls would time only that
SETTLE_S = 0.05


# Before each turn the harness waits (up to this long) until the threads of the turn
# before have stopped: numpy's OpenBLAS (the numpy reference, bare sgemm) spins its
# worker for about 110 ms after a call and ONNX Runtime's pool spins too; numba's threads
# sleep. Timed next to a spinning thread, shapegraph's two-thread ResNet blocks at batch
# 32 took 10-50 ms a call instead of 5 (its first 100 ms after a numpy matmul).
QUIET_MAX_S = 0.5


def wait_quiet(max_s: float = QUIET_MAX_S, window_s: float = 0.01) -> float:
    """Sleep in windows of ``window_s`` until this process used under a tenth of a window
    of CPU time during one (no thread of it spins any more), at most ``max_s``; returns
    the seconds waited. Without ``resource`` (Windows) it sleeps ``max_s``."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not on Linux or macOS
        time.sleep(max_s)
        return max_s

    def cpu() -> float:
        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime

    start = time.perf_counter()
    while time.perf_counter() - start < max_s:
        c = cpu()
        time.sleep(window_s)
        if cpu() - c < 0.1 * window_s:
            break
    return time.perf_counter() - start


def settle(fn: Callable[[], Any], seconds: float) -> None:
    """Call ``fn`` untimed until ``seconds`` have passed (once when that is 0)."""
    end = time.perf_counter() + seconds
    fn()
    while time.perf_counter() < end:
        fn()


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
        lacking = [m for m in ("onnx", "onnxruntime") if not installed(m)]
        if lacking:  # the model is read with onnx and checked against ONNX Runtime
            why = (f"needs {' and '.join(lacking)}, not installed "
                   "(pip install 'shapegraph[bench]')")
            return iter([Skip(wl.name, b, why) for b in batches])
        return onnx_cases(wl, batches)
    return gluon_cases(wl, batches)


def _label(workload: str, batch: int, threads: int) -> str:
    return f"{workload} b{batch} {threads} thread{'s' if threads > 1 else ''}"


def _summary(times: dict[str, list[float]]) -> str:
    return ", ".join(f"{NAMES.get(k, k)} {spread(v).fmt()} µs" for k, v in times.items()
                     if k in (OURS, ORT))


def run_case(case: Case, opts: BenchOptions, progress: Progress | None = None
             ) -> list[dict[str, Any]]:
    """Time ``case`` on each thread count (and, with ``busy``, again next to a burner)."""
    rows = []
    for n in opts.threads:
        set_threads(n)
        impls = {OURS: case.ours, **case.peers(n, opts.use_torch)}
        label = _label(case.workload, case.batch, n)

        def step(impl: str, rnd: int, fraction: float, label: str = label) -> None:
            if progress:
                progress.step(label, NAMES.get(impl, impl), rnd, opts.n_rounds, fraction)

        row: dict[str, Any] = {
            "workload": case.workload, "batch": case.batch, "threads": n,
            "flops": case.flops, "compile_s": case.compile_s,
            "ort_session_s": case.ort_session_s, "error": case.error,
            "times": measure(impls, opts.budget_s, opts.n_rounds, step)}
        if progress:
            progress.advance(1, f"{label}: {_summary(row['times'])}")
        if opts.busy:
            label += " next to the busy neighbour"
            with busy_neighbour():
                row["busy"] = measure(impls, opts.budget_s, opts.n_rounds, step)
            if progress:
                progress.advance(1, f"{label}: {_summary(row['busy'])}")
        rows.append(row)
    return rows


def planned(opts: BenchOptions) -> int:
    """How many measurements the run makes (the units of its progress)."""
    per = len(opts.threads) * (2 if opts.busy else 1)
    return sum(len(_batches(wl, opts)) * per
               for wl in select_workloads(opts.models, opts.quick))


def collect(opts: BenchOptions, on_row: Callable[[dict[str, Any]], None] | None = None,
            progress: Progress | None = None) -> list[dict[str, Any]]:
    """Every selected workload's rows (a skipped batch is a row with ``skipped``)."""
    rows: list[dict[str, Any]] = []
    per = len(opts.threads) * (2 if opts.busy else 1)
    for wl in select_workloads(opts.models, opts.quick):
        it = cases(wl, opts)
        while True:
            if progress:
                progress.stage(f"{wl.name}: compiling, first call, checking the result")
            case = next(it, None)
            if case is None:
                break
            if isinstance(case, Skip):
                new = [{"workload": case.workload, "batch": case.batch,
                        "skipped": case.reason}]
                if progress:
                    progress.advance(per, f"{case.workload} b{case.batch}: skipped")
            else:
                new = run_case(case, opts, progress)
            for r in new:
                if on_row:
                    on_row(r)
            rows += new
    return rows


# --------------------------------------------------------------------------- the report


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


def _warn(console: Console, text: str, label: str = "warning") -> None:
    console.print(Text.assemble((f"{label}: ", "bold yellow"), text))


def _peaks_line(peaks: dict[int, float]) -> str:
    return ", ".join(f"{p:.0f} GFLOP/s on {n} thread{'s' if n > 1 else ''}"
                     for n, p in peaks.items())


def usage_error(opts: BenchOptions) -> str | None:
    """What is wrong with ``opts`` before anything runs (one line), or None."""
    if opts.plot_path and not installed("matplotlib"):
        return ("--plot needs matplotlib, which is not installed "
                "(pip install 'shapegraph[plot]')")
    for flag, path in (("--json", opts.json_path), ("--csv", opts.csv_path),
                       ("--plot", opts.plot_path)):
        where = os.path.dirname(os.path.abspath(path)) if path else ""
        if path and not (os.path.isdir(where) and os.access(where, os.W_OK)):
            return f"{flag} {path}: cannot write there ({where} is not a writable folder)"
    if opts.plot_path and os.path.splitext(opts.plot_path)[1].lower() not in PLOT_KINDS:
        return (f"--plot {opts.plot_path}: the name must end in one of "
                f"{', '.join(PLOT_KINDS)}")
    if opts.torch_first and (opts.csv_path or opts.plot_path):
        return "--csv and --plot do not go with --torch-first (use --json there)"
    if opts.models and not select_workloads(opts.models, opts.quick):
        return (f"--models {','.join(opts.models)} matches no workload "
                f"(there are: {', '.join(workload_names())})")
    return None


def run_bench(quick: bool = False, opts: BenchOptions | None = None) -> int:
    """Run the selected workloads, print the tables and the warnings, write the files asked
    for; returns the exit code."""
    opts = opts or BenchOptions(quick=quick)
    error = usage_error(opts)
    if error:
        print(f"shapegraph bench: {error}", file=sys.stderr)
        return 2
    if opts.torch_first:
        return run_torch_first(opts)
    console = stdout_console()
    note = missing_note(missing_peers(opts.use_torch))
    if note:
        _warn(console, note, "note")
    os.environ.setdefault("OMP_NUM_THREADS", str(max(opts.threads)))
    before = sample_load()
    peaks = {n: sgemm_peak_gflops(n) for n in opts.threads}
    console.print(f"machine: {os.cpu_count()} cores; sgemm peak {_peaks_line(peaks)}; "
                  f"BLAS: {_blas_info()}")
    meter = LoadMeter()
    progress = progress_for(planned(opts))
    try:
        rows = collect(opts, lambda r: meter.tick(), progress)
    finally:
        progress.close()
    during = meter.stop()
    # a busy machine lowers the peak: take the better of the measurements before and after
    peaks = {n: max(p, sgemm_peak_gflops(n)) for n, p in peaks.items()}
    console.print(f"sgemm peak (the better of before and after the run): {_peaks_line(peaks)}"
                  f"; {opts.n_rounds} rounds per figure\n")
    figs = figures(rows, peaks)
    console.print(main_table(figs))
    for line in notes(figs):
        console.print(line)
    busy = busy_table(rows)
    if busy is not None:
        console.print()
        console.print(busy)
    busy_words = busy_warning(before, during, os.cpu_count() or 1, max(opts.threads))
    for warning in (spread_warning(figs), busy_words):
        if warning:
            _warn(console, warning)
    try:
        _write(opts, rows, figs, peaks, {"before": asdict(before), "during": asdict(during)},
               busy_words is not None)
    except OSError as e:
        print(f"shapegraph bench: cannot write {e.filename}: {e.strerror}", file=sys.stderr)
        return 2
    if opts.plot_path:
        console.print(f"plot written to {opts.plot_path}")
    if not opts.quick and not opts.models:
        s = startup()
        console.print(f"start-up: import {s['import_s']:.2f} s; first call (JIT) cold cache "
                      f"{s['first_call_cold_s']:.2f} s, warm cache "
                      f"{s['first_call_warm_s']:.2f} s")
    return 0


def _write(opts: BenchOptions, rows: list[dict[str, Any]], figs: list[Figure],
           peaks: dict[int, float], load: dict[str, Any], busy: bool) -> None:
    """The files asked for: --json, --csv, --plot."""
    if opts.json_path:
        with open(opts.json_path, "w") as f:
            json.dump({"peaks": peaks, "rows": rows, "figures": [asdict(g) for g in figs],
                       "load": load,
                       "torch_loaded": "torch" in sys.modules}, f)
    if opts.csv_path:
        write_csv(opts.csv_path, figs)
    if opts.plot_path:
        caption = (f"{os.cpu_count()} cores, {opts.n_rounds} rounds per figure"
                   + ("; the machine was busy, so the timings are noisy" if busy else ""))
        plot_ratios(opts.plot_path, figs, caption)


def main(argv: Sequence[str] | None = None) -> None:
    """``python benchmarks/bench_executor.py [options]``: the same as ``shapegraph bench``."""
    ap = argparse.ArgumentParser(prog="bench_executor.py", description=DESCRIPTION)
    add_bench_arguments(ap)
    sys.exit(run_bench(opts=options_from(ap.parse_args(argv))))
