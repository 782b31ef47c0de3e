"""``shapegraph summary TARGET``: a model's per-layer summary (output types, parameters,
FLOPs, activation memory, totals) without running it. Exit 0 with the summary, 1 when the
shapes conflict (the summary says so and points at ``shapegraph check``), 2 for a bad
command or an unreadable target. The targets are those of ``shapegraph check``."""

from __future__ import annotations

import argparse
import shutil
import sys
from contextlib import redirect_stdout
from typing import Any

from shapegraph.tools.check_cli import (
    TargetError,
    _bind_dims,
    _ordered_inputs,
    _use_color,
    input_dtypes,
    load_target,
    model_code,
    parse_dims,
    parse_inputs,
)

__all__ = ["add_summary_parser", "run_summary"]


def add_summary_parser(sub: Any) -> None:
    p = sub.add_parser(
        "summary", help="per-layer output types, parameters, FLOPs and memory of a model",
        description="Summarize a model without running it: one row per layer with its "
        "output type, parameter shapes and count, FLOPs and activation memory, and totals.",
        epilog="example: shapegraph summary model.py:net --input x=batch,3,32,32 --dim batch=8")
    p.add_argument("target", help="file.py:NAME or package.module:NAME (a Block or a "
                   "function returning one), or model.onnx")
    p.add_argument("--input", action="append", default=[], metavar="NAME=DIMS[:DTYPE]",
                   help="an input's dims, ints or symbol names: x=batch,3,224,224 "
                   "(repeat for several inputs; none: the declared sizes alone)")
    p.add_argument("--dim", action="append", default=[], metavar="NAME=SIZE",
                   help="a size for a symbol, for the totals: batch=8 (the rows keep the "
                   "symbol)")
    p.add_argument("--format", choices=("text", "json"), default="text",
                   help="a rich table, or JSON (shapes as arrays of ints and strings)")
    p.add_argument("--color", choices=("auto", "always", "never"), default="auto",
                   help="color the table (auto: when writing to a terminal)")


def run_summary(args: argparse.Namespace) -> int:
    """The ``summary`` subcommand; returns the exit code."""
    try:
        with redirect_stdout(sys.stderr):  # what the model prints must not spoil the table
            result = _summary(args)
    except TargetError as e:
        print(f"shapegraph summary: {e}", file=sys.stderr)
        return 2
    color = _use_color(args.color) and args.format == "text"
    width = max(100, shutil.get_terminal_size((150, 24)).columns)
    print(result.render(args.format, color=color, width=width))
    return 0 if result.ok else 1


def _summary(args: argparse.Namespace) -> Any:
    from shapegraph.api.summary import summary

    given = parse_inputs(args.input)
    net, display = load_target(args.target)
    sizes = parse_dims(args.dim)
    _bind_dims(net, given, sizes)  # a --dim no input has is a usage error
    with model_code(display, "while being summarized", who="the model"):
        inputs = _ordered_inputs(net, given, input_dtypes(args.input))
        try:
            return summary(net, *inputs, dims=sizes, target=display)
        except (TypeError, ValueError) as e:
            raise TargetError(f"{display}: {e}") from None
