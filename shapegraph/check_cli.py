"""``shapegraph check TARGET``: load a model from a file or module and report its shapes.

Exit codes: 0 consistent, 1 shape conflicts, 2 bad usage or an unreadable target. Loading
errors are one line naming the problem (no traceback of ours); a model file whose own code
raises is reported with that exception and the model's own traceback lines.
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import sys
import traceback
from types import ModuleType
from typing import Any

__all__ = ["TargetError", "add_check_parser", "load_target", "parse_inputs", "run_check"]

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


class TargetError(Exception):
    """The target cannot be loaded; the message is the one line the user sees."""


def add_check_parser(sub: Any) -> None:
    p = sub.add_parser("check", help="report every shape conflict of a model",
                       description="Check a model's shapes without running it.")
    p.add_argument("target", help="file.py:NAME or package.module:NAME (a Block or a "
                   "function returning one)")
    p.add_argument("--input", action="append", default=[], metavar="NAME=DIMS",
                   help="an input's dims, ints or symbol names: x=batch,3,224,224 "
                   "(repeat for several inputs; none: check the declarations alone)")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.add_argument("--graph", metavar="FILE", help="write a picture of the graph "
                   "(.dot source, or .svg/.png/.pdf when Graphviz's dot is installed)")
    p.add_argument("--color", choices=("auto", "always", "never"), default="auto")


# --------------------------------------------------------------------------- loading


def _user_frames(tb: Any, files: set[str]) -> str:
    frames = [f for f in traceback.extract_tb(tb) if os.path.abspath(f.filename) in files]
    return "".join(traceback.format_list(frames))


def _model_error(e: BaseException, what: str, files: set[str]) -> TargetError:
    lines = _user_frames(e.__traceback__, files)
    tail = f"\nTraceback (the model's own code):\n{lines}" if lines else ""
    return TargetError(f"{what} raised {type(e).__name__}: {e}{tail}".rstrip())


def _load_file(path: str) -> ModuleType:
    if not os.path.isfile(path):
        raise TargetError(f"{path}: no such file")
    try:
        with open(path, encoding="utf-8") as f:
            source = f.read()
        code = compile(source, path, "exec")
    except SyntaxError as e:
        raise TargetError(f"{path}:{e.lineno}: syntax error: {e.msg}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise TargetError(f"{path}: cannot read: {e}") from None
    module = ModuleType("shapegraph_check_target")
    module.__file__ = os.path.abspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    sys.path.insert(0, folder)  # the model may import its neighbours
    try:
        exec(code, module.__dict__)
    except Exception as e:
        raise _model_error(e, path, {os.path.abspath(path)}) from None
    finally:
        sys.path.remove(folder)
    return module


def _load_module(name: str) -> ModuleType:
    sys.path.insert(0, os.getcwd())
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as e:
        if e.name and name.startswith(e.name):
            raise TargetError(f"{name}: no such module") from None
        raise _model_error(e, name, _module_files(name)) from None
    except SyntaxError as e:
        raise TargetError(f"{e.filename}:{e.lineno}: syntax error: {e.msg}") from None
    except Exception as e:
        raise _model_error(e, name, _module_files(name)) from None
    finally:
        sys.path.remove(os.getcwd())


def _module_files(name: str) -> set[str]:
    mod = sys.modules.get(name)
    f = getattr(mod, "__file__", None)
    return {os.path.abspath(f)} if f else set()


def load_target(spec: str) -> tuple[Any, str]:
    """(the Block, a display name) for ``file.py:NAME`` or ``package.module:NAME``."""
    from shapegraph.nn.block import Block

    where, sep, name = spec.rpartition(":")
    if where.endswith(".onnx") or spec.endswith(".onnx"):
        raise TargetError(f"{spec}: ONNX targets are not supported yet (a later release "
                          "imports ONNX files); give file.py:NAME or package.module:NAME")
    if not sep or not where or not _NAME.match(name):
        raise TargetError(f"{spec!r}: expected file.py:NAME or package.module:NAME")
    is_file = where.endswith(".py") or os.sep in where or "/" in where
    module = _load_file(where) if is_file else _load_module(where)
    module_file: str | None = getattr(module, "__file__", None)
    files = {os.path.abspath(module_file)} if module_file else set()
    if not hasattr(module, name):
        defined = sorted(k for k in vars(module) if not k.startswith("_"))
        raise TargetError(f"{spec}: {name} not found in {where} (it defines: "
                          f"{', '.join(defined[:12]) or 'nothing'})")
    obj = getattr(module, name)
    if not isinstance(obj, Block) and callable(obj):
        try:
            obj = obj()
        except TypeError as e:
            raise TargetError(f"{spec}: {name} must be a Block or a function taking no "
                              f"arguments that returns one ({e})") from None
        except Exception as e:
            raise _model_error(e, f"{spec} ({name}())", files) from None
    if not isinstance(obj, Block):
        raise TargetError(f"{spec}: {name} is a {type(obj).__name__}, not a Block or a "
                          "function returning one")
    return obj, spec


def parse_inputs(specs: list[str]) -> dict[str, tuple[int | str, ...]]:
    """``["x=batch,20"]`` -> ``{"x": ("batch", 20)}``; TargetError for a malformed one."""
    out: dict[str, tuple[int | str, ...]] = {}
    for spec in specs:
        name, eq, dims = spec.partition("=")
        name = name.strip()
        if not eq or not _NAME.match(name):
            raise TargetError(f"--input {spec!r}: expected NAME=DIMS, e.g. x=batch,3,224,224")
        if name in out:
            raise TargetError(f"--input {spec!r}: input `{name}` is given twice")
        parsed: list[int | str] = []
        for j, tok in enumerate(t.strip() for t in dims.split(",")):
            if tok.isdigit():
                parsed.append(int(tok))
            elif _NAME.match(tok):
                parsed.append(tok)
            else:
                raise TargetError(f"--input {spec!r}: dim {j} {tok!r} is neither a size nor "
                                  "a symbol name")
        out[name] = tuple(parsed)
    return out


# --------------------------------------------------------------------------- running


def _ordered_inputs(net: Any, given: dict[str, tuple[int | str, ...]]) -> list[Any]:
    from shapegraph.compile import Input
    from shapegraph.nn.root import input_names

    if not given:
        return []
    names = input_names(net, None)
    unknown = [n for n in given if n not in names]
    if unknown:
        raise TargetError(f"--input {unknown[0]}: the network has no input `{unknown[0]}` "
                          f"(its inputs: {', '.join(names) or 'none'})")
    missing = [n for n in names if n not in given]
    if missing:
        raise TargetError(f"--input: give every input ({', '.join(names)}) or none; "
                          f"`{missing[0]}` is missing")
    try:
        return [Input(n, given[n]) for n in names]
    except ValueError as e:
        raise TargetError(f"--input: {e}") from None


def _use_color(choice: str) -> bool:
    if choice == "always":
        return True
    if choice == "never" or os.environ.get("NO_COLOR"):
        return False
    return sys.stdout.isatty()


def run_check(args: argparse.Namespace) -> int:
    """The ``check`` subcommand; returns the exit code."""
    from shapegraph.check import check

    try:
        given = parse_inputs(args.input)
        net, display = load_target(args.target)
        inputs = _ordered_inputs(net, given)
    except TargetError as e:
        print(f"shapegraph check: {e}", file=sys.stderr)
        return 2
    report = check(net, *inputs, target=display)
    color = _use_color(args.color) and args.format == "text"
    print(report.render(args.format, color=color))
    if args.graph:
        from shapegraph.picture import write_picture

        message = write_picture(report, args.graph)
        if message:
            print(message, file=sys.stderr)
    return 0 if report.ok else 1
