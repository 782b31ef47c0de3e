"""``shapegraph explain SGxxx``: that code's section of docs/errors.md, rendered by rich.

The sections' Python examples run as tests, so they end in checks (``assert codes(net)
== ["SG201"]``); those lines are test scaffolding and are left out of what users see.
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
from importlib import resources
from typing import Any

from shapegraph.core.diagnostics import CODES

__all__ = ["add_explain_parser", "error_sections", "explain", "explain_list", "user_markdown"]

_FENCE = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def add_explain_parser(sub: Any) -> None:
    p = sub.add_parser("explain", help="explain a diagnostic code, e.g. SG201",
                       description="Show what a diagnostic code means, an example, and the fix.",
                       epilog="examples:\n  shapegraph explain SG201\n  shapegraph explain 204"
                       "\n  shapegraph explain --list",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("code", nargs="?", help="a code such as SG201 (sg201 and 201 work too)")
    p.add_argument("--list", action="store_true", help="list every code with its title")


def error_sections() -> dict[str, str]:
    """Code -> its Markdown section (heading included), from the packaged errors.md."""
    text = resources.files("shapegraph").joinpath("data/errors.md").read_text("utf-8")
    out = {}
    for part in re.split(r"(?m)^(?=## SG\d{3})", text):
        m = re.match(r"## (SG\d{3})", part)
        if m:
            out[m.group(1)] = part.strip()
    return out


def _without_checks(code: str) -> str:
    """``code`` without its ``assert`` statements (the docs' tests, not the example)."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return code
    drop: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assert):
            drop.update(range(node.lineno, (node.end_lineno or node.lineno) + 1))
    lines = [line for i, line in enumerate(code.splitlines(), 1) if i not in drop]
    return "\n".join(lines).rstrip() + "\n"


def user_markdown(section: str) -> str:
    """``section`` with the scaffolding of its Python examples removed."""
    return _FENCE.sub(lambda m: f"```python\n{_without_checks(m.group(1))}```", section)


def _console() -> Any:
    from rich.console import Console

    return Console(highlight=False)


def explain_list() -> int:
    """Print every code with its severity and title."""
    from rich.table import Table

    table = Table(box=None, show_header=True, header_style="bold", pad_edge=False)
    for column in ("code", "severity", "title"):
        table.add_column(column)
    for code in sorted(CODES):
        c = CODES[code]
        table.add_row(code, c.severity, c.title)
    _show(table)
    return 0


def _nearest(key: str) -> list[str]:
    """Up to three known codes at most two characters from ``key`` (``O`` read as ``0``),
    the numerically closest first: SG2O1 -> SG201."""
    typed = key.translate(str.maketrans("OIL", "011"))
    typed = typed if typed.startswith("SG") else "SG" + typed

    def score(code: str) -> tuple[int, int]:
        differ = sum(a != b for a, b in zip(typed, code, strict=False)) + abs(len(typed) - 5)
        number = int(typed[2:]) if typed[2:].isdigit() else 0
        return differ, abs(number - int(code[2:]))

    ranked = sorted(CODES, key=score)
    return [c for c in ranked if score(c)[0] <= 2][:3]


def explain(code: str) -> int:
    """Print the section for ``code``; 0 when found, 2 for an unknown code."""
    from rich.markdown import Markdown

    key = code.strip().upper()
    if re.fullmatch(r"\d{3}", key):
        key = "SG" + key
    sections = error_sections()
    if key not in sections:
        near = _nearest(key)
        hint = f"did you mean {' or '.join(near)}? " if near else ""
        print(f"shapegraph explain: unknown code {code[:40]!r}; {hint}"
              "(shapegraph explain --list shows them all)", file=sys.stderr)
        return 2
    _show(Markdown(user_markdown(sections[key]), code_theme="ansi_light"))
    return 0


def _show(renderable: Any) -> None:
    """Print through rich; into a pipe or a file, without the padding that fills each line
    to the terminal's width."""
    console = _console()
    if console.is_terminal:
        console.print(renderable)
        return
    console.width = 120  # not rich's 80 columns: the examples' lines are up to 100 long
    with console.capture() as captured:
        console.print(renderable)
    print("\n".join(line.rstrip() for line in captured.get().splitlines()))


def run_explain(args: argparse.Namespace) -> int:
    """The ``explain`` subcommand; returns the exit code."""
    if args.list:
        return explain_list()
    if args.code is None:
        print("shapegraph explain: give a code (shapegraph explain SG201) or --list",
              file=sys.stderr)
        return 2
    return explain(args.code)
