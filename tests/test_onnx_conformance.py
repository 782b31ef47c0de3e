"""ONNX node conformance: every node test case the onnx package ships (collected offline
from ``onnx.backend.test.case.node``; nothing is downloaded or committed) whose op type the
importer supports is imported, checked with its inputs' shapes (the checked output shapes
must be the expected ones) and run with generic kernels (the values must match). A case
that cannot pass for a stated reason is skipped with that reason, made from the case's data:
a dtype shapegraph does not compute in, or the importer's SG213 message (training-mode
BatchNormalization, dilated pooling...). One test per case; the machinery and the per-op
table are in ``tests/onnx_conformance.py``, and ``docs/onnx.md`` shows the table (the last
test fails when it is out of date)."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

pytest.importorskip("onnx")

# tests/ is on sys.path under pytest; the module collects its cases only when asked
import onnx_conformance as conf

DOC = Path(__file__).parent.parent / "docs" / "onnx.md"


@pytest.mark.parametrize("name", list(conf.cases()))
def test_case(name: str) -> None:
    o = conf.outcome(name)
    if o.status == "skipped":
        pytest.skip(o.reason)
    assert o.status == "passed", o.reason


def test_every_supported_op_has_cases() -> None:
    ops = {op for op, _ in conf.cases().values()}
    assert ops == set(conf.SUPPORTED)


def test_the_table_in_the_docs_is_the_run_s() -> None:
    text = DOC.read_text()
    found = re.search(re.escape(conf.TABLE_START) + r"\n(.*?)\n" + re.escape(conf.TABLE_END),
                      text, re.S)
    assert found, f"no conformance table in {DOC}"
    outcomes = conf.all_outcomes()
    assert found.group(1) == conf.table(outcomes), (
        "docs/onnx.md's conformance table is out of date: regenerate it with "
        "`PYTHONPATH=. python tests/onnx_conformance.py`")
    assert Counter(o.status for o in outcomes)["failed"] == 0
