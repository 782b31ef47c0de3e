"""numba, set up before its first use: every module that compiles imports it from here.

OpenMP's threads sleep after a parallel region (``OMP_WAIT_POLICY=passive``, unless set
already), so that they do not spin on the cores BLAS's threads need next; the OpenMP
threading layer is preferred (it allows parallel regions from several threads at once).
"""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "passive")

import numba
from numba import njit, prange

setattr(numba.config, "THREADING_LAYER_PRIORITY", ["omp", "tbb", "workqueue"])  # noqa: B010

__all__ = ["njit", "numba", "prange"]
