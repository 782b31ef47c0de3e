"""``shapegraph check TARGET``: load a model from a file or module and report its shapes.

Exit codes: 0 consistent, 1 shape conflicts, 2 bad usage or an unreadable target. Loading
errors are one line naming the problem (no traceback of ours); a model file whose own code
raises is reported with that exception and the model's own traceback lines.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import os
import re
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stdout
from types import ModuleType
from typing import Any

__all__ = ["TargetError", "add_check_parser", "comment_inputs", "input_dtypes", "is_torch_module",
           "load_target", "parse_inputs", "run_check"]

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


class TargetError(Exception):
    """The target cannot be loaded; the message is the one line the user sees."""


_EPILOG = """\
examples:
  shapegraph check model.py:net --input x=batch,3,224,224
  shapegraph check a.py:net b.py:net        (each file's "# input: x=..." lines)
  shapegraph check zoo.cnn:make_net --input x=8,1,28,28 --format json
  shapegraph check resnet50.onnx --dim N=8 --graph resnet.svg

exit codes: 0 consistent, 1 shape conflicts, 2 bad usage or a target that cannot be
loaded (with several targets: the worst of them)
"""


def add_check_parser(sub: Any) -> None:
    p = sub.add_parser("check", help="report every shape conflict of a model",
                       description="Check a model's shapes without running it.",
                       epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("target", nargs="+", help="file.py:NAME or package.module:NAME (a Block "
                   "or a function returning one), or model.onnx; several are checked in turn")
    p.add_argument("--input", action="append", default=[], metavar="NAME=DIMS[:DTYPE]",
                   help="an input's dims, ints or symbol names: x=batch,3,224,224 "
                   "(repeat for several inputs; none: the model file's '# input: "
                   "x=...' comment lines, or else check the declarations alone); "
                   ":int64 or :int32 for token ids feeding an Embedding")
    p.add_argument("--dim", action="append", default=[], metavar="NAME=SIZE",
                   help="bind a symbolic dim to a size: N=8 (an ONNX dim_param, or a "
                   "symbol of --input)")
    p.add_argument("--format", choices=("text", "json"), default="text",
                   help="text (diagnostics, layer table, verdict; the default) or json "
                   "(one document; a list of them for several targets)")
    p.add_argument("--graph", metavar="FILE", help="write a picture of the graph "
                   "(.dot source, or .svg/.png/.pdf when Graphviz's dot is installed; "
                   "one target only)")
    p.add_argument("--color", choices=("auto", "always", "never"), default="auto",
                   help="color the text output: auto (on a terminal unless NO_COLOR is "
                   "set), always or never")


# --------------------------------------------------------------------------- loading

_MISSING = object()
_MODULE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*\Z")


def describe(e: BaseException) -> str:
    """``ZeroDivisionError: division by zero``, even when ``str(e)`` itself raises."""
    try:
        text = str(e)
    except Exception:
        text = "(its message cannot be printed)"
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


def _user_frames(tb: Any, files: set[str]) -> str:
    frames = [f for f in traceback.extract_tb(tb) if os.path.abspath(f.filename) in files]
    return "".join(traceback.format_list(frames))


def _model_error(e: BaseException, what: str, files: set[str]) -> TargetError:
    lines = _user_frames(e.__traceback__, files)
    tail = f"\nTraceback (the model's own code):\n{lines}" if lines else ""
    return TargetError(f"{what} raised {describe(e)}{tail}".rstrip())


@contextmanager
def model_code(what: str, doing: str, files: Callable[[], set[str]] = set,
               who: str = "the model file", catch: bool = True) -> Iterator[None]:
    """Run the model's own code: ``sys.exit`` and ``KeyboardInterrupt`` in it become a
    one-line TargetError, and so does any other exception (with the model's traceback
    lines, from the files ``files()`` names), except, unless ``catch``, an ``Exception``
    (which, once the model is loaded, can only come from shapegraph itself)."""
    try:
        yield
    except TargetError:
        raise
    except SystemExit as e:
        call = "sys.exit()" if e.code is None else f"sys.exit({e.code!r})"
        raise TargetError(f"{what}: {who} called {call} {doing}") from None
    except KeyboardInterrupt:  # raised by the model, or ^C: either way it did not load
        raise TargetError(f"{what}: interrupted (KeyboardInterrupt) {doing}") from None
    except Exception as e:
        if not catch:
            raise
        raise _model_error(e, what, files()) from None
    except BaseException as e:  # the model's own BaseException subclass (ours never are)
        raise _model_error(e, what, files()) from None


def _syntax_error(e: SyntaxError, where: str) -> TargetError:
    line = f":{e.lineno}" if e.lineno else ""
    return TargetError(f"{e.filename or where}{line}: syntax error: {e.msg}")


def _read_source(path: str) -> bytes:
    if os.path.isdir(path):
        raise TargetError(f"{path}: is a folder, not a Python file")
    if not os.path.exists(path):
        raise TargetError(f"{path}: no such file")
    if not os.path.isfile(path):  # a device, a pipe: reading it might never end
        raise TargetError(f"{path}: not a regular file, so not a Python file")
    try:
        with open(path, "rb") as f:
            source = f.read()
    except OSError as e:
        raise TargetError(f"{path}: cannot read: {e.strerror or e}") from None
    if b"\0" in source:  # compile() would say "null bytes" without a file or a line
        line = source.count(b"\n", 0, source.index(b"\0")) + 1
        raise TargetError(f"{path}:{line}: contains a NUL byte, so it is not Python "
                          "source (a binary file?)")
    return source


def _load_file(path: str) -> ModuleType:
    source = _read_source(path)
    try:  # bytes: compile() honours a coding declaration and a BOM, as python does
        code = compile(source, path, "exec")
    except SyntaxError as e:
        raise _syntax_error(e, path) from None
    except (ValueError, MemoryError, RecursionError) as e:
        raise TargetError(f"{path}: cannot compile: {describe(e)}") from None
    module = ModuleType("shapegraph_check_target")
    module.__file__ = os.path.abspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    sys.path.insert(0, folder)  # the model may import its neighbours
    try:
        with model_code(path, "while loading", lambda: {os.path.abspath(path)}):
            exec(code, module.__dict__)
    finally:
        if folder in sys.path:  # the model may have changed sys.path itself
            sys.path.remove(folder)
    return module


def _load_module(name: str) -> ModuleType:
    if not _MODULE.match(name):
        raise TargetError(f"{name}: neither a file (path/to/model.py) nor a module name "
                          "(package.module)")
    cwd = os.getcwd()
    sys.path.insert(0, cwd)
    try:
        with model_code(name, "while importing", lambda: _module_files(name), "the module"):
            try:
                return importlib.import_module(name)
            except ModuleNotFoundError as e:
                if e.name and name.startswith(e.name):
                    raise TargetError(f"{name}: no such module") from None
                raise
            except SyntaxError as e:
                raise _syntax_error(e, name) from None
    finally:
        if cwd in sys.path:
            sys.path.remove(cwd)


def _module_files(name: str) -> set[str]:
    mod = sys.modules.get(name)
    f = getattr(mod, "__file__", None)
    return {os.path.abspath(f)} if f else set()


def _split_target(spec: str) -> tuple[str, str, bool]:
    """``(where, NAME, is_file)`` of ``file.py:NAME`` or ``package.module:NAME``."""
    where, sep, name = spec.rpartition(":")
    if not sep or not where or not _NAME.match(name):
        raise TargetError(f"{_short(spec, 80)}: expected file.py:NAME or package.module:NAME")
    return where, name, where.endswith(".py") or os.sep in where or "/" in where


def load_target(spec: str) -> tuple[Any, str]:
    """(the Block or imported ONNX model, a display name) for ``file.py:NAME``,
    ``package.module:NAME`` or ``model.onnx``."""
    if spec.endswith(".onnx"):
        from shapegraph.onnx.importer import OnnxError, load_onnx

        try:
            return load_onnx(spec), spec
        except OnnxError as e:
            raise TargetError(str(e)) from None
    where, name, is_file = _split_target(spec)
    module = _load_file(where) if is_file else _load_module(where)
    module_file: str | None = getattr(module, "__file__", None)
    files = {os.path.abspath(module_file)} if module_file else set()
    with model_code(spec, "while loading", lambda: files):  # a module __getattr__ may raise
        obj = getattr(module, name, _MISSING)
    if obj is _MISSING:
        defined = sorted(k for k in vars(module) if not k.startswith("_"))
        raise TargetError(f"{spec}: {name} not found in {where} (it defines: "
                          f"{', '.join(defined[:12]) or 'nothing'})")
    return _as_block(obj, spec, name, files), spec


def _as_block(obj: Any, spec: str, name: str, files: set[str]) -> Any:
    """``obj`` itself when it is a Block, else what calling it without arguments returns."""
    from shapegraph.frontend.block import Block

    if isinstance(obj, Block):
        return obj
    _not_torch(obj, spec, name)
    if isinstance(obj, type) and not issubclass(obj, Block):
        raise TargetError(f"{spec}: {name} is the class {obj.__name__}, not a Block (nor a "
                          "function returning one)")
    if not callable(obj):
        raise TargetError(f"{spec}: {name} is a {type(obj).__name__}, not a Block or a "
                          "function returning one")
    _check_no_arguments(obj, spec, name)
    with model_code(f"{spec} ({name}())", f"in {name}()", lambda: files, "the model"):
        block = obj()
    _not_torch(block, spec, f"{name}()")
    if not isinstance(block, Block):
        raise TargetError(f"{spec}: {name}() returned a {type(block).__name__}, not a Block")
    return block


def is_torch_module(obj: Any) -> bool:
    """Whether ``obj`` is a ``torch.nn.Module`` (or that class or a subclass), told from its
    classes' modules, so that torch is never imported to find out."""
    classes = obj.__mro__ if isinstance(obj, type) else type(obj).__mro__
    return any(c.__name__ == "Module" and c.__module__.startswith("torch.nn")
               for c in classes)


def _not_torch(obj: Any, spec: str, name: str) -> None:
    if is_torch_module(obj):
        raise TargetError(f"{spec}: {name} is a PyTorch module; shapegraph checks shapegraph "
                          "Blocks and ONNX files (export with torch.onnx.export)")


def _check_no_arguments(fn: Any, spec: str, name: str) -> None:
    try:
        inspect.signature(fn).bind()
    except TypeError as e:
        raise TargetError(f"{spec}: {name} must be a Block or a function taking no "
                          f"arguments that returns one ({e})") from None
    except ValueError:  # no signature to read (some builtins): just call it
        pass


_MAX_DIM = 2**63 - 1  # numpy's largest array size (intp); no real dim is larger


def _short(text: str, n: int = 40) -> str:
    """``text`` quoted, cut to ``n`` characters (a 5000-digit dim stays one short line)."""
    return repr(text) if len(text) <= n else repr(text[:n]) + "..."


def _parse_dim(spec: str, j: int, tok: str) -> int | str:
    if re.fullmatch(r"[0-9]+", tok):  # ASCII only: int() also takes "٣", and "²" fails
        digits = tok.lstrip("0")
        if len(digits) > len(str(_MAX_DIM)) or int(digits or "0") > _MAX_DIM:
            shown = tok if len(tok) <= 30 else f"a {len(digits)}-digit number"
            raise TargetError(f"--input {_short(spec)}: dim {j} is {shown}, larger than any "
                              f"array can be (at most 2**63-1 = {_MAX_DIM})")
        return int(digits or "0")
    if _NAME.match(tok):
        return tok
    if re.fullmatch(r"-[0-9]+", tok):
        raise TargetError(f"--input {_short(spec)}: dim {j} is {tok[:30]}: a size cannot be "
                          "negative (a symbol name such as batch stands for a size that varies)")
    raise TargetError(f"--input {_short(spec)}: dim {j} {_short(tok, 30)} is neither a size nor "
                      "a symbol name")


def parse_inputs(specs: list[str]) -> dict[str, tuple[int | str, ...]]:
    """``["x=batch,20"]`` -> ``{"x": ("batch", 20)}``; TargetError for a malformed one.

    A size is a whole number from 0 (an empty dim, as numpy allows) to 2**63-1. A spec may
    end in ``:int64`` or ``:int32`` (token ids for an embedding; see ``input_dtypes``)."""
    out: dict[str, tuple[int | str, ...]] = {}
    for spec in specs:
        name, eq, dims = spec.partition("=")
        dims = _split_dtype(spec, dims)[0]
        name = name.strip()
        if not eq or not re.fullmatch(r"[^\s=,:]+", name):  # ONNX names: gpu_0/data_0
            raise TargetError(f"--input {_short(spec)}: expected NAME=DIMS, e.g. "
                              "x=batch,3,224,224")
        if name in out:
            raise TargetError(f"--input {_short(spec)}: input `{name}` is given twice")
        out[name] = tuple(_parse_dim(spec, j, t.strip()) for j, t in enumerate(dims.split(",")))
    return out


def parse_dims(specs: list[str]) -> dict[str, int]:
    """``["N=8"]`` -> ``{"N": 8}``; TargetError for a malformed one."""
    out: dict[str, int] = {}
    for spec in specs:
        name, eq, size = spec.partition("=")
        if not eq or not _NAME.match(name.strip()) or not re.fullmatch(r"[0-9]+", size.strip()):
            raise TargetError(f"--dim {_short(spec)}: expected NAME=SIZE, e.g. N=8")
        out[name.strip()] = int(size)
    return out


def _bind_dims(net: Any, given: dict[str, tuple[int | str, ...]],
               sizes: dict[str, int]) -> dict[str, tuple[int | str, ...]]:
    """The inputs with each ``--dim`` symbol replaced by its size; for an ONNX model given
    no ``--input``, its declared inputs' dim_params."""
    if not sizes:
        return given
    from shapegraph.onnx.importer import OnnxModel

    if not given and isinstance(net, OnnxModel):
        given = {n: tuple(d if isinstance(d, int) else str(d) for d in t.shape)
                 for n, t in net.input_types.items()}
    used = {d for dims in given.values() for d in dims if isinstance(d, str)}
    unknown = sorted(set(sizes) - used)
    if unknown:
        raise TargetError(f"--dim {unknown[0]}: no input has a dim named `{unknown[0]}` "
                          f"(symbols: {', '.join(sorted(used)) or 'none'})")
    return {n: tuple(sizes.get(d, d) if isinstance(d, str) else d for d in dims)
            for n, dims in given.items()}


def _split_dtype(spec: str, dims: str) -> tuple[str, str]:
    """``"batch,20:int64"`` -> ``("batch,20", "int64")``; float32 without a suffix."""
    from shapegraph.api.compile import INPUT_DTYPES

    dims, colon, dtype = dims.partition(":")
    if not colon:
        return dims, "float32"
    if dtype.strip() not in INPUT_DTYPES:
        raise TargetError(f"--input {_short(spec)}: unknown dtype {_short(dtype, 30)}; use "
                          f"one of {', '.join(INPUT_DTYPES)} (int32/int64 for token ids)")
    return dims, dtype.strip()


def input_dtypes(specs: list[str]) -> dict[str, str]:
    """The dtype of each ``--input`` (``x=batch,20:int64``), float32 by default."""
    return {spec.partition("=")[0].strip(): _split_dtype(spec, spec.partition("=")[2])[1]
            for spec in specs}


# --------------------------------------------------------------------------- running


def _ordered_inputs(net: Any, given: dict[str, tuple[int | str, ...]],
                    dtypes: dict[str, str]) -> list[Any]:
    from shapegraph.api.compile import Input
    from shapegraph.frontend.root import input_names

    if not given:
        return []
    from shapegraph.onnx.importer import OnnxModel

    onnx_model = isinstance(net, OnnxModel)
    names = list(net.input_types) if onnx_model else input_names(net, None)
    unknown = [n for n in given if n not in names]
    if unknown:
        raise TargetError(f"--input {unknown[0]}: the network has no input `{unknown[0]}` "
                          f"(its inputs: {', '.join(names) or 'none'})")
    missing = [n for n in names if n not in given]
    if missing:
        raise TargetError(f"--input: give every input ({', '.join(names)}) or none; "
                          f"`{missing[0]}` is missing")
    if onnx_model:  # ONNX names need not be identifiers: the shapes, in input order
        return [given[n] for n in names]
    try:
        return [Input(n, given[n], dtypes.get(n, "float32")) for n in names]
    except ValueError as e:
        raise TargetError(f"--input: {e}") from None


def _use_color(choice: str) -> bool:
    if choice == "always":
        return True
    if choice == "never" or os.environ.get("NO_COLOR"):
        return False
    return sys.stdout.isatty()


def run_check(args: argparse.Namespace) -> int:
    """The ``check`` subcommand; returns the exit code (with several targets, the worst)."""
    targets: list[str] = list(args.target)
    if args.graph and len(targets) > 1:
        print(f"shapegraph check: --graph {args.graph}: draws one target, and "
              f"{len(targets)} are given", file=sys.stderr)
        return 2
    one_list = args.format == "json" and len(targets) > 1  # several JSON documents: a list
    color = _use_color(args.color) and args.format == "text"
    codes, shown = [], []
    for target in targets:
        report = _checked(args, target)
        codes.append(2 if report is None else 0 if report.ok else 1)
        if report is None:
            continue
        shown.append(report.render(args.format, color=color))
        if not one_list:
            print(("\n" if len(shown) > 1 else "") + shown[-1])
        if args.graph:
            _write_graph(report, args.graph)
    if one_list:
        print("[\n" + ",\n".join(shown) + "\n]" if shown else "[]")
    return max(codes)


def _checked(args: argparse.Namespace, target: str) -> Any:
    """The report for ``target``, or None when it cannot be loaded (said on stderr)."""
    try:
        with redirect_stdout(sys.stderr):  # what the model prints must not spoil the report
            return _report(args, target)
    except TargetError as e:
        print(f"shapegraph check: {e}", file=sys.stderr)
        return None


_INPUT_COMMENT = re.compile(r"^#[ \t]*input:[ \t]*(.*?)[ \t]*$", re.M)


def comment_inputs(target: str) -> list[str]:
    """The ``# input: x=batch,1,28,28`` comment lines of a model file target, in
    ``--input`` syntax; none for a module, an ONNX file, or a file without them."""
    if target.endswith(".onnx"):
        return []
    where, _, is_file = _split_target(target)
    if not is_file or not os.path.isfile(where):
        return []  # loading it says what is wrong
    text = _read_source(where).decode("utf-8", "replace")
    specs = []
    for m in _INPUT_COMMENT.finditer(text):
        line = text.count("\n", 0, m.start()) + 1
        try:
            parse_inputs([m.group(1)])
        except TargetError as e:
            raise TargetError(f"{where}:{line}: # input: {e}".replace(": --input ", ": ", 1)
                              ) from None
        specs.append(m.group(1))
    return specs


def _report(args: argparse.Namespace, target: str) -> Any:
    from shapegraph.api.check import check

    specs = args.input or comment_inputs(target)
    given = parse_inputs(specs)
    net, display = load_target(target)
    given = _bind_dims(net, given, parse_dims(args.dim))
    # forward runs (traced) from here on: an exception in it is an SG302 diagnostic, but
    # sys.exit and KeyboardInterrupt would leave the command without a word
    with model_code(display, "while being checked", who="the model", catch=False):
        inputs = _ordered_inputs(net, given, input_dtypes(specs))
        return check(net, *inputs, target=display)


def _write_graph(report: Any, path: str) -> None:
    """The picture never changes the exit code: a failure is a message on stderr."""
    from shapegraph.render.picture import write_picture

    try:
        message = write_picture(report, path)
    except OSError as e:
        message = f"--graph {path}: cannot write: {e.strerror or e} (no picture written)"
    if message:
        print(message, file=sys.stderr)
