"""The case corpus (tests/cases/*.py, format in tests/cases/README.md) and the CLI.

Every case file is a small model with a header that says how to check it and exactly
which diagnostics a correct tool reports. ``test_case`` loads it as ``shapegraph check``
does (``load_target``, ``parse_inputs``), checks it through ``sg.check`` and compares the
multiset of (code, path) of every diagnostic, errors, warnings and notes alike.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import shapegraph as sg
from shapegraph.core.diagnostics import CODES
from shapegraph.frontend.root import input_names
from shapegraph.tools.check_cli import load_target, parse_inputs

HERE = Path(__file__).resolve().parent
CASES = HERE / "cases"
ROOT = "<root>"
KEYS = ("input", "target", "expect", "says", "says-not", "xfail", "xfail-says")
EXPECT = re.compile(r"(SG\d{3}) at (\S+)\Z")


@dataclass
class Case:
    """A parsed case file."""

    path: Path
    inputs: list[str] = field(default_factory=list)
    target: str = "net"
    expect: list[tuple[str, str]] = field(default_factory=list)
    nothing: bool = False
    says: list[str] = field(default_factory=list)
    says_not: list[str] = field(default_factory=list)
    xfail: str = ""
    xfail_says: str = ""

    @property
    def spec(self) -> str:
        return f"{self.path}:{self.target}"

    @property
    def cli_args(self) -> list[str]:
        return [a for i in self.inputs for a in ("--input", i)]


def parse_case(path: Path) -> Case:
    """The header: the comment lines at the top of the file, ``# key: value`` each."""
    case = Case(path)
    seen_target = False
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.startswith("#"):
            break
        m = re.match(r"#\s*([a-z-]+):\s?(.*)\Z", line)
        if m is None or m.group(1) not in KEYS:
            raise ValueError(f"{path.name}:{n}: not a header line ({', '.join(KEYS)}): {line!r}")
        key, value = m.group(1), m.group(2).rstrip()
        if key == "input":
            case.inputs.append(value.strip())
        elif key == "target":
            if seen_target:
                raise ValueError(f"{path.name}:{n}: target given twice")
            case.target, seen_target = value.strip(), True
        elif key == "expect":
            if value.strip() == "nothing":
                case.nothing = True
                continue
            e = EXPECT.match(value.strip())
            if e is None or e.group(1) not in CODES:
                raise ValueError(f"{path.name}:{n}: expected `SGxxx at PATH` with a known "
                                 f"code, or `nothing`: {value!r}")
            case.expect.append((e.group(1), e.group(2)))
        elif key == "says":
            case.says.append(value)
        elif key == "says-not":
            case.says_not.append(value)
        elif key == "xfail":
            case.xfail = value.strip()
        else:
            case.xfail_says = value.strip()
    if case.nothing == bool(case.expect):
        raise ValueError(f"{path.name}: give `# expect: nothing` or one `# expect:` line per "
                         "diagnostic (not both, not neither)")
    if case.xfail_says and not (case.says or case.says_not):
        raise ValueError(f"{path.name}: xfail-says without says/says-not lines")
    return case


ALL = [parse_case(p) for p in sorted(CASES.glob("*.py"))]


def _param(case: Case, reason: str) -> object:
    marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
    return pytest.param(case, id=case.path.stem, marks=marks)


def check_case(case: Case) -> sg.Report:
    """Check the case exactly as ``shapegraph check FILE:TARGET --input ...`` does."""
    given = parse_inputs(case.inputs)
    net, display = load_target(case.spec)
    names = input_names(net, None)
    if given:
        assert list(given) == names, f"the header's inputs {list(given)} != forward's {names}"
    inputs = [sg.Input(name, shape) for name, shape in given.items()]
    return sg.check(net, *inputs, target=display)


def found(report: sg.Report) -> Counter[tuple[str, str]]:
    return Counter((d.code, d.path or ROOT) for d in report.diagnostics)


@pytest.mark.parametrize("case", [_param(c, c.xfail) for c in ALL])
def test_case(case: Case) -> None:
    report = check_case(case)
    got, want = found(report), Counter(case.expect)
    assert got == want, (
        f"\n  expected: {sorted(want.elements())}\n  found:    {sorted(got.elements())}\n\n"
        + report.render("text"))
    assert report.ok == all(CODES[c].severity != "error" for c, _ in case.expect)


@pytest.mark.parametrize("case", [_param(c, c.xfail_says) for c in ALL
                                  if c.says or c.says_not])
def test_case_wording(case: Case) -> None:
    text = check_case(case).render("text")
    for s in case.says:
        assert s in text, f"{s!r} is not in the report:\n{text}"
    for s in case.says_not:
        assert s not in text, f"{s!r} is in the report:\n{text}"


def test_corpus() -> None:
    assert len(ALL) >= 34
    assert sum(c.nothing for c in ALL) >= 10
    covered = {code for c in ALL for code, _ in c.expect}
    # SG211 (inputs do not match the network) cannot come from a case: the CLI refuses
    # unknown or missing input names before checking; test_check_input_count covers it.
    # SG401 (parameters too large) neither: checking never creates a parameter;
    # tests/test_limits.py covers it
    # SG213 (operator not supported) neither: it comes from an ONNX import only
    # (tests/test_onnx_import.py)
    assert covered == set(CODES) - {"SG211", "SG213", "SG401"}


def test_every_code_has_a_section_and_back() -> None:
    from shapegraph.tools.errors_doc import error_sections

    sections = error_sections()
    assert set(sections) == set(CODES)
    for code, text in sections.items():
        assert text.startswith(f"## {code} {CODES[code].title}"), text.splitlines()[0]
        assert "```python" in text and "```text" in text, f"{code}: example or output missing"


def test_check_input_count() -> None:
    net, _ = load_target(f"{CASES / 'shared_params_gluon2.py'}:net")
    report = sg.check(net, sg.Input("x", ("batch", 20)))
    assert [(d.code, d.path) for d in report.diagnostics] == [("SG211", "input `z`")]


# --------------------------------------------------------------------------- the CLI


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "shapegraph.tools.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=60)


def case(name: str) -> Case:
    return next(c for c in ALL if c.path.stem == name)


def test_cli_exit_0_for_a_consistent_model() -> None:
    c = case("ok_seed_mlp")
    p = run("check", c.spec, *c.cli_args)
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.rstrip().endswith(f"ok: {c.spec}: no problems")
    assert p.stderr == ""


def test_cli_exit_1_for_conflicts() -> None:
    c = case("wrong_in_units_with_input")
    p = run("check", c.spec, *c.cli_args, "--color", "never")
    assert p.returncode == 1, p.stdout + p.stderr
    assert "error[SG201]: input features = 256, but weight in_units = 300" in p.stdout
    assert p.stdout.rstrip().endswith(f"shape conflicts: {c.spec}: 1 error")
    assert "\x1b[" not in p.stdout


def _bad_usage_cases(tmp: Path) -> dict[str, tuple[list[str], str]]:
    (tmp / "syntax.py").write_text("from shapegraph import nn\nnet = nn.Sequential(\n")
    seed = str(CASES / "ok_seed_mlp.py")
    (tmp / "notblock.py").write_text("net = 42\n\n\ndef build():\n    return None\n")
    two = str(CASES / "shared_params_gluon2.py")
    return {
        "missing file": ([f"{tmp}/nope.py:net"], "no such file"),
        "syntax error": ([f"{tmp}/syntax.py:net"], "syntax error"),
        "name not found": ([f"{seed}:model"], "model not found in"),
        "not a block": ([f"{tmp}/notblock.py:net"], "net is a int, not a Block"),
        "factory not a block": ([f"{tmp}/notblock.py:build"], "returned a NoneType, not a Block"),
        "malformed input": ([f"{seed}:net", "--input", "x=batch,2.5"], "neither a size nor"),
        "input without =": ([f"{seed}:net", "--input", "batch,20"], "expected NAME=DIMS"),
        "unknown input": ([f"{seed}:net", "--input", "y=batch,20"], "has no input `y`"),
        "missing input": ([f"{two}:net", "--input", "x=batch,20"], "`z` is missing"),
        "input twice": ([f"{seed}:net", "--input", "x=1,2", "--input", "x=3,4"], "twice"),
        "no such module": (["no_such_pkg.models:net"], "no such module"),
        "bad target form": (["model.py"], "expected file.py:NAME"),
    }


def test_cli_exit_2_for_bad_usage(tmp_path: Path) -> None:
    for what, (args, message) in _bad_usage_cases(tmp_path).items():
        p = run("check", *args)
        assert p.returncode == 2, (what, p.stdout, p.stderr)
        assert p.stdout == "", (what, p.stdout)
        lines = p.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("shapegraph check: "), (what, p.stderr)
        assert message in lines[0], (what, lines[0])
        assert "Traceback" not in p.stderr


def test_cli_model_code_raises(tmp_path: Path) -> None:
    model = tmp_path / "broken.py"
    model.write_text("from shapegraph import nn\n\n\ndef width():\n    return 1 // 0\n\n\n"
                     "net = nn.Sequential()\nnet.add(nn.Dense(width()))\n")
    p = run("check", f"{model}:net")
    assert p.returncode == 2, p.stdout + p.stderr
    err = p.stderr
    assert err.startswith(f"shapegraph check: {model} raised ZeroDivisionError: "
                          "integer division or modulo by zero"), err
    assert "Traceback (the model's own code):" in err
    assert f'File "{model}", line 9, in <module>' in err
    assert f'File "{model}", line 5, in width' in err
    assert "return 1 // 0" in err
    assert "/shapegraph/" not in err and "runpy" not in err, err  # only the model's frames


def test_cli_factory_raises(tmp_path: Path) -> None:
    model = tmp_path / "factory.py"
    model.write_text("def build():\n    raise RuntimeError('no weights here')\n")
    p = run("check", f"{model}:build")
    assert p.returncode == 2
    assert "build()) raised RuntimeError: no weights here" in p.stderr
    assert f'File "{model}", line 2, in build' in p.stderr
    assert "/shapegraph/" not in p.stderr


def test_cli_json() -> None:
    c = case("two_conflicts")
    p = run("check", c.spec, *c.cli_args, "--format", "json", "--color", "always")
    assert p.returncode == 1
    doc = json.loads(p.stdout)
    assert {"version", "diagnostics", "layers", "ok", "verdict"} <= set(doc)
    assert doc["ok"] is False and doc["target"] == c.spec
    assert doc["inputs"] == {"x": "f32[batch,3,32,32]"}
    assert doc["counts"] == {"error": 2, "warning": 0, "note": 0}
    assert sorted((d["code"], d["path"]) for d in doc["diagnostics"]) == sorted(c.expect)
    d = doc["diagnostics"][0]
    assert set(d) == {"code", "severity", "title", "message", "path", "layer", "location",
                      "file", "line", "column", "signature", "input_shapes", "output_shapes",
                      "related", "help"}
    assert isinstance(d["line"], int) and d["file"].endswith("two_conflicts.py")
    assert all(isinstance(n, (int, str)) for shape in d["input_shapes"] for n in shape)
    assert set(d["related"][0]) == {"value", "origin", "location", "via", "parts"}
    assert {tuple(sorted(row)) for row in doc["layers"]} == {
        ("inputs", "layer", "op", "outputs", "params", "path")}


def test_cli_graph_dot(tmp_path: Path) -> None:
    c = case("wrong_in_units_with_input")
    out = tmp_path / "net.dot"
    p = run("check", c.spec, *c.cli_args, "--graph", str(out))
    assert p.returncode == 1 and p.stderr == ""
    dot = out.read_text()
    assert dot.startswith("digraph")
    red = re.findall(r'^\t(n\d+) \[label=<<b>([^<]*)</b>.*"#c0392b"', dot, re.M)
    assert red == [("n2", "Dense(10, in_units=300)")], dot  # not the relu before it
    assert "<b>Dense(256) + relu</b>" in dot and "SG201: 256 vs 300" in dot
    edges = [line for line in dot.splitlines() if " -> " in line and "#c0392b" in line]
    assert [e.split(" [")[0].strip() for e in edges] == ["n0 -> n2"]


def test_cli_explain() -> None:
    p = run("explain", "SG201")
    assert p.returncode == 0
    assert p.stdout.lstrip().startswith("SG201 dimension mismatch")  # rendered by rich
    assert run("explain", "201").stdout == p.stdout
    p = run("explain", "SG999")
    assert p.returncode == 2
    assert "unknown code 'SG999'" in p.stderr


@pytest.mark.parametrize("c", [pytest.param(c, id=c.path.stem) for c in ALL
                               if c.path.stem in ("vgg_head_64", "unused_layer",
                                                  "needs_inputs", "ok_factory_vgg224")])
def test_cli_agrees_with_the_api(c: Case, capsys: pytest.CaptureFixture[str]) -> None:
    """The command (run in-process) reports what sg.check reports, with the same verdict."""
    from shapegraph.tools.cli import main

    code = main(["check", c.spec, *c.cli_args, "--format", "json"])
    doc = json.loads(capsys.readouterr().out)
    report = check_case(c)
    assert Counter((d["code"], d["path"] or ROOT) for d in doc["diagnostics"]) == found(report)
    assert code == (0 if report.ok else 1) and doc["ok"] == report.ok
    assert doc["verdict"] == report.verdict


def test_cli_graph_other_extension(tmp_path: Path) -> None:
    c = case("wrong_in_units_with_input")
    out = tmp_path / "net.png"
    p = run("check", c.spec, *c.cli_args, "--graph", str(out))
    assert p.returncode == 1
    is_png = out.exists() and out.read_bytes().startswith(b"\x89PNG")
    assert is_png or (p.stderr.strip() and not out.exists()), p.stderr
