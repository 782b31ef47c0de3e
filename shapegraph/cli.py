"""The ``shapegraph`` command (``demo`` for now; ``check``, ``explain`` and ``bench`` come
with the diagnostics tool and the executor).

Exit codes: 0 success (or a consistent model), 1 shape conflicts, 2 bad usage or an
unreadable target. Nothing here imports numba unless a subcommand runs the executor.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="shapegraph",
        description="Symbolic shape inference and deferred initialization for neural networks.",
    )
    sub = ap.add_subparsers(dest="command", metavar="COMMAND")
    demo = sub.add_parser("demo", help="walk through the deferred-initialization chapter")
    demo.add_argument("--color", choices=("auto", "always", "never"), default="auto")
    bench = sub.add_parser("bench", help="run the executor benchmarks against their peers")
    bench.add_argument("--quick", action="store_true", help="fewer batches, shorter timing")
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``shapegraph`` console script; returns the exit code."""
    ap = _parser()
    args = ap.parse_args(argv)
    if args.command is None:
        ap.print_help()
        return 2
    if args.command == "demo":
        from shapegraph.demo import run_demo

        return run_demo(color=_use_color(args.color))
    if args.command == "bench":
        from shapegraph.bench import run_bench

        return run_bench(quick=args.quick)
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
