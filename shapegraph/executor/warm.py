"""Compiling a plan's kernels on more than one core.

A cold first call spends nearly all its time in numba compiling the kernels the plan calls
(ResNet-50: about 30 s on one core, 10-11 of them ``conv_gemm``). numba compiles on one
thread under a process-wide lock, so only another process can use another core. Before a
plan's first call, :func:`precompile` finds what that call would compile: the kernels its
steps call, with the exact argument types they will get, and, for compiled segments, the
segments.
Anything already compiled in this process or in numba's disk cache is left out. The rest is
split between this process and helper processes (``python -m shapegraph.executor.warm``),
in two stages with a barrier between them: the kernels, then the segments that link them.
Each process compiles its share into the shared disk cache, and the first call then loads
the helpers' share from there.

The argument types come from running each segment's Python code once with recorders in
place of the kernels. Those are the plan's own views of the weights, the arena, ``P`` and the
caller's arrays, so each view has the same type it has in the real call. In a compiled
segment a constant argument is typed as numba types a constant (a literal where numba has
one); a call from Python types it as an argument.

What a helper compiles is exactly what this process would have compiled: same function,
same types, same cache key. Nothing is decided from it. A helper that fails or is killed
costs only its share, which the first call then compiles as it always did.

``SHAPEGRAPH_COMPILE_WORKERS`` sets the number of helpers (0: none). The default is one per
further core this process may run on, at most 3. Below :data:`MIN_PARALLEL_SECONDS` of
estimated compile work no helper is started (a small model, or a warm cache).
"""

from __future__ import annotations

import os
import pickle
import struct
import subprocess
import sys
import threading
import types as pytypes
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from shapegraph.executor.helpers import helper_env, workers

__all__ = ["MIN_PARALLEL_SECONDS", "Unit", "helper_env", "kernel_calls", "precompile",
           "segment_type", "stages", "workers"]

# estimated cold compile seconds of a kernel (this machine, 2026-12-07, the first calls of
# five light models; what matters is their order and rough size, for the split): a kernel
# not named DEFAULT_SECONDS, a generated one (the plan module's templates: 1-6 s)
# TEMPLATE_SECONDS. A compiled segment links the code of every kernel it calls and
# optimizes it all again: SEGMENT_SECONDS plus its kernels' estimates (Inception v1's first
# segment: 50 s)
KERNEL_SECONDS = {"conv_gemm": 10.5, "oconv": 3.9, "wino_gemm": 5.7, "wino4_gemm": 5.5,
                  "dwconv": 5.7, "dwpool": 5.0, "conv_maxpool": 4.2, "pool_rows": 2.7,
                  "pool_same": 2.6, "pool_plane": 2.8, "maxpool_s2": 1.1, "dense_tiled": 3.4,
                  "lrn": 1.8,
                  "channel_affine": 1.0, "dense": 0.7, "activation": 0.6, "softmax": 0.4}
DEFAULT_SECONDS = 0.3
TEMPLATE_SECONDS = 4.0
SEGMENT_SECONDS = 1.0
HELPER_START_SECONDS = 1.0  # a helper's python, numba and shapegraph imports
MIN_PARALLEL_SECONDS = 3.0  # less estimated work than this: no helper
HELPER_TIMEOUT = 900.0  # a helper still compiling after this long is stopped
HELPER_COMMAND = [sys.executable, "-m", "shapegraph.executor.warm"]


class Unit(NamedTuple):
    """One compilation: function ``attr`` of module ``module`` (a file of its own at
    ``path`` for a generated plan module) for argument types ``argtypes``."""

    module: str
    path: str
    attr: str
    argtypes: tuple[Any, ...]
    cost: float


class _Recorder:
    """Stands in for a kernel: records the types of the arguments of each call."""

    def __init__(self, disp: Any, calls: list[tuple[Any, tuple[Any, ...]]],
                 constants: bool) -> None:
        self.disp = disp
        self.calls = calls
        self.constants = constants

    def __call__(self, *args: Any) -> None:
        self.calls.append((self.disp, tuple(_arg_type(a, self.constants) for a in args)))


def _arg_type(value: Any, constant: bool) -> Any:
    """numba's type for an argument: as a constant of the source (``constant``: a Python
    scalar or tuple in a compiled segment can only be one) or as an argument."""
    nb = _numba()
    purpose = nb.core.typing.typeof.Purpose
    if constant and isinstance(value, (bool, int, float, tuple)) and \
            not isinstance(value, np.generic):
        return nb.types.maybe_literal(value) or nb.typeof(value, purpose.constant)
    return nb.typeof(value, purpose.argument)


def _numba() -> Any:
    """numba, set up as every kernel module has it (untyped for mypy)."""
    import numba.core.typing.typeof

    from shapegraph.executor.jit import numba
    return numba


def kernel_calls(fn: Callable[..., None], w: np.ndarray, a: np.ndarray, threads: int,
                 ints: np.ndarray, arrays: Sequence[np.ndarray]
                 ) -> list[tuple[Any, tuple[Any, ...]]]:
    """(dispatcher, argument types) of every kernel call the segment ``fn`` (a numba
    dispatcher or a Python function) makes when run on these buffers, in order. Nothing is
    computed: the kernels are replaced by recorders, and only the views are built."""
    from numba.core.dispatcher import Dispatcher

    calls: list[tuple[Any, tuple[Any, ...]]] = []
    py = getattr(fn, "py_func", fn)
    compiled = py is not fn
    ns = {k: _Recorder(v, calls, compiled) if isinstance(v, Dispatcher) else v
          for k, v in py.__globals__.items()}
    replay = pytypes.FunctionType(py.__code__, ns, py.__name__, py.__defaults__,
                                  py.__closure__)
    replay(w, a, np.int64(threads), ints, *arrays)
    return calls


def segment_type(w: np.ndarray, a: np.ndarray, threads: int, ints: np.ndarray,
                 arrays: Sequence[np.ndarray]) -> tuple[Any, ...]:
    """The argument types of a compiled segment's call on these buffers."""
    nb = _numba()
    purpose = nb.core.typing.typeof.Purpose
    return tuple(nb.typeof(v, purpose.argument) for v in (w, a, threads, ints, *arrays))


def _cached(disp: Any, argtypes: tuple[Any, ...]) -> bool:
    """Whether ``disp`` has ``argtypes`` compiled in this process or in its disk cache."""
    if argtypes in disp.overloads:
        return True
    cache: Any = getattr(disp, "_cache", None)
    if type(cache).__name__ != "FunctionCache":
        return True  # no disk cache (``cache=False``): a helper's work would be lost
    # numba's own lookup (``Cache.load_overload``) without loading what it finds
    key = cache._index_key(argtypes, disp.targetctx.codegen())
    return key in cache._cache_file._load_index()


def _unit(disp: Any, argtypes: tuple[Any, ...], cost: float | None = None) -> Unit | None:
    py = disp.py_func
    module = sys.modules.get(py.__module__)
    path = getattr(module, "__file__", None)
    if module is None or path is None or getattr(module, py.__name__, None) is not disp:
        return None  # not reachable by name from another process
    if cost is None:
        generated = not py.__module__.startswith("shapegraph.")
        cost = TEMPLATE_SECONDS if generated else \
            KERNEL_SECONDS.get(py.__name__, DEFAULT_SECONDS)
    return Unit(py.__module__, path, py.__name__, argtypes, cost)


def stages(functions: Sequence[Callable[..., None]], w: np.ndarray, a: np.ndarray,
           threads: int, ints: np.ndarray, arrays: Sequence[np.ndarray]) -> list[list[Unit]]:
    """What a first call of the segments ``functions`` on these buffers would compile: the
    kernels, then the compiled segments that link them, each stage without duplicates and
    without what is compiled or cached already (a cached compiled segment compiles none of
    its kernels)."""
    kernels: list[Unit] = []
    segments: list[Unit] = []
    seen: set[tuple[Any, tuple[Any, ...]]] = set()
    seg_type = segment_type(w, a, threads, ints, arrays)
    for fn in functions:
        compiled = hasattr(fn, "py_func")
        if compiled and _cached(fn, seg_type):
            continue
        links = 0.0
        for disp, argtypes in dict.fromkeys(kernel_calls(fn, w, a, threads, ints, arrays)):
            u = _unit(disp, argtypes)
            links += u.cost if u is not None else DEFAULT_SECONDS
            if (disp, argtypes) in seen:
                continue
            seen.add((disp, argtypes))
            if u is not None and not _cached(disp, argtypes):
                kernels.append(u)
        if compiled and (u := _unit(fn, seg_type, SEGMENT_SECONDS + links)) is not None:
            segments.append(u)
    return [s for s in (kernels, segments) if s]


def split(units: Sequence[Unit], starts: Sequence[float]) -> list[list[Unit]]:
    """Longest first, each to the least loaded process (``starts``: each one's load
    already; this process is the first)."""
    loads = list(starts)
    shares: list[list[Unit]] = [[] for _ in starts]
    for u in sorted(units, key=lambda u: -u.cost):
        k = min(range(len(loads)), key=loads.__getitem__)
        shares[k].append(u)
        loads[k] += u.cost
    return shares


_LOCK = threading.Lock()


def precompile(functions: Sequence[Callable[..., None]], w: np.ndarray, a: np.ndarray,
               threads: int, ints: np.ndarray, arrays: Sequence[np.ndarray]) -> int:
    """Compile what the first call of these segments would, on this process and helpers
    (see the module's docstring); the number of helpers started (0: the first call compiles
    as it always did). Raises for a malformed ``SHAPEGRAPH_COMPILE_WORKERS`` only: whatever
    else this cannot do, the first call does."""
    n = workers()
    if n == 0:
        return 0
    with _LOCK:
        try:  # (the replay's views of an uninitialized arena: casts of any bits)
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                todo = stages(functions, w, a, threads, ints, arrays)
        except Exception:  # a view or a type this cannot replay: compile as always
            return 0
        total = sum(u.cost for stage in todo for u in stage)
        n = min(n, max(len(stage) for stage in todo) - 1) if todo else 0
        if total < MIN_PARALLEL_SECONDS or n == 0:  # (one unit a stage: nothing to share)
            return 0
        helpers = _start(n)
        if not helpers:
            return 0
        try:
            for k, stage in enumerate(todo):
                start = HELPER_START_SECONDS if k == 0 else 0.0
                own, *theirs = split(stage, [0.0] + [start] * len(helpers))
                for h, share in zip(helpers, theirs, strict=True):
                    h.send(share)
                _compile(own)
                for h in helpers:
                    h.wait_stage()
        except BaseException:  # interrupted: stop the helpers now
            for h in helpers:
                h.close(kill=True)
            raise
        for h in helpers:
            h.close()
        return len(helpers)


def _compile(units: Sequence[Unit]) -> None:
    """Compile each unit in this process (into the disk cache); one that fails is left to
    the first call, which reports whatever is wrong as it always did."""
    for u in units:
        try:
            _dispatcher(u).compile(u.argtypes)
        except Exception:
            continue


def _dispatcher(u: Unit) -> Any:
    """The unit's function: imported by name, or a generated plan module loaded from its
    file (both return the module already loaded, if it is)."""
    if u.module.startswith("shapegraph."):
        import importlib

        return getattr(importlib.import_module(u.module), u.attr)
    from shapegraph.executor.codegen import _load

    return getattr(_load(Path(u.path), u.module), u.attr)


class _Helper:
    """One helper process: sent a share per stage, answers a line when it is compiled."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            HELPER_COMMAND, stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=helper_env())
        self.timer = threading.Timer(HELPER_TIMEOUT, self.proc.kill)
        self.timer.daemon = True
        self.timer.start()
        self.alive = True

    def send(self, share: list[Unit]) -> None:
        if not self.alive:
            return
        data = pickle.dumps(share)
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.write(struct.pack("<Q", len(data)) + data)
            self.proc.stdin.flush()
        except OSError:  # it died: its share is compiled by the first call
            self.alive = False

    def wait_stage(self) -> None:
        if self.alive:
            assert self.proc.stdout is not None
            self.alive = self.proc.stdout.readline() == b"done\n"

    def close(self, kill: bool = False) -> None:
        try:
            if kill:
                self.proc.kill()
            if self.proc.stdin is not None:
                self.proc.stdin.close()
            self.proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()
        finally:
            self.timer.cancel()
            if self.proc.stdout is not None:
                self.proc.stdout.close()


def _start(n: int) -> list[_Helper]:
    helpers: list[_Helper] = []
    for _ in range(n):
        try:
            helpers.append(_Helper())
        except OSError:
            break
    return helpers


def _serve() -> None:
    """A helper's loop: read a share, compile it, answer ``done``; until stdin closes."""
    import shapegraph.executor.jit  # noqa: F401 (numba set up as in the parent)

    # the answers go to the parent on the original stdout; anything else printed goes
    # to stderr, so that no stray line can pass for one
    inp, out = sys.stdin.buffer, os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    while True:
        head = inp.read(8)
        if len(head) < 8:
            return
        (size,) = struct.unpack("<Q", head)
        share: list[Unit] = pickle.loads(inp.read(size))
        _compile(share)
        out.write(b"done\n")
        out.flush()


if __name__ == "__main__":
    _serve()
