"""The ``shapegraph`` command: ``demo``, ``check``, ``summary``, ``explain``, ``bench``.

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
    demo.add_argument("--color", choices=("auto", "always", "never"), default="auto",
                      help="color the output: auto (on a terminal), always or never")
    from shapegraph.tools.check_cli import add_check_parser

    add_check_parser(sub)
    from shapegraph.tools.summary_cli import add_summary_parser

    add_summary_parser(sub)
    from shapegraph.tools.export_cli import add_export_parser

    add_export_parser(sub)
    from shapegraph.tools.errors_doc import add_explain_parser

    add_explain_parser(sub)
    from shapegraph.tools.bench_options import add_bench_parser

    add_bench_parser(sub)
    return ap


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
    if args.command == "summary":
        from shapegraph.tools.summary_cli import run_summary

        return run_summary(args)
    if args.command == "explain":
        from shapegraph.tools.errors_doc import run_explain

        return run_explain(args)
    if args.command == "bench":
        from shapegraph.tools.bench import run_bench
        from shapegraph.tools.bench_options import options_from

        return run_bench(opts=options_from(args))
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
