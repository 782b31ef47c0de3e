"""Every ```python block in docs/*.md runs, in order, one namespace per file."""

from __future__ import annotations

import contextlib
import io
import os
import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def test_demo_runs_the_tutorial(capsys: pytest.CaptureFixture[str]) -> None:
    from shapegraph.demo import run_demo

    assert run_demo() == 0
    out = capsys.readouterr().out
    assert "Init 0.weight (256, 20)" in out and "error[SG201]" in out
    assert "in_units=300 declared on layer `1`" in out


def doc_files() -> list[Path]:
    return sorted(DOCS.glob("*.md"))


@pytest.mark.parametrize("path", doc_files(), ids=lambda p: p.name)
def test_doc_examples_run(path: Path, tmp_path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    blocks = [(m.group(1), text[: m.start()].count("\n") + 2) for m in BLOCK.finditer(text)]
    namespace: dict[str, object] = {"__name__": f"doc_{path.stem}"}
    cwd = os.getcwd()
    os.chdir(tmp_path)  # examples that write files write them here
    try:
        for i, (code, line) in enumerate(blocks):
            with contextlib.redirect_stdout(io.StringIO()):
                try:  # compiled at its own line, so tracebacks point into the page
                    exec(compile("\n" * (line - 1) + code, str(path), "exec"), namespace)
                except Exception as e:  # pragma: no cover - the failure message is the point
                    raise AssertionError(f"{path.name}, block {i} failed: {e!r}\n{code}") from e
    finally:
        os.chdir(cwd)
