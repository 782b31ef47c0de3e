"""sgemm from compiled kernels, and the one thread pool.

``sgemm_rm`` calls BLAS sgemm (scipy's OpenBLAS, the library numba's ``np.dot`` uses) from
numba code on row-major operands given as array views, with their leading dimensions and
``beta`` (0 overwrites the output, 1 accumulates into it): no copies, no contiguity checks,
and, unlike a ctypes function pointer, the compiled kernel can be cached on disk (the call
goes through numba's own ``numba_xxgemm`` helper, resolved by name when the cache loads).

Threads: shapegraph's parallel kernels split their work over numba's threads and call
sgemm from each of them, so BLAS must not start threads of its own (two pools on two
cores fight: measured 10-100x slower calls). ``single_threaded_blas()`` sets scipy's
OpenBLAS to one thread while a plan runs and restores the caller's setting afterwards.
"""

from __future__ import annotations

import ctypes
import glob
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, cast

import numpy as np
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic
from numba.np.linalg import ensure_blas

from shapegraph.executor.jit import njit

__all__ = ["blas_threads_controlled", "sgemm_rm", "sgemv_rm", "single_threaded_blas"]

ensure_blas()  # type: ignore[no-untyped-call]  # scipy's BLAS, found by numba's helper

# numba's helper around scipy's cython sgemm/dgemm (column-major; called in compiled code)
_XXGEMM: Any = types.ExternalFunction("numba_xxgemm", types.intc(
    types.char, types.char, types.char, types.intp, types.intp, types.intp,
    types.voidptr, types.voidptr, types.intp, types.voidptr, types.intp,
    types.voidptr, types.voidptr, types.intp))


def _ptr_typing(typingctx: Any, arr: Any) -> Any:
    """The data pointer of an array (or view) as ``void*``."""
    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        ary = context.make_array(sig.args[0])(context, builder, args[0])
        return builder.bitcast(ary.data, cgutils.voidptr_t)
    return types.voidptr(arr), codegen


# called as _ptr(array) in compiled code (the typing context is numba's)
_ptr = cast(Callable[[np.ndarray], Any], intrinsic(_ptr_typing))


@njit(cache=True, nogil=True)
def sgemm_rm(m: int, n: int, k: int, a: np.ndarray, lda: int, b: np.ndarray, ldb: int,
             c: np.ndarray, ldc: int, beta: float) -> None:
    """Row-major ``C[m, n] = A[m, k] @ B[k, n] + beta * C``: ``a``, ``b``, ``c`` are float32
    views whose first element is the operand's [0, 0], rows ``lda``/``ldb``/``ldc`` elements
    apart. (Column-major BLAS computes C^T = B^T A^T on the same memory.)"""
    alpha = np.ones(1, np.float32)
    bet = np.full(1, beta, np.float32)
    no = np.int8(110)  # "n": no transpose; "s": single precision
    _XXGEMM(np.int8(115), no, no, n, m, k, _ptr(alpha), _ptr(b), ldb, _ptr(a), lda, _ptr(bet),
            _ptr(c), ldc)


# numba's helper around scipy's cython sgemv/dgemv (column-major, unit strides)
_XXGEMV: Any = types.ExternalFunction("numba_xxgemv", types.intc(
    types.char, types.char, types.intp, types.intp, types.voidptr, types.voidptr,
    types.intp, types.voidptr, types.voidptr, types.voidptr))


@njit(cache=True, nogil=True)
def sgemv_rm(n: int, k: int, x: np.ndarray, b: np.ndarray, ldb: int, y: np.ndarray) -> None:
    """Row-major ``y[n] = x[k] @ B[k, n]``: ``b`` a float32 view whose first element is
    B[0, 0], rows ``ldb`` elements apart (a block of columns of a wider matrix); ``x`` and
    ``y`` contiguous. (Column-major BLAS computes y = B^T x with B^T n x k, lda = ldb.)"""
    alpha = np.ones(1, np.float32)
    bet = np.zeros(1, np.float32)
    _XXGEMV(np.int8(115), np.int8(110), n, k, _ptr(alpha), _ptr(b), ldb, _ptr(x), _ptr(bet),
            _ptr(y))


# ------------------------------------------------------------------------- BLAS threads


def _openblas() -> tuple[Any, Any] | None:
    """(set_num_threads, get_num_threads) of the OpenBLAS numba calls (scipy's), or None
    when it cannot be found (another BLAS: its threads are left alone)."""
    try:
        import scipy
    except ImportError:  # pragma: no cover - scipy is a dependency
        return None
    libs = os.path.join(os.path.dirname(os.path.dirname(scipy.__file__)), "scipy.libs")
    for path in sorted(glob.glob(os.path.join(libs, "*openblas*"))):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for prefix in ("scipy_openblas", "openblas"):
            setter = getattr(lib, f"{prefix}_set_num_threads", None)
            getter = getattr(lib, f"{prefix}_get_num_threads", None)
            if setter is not None and getter is not None:
                setter.argtypes, setter.restype = [ctypes.c_int], None
                getter.argtypes, getter.restype = [], ctypes.c_int
                return setter, getter
    return None


_CONTROL = _openblas()
_LOCK = threading.Lock()
_ACTIVE = [0, 0]  # plans running now, the BLAS thread count to restore when none is


def blas_threads_controlled() -> bool:
    """Whether shapegraph found scipy's OpenBLAS and keeps it to one thread while it runs."""
    return _CONTROL is not None


@contextmanager
def single_threaded_blas() -> Iterator[None]:
    """BLAS on one thread (the calling one) for the duration: the kernels' own threads do
    the parallel work. Nested and concurrent uses restore the setting when the last ends."""
    if _CONTROL is None:
        yield
        return
    setter, getter = _CONTROL
    with _LOCK:
        if _ACTIVE[0] == 0:
            _ACTIVE[1] = getter()
            if _ACTIVE[1] != 1:
                setter(1)
        _ACTIVE[0] += 1
    try:
        yield
    finally:
        with _LOCK:
            _ACTIVE[0] -= 1
            if _ACTIVE[0] == 0 and _ACTIVE[1] != 1:
                setter(_ACTIVE[1])
