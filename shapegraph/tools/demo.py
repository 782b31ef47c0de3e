"""``shapegraph demo``: run the tutorial (docs/tutorial.md) like a notebook.

Each code block of the tutorial is shown and then run, with its output, in one
namespace, in a temporary directory (the tutorial writes a parameter file).
"""

from __future__ import annotations

import os
import re
import tempfile
from importlib import resources

__all__ = ["run_demo", "tutorial_blocks"]

_BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def tutorial_text() -> str:
    return resources.files("shapegraph").joinpath("data/tutorial.md").read_text("utf-8")


def tutorial_path() -> str:
    return os.path.realpath(str(resources.files("shapegraph").joinpath("data/tutorial.md")))


def tutorial_blocks(text: str) -> list[tuple[str, str, int]]:
    """(heading, code, first line number) for every python block, with the nearest
    heading above it."""
    out = []
    for m in _BLOCK.finditer(text):
        before = text[: m.start()]
        headings = re.findall(r"^#+ (.+)$", before, re.M)
        out.append((headings[-1] if headings else "", m.group(1), before.count("\n") + 2))
    return out


def _show_code(code: str, color: bool) -> None:
    if color:
        from rich.console import Console
        from rich.syntax import Syntax

        Console(highlight=False).print(Syntax(code.rstrip(), "python", theme="ansi_dark"))
    else:
        for line in code.rstrip().splitlines():
            print(f"    {line}")


def run_demo(color: bool = False) -> int:
    """Run every block of the tutorial; returns the exit code (0, or 1 if a block fails)."""
    namespace: dict[str, object] = {"__name__": "__shapegraph_demo__"}
    last_heading = None
    cwd = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="shapegraph-demo-") as tmp:
        os.chdir(tmp)
        try:
            path = tutorial_path()
            for heading, code, line in tutorial_blocks(tutorial_text()):
                if heading != last_heading:
                    print(f"\n== {heading}\n")
                    last_heading = heading
                _show_code(code, color)
                print()
                # compiled at its own line of tutorial.md, so messages point into the page
                exec(compile("\n" * (line - 1) + code, path, "exec"), namespace)
                print()
        except Exception as e:  # a failing tutorial is a bug: say where, plainly
            print(f"demo failed in section {last_heading!r}: {type(e).__name__}: {e}")
            return 1
        finally:
            os.chdir(cwd)
    return 0
