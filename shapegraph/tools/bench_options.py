"""The options of ``shapegraph bench`` (and ``python benchmarks/bench_executor.py``): the
parser and the ``BenchOptions`` the harness (:mod:`~shapegraph.tools.bench`) runs with.
Kept apart from the harness so that the ``shapegraph`` command builds its parser without
importing the harness."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

__all__ = ["DESCRIPTION", "THREADS", "BenchOptions", "add_bench_arguments", "add_bench_parser",
           "options_from"]

THREADS = 2  # the default thread count


@dataclass
class BenchOptions:
    """What ``run_bench`` runs; the defaults are the command's."""

    quick: bool = False
    models: tuple[str, ...] = ()  # substrings of workload names; none: the default set
    threads: tuple[int, ...] = (THREADS,)
    batches: tuple[int, ...] = ()  # only these batch sizes (none: each workload's own)
    busy: bool = False
    torch_first: bool = False
    use_torch: bool = True
    rounds: int | None = None  # default 5 (3 with quick)
    budget: float | None = None  # seconds per measurement, default 0.4 (0.1 with quick)
    json_path: str | None = None
    csv_path: str | None = None
    plot_path: str | None = None

    @property
    def n_rounds(self) -> int:
        return self.rounds if self.rounds is not None else (3 if self.quick else 5)

    @property
    def budget_s(self) -> float:
        return self.budget if self.budget is not None else (0.1 if self.quick else 0.4)


def _positive_ints(text: str) -> tuple[int, ...]:
    try:
        out = tuple(int(t) for t in text.split(",") if t.strip())
    except ValueError:
        out = ()
    if not out or any(n < 1 for n in out):
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of "
                                         "positive whole numbers (e.g. 1,2)")
    return out


def _positive_int(text: str) -> int:
    (n,) = _positive_ints(text) if "," not in text else (0,)
    if n < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return n


def _names(text: str) -> tuple[str, ...]:
    out = tuple(t.strip() for t in text.split(",") if t.strip())
    if not out:
        raise argparse.ArgumentTypeError("give at least one name, e.g. squeezenet")
    return out


def _positive_float(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        v = -1.0
    if not v > 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number of seconds")
    return v


DESCRIPTION = ("Forward latency of shapegraph against ONNX Runtime (and PyTorch eager and "
               "the numpy reference for the networks written with shapegraph.nn), in one "
               "process: a table of medians with their spread over rounds and shapegraph's "
               "time over each peer's; --csv, --json and --plot write it for machines and "
               "eyes. It warns when the machine is busy or a figure varies widely.")


def add_bench_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """The ``bench`` subcommand of ``shapegraph``."""
    add_bench_arguments(sub.add_parser(
        "bench", help="run the executor benchmarks against their peers",
        description=DESCRIPTION))


def add_bench_arguments(bench: argparse.ArgumentParser) -> None:
    bench.add_argument("--quick", action="store_true",
                       help="fewer batches, shorter timing; without --models only the "
                       "shapegraph.nn workloads (not the ONNX CNNs)")
    bench.add_argument("--models", type=_names, default=(), metavar="NAME[,NAME]",
                       help="only the workloads whose names contain one of these (case, "
                       "spaces and punctuation ignored: squeezenet, resnet50, mlp)")
    bench.add_argument("--threads", type=_positive_ints, default=(THREADS,), metavar="N[,N]",
                       help="run each workload on each of these thread counts (default 2)")
    bench.add_argument("--batches", "--batch", type=_positive_ints, default=(), metavar="B[,B]",
                       help="only these batch sizes of each workload")
    bench.add_argument("--busy", action="store_true",
                       help="measure each workload again next to a CPU-bound process the "
                       "benchmark starts and stops; report each implementation's rise")
    bench.add_argument("--torch-first", action="store_true",
                       help="run the workloads in a process that imports torch before "
                       "shapegraph and in one that does not; report the slowdown")
    bench.add_argument("--no-torch", action="store_true",
                       help="leave out the PyTorch eager peer (never import torch)")
    bench.add_argument("--rounds", type=_positive_int, default=None, metavar="N",
                       help="rounds per measurement (default 5, 3 with --quick)")
    bench.add_argument("--budget", type=_positive_float, default=None, metavar="SECONDS",
                       help="time per measurement, all rounds and implementations "
                       "together (default 0.4, 0.1 with --quick)")
    bench.add_argument("--json", default=None, metavar="PATH",
                       help="also write the raw rounds to PATH as JSON (with "
                       "--torch-first: both child processes' results)")
    bench.add_argument("--csv", default=None, metavar="PATH",
                       help="also write the table to PATH as CSV: one line per workload, "
                       "batch, thread count and implementation (columns in docs/cli.md)")
    bench.add_argument("--plot", default=None, metavar="PATH",
                       help="also draw shapegraph's time over each peer's, per workload, "
                       "with the spread of the rounds, to PATH (.png, .svg, .pdf; needs "
                       "matplotlib: pip install 'shapegraph[plot]')")


def options_from(args: argparse.Namespace) -> BenchOptions:
    return BenchOptions(
        quick=args.quick, models=args.models, threads=args.threads, batches=args.batches,
        busy=args.busy, torch_first=args.torch_first, use_torch=not args.no_torch,
        rounds=args.rounds, budget=args.budget, json_path=args.json,
        csv_path=args.csv, plot_path=args.plot)
