"""What ``shapegraph bench`` shows and writes, on fake timings (no network runs): the table
(a golden file), the figures, the CSV and JSON columns, the plot, the warnings about a busy
machine and wide spreads, the progress lines, and the peers that are not installed."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from goldens import check_golden
from hypothesis import given, settings
from hypothesis import strategies as st

from shapegraph.tools import bench, bench_machine
from shapegraph.tools.bench import BenchOptions, run_bench, run_case
from shapegraph.tools.bench_machine import (
    Load,
    LoadMeter,
    PlainProgress,
    RichProgress,
    busy_warning,
    missing_note,
    missing_peers,
    progress_for,
)
from shapegraph.tools.bench_report import (
    CSV_COLUMNS,
    Figure,
    busy_table,
    figures,
    iqr,
    main_table,
    notes,
    plot_ratios,
    render,
    spread_warning,
    torch_first_table,
    write_csv,
)
from shapegraph.tools.cli import _parser, main
from shapegraph.tools.workloads import ONNX_WORKLOADS

ROOT = Path(__file__).resolve().parents[1]

# two workloads' rows as the harness makes them (µs per round), and a skipped one
ROWS: list[dict[str, Any]] = [
    {"workload": "MLP 20-256-10", "batch": 2, "threads": 2, "flops": 2 * 2 * 7680,
     "compile_s": 1.234, "ort_session_s": None, "error": None,
     "times": {"shapegraph": [3.0, 3.1, 2.9, 3.0, 3.2],
               "onnxruntime": [6.0, 6.5, 6.2, 6.1, 6.3],
               "torch eager": [20.0, 21.0, 19.5, 20.5, 40.0],
               "numpy ref": [12.0, 12.0, 12.5, 11.8, 12.1]}},
    {"workload": "SqueezeNet", "batch": 8, "threads": 2, "flops": 8 * 700_000_000,
     "compile_s": 41.5, "ort_session_s": 0.31, "error": "WRONG RESULT: max abs error 0.5",
     "times": {"shapegraph": [30000.0, 31000.0, 29000.0],
               "onnxruntime": [25000.0, 26000.0, 40000.0]}},
    {"workload": "ZFNet-512", "batch": 8,
     "skipped": "batch pinned to 1: SG212 at Reshape_0: the target holds the batch 1"},
]
PEAKS = {2: 200.0}




# ----------------------------------------------------------------------------- the table


def test_the_table_on_fake_timings_golden() -> None:
    figs = figures(ROWS, PEAKS)
    text = render(main_table(figs)) + "\n" + "\n".join(notes(figs))
    check_golden("bench_table.txt", text)
    assert "MISSED" not in text and "goal" not in text


def test_figures_median_spread_iqr_ratio_and_rates() -> None:
    figs = figures(ROWS, PEAKS)
    assert [(f.workload, f.implementation) for f in figs] == [
        ("MLP 20-256-10", "shapegraph"), ("MLP 20-256-10", "onnxruntime"),
        ("MLP 20-256-10", "torch eager"), ("MLP 20-256-10", "numpy ref"),
        ("SqueezeNet", "shapegraph"), ("SqueezeNet", "onnxruntime"), ("ZFNet-512", "")]
    ours, ort, torch = figs[:3]
    assert (ours.median_us, ours.min_us, ours.max_us, ours.rounds) == (3.0, 2.9, 3.2, 5)
    assert (ours.q1_us, ours.q3_us) == (3.0, 3.1)
    assert ours.shapegraph_ratio is None and ours.setup_s == 1.234
    # round by round: 3/6, 3.1/6.5, 2.9/6.2, 3/6.1, 3.2/6.3
    assert ort.shapegraph_ratio == pytest.approx(3.0 / 6.1)
    assert ort.shapegraph_ratio_min == pytest.approx(2.9 / 6.2)
    assert ort.shapegraph_ratio_max == pytest.approx(3.2 / 6.3)
    assert ours.gflops == pytest.approx(30720 / 3e-6 / 1e9)
    assert ours.pct_sgemm_peak == pytest.approx(ours.gflops / 200 * 100)
    assert torch.wide and not ours.wide and not ort.wide  # 40 / 19.5 > 1.3
    assert figs[4].note.startswith("WRONG RESULT") and figs[5].setup_s == 0.31
    assert figs[6].note.startswith("skipped: batch pinned")
    assert iqr([5.0]) == (5.0, 5.0) and iqr([1.0, 2.0, 3.0, 4.0, 5.0]) == (2.0, 4.0)


rounds = st.lists(st.floats(0.5, 1e5, allow_nan=False), min_size=1, max_size=9)


@settings(max_examples=60, deadline=None)
@given(rounds, st.data())
def test_figures_are_ordered_whatever_the_timings(ours: list[float], data: Any) -> None:
    peer = data.draw(st.lists(st.floats(0.5, 1e5), min_size=len(ours), max_size=len(ours)))
    row = {"workload": "w", "batch": 1, "threads": 1, "flops": 1000, "compile_s": 0.0,
           "times": {"shapegraph": ours, "onnxruntime": peer}}
    mine, theirs = figures([row], {1: 10.0})
    for f in (mine, theirs):
        assert f.min_us is not None and f.max_us is not None
        assert f.min_us <= (f.q1_us or 0) <= (f.median_us or 0) <= (f.q3_us or 0) <= f.max_us
        assert f.wide == (f.max_us / f.min_us > 1.3)
    lo, mid, hi = (theirs.shapegraph_ratio_min, theirs.shapegraph_ratio,
                   theirs.shapegraph_ratio_max)
    assert lo is not None and mid is not None and hi is not None and lo <= mid <= hi
    same = figures([{**row, "times": {"shapegraph": ours, "onnxruntime": ours}}], {1: 1.0})
    assert same[1].shapegraph_ratio == pytest.approx(1.0)


def test_a_wide_spread_is_marked_and_named_in_words() -> None:
    figs = figures(ROWS, PEAKS)
    warning = spread_warning(figs)
    assert warning is not None
    assert warning.startswith("2 figures (marked *) changed by more than 1.3x")
    assert "MLP 20-256-10 batch 2 PyTorch eager (2.1x)" in warning
    assert "SqueezeNet batch 8 ONNX Runtime (1.6x)" in warning
    assert spread_warning(figs[:2]) is None
    assert any(line.startswith("* ") for line in notes(figs))
    assert not any(line.startswith("* ") for line in notes(figs[:2]))


def test_the_busy_and_torch_first_tables_golden() -> None:
    slower = [{**r, "times": {k: [v * 1.2 for v in t] for k, t in r["times"].items()}}
              for r in ROWS[:2]]
    busy = [{**r, "busy": s["times"]} for r, s in zip(ROWS[:2], slower, strict=True)]
    text = render(busy_table(busy)) + "\n\n" + render(torch_first_table(ROWS, slower))
    check_golden("bench_busy_torch_first.txt", text)
    assert "1.20x (1.09-1.32)" in text and "goal" not in text and "ZFNet" not in text


# ----------------------------------------------------------------------------- files


def test_csv_has_one_line_per_workload_and_implementation(tmp_path: Path) -> None:
    path = tmp_path / "b.csv"
    write_csv(str(path), figures(ROWS, PEAKS))
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        lines = list(reader)
    assert tuple(reader.fieldnames or ()) == CSV_COLUMNS
    assert len(lines) == 7
    ort = lines[1]
    assert (ort["workload"], ort["batch"], ort["threads"], ort["implementation"]) == (
        "MLP 20-256-10", "2", "2", "onnxruntime")
    assert float(ort["median_us"]) == 6.2 and ort["setup_s"] == "" and ort["note"] == ""
    assert float(ort["shapegraph_ratio"]) == pytest.approx(3.0 / 6.1, abs=1e-4)
    assert lines[6]["implementation"] == "" and lines[6]["note"].startswith("skipped")


def test_every_csv_column_is_documented() -> None:
    doc = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    section = doc[doc.index("## `shapegraph bench`"):]
    assert [c for c in CSV_COLUMNS if f"`{c}`" not in section] == []


def test_the_plot_is_written(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    path = tmp_path / "ratios.png"
    plot_ratios(str(path), figures(ROWS, PEAKS))
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000


def test_plot_without_matplotlib_names_the_extra_before_running(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if not installed

    def ran(*a: Any) -> float:
        raise AssertionError("nothing should run")

    monkeypatch.setattr(bench, "sgemm_peak_gflops", ran)
    assert main(["bench", "--models", "mlp", "--plot", "out.png"]) == 2
    out = capsys.readouterr()
    assert out.out == "" and len(out.err.splitlines()) == 1
    assert "--plot needs matplotlib" in out.err and "shapegraph[plot]" in out.err


@pytest.mark.parametrize("args, words", [
    (["--csv", "/no/such/folder/b.csv"], "--csv /no/such/folder/b.csv: cannot write there"),
    (["--json", "/no/such/folder/b.json"], "--json /no/such/folder/b.json: cannot write"),
    (["--plot", "b.txt"], "--plot b.txt: the name must end in one of .png, .svg, .pdf"),
])
def test_an_output_that_cannot_be_written_is_a_usage_error_before_running(
        args: list[str], words: str, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    def ran(*a: Any) -> float:
        raise AssertionError("nothing should run")

    monkeypatch.setattr(bench, "sgemm_peak_gflops", ran)
    assert main(["bench", "--models", "mlp", *args]) == 2
    out = capsys.readouterr()
    assert out.out == "" and len(out.err.splitlines()) == 1 and words in out.err


def test_csv_plot_and_batch_options_parse() -> None:
    args = _parser().parse_args(["bench", "--batch", "1,8", "--csv", "a.csv", "--plot",
                                 "a.png"])
    assert args.batches == (1, 8) and args.csv == "a.csv" and args.plot == "a.png"
    assert main(["bench", "--torch-first", "--csv", "a.csv"]) == 2


# ----------------------------------------------------------------------------- busy machine


def test_busy_warning_on_fake_load_figures() -> None:
    quiet = Load(load1=0.3, others=0.05)
    assert busy_warning(quiet, Load(2.1, 0.1), cores=2, threads=2) is None
    w = busy_warning(quiet, Load(3.2, 1.4), cores=2, threads=2)
    assert w is not None and w.startswith("the machine was busy (other programs used 1.4 "
                                          "of its 2 CPU cores during the run")
    assert "0.1 just before it" in w and "load average up to 3.2" in w
    assert "close other programs" in w
    before = busy_warning(Load(1.9, 0.9), Load(2.0, 0.1), cores=2, threads=2)
    assert before is not None and "1-minute load average up to 2.0" in before
    # no /proc/stat: the load average, less the run's own threads
    assert busy_warning(Load(0.2, None), Load(2.3, None), cores=2, threads=2) is None
    w = busy_warning(Load(0.2, None), Load(3.5, None), cores=2, threads=2)
    assert w is not None and "load average up to 3.5" in w and "cores" not in w


@pytest.mark.skipif(not Path("/proc/stat").exists(), reason="needs /proc/stat")
def test_the_load_meter_sees_another_process_and_not_itself() -> None:
    burner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.3)
        meter = LoadMeter()
        time.sleep(0.6)
        load = meter.stop()
    finally:
        burner.kill()
        burner.wait()
    assert load.others is not None and load.others > 0.3
    meter = LoadMeter()
    t = time.perf_counter()
    while time.perf_counter() - t < 0.3:  # this process busy: not "other programs"
        pass
    own = meter.stop()
    assert own.others is not None and own.others < (load.others or 0) + 1.0


# ----------------------------------------------------------------------------- progress


def test_plain_progress_lines_with_time_left() -> None:
    out = io.StringIO()
    p = PlainProgress(4, out)
    p.stage("LeNet: compiling")
    p.stage("LeNet: compiling")  # once
    p.step("LeNet b1 2 threads", "ONNX Runtime", 1, 3, 0.5)  # no line per round
    p.t0 -= 10  # ten seconds for the first measurement
    p.advance(1, "LeNet b1 2 threads: shapegraph 22.8 (22.7-23.0) µs")
    p.advance(3, "ZFNet-512 b8: skipped")
    assert out.getvalue().splitlines() == [
        "  ... LeNet: compiling",
        "  [1/4, about 30 s left] LeNet b1 2 threads: shapegraph 22.8 (22.7-23.0) µs",
        "  [4/4] ZFNet-512 b8: skipped"]


class _Recorder:
    def __init__(self) -> None:
        self.steps: list[tuple[Any, ...]] = []
        self.done: list[str] = []

    def stage(self, text: str) -> None:
        pass

    def step(self, *args: Any) -> None:
        self.steps.append(args)

    def advance(self, units: float, text: str) -> None:
        self.done.append(text)

    def close(self) -> None:
        pass


def test_run_case_reports_each_implementation_and_round(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bench, "set_threads", lambda n: None)
    case = bench.Case("tiny", 8, 100, 0.0, lambda: None,
                      lambda threads, use_torch: {"onnxruntime": lambda: None})
    rec = _Recorder()
    run_case(case, BenchOptions(threads=(2,), rounds=2, budget=0.0), rec)  # type: ignore[arg-type]
    assert [s[:4] for s in rec.steps] == [
        ("tiny b8 2 threads", "shapegraph", 1, 2), ("tiny b8 2 threads", "ONNX Runtime", 1, 2),
        ("tiny b8 2 threads", "shapegraph", 2, 2), ("tiny b8 2 threads", "ONNX Runtime", 2, 2)]
    assert [s[4] for s in rec.steps] == [0.0, 0.25, 0.5, 0.75]
    assert len(rec.done) == 1 and rec.done[0].startswith("tiny b8 2 threads: shapegraph ")


def test_a_bar_on_a_terminal_plain_lines_otherwise(monkeypatch: pytest.MonkeyPatch) -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setenv("TERM", "xterm")
    assert isinstance(progress_for(3, io.StringIO()), PlainProgress)
    bar = progress_for(3, Tty())
    try:
        assert isinstance(bar, RichProgress)
        bar.step("LeNet b1 2 threads", "ONNX Runtime", 3, 7, 0.5)
        task = bar.progress.tasks[0]
        assert task.description == "LeNet b1 2 threads: ONNX Runtime round 3/7"
        assert task.completed == 0.5 and task.total == 3
    finally:
        bar.close()


# ----------------------------------------------------------------------------- missing peers


def test_missing_peers_are_named_with_their_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    monkeypatch.setitem(sys.modules, "torch", None)
    missing = missing_peers()
    assert [m for m, _ in missing][:2] == ["onnxruntime", "torch"]
    assert [m for m, _ in missing_peers(use_torch=False)][:1] == ["onnxruntime"]
    note = missing_note(missing)
    assert note is not None and "ONNX Runtime (onnxruntime); PyTorch (torch)" in note
    assert "pip install 'shapegraph[bench]'" in note and missing_note([]) is None


def test_the_onnx_models_are_skipped_without_onnx(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "onnx", None)
    (skip,) = bench.cases(ONNX_WORKLOADS[0], BenchOptions(batches=(1,)))
    assert isinstance(skip, bench.Skip) and "needs onnx" in skip.reason
    assert "shapegraph[bench]" in skip.reason


def test_without_peers_the_rest_runs(monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str],
                                     tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    monkeypatch.setitem(sys.modules, "torch", None)
    monkeypatch.setattr(bench, "sgemm_peak_gflops", lambda n=None: 100.0)
    monkeypatch.setattr(bench, "sample_load", lambda: Load(0.0, 0.0))
    monkeypatch.setattr(bench_machine, "PEERS", bench_machine.PEERS[:2])
    monkeypatch.delenv("COLUMNS", raising=False)  # pytest-xdist's workers set 80
    out = tmp_path / "b.json"
    assert run_bench(opts=BenchOptions(models=("MLP 20",), batches=(1,), threads=(1,),
                                       rounds=1, budget=0.01, json_path=str(out))) == 0
    text = capsys.readouterr().out
    assert text.startswith("note: not installed, so left out: ONNX Runtime (onnxruntime); "
                           "PyTorch (torch). pip install 'shapegraph[bench]' installs them")
    table = text[text.index("forward latency"):]
    assert "shapegraph" in table and "numpy reference" in table
    assert "ONNX Runtime  " not in table and "PyTorch eager" not in table
    data = json.loads(out.read_text())
    assert set(data["figures"][0]) == set(CSV_COLUMNS)
    assert {f["implementation"] for f in data["figures"]} == {"shapegraph", "numpy ref",
                                                              "bare sgemm"}
    assert isinstance(data["figures"][0], dict) and Figure.__name__ == "Figure"
