"""The numba executor: the only package that imports numba.

``lower`` turns a resolved graph into kernel steps (with fusions), ``plan`` assigns memory,
``codegen`` writes one function per plan, ``runtime`` validates and runs, ``kernels`` and
``templates`` are the compiled code.

Threading: parallel kernels use numba's OpenMP layer when it is available (it allows
parallel regions from several threads at once; the runtime serializes calls otherwise),
and OpenMP's threads sleep after a parallel region (``OMP_WAIT_POLICY=passive``, unless
set already) so that they do not spin on the cores BLAS's threads need next.
"""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "passive")

import numba

setattr(numba.config, "THREADING_LAYER_PRIORITY", ["omp", "tbb", "workqueue"])  # noqa: B010
