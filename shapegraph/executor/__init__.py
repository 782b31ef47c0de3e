"""The numba executor: the only package that imports numba.

``lower`` turns a resolved graph into kernel steps (with fusions), ``plan`` assigns memory,
``codegen`` writes one function per plan, ``runtime`` validates and runs, ``kernels`` and
``templates`` are the compiled code.
"""
