"""numba, set up before its first use: every module that compiles imports it from here.

OpenMP's threads spin for about a millisecond after a parallel region, then sleep
(``GOMP_SPINCOUNT``, unless ``OMP_WAIT_POLICY`` or ``GOMP_SPINCOUNT`` is set already): the
regions of one forward call follow each other within microseconds, and waking a sleeping
thread costs 40-55 µs a region on a VM (2-4 µs when it spins), while a thread that spins
much longer (libgomp's default is about 7 ms here, ONNX Runtime's pool spins tens of ms)
takes a core from whatever runs next. BLAS stays on one thread while a plan's parallel
kernels run (:mod:`~shapegraph.executor.blas`). The OpenMP threading layer is preferred (it
allows parallel regions from several threads at once).

shapegraph's numba functions compile at LLVM optimization level :data:`OPT` (2; numba's
default is 3) unless ``NUMBA_OPT`` is set: ResNet-50's cold first call took 28.8-30.4 s at
level 3 and 22.4-28.5 s at level 2 (with one compile per callee; this VM's spread), and
the 40 costliest convolution shapes of the nine light models ran as fast (2026-12-06, one
thread). The register tiles, C functions compiled once at import (``cfunc``), keep level
3: they hold the hottest loops and compile no faster at 2. Only shapegraph's compilations
see the level (its ``njit`` passes :class:`Compiler`); other numba code in the process
keeps its own.
"""

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if "OMP_WAIT_POLICY" not in os.environ and "GOMP_SPINCOUNT" not in os.environ:
    # libgomp's spins of its wait loop: measured about 25 ns each here (40000: ~1 ms)
    os.environ["GOMP_SPINCOUNT"] = "40000"


def _wide_vectors() -> str | None:
    """The host's CPU features for numba with ``-prefer-256-bit``, where the host has
    AVX-512 and the user set neither ``NUMBA_CPU_NAME`` nor ``NUMBA_CPU_FEATURES``; else
    None. LLVM tunes its loop vectorizer to 256-bit vectors on Intel's AVX-512 cores (their
    512-bit instructions once lowered the clock): every loop shapegraph leaves to it (the
    generated convolutions and pools, the elementwise kernels) then ran on half the lanes.
    On an Intel Xeon with two 512-bit FMA units, LeNet at batch 64, one thread: 1260 ->
    787-841 µs; the ResNet blocks' generated Winograd 37.5 -> 43 µs a convolution. (The
    register tiles use 16-lane vectors explicitly, either way.) numba is process-wide: its
    other users in the process compile so too."""
    if "NUMBA_CPU_NAME" in os.environ or "NUMBA_CPU_FEATURES" in os.environ:
        return None
    try:
        from llvmlite import binding  # type: ignore[import-untyped]

        features = binding.get_host_cpu_features()
    except RuntimeError:  # (no feature list on this platform)
        return None
    if not features.get("avx512f", False):
        return None
    return str(features.flatten()) + ",-prefer-256-bit"


WIDE_VECTORS = _wide_vectors()
"""The CPU features shapegraph gives numba (``NUMBA_CPU_FEATURES``, read when numba is
imported; helper processes inherit it), or None for numba's own choice."""
if WIDE_VECTORS is not None:
    os.environ["NUMBA_CPU_FEATURES"] = WIDE_VECTORS

import numba  # noqa: E402  (after the environment above: numba reads it at import)
import numba.core.compiler  # noqa: E402
from numba import prange  # noqa: E402

setattr(numba.config, "THREADING_LAYER_PRIORITY", ["omp", "tbb", "workqueue"])  # noqa: B010
if WIDE_VECTORS is not None and getattr(numba.config, "CPU_FEATURES", None) is None:
    # numba was imported before shapegraph: its config read the environment without it
    setattr(numba.config, "CPU_FEATURES", WIDE_VECTORS)  # noqa: B010

__all__ = ["OPT", "WIDE_VECTORS", "Compiler", "njit", "numba", "prange"]

OPT = 2
"""LLVM's optimization level for shapegraph's kernels (where ``NUMBA_OPT`` is not set)."""


@contextmanager
def _opt_level() -> Iterator[None]:
    """numba's ``config.OPT`` at :data:`OPT` for the duration (numba reads it for each
    library it optimizes, under its compiler lock), unless the user set ``NUMBA_OPT``."""
    if "NUMBA_OPT" in os.environ:
        yield
        return
    config: Any = numba.core.config
    before = config.OPT
    config.OPT = config._OptLevel(OPT)
    try:
        yield
    finally:
        config.OPT = before


class Compiler(numba.core.compiler.Compiler):
    """numba's compiler pipeline, run at :data:`OPT` (nested compilations, such as a
    parallel loop's body or a callee's first compile, run inside it)."""

    def compile_extra(self, func: Any) -> Any:
        with _opt_level():
            return super().compile_extra(func)  # type: ignore[no-untyped-call]

    def compile_ir(self, func_ir: Any, lifted: Any = (), lifted_from: Any = None) -> Any:
        with _opt_level():
            return super().compile_ir(  # type: ignore[no-untyped-call]
                func_ir, lifted, lifted_from)


def _njit(*args: Any, **options: Any) -> Any:
    """``numba.njit`` with shapegraph's :class:`Compiler`."""
    options.setdefault("pipeline_class", Compiler)
    return numba.njit(*args, **options)


if TYPE_CHECKING:  # (mypy sees numba's own, untyped as they are)
    from numba import njit
else:
    njit = _njit
