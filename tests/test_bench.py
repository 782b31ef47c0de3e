"""The benchmark harness (``shapegraph bench``): its options, the --models filter, the busy
neighbour that is always stopped, the light models whose batch is pinned skipped at batch 8
with their reason, FLOP counting, the spreads, and small end-to-end runs."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import shapegraph as sg
from shapegraph import nn
from shapegraph.tools import bench
from shapegraph.tools.bench import (
    BenchOptions,
    Case,
    Skip,
    busy_neighbour,
    child_args,
    ratio,
    run_bench,
    run_case,
    select_workloads,
    spread,
)
from shapegraph.tools.bench_report import busy_table, render
from shapegraph.tools.cli import _parser, main
from shapegraph.tools.workloads import WORKLOADS, graph_flops, matches

ROOT = Path(__file__).resolve().parents[1]


# ----------------------------------------------------------------------------- options


def test_bench_options_parse() -> None:
    args = _parser().parse_args(["bench", "--models", "squeezenet, resnet50", "--threads",
                                 "1,2", "--batches", "1", "--busy", "--rounds", "3",
                                 "--budget", "0.5", "--no-torch", "--json", "out.json"])
    assert args.models == ("squeezenet", "resnet50")
    assert args.threads == (1, 2) and args.batches == (1,)
    assert args.busy and args.no_torch and not args.torch_first and not args.quick
    assert args.rounds == 3 and args.budget == 0.5 and args.json == "out.json"
    default = _parser().parse_args(["bench"])
    assert default.threads == (2,) and default.models == () and default.rounds is None


@pytest.mark.parametrize("bad", [["--threads", "0"], ["--threads", "one"],
                                 ["--threads", ""], ["--rounds", "1,2"],
                                 ["--budget", "-1"], ["--models", ","]])
def test_bad_bench_options_are_usage_errors(bad: list[str],
                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", *bad]) == 2
    assert "error: argument" in capsys.readouterr().err


def test_models_filter() -> None:
    def names(*models: str, quick: bool = False) -> list[str]:
        return [w.name for w in select_workloads(models, quick)]

    assert names("squeezenet") == ["SqueezeNet"]
    assert names("resnet50") == ["ResNet-50"]
    assert names("ResNet") == ["ResNet 3 blocks 16ch 32x32", "ResNet-50"]
    assert names("lenet") == ["LeNet"]  # a whole name: not ShuffleNet too
    assert names("mlp", "vgg") == ["MLP 20-256-10", "MLP 784-1024-1024-10", "VGG-19"]
    assert names("inception") == ["Inception v1", "Inception v2"]
    assert names(quick=True) == [w.name for w in WORKLOADS]  # no CNNs in a quick run
    assert len(names()) == len(WORKLOADS) + 9
    assert matches("DenseNet-121", ["densenet"]) and not matches("DenseNet-121", [""])


def test_a_filter_matching_nothing_is_a_usage_error(capsys: pytest.CaptureFixture[str]
                                                    ) -> None:
    assert run_bench(opts=BenchOptions(models=("nosuchnet",))) == 2
    err = capsys.readouterr().err
    assert "matches no workload" in err and "SqueezeNet" in err and len(err.splitlines()) == 1


def test_torch_first_without_torch_says_so_in_one_line(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "torch" else real(name, *a))
    assert main(["bench", "--torch-first", "--models", "squeezenet"]) == 2
    out = capsys.readouterr()
    assert out.out == "" and len(out.err.splitlines()) == 1 and "torch" in out.err


def test_torch_first_children_leave_torch_out_and_keep_the_options() -> None:
    opts = BenchOptions(quick=True, models=("squeezenet",), threads=(1, 2), batches=(1,),
                        rounds=2, budget=0.1)
    args = child_args(opts, "/tmp/x.json")
    assert args[0] == "bench" and "--no-torch" in args and "--torch-first" not in args
    parsed = _parser().parse_args(args)
    assert (parsed.models, parsed.threads, parsed.batches, parsed.rounds, parsed.budget,
            parsed.quick, parsed.json) == (("squeezenet",), (1, 2), (1,), 2, 0.1, True,
                                           "/tmp/x.json")


# ----------------------------------------------------------------------------- the burner


def test_the_burner_runs_inside_and_is_stopped_after() -> None:
    with busy_neighbour(settle_s=0.0) as proc:
        assert proc.poll() is None  # running
    assert proc.poll() is not None


@pytest.mark.parametrize("exc", [RuntimeError, KeyboardInterrupt])
def test_the_burner_is_stopped_on_an_error_or_interrupt(exc: type[BaseException]) -> None:
    procs = []
    with pytest.raises(exc), busy_neighbour(settle_s=0.0) as proc:
        procs.append(proc)
        raise exc()
    assert procs[0].poll() is not None


def _case(ours: Any) -> Case:
    return Case("tiny", 1, 100, 0.0, ours, lambda threads, use_torch: {
        "onnxruntime": lambda: None})


def test_busy_mode_measures_again_next_to_the_burner(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bench, "set_threads", lambda n: None)
    started: list[Any] = []
    real = bench.busy_neighbour

    def spy(settle_s: float = 0.0) -> Any:
        cm = real(settle_s=0.0)
        started.append(cm)
        return cm

    monkeypatch.setattr(bench, "busy_neighbour", spy)
    opts = BenchOptions(busy=True, threads=(1, 2), rounds=2, budget=0.01)
    rows = run_case(_case(lambda: None), opts)
    assert len(started) == 2  # once per thread count
    assert [r["threads"] for r in rows] == [1, 2]
    for r in rows:
        assert set(r["times"]) == set(r["busy"]) == {"shapegraph", "onnxruntime"}
        assert len(r["times"]["shapegraph"]) == 2
    text = render(busy_table(rows))  # type: ignore[arg-type]
    assert "rise" in text and "ONNX Runtime" in text and "goal" not in text


def test_busy_mode_stops_the_burner_when_a_workload_fails(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bench, "set_threads", lambda n: None)
    procs: list[Any] = []
    real = bench.busy_neighbour

    class Spy:
        def __enter__(self) -> Any:
            self.cm = real(settle_s=0.0)
            procs.append(self.cm.__enter__())
            return procs[-1]

        def __exit__(self, *exc: Any) -> Any:
            return self.cm.__exit__(*exc)

    monkeypatch.setattr(bench, "busy_neighbour", lambda: Spy())
    calls = []

    def ours() -> None:
        calls.append(1)
        if procs:  # the busy measurement
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_case(_case(ours), BenchOptions(busy=True, threads=(1,), rounds=1, budget=0.01))
    assert len(procs) == 1 and procs[0].poll() is not None


# ----------------------------------------------------------------------------- ONNX models


@pytest.mark.parametrize("name", ["ZFNet-512", "AlexNet"])
def test_a_pinned_batch_is_skipped_at_batch_8_with_its_reason(name: str) -> None:
    pytest.importorskip("onnx")
    (wl,) = select_workloads([name], False)
    (skip,) = bench.onnx_cases(wl, [8])  # type: ignore[arg-type]
    assert isinstance(skip, Skip) and skip.batch == 8 and skip.workload == name
    assert "SG212" in skip.reason and "batch size N = 1" in skip.reason
    assert "batch pinned to 1" in skip.reason


def test_random_weights_replace_the_constant_ones() -> None:
    onnx = pytest.importorskip("onnx")
    from shapegraph.tools.workloads import light_model_path, random_weights

    proto = random_weights(onnx.load(light_model_path("squeezenet")))
    assert not [n for n in proto.graph.node if n.op_type == "ConstantOfShape"]
    assert not [i for i in proto.graph.initializer if i.name.endswith("__SHAPE")]
    model = sg.load_onnx(proto)
    w = model.params()["conv1_w_0"]
    assert w.shape == (64, 3, 3, 3) and w.std() > 0.05


# ----------------------------------------------------------------------------- FLOPs


def _flops(net: Any, shape: tuple[int, ...]) -> int:
    net.initialize()
    model = sg.compile(net, sg.Input("x", ("batch", *shape[1:])))
    return graph_flops(model.graph, model.resolve([shape]))


def test_flops_of_a_grouped_strided_conv_and_a_dense() -> None:
    net = nn.Sequential()
    net.add(nn.Conv2D(8, 3, strides=2, padding=1, groups=2, in_channels=4), nn.Dense(10))
    # conv: out (3, 8, 5, 5), each output 4 / 2 * 3 * 3 multiply-adds; dense 200 -> 10
    assert _flops(net, (3, 4, 10, 10)) == 2 * 3 * 8 * 5 * 5 * 2 * 9 + 2 * 3 * 200 * 10


@pytest.mark.parametrize("wl", WORKLOADS, ids=lambda w: w.name)
def test_flops_of_the_workloads_match_their_hand_counts(wl: Any) -> None:
    assert _flops(wl.build(), (3, *wl.input_shape)) == 3 * wl.flops_per_sample


# ----------------------------------------------------------------------------- spreads


def test_spreads_and_ratios() -> None:
    s = spread([3.0, 1.0, 2.0, 10.0, 2.5])
    assert (s.median, s.lo, s.hi) == (2.5, 1.0, 10.0)
    assert s.fmt() == "2.5 (1.0-10.0)" and spread([150.0, 210.0, 99.0]).fmt() == "150 (99-210)"
    paired = ratio([2.0, 4.0, 3.0], [1.0, 2.0, 1.0])  # round by round
    assert (paired.median, paired.lo, paired.hi) == (2.0, 2.0, 3.0)
    apart = ratio([2.0, 4.0, 3.0], [1.0, 2.0, 1.0], paired=False)  # the widest
    assert (apart.median, apart.lo, apart.hi) == (3.0, 1.0, 4.0)


def test_measure_takes_turns_and_keeps_every_round() -> None:
    order: list[str] = []
    out = bench.measure({"a": lambda: order.append("a"), "b": lambda: order.append("b")},
                        budget_s=0.0, rounds=4)
    assert len(out["a"]) == len(out["b"]) == 4
    assert order[:2] == ["a", "b"]  # warm-ups, then the rounds take turns


def test_each_turn_starts_with_untimed_calls() -> None:
    calls: list[float] = []
    bench.settle(lambda: calls.append(time.perf_counter()), 0.0)
    assert len(calls) == 1  # no settling asked: one call
    calls.clear()
    bench.settle(lambda: calls.append(time.perf_counter()), 0.02)
    assert len(calls) > 1 and calls[-1] - calls[0] >= 0.015
    # a turn of measure() settles for up to SETTLE_S before its timed calls
    n = {"a": 0}

    def a() -> None:
        n["a"] += 1
        time.sleep(0.001)

    bench.measure({"a": a}, budget_s=2 * bench.SETTLE_S, rounds=1)
    assert n["a"] >= 1 + bench.SETTLE_S / 0.002  # warm-up, settling, then the samples


def _spin(seconds: float) -> threading.Thread:
    """A thread of this process that burns CPU for ``seconds`` (as another
    implementation's pool does after its turn)."""
    def burn() -> None:
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            pass

    t = threading.Thread(target=burn, daemon=True)
    t.start()
    return t


def test_a_turn_waits_until_no_thread_of_the_process_spins() -> None:
    assert bench.wait_quiet() < 0.1  # nothing spins: one window or a few
    t = _spin(0.2)
    waited = bench.wait_quiet()
    t.join()
    assert waited >= 0.12  # the GIL lets the burner run while wait_quiet sleeps
    t = _spin(2.0)
    try:
        assert 0.15 <= bench.wait_quiet(max_s=0.2) < 1.0  # never longer than asked
    finally:
        t.join()


# ----------------------------------------------------------------------------- end to end


def _run(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    import os

    # the table's width: pytest-xdist's workers set COLUMNS=80, which would wrap its rows
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    env.update(PYTHONPATH=str(ROOT), PATH="/usr/bin:/bin")
    return subprocess.run([sys.executable, "-m", "shapegraph", "bench", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout, env=env)


def test_a_tiny_run_end_to_end_with_the_busy_neighbour(tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    out, table = tmp_path / "rows.json", tmp_path / "rows.csv"
    plot = ["--plot", str(tmp_path / "r.png")] if importlib.util.find_spec("matplotlib") else []
    p = _run("--models", "MLP 20", "--batch", "1", "--threads", "1", "--rounds", "2",
             "--budget", "0.02", "--no-torch", "--busy", "--json", str(out), "--csv",
             str(table), *plot)
    assert p.returncode == 0, p.stderr
    # not a terminal: plain progress lines on stderr, one per measurement (quiet, busy)
    assert "[1/2" in p.stderr and "[2/2] MLP 20-256-10 b1 1 thread next to the busy" in p.stderr
    lines = table.read_text().splitlines()
    assert lines[0].startswith("workload,batch,threads,implementation,rounds,median_us,")
    assert len(lines) == 1 + 4  # shapegraph, ONNX Runtime, numpy ref, bare sgemm
    assert not plot or (tmp_path / "r.png").stat().st_size > 10_000
    assert "MLP 20-256-10" in p.stdout and "shapegraph / this" in p.stdout
    assert "busy neighbour" in p.stdout and "rise" in p.stdout
    assert "MISSED" not in p.stdout and "met:" not in p.stdout and "goal" not in p.stdout
    data = json.loads(out.read_text())
    (row,) = data["rows"]
    assert row["batch"] == 1 and row["threads"] == 1 and row["flops"] == 2 * (20 * 256 + 2560)
    assert len(row["times"]["shapegraph"]) == 2 and "busy" in row
    assert not data["torch_loaded"]


@pytest.mark.slow
def test_squeezenet_end_to_end() -> None:
    """SqueezeNet at batch 1 and 8 on one thread: its first call compiles every convolution
    (minutes with a cold cache)."""
    pytest.importorskip("onnxruntime")
    p = _run("--models", "squeezenet", "--threads", "1", "--rounds", "1", "--budget", "0.05",
             timeout=1200)
    assert p.returncode == 0, p.stderr
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("SqueezeNet")]
    assert len(lines) == 2 and "WRONG" not in p.stdout


def test_gluon_cases_check_against_the_reference() -> None:
    (wl,) = select_workloads(["MLP 20"], False)
    (case,) = bench.gluon_cases(wl, [2])  # type: ignore[arg-type]
    assert case.error is None and case.flops == 2 * 2 * (20 * 256 + 2560)
    assert np.asarray(case.ours()).shape == (2, 10)


@pytest.mark.slow
def test_torch_first_end_to_end(tmp_path: Path) -> None:
    """Two child processes (torch imported first, and never), then the slowdown table."""
    pytest.importorskip("torch")
    pytest.importorskip("onnxruntime")
    out = tmp_path / "both.json"
    p = _run("--models", "MLP 20", "--batches", "1", "--threads", "1", "--rounds", "1",
             "--budget", "0.02", "--torch-first", "--json", str(out))
    assert p.returncode == 0, p.stderr
    assert "child process: plain" in p.stdout and "child process: torch first" in p.stdout
    assert "slowdown" in p.stdout and "goal" not in p.stdout
    data = json.loads(out.read_text())
    assert not data["plain"]["torch_loaded"] and data["torch_first"]["torch_loaded"]
