"""Help lines that name the real fix, one case each, with golden texts of the rendered
diagnostics (tests/golden/help_*.txt; regenerate with ``UPDATE_GOLDEN=1``).

The models are in tests/help_models.py (the frames show their source lines).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import help_models as m
import numpy as np
import pytest
from goldens import check_golden
from hypothesis import given, settings
from hypothesis import strategies as st

import shapegraph as sg
from shapegraph import nn
from shapegraph.core.diagnostics import Diagnostic
from shapegraph.render.text import render_text

HERE = Path(m.__file__).resolve()


def check(net: Any, *shape: int | str) -> list[Diagnostic]:
    return list(sg.check(net, sg.Input("x", shape)).diagnostics)


def text(diags: list[Diagnostic]) -> str:
    """The plain frames, with the model file's path as the reader's ``help_models.py``."""
    out = render_text(diags)
    for path in {d.file for d in diags if d.file} | {
            r.location.rpartition(":")[0] for d in diags for r in d.related if r.location}:
        if Path(path).resolve() == HERE:
            out = out.replace(f"{path}:", "help_models.py:")
    return out


def golden(name: str, rendered: str) -> None:
    check_golden(f"help_{name}.txt", rendered)


def codes(diags: list[Diagnostic]) -> list[str]:
    return [d.code for d in diags]


def test_branch_without_padding_gets_one_diagnostic_and_its_padding() -> None:
    diags = check(m.Inception(), "batch", 3, 32, 32)
    assert codes(diags) == ["SG201"]  # height and width together: one mistake
    d = diags[0]
    assert "dim 2 (32 vs 28) and dim 3 (32 vs 28)" in d.message
    assert d.help.startswith("add padding=2 to layer `p3_2` (kernel 5)")
    golden("concat_padding", text(diags))


def test_the_padding_named_fixes_it() -> None:
    net = m.Inception()
    net.p3_2 = nn.Conv2D(8, kernel_size=5, padding=2)
    assert check(net, "batch", 3, 32, 32) == []


def test_residual_shortcut_reports_every_axis_and_the_projection() -> None:
    diags = check(m.Residual(), "batch", 16, 32, 32)
    assert codes(diags) == ["SG206"]
    d = diags[0]
    shown = {r.value.split(" = ")[0] for r in d.related}
    assert shown == {f"input {i} dim {j}" for i in (0, 1) for j in (1, 2, 3)}
    assert "aligned axes -3, -2, -1" in d.message
    assert d.help.startswith("add a 1x1 Conv2D(32, strides=2) on the shortcut")
    golden("residual_shortcut", text(diags))


def test_too_small_image_gets_the_minimum_size() -> None:
    diags = check(m.vgg11(), "batch", 3, 16, 16)
    assert codes(diags) == ["SG204"]
    assert diags[0].help.startswith("input `x` needs at least 32x32 (given 16x16)")
    assert [d.code for d in check(m.vgg11(), "batch", 3, 32, 32)] == []
    assert "SG204" in codes(check(m.vgg11(), "batch", 3, 31, 31))
    golden("too_small", text(diags))


def test_origin_chain_elides_steps_and_stays_short() -> None:
    rendered = text(check(m.vgg11(), "batch", 3, 16, 16))
    assert "output size = in," not in rendered  # steps that change nothing are vias
    # was 13 levels and lines over 200 characters
    assert max(len(line) for line in rendered.splitlines()) <= 115, rendered
    deep = check(m.deep_convs(), "batch", 3, 17, 17)
    assert codes(deep) == ["SG204"]
    rendered = text(deep)
    lines = rendered.splitlines()
    gutter = min(len(line) - len(line.lstrip()) for line in lines if line.lstrip()[:2] == "= ")
    depth = max(len(line) - len(line.lstrip()) for line in lines if line.lstrip()[:2] == "- ")
    assert (depth - gutter) // 2 == 4  # at most four nested levels: the cap is reached
    assert "5 more steps elided (layers `0` to `4`)" in rendered
    assert "17: dim 2 of input `x`" in rendered  # the origin stays in view
    golden("deep_chain", rendered)


def test_concat_along_the_wrong_axis() -> None:
    diags = check(m.WrongAxis(), "batch", 3, 32, 32)
    assert codes(diags) == ["SG201"]
    assert diags[0].help.startswith("did you mean dim=1?")
    golden("concat_axis", text(diags))


def test_nhwc_input_is_named_and_the_channel_conflict_reported() -> None:
    diags = check(m.nchw_net(), "batch", 32, 32, 3)
    assert codes(diags) == ["SG201", "SG204"]
    assert "input channels = 32, but in_channels = 3" in diags[0].message
    for d in diags:
        assert d.help.startswith("this looks like NHWC (f32[batch,32,32,3]); shapegraph "
                                 "expects NCHW: feed (batch, 3, 32, 32)")
    assert check(m.nchw_net(), "batch", 3, 32, 32) == []
    golden("nhwc", text(diags))


def test_nchw_input_gets_no_nhwc_note() -> None:
    diags = check(m.nchw_net(), "batch", 4, 32, 32)
    assert codes(diags) == ["SG201"] and "NHWC" not in diags[0].help


def test_dense_after_embedding_says_flatten_false() -> None:
    diags = check(m.embedding_dense(), "batch", 100)
    assert codes(diags) == ["SG201"]
    assert diags[0].help.startswith("use flatten=False")
    assert "3200" not in diags[0].help
    golden("flatten_false", text(diags))


def test_wrong_width_on_a_compiled_model_is_one_sg201() -> None:
    net = m.mlp()
    net.initialize()
    model = sg.compile(net, sg.Input("x", ("batch", 20)))
    with pytest.raises(sg.ShapeError) as e:
        model(np.zeros((2, 30), dtype=np.float32))
    assert [d.code for d in e.value.diagnostics] == ["SG201"]
    assert "SG211" not in str(e.value)


def test_caret_under_the_argument_when_layers_share_a_line() -> None:
    diags = check(m.one_line(), "batch", 20)
    (d,) = diags
    source = HERE.read_text(encoding="utf-8").splitlines()[d.line - 1]  # type: ignore[operator]
    assert source.count("nn.Dense(") == 2
    assert d.column == source.index("in_units=300") + 1 and d.width == len("in_units=300")
    rendered = text(diags)
    lines = rendered.splitlines()
    at = next(i for i, line in enumerate(lines) if line.endswith(source))
    caret = lines[at + 1]
    assert caret[len(lines[at]) - len(source):].strip() == "^" * len("in_units=300")
    assert caret.index("^") - (len(lines[at]) - len(source)) == d.column - 1
    golden("caret", rendered)


def test_json_carries_file_line_column_and_shapes() -> None:
    report = sg.check(m.one_line(), sg.Input("x", ("batch", 20)))
    (d,) = json.loads(report.render("json"))["diagnostics"]
    assert Path(d["file"]).resolve() == HERE
    assert isinstance(d["line"], int) and isinstance(d["column"], int)
    assert d["input_shapes"] == [["batch", 256]] and d["output_shapes"] == [["batch", 10]]


# -- the smallest input is the smallest: a property over random chains of windows ------

_layer = st.tuples(st.sampled_from(["conv", "max", "avg"]), st.integers(1, 5),
                   st.integers(1, 3), st.integers(0, 2))


def _chain(spec: list[tuple[str, int, int, int]]) -> nn.Sequential:
    net = nn.Sequential()
    for kind, k, s, p in spec:
        p = min(p, k // 2)  # a pool's padding is at most half its window
        if kind == "conv":
            net.add(nn.Conv2D(2, kernel_size=k, strides=s, padding=p))
        else:
            pool = nn.MaxPool2D if kind == "max" else nn.AvgPool2D
            net.add(pool(pool_size=k, strides=s, padding=p))
    return net


@settings(max_examples=25, deadline=None)
@given(st.lists(_layer, min_size=1, max_size=5), st.integers(1, 12))
def test_the_minimum_input_size_is_exact(spec: list[tuple[str, int, int, int]],
                                         size: int) -> None:
    diags = check(_chain(spec), 1, 2, size, size)
    if codes(diags) != ["SG204"]:
        return
    found = re.search(r"needs at least (\d+)x(\d+)", diags[0].help)
    assert found is not None, diags[0].help
    n = int(found.group(1))
    assert n > size
    assert "SG204" not in codes(check(_chain(spec), 1, 2, n, n))
    assert "SG204" in codes(check(_chain(spec), 1, 2, n - 1, n - 1))


def test_different_unknowns_never_print_as_the_same_question_mark() -> None:
    from shapegraph.core.diagnostics import show_dims, show_types
    from shapegraph.core.dims import Hole, mul
    from shapegraph.core.types import TensorType

    a, b = Hole.fresh(), Hole.fresh()
    assert show_dims([mul(a, b), a]) == ["?1*?2", "?1"]  # the same unknown, the same name
    assert show_dims([a, 3]) == ["?", "3"]  # a single unknown stays plain
    assert show_types([TensorType((a, mul(a, b)), "float32"), None]) == [
        "f32[?1,?1*?2]", "(not computed)"]
    # after a failure the layers below it have unknown sizes: the table tells them apart
    rows = sg.check(m.vgg11(), sg.Input("x", ("batch", 3, 16, 16))).rows
    flatten = next(r for r in rows if r["op"] == "flatten")
    assert flatten["outputs"] == ["f32[?1,?2*?3*?4]"]


def test_a_window_that_fails_still_checks_the_channels() -> None:
    # the first conv's 5x5 window does not fit the width 3 of a channels-last image: the
    # channel conflict (32 vs in_channels=3) is reported too, each with the NHWC note
    diags = check(m.nchw_first_kernel_5(), "batch", 32, 32, 3)
    assert codes(diags) == ["SG201", "SG204"]
    assert all(d.path == "0" and "this looks like NHWC" in d.help for d in diags)
    golden("nhwc_first_layer", text(diags))


def test_doctests_of_the_chain_text_and_the_unknown_names() -> None:
    import doctest

    import shapegraph.core.diagnostics
    import shapegraph.infer.chains

    for mod in (shapegraph.infer.chains, shapegraph.core.diagnostics):
        assert doctest.testmod(mod).failed == 0
