"""The ``shapegraph`` command: ``demo``, ``check``, ``explain``, ``bench``.

Exit codes: 0 success (or a consistent model), 1 shape conflicts, 2 bad usage or an
unreadable target (and, as one line, anything unexpected: the command never shows a
traceback of shapegraph's own code), 130 interrupted. Nothing here imports numba unless a
subcommand runs the executor.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Sequence

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="shapegraph",
        description="Symbolic shape inference and deferred initialization for neural networks.",
    )
    from shapegraph import __version__

    ap.add_argument("--version", action="version", version=f"shapegraph {__version__}")
    sub = ap.add_subparsers(dest="command", metavar="COMMAND")
    demo = sub.add_parser("demo", help="walk through the deferred-initialization chapter")
    demo.add_argument("--color", choices=("auto", "always", "never"), default="auto")
    from shapegraph.tools.check_cli import add_check_parser

    add_check_parser(sub)
    from shapegraph.tools.export_cli import add_export_parser

    add_export_parser(sub)
    ex = sub.add_parser("explain", help="explain a diagnostic code, e.g. SG201")
    ex.add_argument("code", help="a code such as SG201")
    _add_bench_parser(sub)
    return ap


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


def _add_bench_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    bench = sub.add_parser(
        "bench", help="run the executor benchmarks against their peers",
        description="Forward latency of shapegraph against ONNX Runtime (and PyTorch eager "
        "and the numpy reference for the networks written with shapegraph.nn), in one "
        "process, with min-max spreads over rounds.")
    bench.add_argument("--quick", action="store_true",
                       help="fewer batches, shorter timing; without --models only the "
                       "shapegraph.nn workloads (not the ONNX CNNs)")
    bench.add_argument("--models", type=_names, default=(), metavar="NAME[,NAME]",
                       help="only the workloads whose names contain one of these (case, "
                       "spaces and punctuation ignored: squeezenet, resnet50, mlp)")
    bench.add_argument("--threads", type=_positive_ints, default=(2,), metavar="N[,N]",
                       help="run each workload on each of these thread counts (default 2)")
    bench.add_argument("--batches", type=_positive_ints, default=(), metavar="B[,B]",
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
                       help="also write the raw rounds to PATH as JSON")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``shapegraph`` console script; returns the exit code."""
    try:
        return _main(argv)
    except SystemExit as e:  # argparse: --help, --version, a usage error (its message is out)
        return 0 if e.code is None else e.code if isinstance(e.code, int) else 2
    except BrokenPipeError:  # `shapegraph check ... | head`: the reader left, say no more
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:  # ^C outside the model's code (there it is exit 2)
        print("shapegraph: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # a bug of ours, or the machine: one line, never a traceback
        return _unexpected(e, argv)


def _unexpected(e: Exception, argv: Sequence[str] | None) -> int:
    from shapegraph.tools.check_cli import describe

    args = list(sys.argv[1:] if argv is None else argv)
    command = f"shapegraph {args[0]}" if args and not args[0].startswith("-") else "shapegraph"
    what = describe(e).splitlines()[0]  # one line, even for a rendered ShapeError
    if isinstance(e, MemoryError):
        print(f"{command}: out of memory ({what})", file=sys.stderr)
        return 2
    if os.environ.get("SHAPEGRAPH_TRACEBACK"):
        traceback.print_exc()
    print(f"{command}: internal error: {what} (a bug in shapegraph: please report "
          "it with the command line; SHAPEGRAPH_TRACEBACK=1 shows where)", file=sys.stderr)
    return 2


def _main(argv: Sequence[str] | None) -> int:
    ap = _parser()
    args = ap.parse_args(argv)
    if args.command is None:
        ap.print_help()
        return 2
    if args.command == "demo":
        from shapegraph.tools.demo import run_demo

        return run_demo(color=_use_color(args.color))
    if args.command == "check":
        from shapegraph.tools.check_cli import run_check

        return run_check(args)
    if args.command == "export":
        from shapegraph.tools.export_cli import run_export

        return run_export(args)
    if args.command == "explain":
        from shapegraph.tools.errors_doc import explain

        return explain(args.code)
    if args.command == "bench":
        from shapegraph.tools.bench import BenchOptions, run_bench

        return run_bench(opts=BenchOptions(
            quick=args.quick, models=args.models, threads=args.threads, batches=args.batches,
            busy=args.busy, torch_first=args.torch_first, use_torch=not args.no_torch,
            rounds=args.rounds, budget=args.budget,
            json_path=args.json))
    ap.error(f"unknown command {args.command}")
    return 2  # pragma: no cover


def _use_color(choice: str) -> bool:
    if choice == "always":
        return True
    if choice == "never":
        return False
    return sys.stdout.isatty()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
