"""Every ```python block in docs/*.md runs, in order, one namespace per file."""

from __future__ import annotations

import contextlib
import io
import linecache
import os
import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def test_demo_runs_the_tutorial(capsys: pytest.CaptureFixture[str]) -> None:
    from shapegraph.tools.demo import run_demo

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


# -- the command-line samples of docs/errors.md are what the command prints ----------------

SECTION = re.compile(r"^## (SG\d+)", re.M)
SAMPLE = re.compile(r"^```text\n\$ shapegraph (check model\.py:net[^\n]*)\n(.*?)^```", re.S | re.M)
# the reader's model.py: these two lines, then the section's first python block up to its
# checks (the line numbers of the samples count them)
PREAMBLE = "import shapegraph as sg\nfrom shapegraph import nn, ops\n"


def error_samples() -> list[tuple[str, str, str, str]]:
    """(code, model source, command, expected output) for each sample in errors.md."""
    text = (DOCS / "errors.md").read_text(encoding="utf-8")
    starts = [(m.group(1), m.start()) for m in SECTION.finditer(text)]
    out = []
    for (code, start), (_, end) in zip(starts, [*starts[1:], ("", len(text))], strict=True):
        section = text[start:end]
        blocks = BLOCK.findall(section)
        for m in SAMPLE.finditer(section):
            lines = blocks[0].splitlines()
            checks = [i for i, line in enumerate(lines)
                      if line.startswith(("assert", "report", "print"))]
            model = "\n".join(lines[:checks[0]] if checks else lines)
            out.append((code, PREAMBLE + model + "\n", m.group(1), m.group(2)))
    return out


def run_sample(model: str, command: str, folder: Path) -> str:
    """What ``shapegraph COMMAND`` prints for ``model`` (without the layer table, which the
    samples leave out)."""
    from shapegraph.tools.cli import main

    (folder / "model.py").write_text(model, encoding="utf-8")
    linecache.clearcache()  # another sample's model.py may be cached under the same name
    cwd, out, err = os.getcwd(), io.StringIO(), io.StringIO()
    os.chdir(folder)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            main([*command.split(), "--color", "never"])
    finally:
        os.chdir(cwd)
        linecache.clearcache()  # nor may a later test see this model.py's lines
    text = re.sub(r"^layer  .*?\n\n", "", out.getvalue(), flags=re.S | re.M)
    return "\n".join(line.rstrip() for line in text.strip("\n").splitlines())


@pytest.mark.parametrize(("code", "model", "command", "expected"), error_samples(),
                         ids=lambda v: v if str(v).startswith("SG") else "")
def test_error_samples_are_current(code: str, model: str, command: str, expected: str,
                                   tmp_path: Path) -> None:
    want = "\n".join(line.rstrip() for line in expected.strip("\n").splitlines())
    assert run_sample(model, command, tmp_path) == want
