"""Bad input to ``shapegraph check`` exits 2 with one line on stderr, never a traceback of
shapegraph's own code (issue 8): absurd dims, model files that exit, are interrupted,
hold NUL bytes, recurse, fail to import, or name something that is not a Block."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from shapegraph.tools.cli import main

CHECK = importlib.import_module("shapegraph.api.check")  # the module (sg.check is the function)
ROOT = Path(__file__).resolve().parent.parent
GOOD = ("from shapegraph import nn\n\nnet = nn.Sequential()\n"
        'net.add(nn.Dense(256, activation="relu"), nn.Dense(10))\n')


def one_line(capsys: pytest.CaptureFixture[str], args: list[str]) -> str:
    """Run ``shapegraph ARGS`` in-process; assert exit 2, nothing on stdout and one line on
    stderr, which is returned."""
    code = main(args)
    out, err = capsys.readouterr()
    assert code == 2, (code, out, err)
    assert out == "", out
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def model(tmp_path: Path, name: str, source: str | bytes) -> str:
    path = tmp_path / name
    if isinstance(source, bytes):
        path.write_bytes(source)
    else:
        path.write_text(source)
    return str(path)


# --------------------------------------------------------------------------- --input dims


def test_dim_with_more_digits_than_int_parses(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    net = model(tmp_path, "m.py", GOOD)
    line = one_line(capsys, ["check", f"{net}:net", "--input", "x=batch," + "1" * 5000])
    assert line.startswith("shapegraph check: --input 'x=batch,111")
    assert "dim 1 is a 5000-digit number" in line and "2**63-1" in line
    assert len(line) < 200, line


@pytest.mark.parametrize(("dim", "says"), [
    ("100000000000000000000", "dim 1 is 100000000000000000000, larger than any array"),
    ("9223372036854775808", "larger than any array can be"),
    ("-1", "dim 1 is -1: a size cannot be negative"),
    ("\u00b2", "is neither a size nor a symbol name"),   # str.isdigit() but not int()
    ("\u0663", "is neither a size nor a symbol name"),   # Arabic-Indic 3: ASCII only
    ("2.5", "is neither a size nor a symbol name"),
    ("", "is neither a size nor a symbol name"),
])
def test_absurd_dims(dim: str, says: str, tmp_path: Path,
                     capsys: pytest.CaptureFixture[str]) -> None:
    net = model(tmp_path, "m.py", GOOD)
    assert says in one_line(capsys, ["check", f"{net}:net", "--input", f"x=batch,{dim}"])


@pytest.mark.parametrize("dim", ["0", "000", "9223372036854775807"])
def test_zero_and_the_largest_size_are_sizes(dim: str, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    net = model(tmp_path, "m.py", GOOD)
    assert main(["check", f"{net}:net", "--input", f"x=batch,{dim}", "--color", "never"]) == 0
    assert f"f32[batch,{int(dim)}]" in capsys.readouterr().out


# --------------------------------------------------------------------------- model files


@pytest.mark.parametrize(("source", "says"), [
    ("import sys\nsys.exit(3)\n", "m.py: the model file called sys.exit(3) while loading"),
    ("import sys\nsys.exit()\n", "m.py: the model file called sys.exit() while loading"),
    ("import sys\nsys.exit('bye')\n", "the model file called sys.exit('bye') while loading"),
    ("raise SystemExit(0)\n", "the model file called sys.exit(0) while loading"),
    ("raise KeyboardInterrupt\n", "m.py: interrupted (KeyboardInterrupt) while loading"),
    (b"x = 1\n\x00\n", "m.py:2: contains a NUL byte"),
    (b"x = '\xff'\n", "m.py:1: syntax error:"),
])
def test_model_file_problems(source: str | bytes, says: str, tmp_path: Path,
                             capsys: pytest.CaptureFixture[str]) -> None:
    net = model(tmp_path, "m.py", source)
    line = one_line(capsys, ["check", f"{net}:net"])
    assert line.startswith("shapegraph check: ") and says in line, line
    assert "None" not in line


def test_a_base_exception_of_the_models_own(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    stop = "class Stop(BaseException):\n    pass\n\n"
    loading = model(tmp_path, "a.py", stop + "raise Stop('at import')\n")
    tracing = model(tmp_path, "b.py", stop + "from shapegraph import nn\n\nclass B(nn.Block):"
                    "\n    def forward(self, x):\n        raise Stop('in forward')\n\nnet = B()\n")
    for target, says in [(f"{loading}:net", f"{loading} raised Stop: at import"),
                         (f"{tracing}:net", f"{tracing}:net raised Stop: in forward")]:
        assert main(["check", target, "--input", "x=batch,3"]) == 2
        out, err = capsys.readouterr()
        assert out == "" and err.startswith(f"shapegraph check: {says}\n"), err
        assert "/shapegraph/" not in err


def test_forward_that_exits_or_is_interrupted(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    for body, says in [("import sys; sys.exit(4)", "the model called sys.exit(4) while being "
                        "checked"), ("raise KeyboardInterrupt", "interrupted (KeyboardInterrupt)"
                                     " while being checked")]:
        net = model(tmp_path, "m.py", "from shapegraph import nn\n\nclass B(nn.Block):\n"
                    f"    def forward(self, x):\n        {body}\n\nnet = B()\n")
        assert says in one_line(capsys, ["check", f"{net}:net", "--input", "x=batch,3"])


def test_factory_that_exits(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    net = model(tmp_path, "m.py", "import sys\n\ndef build():\n    sys.exit(5)\n")
    assert "(build()): the model called sys.exit(5) in build()" in one_line(
        capsys, ["check", f"{net}:build"])


def test_factory_with_a_type_error_inside_is_the_models_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    net = model(tmp_path, "m.py", "def build():\n    return None + 1\n")
    assert main(["check", f"{net}:build"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"shapegraph check: {net}:build (build()) raised TypeError:"), err
    assert "must be a Block or a function taking no arguments" not in err


def test_factory_that_takes_arguments(tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    net = model(tmp_path, "m.py", "def build(width):\n    pass\n")
    assert "build must be a Block or a function taking no arguments" in one_line(
        capsys, ["check", f"{net}:build"])


def test_recursion_and_memory_errors_name_the_model(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for source, says in [("def f():\n    return f()\n\nf()\n", "raised RecursionError"),
                         ("raise MemoryError\n", "raised MemoryError")]:
        net = model(tmp_path, "m.py", source)
        assert main(["check", f"{net}:net"]) == 2
        err = capsys.readouterr().err
        first, *rest = err.splitlines()
        assert first == f"shapegraph check: {net} {says}" + (
            ": maximum recursion depth exceeded" if "Recursion" in says else ""), first
        assert "/shapegraph/" not in err and len(rest) < 20, err


def test_module_getattr_that_raises(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    net = model(tmp_path, "m.py", "def __getattr__(name):\n    raise RuntimeError('lazy')\n")
    assert main(["check", f"{net}:net"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"shapegraph check: {net}:net raised RuntimeError: lazy"), err
    assert "/shapegraph/" not in err


def test_model_that_empties_sys_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    net = model(tmp_path, "m.py", "import sys\nsys.path.clear()\n" + GOOD)
    saved = list(sys.path)
    try:
        assert main(["check", f"{net}:net", "--color", "never"]) == 0
    finally:
        sys.path[:] = saved


@pytest.mark.parametrize(("target", "says"), [
    ("{tmp}/folder.py:net", "folder.py: is a folder, not a Python file"),
    ("{tmp}/not_a_block.py:C", "C is the class C, not a Block"),
    ("{tmp}/not_a_block.py:f", "f() returned a int, not a Block"),
    ("{tmp}/nope.py:net", "nope.py: no such file"),
    ("/dev/null:net", "/dev/null: not a regular file"),
    (".relative:net", ".relative: neither a file (path/to/model.py) nor a module name"),
    ("foo-bar:net", "foo-bar: neither a file"),
    ("no_such_pkg_for_test:net", "no_such_pkg_for_test: no such module"),
    ("json:dumps", "dumps must be a Block or a function taking no arguments"),
    ("x" * 300, "expected file.py:NAME or package.module:NAME"),
])
def test_bad_targets(target: str, says: str, tmp_path: Path,
                     capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "folder.py").mkdir()
    model(tmp_path, "not_a_block.py", "class C:\n    pass\n\n\ndef f():\n    return 1\n")
    line = one_line(capsys, ["check", target.format(tmp=tmp_path)])
    assert says in line and len(line) < 300, line


def test_module_with_a_nul_byte(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                monkeypatch: pytest.MonkeyPatch) -> None:
    model(tmp_path, "nul_module_for_test.py", b"x = 1\x00\n")
    monkeypatch.chdir(tmp_path)
    line = one_line(capsys, ["check", "nul_module_for_test:net"])
    assert line.startswith("shapegraph check: nul_module_for_test: syntax error:"), line
    assert "None" not in line


def test_module_that_exits(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                           monkeypatch: pytest.MonkeyPatch) -> None:
    model(tmp_path, "exit_module_for_test.py", "import sys\nsys.exit(3)\n")
    monkeypatch.chdir(tmp_path)
    assert one_line(capsys, ["check", "exit_module_for_test:net"]) == (
        "shapegraph check: exit_module_for_test: the module called sys.exit(3) while importing")


def test_unreadable_file(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                         monkeypatch: pytest.MonkeyPatch) -> None:
    net = model(tmp_path, "m.py", GOOD)

    def refuse(*args: object, **kw: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("shapegraph.tools.check_cli.open", refuse, raising=False)
    assert one_line(capsys, ["check", f"{net}:net"]) == (
        f"shapegraph check: {net}: cannot read: Permission denied")


# --------------------------------------------------------------------------- the command


def test_what_the_model_prints_goes_to_stderr(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    net = model(tmp_path, "m.py", "print('loading')\n" + GOOD)
    assert main(["check", f"{net}:net", "--input", "x=batch,20", "--format", "json"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["ok"] is True and err == "loading\n"


def test_graph_that_cannot_be_written_keeps_the_exit_code(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("graphviz")
    net = model(tmp_path, "m.py", GOOD)
    code = main(["check", f"{net}:net", "--input", "x=batch,20", "--graph",
                 f"{tmp_path}/no/such/dir/x.dot"])
    out, err = capsys.readouterr()
    assert code == 0 and out.rstrip().endswith("no problems")
    assert err.strip().endswith("cannot write: No such file or directory (no picture written)")


def test_an_internal_error_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kw: object) -> None:
        raise AssertionError("a bug")

    monkeypatch.setattr(CHECK, "check", broken)
    net = model(tmp_path, "m.py", GOOD)
    line = one_line(capsys, ["check", f"{net}:net"])
    assert line.startswith("shapegraph check: internal error: AssertionError: a bug"), line


def test_shapegraph_traceback_shows_where(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kw: object) -> None:
        raise AssertionError("a bug")

    monkeypatch.setattr(CHECK, "check", broken)
    monkeypatch.setenv("SHAPEGRAPH_TRACEBACK", "1")
    assert main(["check", f"{model(tmp_path, 'm.py', GOOD)}:net"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and 'raise AssertionError("a bug")' in err
    assert err.rstrip().splitlines()[-1].startswith("shapegraph check: internal error:")


def test_out_of_memory_in_our_code(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    def raise_it(*args: object, **kw: object) -> None:
        raise MemoryError

    monkeypatch.setattr(CHECK, "check", raise_it)
    net = model(tmp_path, "m.py", GOOD)
    assert one_line(capsys, ["check", f"{net}:net"]) == (
        "shapegraph check: out of memory (MemoryError)")


def test_interrupt_outside_the_models_code_is_130(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    def raise_it(*args: object, **kw: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("shapegraph.tools.check_cli.parse_inputs", raise_it)
    net = model(tmp_path, "m.py", GOOD)
    assert main(["check", f"{net}:net"]) == 130
    assert capsys.readouterr() == ("", "shapegraph: interrupted\n")


def test_usage_errors_return_their_code(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check"]) == 2
    assert "required: target" in capsys.readouterr().err
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("shapegraph ")


def test_subprocess_exit_code(tmp_path: Path) -> None:
    """What CI sees: ``python -m shapegraph check`` exits 2, one line, no traceback."""
    net = model(tmp_path, "m.py", "import sys\nsys.exit(3)\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for args in ([f"{net}:net"], [f"{tmp_path}/m.py:net", "--input", "x=" + "1" * 5000]):
        p = subprocess.run([sys.executable, "-m", "shapegraph", "check", *args], cwd=tmp_path,
                           env=env, capture_output=True, text=True, timeout=60)
        assert p.returncode == 2, (p.stdout, p.stderr)
        assert p.stdout == "" and len(p.stderr.strip().splitlines()) == 1, p.stderr
        assert "Traceback" not in p.stderr
