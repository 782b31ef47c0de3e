"""Helper processes: how many a process may start (``workers``), their environment
(``helper_env``), and the import of the register tiles' modules shared with one.

The register tiles of ``kernels_vgemm`` and ``kernels_oconv`` are C functions, compiled
when their module is imported: about 3.4 and 2.4 s cold, the one after the other, before
any plan's kernels are compiled (``warm.precompile``, which shares those out). Whichever
of the two is imported first starts a helper that imports the other (``share_import``),
unless that one's C functions are in the disk cache already (``mark_imported``'s mark
beside numba's cache of it); when this process gets to the other, it waits for the helper
and loads them from the cache. Whatever goes wrong, each module compiles here as it always
did.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

__all__ = ["IMPORT_WAIT", "helper_env", "mark_imported", "share_import", "workers"]


def workers() -> int:
    """How many helper processes a cold first call may start."""
    env = os.environ.get("SHAPEGRAPH_COMPILE_WORKERS")
    if env is not None and env.strip():
        try:
            n = int(env)
        except ValueError:
            n = -1
        if n < 0:
            raise ValueError(f"SHAPEGRAPH_COMPILE_WORKERS must be a whole number of helper "
                             f"processes (0 for none), got {env!r}")
        return n
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return max(0, min(cores - 1, 3))


def helper_env() -> dict[str, str]:
    """A helper's environment: this process's, with this shapegraph first on its path, no
    helpers of its own, and numba's cache where this process has it (also when it was set
    in ``numba.config`` rather than the environment)."""
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])  # shapegraph's own import root
    env["PYTHONPATH"] = os.pathsep.join([root, *filter(None, [env.get("PYTHONPATH")])])
    env["SHAPEGRAPH_COMPILE_WORKERS"] = "0"
    cache_dir = _numba().config.CACHE_DIR
    if cache_dir:
        env["NUMBA_CACHE_DIR"] = str(cache_dir)
    return env


def _numba() -> Any:
    """numba, set up as every kernel module has it (untyped for mypy)."""
    from shapegraph.executor.jit import numba
    return numba


IMPORT_WAIT = 120.0  # a helper still importing after this long is stopped
_IMPORTS: dict[str, subprocess.Popen[bytes]] = {}


def share_import(this: str, other: str) -> None:
    """At the top of module ``this``, before its C functions compile: wait for the helper
    importing it, if one was started; else start a helper importing module ``other``,
    where it is not imported here, its C functions are not cached, and helpers may run
    (``workers``). Whatever goes wrong, each module compiles here as it always did."""
    proc = _IMPORTS.pop(this, None)
    if proc is not None:
        try:
            proc.wait(timeout=IMPORT_WAIT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        return
    try:
        if other in sys.modules or other in _IMPORTS or workers() == 0:
            return
        spec = importlib.util.find_spec(other)
        mark = _import_mark(spec.origin) if spec is not None and spec.origin else None
        if mark is None or mark.exists():
            return
        _IMPORTS[other] = subprocess.Popen(
            [sys.executable, "-c", f"import {other}"], stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=helper_env())
    except (OSError, ValueError, ImportError):
        return


def mark_imported(path: str) -> None:
    """At the end of the module at ``path``: its C functions are compiled or loaded, so
    they are in numba's disk cache (``share_import`` then starts no helper for it)."""
    mark = _import_mark(path)
    if mark is not None and not mark.exists():
        with contextlib.suppress(OSError):
            mark.touch()


def _import_mark(path: str) -> Path | None:
    """The file beside numba's disk cache of the module at ``path`` that says its C
    functions are cached, for its source as it is, this numba and this CPU; None where
    numba has no cache for it."""
    try:
        from llvmlite import binding  # type: ignore[import-untyped]
        from numba.core.caching import CacheImpl

        ns: dict[str, Any] = {}
        exec(compile("def f(): pass", path, "exec"), ns)  # a function of that file
        locators: list[Any] = CacheImpl._locator_classes
        for cls in locators:
            locator = cls.from_function(ns["f"], path)
            if locator is not None:
                break
        else:
            return None
        key = hashlib.sha1(Path(path).read_bytes())
        config: Any = _numba().config
        key.update(" ".join((_numba().__version__,
                             config.CPU_NAME or binding.get_host_cpu_name(),
                             config.CPU_FEATURES or binding.get_host_cpu_features().flatten())
                            ).encode())
        name = f"{Path(path).stem}.{key.hexdigest()[:16]}.imported"
        return Path(locator.get_cache_path()) / name
    except Exception:  # (numba's internals as they are in this version; else no helper)
        return None


@atexit.register
def _stop_import_helpers() -> None:
    for proc in _IMPORTS.values():
        proc.kill()
    _IMPORTS.clear()
