"""numba, set up before its first use: every module that compiles imports it from here.

OpenMP's threads spin for about a millisecond after a parallel region, then sleep
(``GOMP_SPINCOUNT``, unless ``OMP_WAIT_POLICY`` or ``GOMP_SPINCOUNT`` is set already): the
regions of one forward call follow each other within microseconds, and waking a sleeping
thread costs 40-55 µs a region on a VM (2-4 µs when it spins), while a thread that spins
much longer (libgomp's default is about 7 ms here, ONNX Runtime's pool spins tens of ms)
takes a core from whatever runs next. BLAS stays on one thread while a plan's parallel
kernels run (:mod:`~shapegraph.executor.blas`). The OpenMP threading layer is preferred (it
allows parallel regions from several threads at once).
"""

import os

if "OMP_WAIT_POLICY" not in os.environ and "GOMP_SPINCOUNT" not in os.environ:
    # libgomp's spins of its wait loop: measured about 25 ns each here (40000: ~1 ms)
    os.environ["GOMP_SPINCOUNT"] = "40000"

import numba
from numba import njit, prange

setattr(numba.config, "THREADING_LAYER_PRIORITY", ["omp", "tbb", "workqueue"])  # noqa: B010

__all__ = ["njit", "numba", "prange"]
