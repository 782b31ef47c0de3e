"""The numba executor: the only package that imports numba.

``lower`` turns a resolved graph into kernel steps (with fusions), ``plan`` assigns memory,
``codegen`` writes one function per plan, ``runtime`` validates and runs, ``kernels`` and
``templates`` are the compiled code.

Importing this package does not import numba (the front end imports ``model`` without
it, so that ``shapegraph check`` starts fast); ``jit`` does, and sets numba up first.

Threading: parallel kernels use numba's OpenMP layer when it is available (it allows
parallel regions from several threads at once; the runtime serializes calls otherwise),
and OpenMP's threads spin for about a millisecond after a parallel region, then sleep
(``GOMP_SPINCOUNT``, unless it or ``OMP_WAIT_POLICY`` is set already): a forward call's
regions then cost microseconds each, and nothing spins long after it.
"""
