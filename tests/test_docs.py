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


def doc_files() -> list[Path]:
    return sorted(DOCS.glob("*.md"))


@pytest.mark.parametrize("path", doc_files(), ids=lambda p: p.name)
def test_doc_examples_run(path: Path, tmp_path: Path) -> None:
    blocks = BLOCK.findall(path.read_text(encoding="utf-8"))
    namespace: dict[str, object] = {"__name__": f"doc_{path.stem}"}
    cwd = os.getcwd()
    os.chdir(tmp_path)  # examples that write files write them here
    try:
        for i, code in enumerate(blocks):
            with contextlib.redirect_stdout(io.StringIO()):
                try:
                    exec(compile(code, f"{path.name}[block {i}]", "exec"), namespace)
                except Exception as e:  # pragma: no cover - the failure message is the point
                    raise AssertionError(f"{path.name}, block {i} failed: {e!r}\n{code}") from e
    finally:
        os.chdir(cwd)
