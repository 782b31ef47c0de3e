"""The model summary: ``net.summary``, ``sg.summary`` and ``shapegraph summary``.

Golden text and JSON for a few models; FLOPs against hand counts; symbolic batches; a
summary before ``initialize()`` that leaves every parameter as it was; conflicting shapes;
the command's exit codes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from goldens import check_golden
from hypothesis import given, settings
from hypothesis import strategies as st

import shapegraph as sg
from shapegraph import nn, ops
from shapegraph.tools.cli import main
from shapegraph.tools.workloads import WORKLOADS, light_model_path

# --------------------------------------------------------------------------- models


def seed_mlp() -> nn.Sequential:
    net = nn.Sequential()
    net.add(nn.Dense(256, activation="relu"), nn.Dense(10))
    return net


def lenet() -> nn.Sequential:
    """The benchmark's LeNet (the same network ``shapegraph bench`` times)."""
    (wl,) = [w for w in WORKLOADS if w.name == "LeNet"]
    net: nn.Sequential = wl.build()
    return net


class Residual(nn.Block):
    """A residual block whose shortcut is a nested Sequential (1x1 conv, batchnorm)."""

    def __init__(self, channels: int, strides: int) -> None:
        super().__init__()
        self.body = nn.Sequential()
        self.body.add(nn.Conv2D(channels, 3, strides=strides, padding=1, use_bias=False),
                      nn.BatchNorm(), nn.Activation("relu"),
                      nn.Conv2D(channels, 3, padding=1, use_bias=False), nn.BatchNorm())
        self.shortcut = nn.Sequential()
        self.shortcut.add(nn.Conv2D(channels, 1, strides=strides, use_bias=False),
                          nn.BatchNorm())

    def forward(self, x: Any) -> Any:
        return ops.relu(self.body(x) + self.shortcut(x))


def residual_net() -> nn.Sequential:
    net = nn.Sequential()
    net.add(nn.Conv2D(16, 3, padding=1), Residual(32, 2), nn.GlobalAvgPool2D(), nn.Dense(10))
    return net


def squeezenet() -> Any:
    return sg.load_onnx(light_model_path("squeezenet"))


GOLDEN_CASES = {
    "seed_mlp": lambda: sg.summary(seed_mlp(), sg.Input("x", ("batch", 20)),
                                   dims={"batch": 2}),
    "lenet": lambda: sg.summary(lenet(), sg.Input("x", ("batch", 1, 28, 28)),
                                dims={"batch": 8}),
    "residual": lambda: sg.summary(residual_net(), sg.Input("x", ("batch", 3, 32, 32))),
    "squeezenet": lambda: sg.summary(squeezenet()),
}


@pytest.mark.parametrize("case", sorted(GOLDEN_CASES))
def test_text_golden(case: str) -> None:
    check_golden(f"summary_{case}.txt", GOLDEN_CASES[case]().render("text"))


@pytest.mark.parametrize("case", sorted(GOLDEN_CASES))
def test_json_golden(case: str) -> None:
    s = GOLDEN_CASES[case]()
    text = s.render("json")
    assert json.loads(text) == s.to_dict()
    check_golden(f"summary_{case}.json", text)


# --------------------------------------------------------------------------- counts


def test_dense_flops_by_hand() -> None:
    net = nn.Sequential()
    net.add(nn.Dense(30), nn.Dense(7, use_bias=False))
    s = net.summary(sg.Input("x", (5, 20)))
    assert [r.macs for r in s.rows] == [5 * 20 * 30, 5 * 30 * 7]
    assert [r.flops for r in s.rows] == [2 * 5 * 20 * 30, 2 * 5 * 30 * 7]
    assert [r.param_count for r in s.rows] == [20 * 30 + 30, 30 * 7]
    assert s.total_params == s.trainable_params == 20 * 30 + 30 + 30 * 7
    assert s.param_bytes == 4 * s.total_params
    assert s.act_bytes == 4 * (5 * 30 + 5 * 7) and s.input_bytes == 4 * 5 * 20


def test_conv_flops_by_hand_with_groups_and_strides() -> None:
    net = nn.Sequential()
    net.add(nn.Conv2D(8, kernel_size=3, strides=2, padding=1, groups=2))
    s = net.summary(sg.Input("x", (1, 4, 9, 9)))
    (row,) = s.rows
    # out 5x5; each of the 8*5*5 outputs reads 4/2 channels x 3x3 taps
    assert row.outputs[0].shape == (1, 8, 5, 5)
    assert row.macs == 8 * 5 * 5 * 2 * 9
    assert row.param_count == 8 * 2 * 3 * 3 + 8


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 3), cin_per_group=st.integers(1, 3), groups=st.integers(1, 3),
       cout_per_group=st.integers(1, 3), k=st.integers(1, 4), s=st.integers(1, 3),
       p=st.integers(0, 2), hw=st.integers(4, 12))
def test_conv_flops_match_the_formula(n: int, cin_per_group: int, groups: int,
                                      cout_per_group: int, k: int, s: int, p: int,
                                      hw: int) -> None:
    cin, cout = cin_per_group * groups, cout_per_group * groups
    net = nn.Sequential()
    net.add(nn.Conv2D(cout, kernel_size=k, strides=s, padding=p, groups=groups))
    (row,) = net.summary(sg.Input("x", (n, cin, hw, hw))).rows
    out = (hw + 2 * p - k) // s + 1
    assert row.macs == n * cout * out * out * cin_per_group * k * k


@pytest.mark.parametrize("w", WORKLOADS, ids=lambda w: w.name)
def test_totals_match_the_benchmark_workloads_hand_counts(w: Any) -> None:
    s = sg.summary(w.build(), sg.Input("x", ("batch", *w.input_shape)), dims={"batch": 3})
    assert s.at(s.flops) == 3 * w.flops_per_sample


def test_symbolic_batch_stays_symbolic() -> None:
    s = seed_mlp().summary(sg.Input("x", ("batch", 100)))
    assert [str(r.flops) for r in s.rows] == ["51200*batch", "5120*batch"]
    assert [str(r.outputs[0]) for r in s.rows] == ["f32[batch,256]", "f32[batch,10]"]
    assert s.at(s.flops) == s.flops  # no size given: stays symbolic
    doc = s.to_dict()
    assert doc["layers"][0]["outputs"][0]["shape"] == ["batch", 256]
    assert doc["layers"][0]["flops"] == "51200*batch"
    assert doc["totals"]["params"] == 100 * 256 + 256 + 2570
    assert "51,200*batch" in s.render()


def test_a_sample_array_binds_the_batch() -> None:
    s = seed_mlp().summary(np.zeros((4, 100), dtype=np.float32))
    assert str(s.rows[0].outputs[0]) == "f32[batch,256]"
    assert s.sizes == {"batch": 4}
    assert s.at(s.flops) == 4 * 2 * (100 * 256 + 256 * 10)
    assert "= 225,280 at batch=4" in s.render()


def test_nested_blocks_are_a_tree_with_totals() -> None:
    s = residual_net().summary(("batch", 3, 32, 32))
    rows = {r.path: r for r in s.rows if not r.leaf}
    assert set(rows) == {"1", "1.body", "1.shortcut"}
    assert rows["1"].depth == 0 and rows["1.body"].depth == 1
    leaves_below = [r for r in s.rows if r.leaf and r.path.startswith("1")]
    assert rows["1"].param_count == sum(r.param_count for r in leaves_below)
    assert [r.kind for r in s.rows if r.path == "1" and r.leaf] == ["add in forward",
                                                                     "relu in forward"]
    # batchnorm statistics are not trainable: three batchnorms of 32 channels
    assert s.total_params - s.trainable_params == 3 * 2 * 32


def test_tied_parameters_count_once() -> None:
    shared = nn.Dense(8, in_units=8)
    net = nn.Sequential()
    net.add(shared, shared)
    s = net.summary(("batch", 8))
    assert s.total_params == 8 * 8 + 8


# --------------------------------------------------------------------------- lifecycle


def _state(net: nn.Block) -> dict[str, Any]:
    return {k: (p.shape, p._data is None, p._initialize_called)
            for k, p in net.collect_params().items()}


def test_before_initialize_and_without_input_nothing_changes() -> None:
    net = nn.Sequential()
    net.add(nn.Dense(16, in_units=4, activation="relu"), nn.Dense(3))
    before = _state(net)
    s = net.summary()
    assert _state(net) == before
    assert s.ok and s.rows[0].param_count == 4 * 16 + 16
    assert s.total_params == 4 * 16 + 16 + 16 * 3 + 3  # the declarations fix every shape
    assert "(?, 16)" in s.render()  # the batch is unknown


def test_deferred_network_is_untouched_by_a_summary_with_inputs() -> None:
    net = lenet()
    net.initialize()
    before = _state(net)
    s = net.summary(np.zeros((2, 1, 28, 28)))
    assert s.total_params == 61706
    assert _state(net) == before
    assert all(p.shape[1] is None or p.shape[1] > 0
               for k, p in net.collect_params().items() if k == "4.weight")
    with pytest.raises(sg.DeferredInitializationError):
        net.collect_params()["4.weight"].data()


def test_unknown_sizes_show_as_question_marks() -> None:
    s = lenet().summary()
    text = s.render()
    assert s.ok and "weight (120, ?)" in text
    assert "? (13,430 in the layers whose sizes are known" in text  # 2416 + 10164 + 850
    assert s.to_dict()["totals"]["params"] is None


# --------------------------------------------------------------------------- conflicts


def conflicting() -> nn.Sequential:
    net = nn.Sequential()
    net.add(nn.Dense(256), nn.Dense(10, in_units=300))
    return net


def test_conflicting_shapes_say_so_instead_of_numbers() -> None:
    s = conflicting().summary(sg.Input("x", ("batch", 20)))
    assert not s.ok and s.rows == ()
    text = s.render()
    assert "the shapes conflict (1 error)" in text and "SG201" in text
    assert "shapegraph check" in text and "Total params" not in text
    doc = s.to_dict()
    assert doc["ok"] is False and doc["totals"] is None and doc["layers"] == []
    assert doc["diagnostics"][0]["code"] == "SG201"
    assert "shapegraph check" in s._repr_html_()


def test_conflicts_found_from_declarations_alone() -> None:
    s = conflicting().summary()
    assert not s.ok and [d.code for d in s.diagnostics if d.is_error] == ["SG201"]


# --------------------------------------------------------------------------- formats


def test_html_for_notebooks() -> None:
    s = residual_net().summary(("batch", 3, 32, 32))
    page = s._repr_html_()
    assert page.count("<tr") == len(s.rows) + 1 + 8  # header, rows, totals
    assert "1.shortcut" in page and "font-weight:bold" in page
    assert repr(s).startswith("<Summary Sequential:")


def test_onnx_model() -> None:
    s = sg.summary(squeezenet())
    assert s.ok and s.target == "light_squeezenet.onnx"
    assert s.total_params == 1235496
    assert s.at(s.flops) == 698303872
    with pytest.raises(ValueError, match="unknown format"):
        s.render("xml")


# --------------------------------------------------------------------------- the command


def model_file(tmp_path: Path, source: str) -> str:
    path = tmp_path / "model.py"
    path.write_text("from shapegraph import nn\n" + source, encoding="utf-8")
    return str(path)


def test_cli_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = model_file(tmp_path, "net = nn.Sequential()\nnet.add(nn.Dense(256, "
                   "activation='relu'), nn.Dense(10))\n")
    assert main(["summary", f"{f}:net", "--input", "x=batch,20", "--dim", "batch=2"]) == 0
    out = capsys.readouterr().out
    assert "Total params" in out and "15,360*batch" in out and "= 30,720 at batch=2" in out
    assert main(["summary", f"{f}:net", "--input", "x=batch,20", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["totals"]["params"] == 20 * 256 + 256 + 2570


def test_cli_summary_of_an_onnx_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["summary", light_model_path("squeezenet"), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["totals"]["params"] == 1235496


def test_cli_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = model_file(tmp_path, "net = nn.Sequential()\nnet.add(nn.Dense(256), "
                   "nn.Dense(10, in_units=300))\n")
    assert main(["summary", f"{f}:net", "--input", "x=batch,20"]) == 1
    assert "shapegraph check" in capsys.readouterr().out
    for args, says in [([f"{tmp_path}/none.py:net"], "no such file"),
                       ([f"{f}:net", "--dim", "N=3"], "no input has a dim named `N`"),
                       ([f"{f}:net", "--input", "y=3,20"], "has no input `y`"),
                       ([f"{f}:missing"], "missing not found")]:
        assert main(["summary", *args]) == 2
        err = capsys.readouterr().err
        assert err.startswith("shapegraph summary: ") and says in err
        assert len(err.strip().splitlines()) == 1


def test_net_summary_prints_as_gluon_does(capsys: pytest.CaptureFixture[str]) -> None:
    s = seed_mlp().summary(("batch", 20))
    out = capsys.readouterr().out
    assert out.strip() == s.render("text", width=len(out.splitlines()[1])).strip()
    assert "Total params" in out and "7,946" in out
    seed_mlp().summary(("batch", 20), show=False)
    assert capsys.readouterr().out == ""


def test_an_unused_layer_is_a_warning_under_the_table() -> None:
    class TwoHeads(nn.Block):
        def __init__(self) -> None:
            super().__init__()
            self.used = nn.Dense(4)
            self.spare = nn.Dense(3)

        def forward(self, x: Any) -> Any:
            return self.used(x)

    s = TwoHeads().summary(("batch", 5), show=False)
    assert s.ok and s.total_params == 5 * 4 + 4
    assert "warning[SG301] at `spare`" in s.render()


def test_the_sample_in_cli_md_is_what_the_command_prints(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    import re

    doc = (Path(__file__).parent.parent / "docs" / "cli.md").read_text(encoding="utf-8")
    m = re.search(r"^```text\n\$ shapegraph (summary model\.py:net[^\n]*)\n(.*?)^```", doc,
                  re.S | re.M)
    assert m, "docs/cli.md has no `shapegraph summary model.py:net` sample"
    model_file(tmp_path, "net = nn.Sequential()\nnet.add(nn.Dense(256, "
               "activation='relu'), nn.Dense(10))\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "150")
    assert main(m.group(1).split()) == 0
    assert capsys.readouterr().out == m.group(2)


def test_cli_symbolic_onnx_batch(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import onnx

    from shapegraph.tools.workloads import symbolic_batch

    path = tmp_path / "sq.onnx"
    onnx.save(symbolic_batch(onnx.load(light_model_path("squeezenet"))), str(path))
    assert main(["summary", str(path), "--dim", "N=8", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["inputs"]["data_0"]["shape"] == ["N", 3, 224, 224]
    assert doc["totals"]["flops"] == "698303872*N"
    assert doc["totals_at_sizes"]["flops"] == 8 * 698303872
    assert main(["summary", str(path), "--dim", "M=8"]) == 2


def test_what_each_layer_reads_when_the_network_is_not_a_chain() -> None:
    s = residual_net().summary(("batch", 3, 32, 32), show=False)
    rows = {r.name: r for r in s.rows if r.leaf}
    assert rows["1:add"].inputs == ("1.body.4", "1.shortcut.1")
    assert rows["1.body.0"].inputs == rows["1.shortcut.0"].inputs == ("0",)
    assert rows["0"].inputs == ("x",)
    assert not s.is_chain and "Connected to" in s.render()
    assert s.to_dict()["layers"][-1]["reads"] == ["2"]
    chain = seed_mlp().summary(("batch", 20), show=False)
    assert chain.is_chain and "Connected to" not in chain.render()
