"""The command as people expect it (issue 12): help for every option, ``explain`` through
rich, several targets and ``# input:`` comments, PyTorch modules named as such, reports that
print, and HTML for notebooks.

Regenerate the help golden after an intended change with ``UPDATE_GOLDEN=1``."""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from goldens import check_golden

import shapegraph as sg
from shapegraph import nn
from shapegraph.api.check import Report
from shapegraph.core.diagnostics import CODES
from shapegraph.tools.check_cli import is_torch_module
from shapegraph.tools.cli import _parser, main
from shapegraph.tools.errors_doc import error_sections, user_markdown

ROOT = Path(__file__).resolve().parent.parent
GOOD = ("# input: x=batch,20\nfrom shapegraph import nn\n\nnet = nn.Sequential()\n"
        'net.add(nn.Dense(256, activation="relu"), nn.Dense(10))\n')
BAD = ("# input: x=batch,20\nfrom shapegraph import nn\n\nnet = nn.Sequential()\n"
       'net.add(nn.Dense(256, activation="relu"), nn.Dense(10, in_units=300))\n')


def write(folder: Path, name: str, source: str) -> str:
    (folder / name).write_text(source, encoding="utf-8")
    return str(folder / name)


# --------------------------------------------------------------------------- the command


def test_python_dash_m_and_version() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    p = subprocess.run([sys.executable, "-m", "shapegraph", "--version"], env=env,
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and re.fullmatch(r"shapegraph \d+\.\d+\.\d+\S*\n", p.stdout)


def _subparsers(ap: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in ap._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def test_every_option_of_every_subcommand_has_help() -> None:
    commands = _subparsers(_parser())
    assert {"check", "explain", "demo", "bench", "export"} <= set(commands)
    for name, p in commands.items():
        for action in p._actions:
            if not isinstance(action, argparse._HelpAction):
                assert action.help, f"shapegraph {name} {action.dest} has no help text"


def test_check_help_golden(capsys: pytest.CaptureFixture[str],
                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    assert main(["check", "--help"]) == 0
    out = capsys.readouterr().out
    assert "examples:\n  shapegraph check model.py:net --input x=batch,3,224,224" in out
    check_golden("check_help.txt", out.rstrip("\n"))


# --------------------------------------------------------------------------- explain


@pytest.mark.parametrize("code", sorted(CODES))
def test_explain_renders_markdown_without_scaffolding(
        code: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", code.lower()]) == 0
    out = capsys.readouterr().out
    assert CODES[code].title in out
    assert "```" not in out and "assert " not in out and "codes(" not in out
    assert "## " not in out  # the heading is rendered, not shown as Markdown
    assert all(line == line.rstrip() for line in out.splitlines())  # no padding in a pipe


def test_user_markdown_drops_only_the_checks() -> None:
    section = error_sections()["SG201"]
    shown = user_markdown(section)
    assert "assert codes(" in section and "assert" not in shown
    assert "nn.Dense(10, in_units=300)" in shown  # the example itself stays
    multi = "```python\nx = 1\nassert [x] == [\n    1]\nprint(x)\n```\n"
    assert user_markdown(multi) == "```python\nx = 1\nprint(x)\n```\n"


def test_explain_list(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "--list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    for code, c in CODES.items():
        assert any(line.split()[:2] == [code, c.severity] and c.title in line
                   for line in lines), code


@pytest.mark.parametrize(("code", "nearest"), [("SG2O1", "SG201"), ("sg20", "SG201"),
                                               ("214", "SG213"), ("SG3O2", "SG302")])
def test_explain_unknown_code_names_the_nearest(code: str, nearest: str,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", code]) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.strip().splitlines()) == 1
    assert f"did you mean {nearest}" in err and "explain --list" in err


def test_explain_without_a_code(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain"]) == 2
    assert "--list" in capsys.readouterr().err


# --------------------------------------------------------------------------- check targets


def test_several_targets_exit_with_the_worst(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    good, bad = write(tmp_path, "good.py", GOOD), write(tmp_path, "bad.py", BAD)
    assert main(["check", f"{good}:net", f"{good}:net", "--color", "never"]) == 0
    assert main(["check", f"{good}:net", f"{bad}:net", "--color", "never"]) == 1
    out = capsys.readouterr().out
    assert out.count("ok: ") == 2 + 1 and "shape conflicts: " in out
    assert main(["check", f"{bad}:net", f"{tmp_path}/none.py:net", f"{good}:net"]) == 2
    out, err = capsys.readouterr()
    assert "none.py: no such file" in err and out.count("ok: ") == 1


def test_several_targets_in_json_are_one_list(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    good, bad = write(tmp_path, "good.py", GOOD), write(tmp_path, "bad.py", BAD)
    assert main(["check", f"{good}:net", f"{bad}:net", "--format", "json"]) == 1
    docs = json.loads(capsys.readouterr().out)
    assert [d["ok"] for d in docs] == [True, False]
    assert main(["check", f"{good}:net", "--format", "json"]) == 0  # one target: one object
    assert json.loads(capsys.readouterr().out)["ok"] is True
    assert main(["check", f"{good}:nope", f"{bad}:nope", "--format", "json"]) == 2
    assert json.loads(capsys.readouterr().out) == []  # still a list, for the reader


def test_graph_draws_one_target(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = write(tmp_path, "good.py", GOOD)
    assert main(["check", f"{good}:net", f"{good}:net", "--graph", "g.dot"]) == 2
    assert "draws one target" in capsys.readouterr().err


def test_input_comment_is_read_when_no_input_is_given(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cnn = write(tmp_path, "cnn.py", "# a LeNet-like model\n# input: x=batch,1,28,28\n"
                "from shapegraph import nn\nnet = nn.Sequential()\n"
                "net.add(nn.Conv2D(6, 5), nn.Flatten(), nn.Dense(10))\n")
    assert main(["check", f"{cnn}:net", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["inputs"] == {"x": "f32[batch,1,28,28]"}
    assert doc["layers"][-1]["params"]["2.weight"] == "(10, 3456)"
    # --input wins over the comment
    assert main(["check", f"{cnn}:net", "--input", "x=batch,1,32,32", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["layers"][-1]["params"]["2.weight"] == "(10, 4704)"


def test_several_input_comments_and_a_bad_one(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    two = write(tmp_path, "two.py", "# input: x=batch,20\n#input:y=batch,20\n"
                "from shapegraph import nn, ops\n\nclass Two(nn.Block):\n"
                "    def __init__(self):\n        super().__init__()\n"
                "        self.fc = nn.Dense(3, in_units=20)\n"
                "    def forward(self, x, y):\n        return self.fc(x + y)\n\nnet = Two()\n")
    assert main(["check", f"{two}:net", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["inputs"] == {
        "x": "f32[batch,20]", "y": "f32[batch,20]"}
    bad = write(tmp_path, "bad.py", "from shapegraph import nn\n# input: x=batch,-3\nnet = 1\n")
    assert main(["check", f"{bad}:net"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"shapegraph check: {bad}:2: # input: 'x=batch,-3': dim 1 is -3")
    assert len(err.strip().splitlines()) == 1


# --------------------------------------------------------------------------- PyTorch


def test_torch_module_is_told_by_its_classes_without_torch() -> None:
    Module = type("Module", (), {"__module__": "torch.nn.modules.module"})
    Net = type("Net", (Module,), {"__module__": "model"})
    assert is_torch_module(Net()) and is_torch_module(Net)
    assert not is_torch_module(nn.Dense(3)) and not is_torch_module(print)


def test_a_pytorch_module_target(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("torch")
    path = write(tmp_path, "tm.py", "import torch\n\nclass Net(torch.nn.Module):\n"
                 "    def __init__(self):\n        super().__init__()\n"
                 "        self.fc = torch.nn.Linear(20, 10)\n\n"
                 "    def forward(self, x):\n        return self.fc(x)\n\n"
                 "net = Net()\n\ndef build():\n    return Net()\n")
    for name in ("net", "build", "Net"):
        assert main(["check", f"{path}:{name}", "--input", "x=batch,20"]) == 2
        err = capsys.readouterr().err.strip()
        assert "\n" not in err and err.endswith(
            "is a PyTorch module; shapegraph checks shapegraph Blocks and ONNX files "
            "(export with torch.onnx.export)"), err


# --------------------------------------------------------------------------- reports


def _bad_report() -> Report:
    net = nn.Sequential()
    net.add(nn.Dense(256, activation="relu"), nn.Dense(10, in_units=300))
    return sg.check(net, sg.Input("x", ("batch", 20)), target="<model>.py:net")


def test_print_and_str_give_the_text_report_and_repr_is_short(
        capsys: pytest.CaptureFixture[str]) -> None:
    report = _bad_report()
    print(report)
    assert capsys.readouterr().out == report.render("text") + "\n"
    assert str(report) == report.render("text") and "error[SG201]" in str(report)
    assert repr(report) == "<Report <model>.py:net: 1 error>"
    assert repr(sg.check(nn.Dense(3, in_units=2))) == "<Report Dense: no problems>"


def test_report_html_is_escaped() -> None:
    page = _bad_report()._repr_html_()
    assert "<model>" not in page and "&lt;model&gt;.py:net" in page
    assert "error[SG201]" in page and "<table" in page and "<script" not in page
    assert page.count("<tr>") == 1 + 3  # header and three layer rows
    evil = Report("<script>alert(1)</script>", {}, ())
    assert "<script>" not in evil._repr_html_()


def test_compiled_model_html() -> None:
    net = nn.Sequential()
    net.add(nn.Dense(4, activation="relu"), nn.Dense(2))
    net.initialize()
    model = sg.compile(net, sg.Input("x", ("batch", 3)))
    model(np.ones((2, 3), np.float32))
    page = model._repr_html_()
    assert page.startswith('<div class="shapegraph"><p><b>CompiledModel(x: f32[batch,3])')
    assert page.count("<tr>") == 1 + 3 and "Dense(4, activation=&#x27;relu&#x27;)" in page
    assert "1.weight: (2, 4)" in page and "plan for inputs (2, 3)" in page
