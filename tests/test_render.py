"""Golden files for rendered diagnostics (text frames and JSON).

Regenerate after an intended change with ``UPDATE_GOLDEN=1 pytest tests/test_render.py``.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from goldens import check_golden
from graphs import lenet, seed_mlp

from shapegraph.infer.propagate import propagate
from shapegraph.render.text import JSON_SCHEMA_VERSION, render_json, render_text

CASES = {
    "seed_wrong_in_units": lambda: propagate(seed_mlp(in1=300), {"x": (2, 20)}),
    "seed_data_contradicts": lambda: propagate(seed_mlp(in0=30), {"x": (2, 20)}),
    "seed_partial": lambda: propagate(seed_mlp(in1=256), {}),
    "lenet_64x64": lambda: propagate(lenet(), {"x": ("batch", 1, 64, 64)}),
    "lenet_4x4": lambda: propagate(lenet(), {"x": ("batch", 1, 4, 4)}),
}




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
    assert re.sub(r"\x1b\[[0-9;]*m", "", colored) == plain


# --------------------------------------------------------------------------- pictures


def _picture(kind: str) -> str:
    from picture_nets import PICTURES

    pytest.importorskip("graphviz")
    from shapegraph.render.picture import dot_source

    return str(dot_source(PICTURES[kind]()).source)


def _red_nodes(dot: str) -> list[str]:
    return re.findall(r"^\s*(n\d+) \[label=<<b>([^<]*)</b>.*color=\"#c0392b\"", dot, re.M)


def _red_edges(dot: str) -> list[tuple[str, str]]:
    return re.findall(r"^\s*(\w+) -> (\w+) \[.*color=\"#c0392b\"", dot, re.M)


@pytest.mark.parametrize("kind", ["clean", "sequential", "concat", "residual"])
def test_picture_dot_golden(kind: str) -> None:
    check_golden(f"picture_{kind}.gv", _picture(kind).rstrip("\n"))


def test_clean_picture_has_no_red_and_folds_activations() -> None:
    dot = _picture("clean")
    assert _red_nodes(dot) == [] and _red_edges(dot) == [] and "red box" not in dot
    assert "<b>Conv2D(6, 5x5) + relu</b>" in dot and "<b>Dense(120) + relu</b>" in dot
    assert "weight (6, 1, 5, 5)  bias (6)" in dot and "weight (10, 120)  bias (10)" in dot
    assert "legend" in dot and "<b>relu</b>" not in dot  # no relu box of its own


def test_sequential_conflict_marks_only_the_dense_that_disagrees() -> None:
    dot = _picture("sequential")
    assert _red_nodes(dot) == [("n4", "Dense(10, in_units=300)")]  # not the relu of `1`
    assert _red_edges(dot) == [("n2", "n4")]
    assert "SG201: 128 vs 300" in dot and "red arrow: the value in conflict" in dot


def test_concat_conflict_marks_the_branch_that_differs() -> None:
    dot = _picture("concat")
    assert _red_nodes(dot) == [("n12", "concat")]
    assert _red_edges(dot) == [("n10", "n12")]  # the 5x5 branch, not the other two
    assert dot.count("SG201: 32 vs 28") == 1  # height and width: one line
    for block in ('subgraph cluster_1 {', 'subgraph "cluster_1.p2"', 'subgraph "cluster_1.p3"'):
        assert block in dot
    assert 'label="1 Inception"' in dot


def test_residual_conflict_marks_both_sides_of_the_add() -> None:
    dot = _picture("residual")
    assert _red_nodes(dot) == [("n6", "add + relu")]
    assert sorted(_red_edges(dot)) == [("n0", "n6"), ("n5", "n6")]
    assert 'subgraph "cluster_1.body"' in dot and "running_mean (32)  running_var (32)" in dot


def test_picture_escapes_names() -> None:
    """ONNX node names are anything: they reach the HTML labels escaped."""
    pytest.importorskip("graphviz")
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    import shapegraph as sg
    from shapegraph.render.picture import dot_source

    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"], name="a<b>&c")], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    model = sg.load_onnx(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))
    dot = str(dot_source(sg.check(model)).source)
    assert "a&lt;b&gt;&amp;c" in dot and "a<b>&c" not in dot
    assert onnx is not None


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
@pytest.mark.parametrize("fmt", ["svg", "png"])
def test_picture_renders(fmt: str, tmp_path: Path) -> None:
    pytest.importorskip("graphviz")
    from picture_nets import concat_conflict

    from shapegraph.render.picture import write_picture

    out = tmp_path / f"g.{fmt}"
    assert write_picture(concat_conflict(), str(out)) == ""
    head = out.read_bytes()[:200]
    assert head.startswith(b"\x89PNG") if fmt == "png" else b"<svg" in out.read_bytes()
