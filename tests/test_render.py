"""Golden files for rendered diagnostics (text frames and JSON).

Regenerate after an intended change with ``UPDATE_GOLDEN=1 pytest tests/test_render.py``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from graphs import lenet, seed_mlp

from shapegraph.infer.propagate import propagate
from shapegraph.render.text import JSON_SCHEMA_VERSION, render_json, render_text

GOLDEN = Path(__file__).parent / "golden"
CASES = {
    "seed_wrong_in_units": lambda: propagate(seed_mlp(in1=300), {"x": (2, 20)}),
    "seed_data_contradicts": lambda: propagate(seed_mlp(in0=30), {"x": (2, 20)}),
    "seed_partial": lambda: propagate(seed_mlp(in1=256), {}),
    "lenet_64x64": lambda: propagate(lenet(), {"x": ("batch", 1, 64, 64)}),
    "lenet_4x4": lambda: propagate(lenet(), {"x": ("batch", 1, 4, 4)}),
}


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(text + "\n", encoding="utf-8")
    assert path.exists(), f"missing golden file {path}; run with UPDATE_GOLDEN=1"
    assert text + "\n" == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("case", sorted(CASES))
def test_text_golden(case: str) -> None:
    check_golden(f"{case}.txt", render_text(CASES[case]().diagnostics))


@pytest.mark.parametrize("case", sorted(CASES))
def test_json_golden(case: str) -> None:
    text = render_json(CASES[case]().diagnostics)
    doc = json.loads(text)
    assert doc["version"] == JSON_SCHEMA_VERSION
    for d in doc["diagnostics"]:
        assert {"code", "severity", "message", "path", "location", "related", "help"} <= set(d)
    check_golden(f"{case}.json", text)


def test_color_output_has_the_same_characters() -> None:
    diags = CASES["seed_wrong_in_units"]().diagnostics
    plain = render_text(diags)
    colored = render_text(diags, color=True)
    assert "\x1b[" in colored
    import re

    assert re.sub(r"\x1b\[[0-9;]*m", "", colored) == plain
