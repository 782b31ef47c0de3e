"""The register tiles' sizes, and the store of a tile the output cannot hold: what the
modules of C-function tiles (``kernels_vgemm``, ``kernels_oconv``) share. It compiles
nothing at import, so that either of those modules can be imported, and its C functions
compiled, without the other (``helpers.share_import``)."""

from __future__ import annotations

import numpy as np
from llvmlite import binding as _llvm  # type: ignore[import-untyped]

from shapegraph.executor.jit import njit
from shapegraph.executor.simd import fload, fstore

__all__ = ["MR", "NR", "WIDE", "WR"]

MR = 8  # rows of C in a register tile
NR = 24  # columns of C in a register tile (three vectors); 8 for a last one of 8 or fewer


def _has_avx512() -> bool:
    """Whether numba compiles for this machine and it has AVX-512 (its 32 registers of 16
    floats). (numba's disk cache is kept per CPU and its features, so a kernel compiled
    with WIDE's value is never loaded on a machine with another.)"""
    from numba.core import config
    if (getattr(config, "CPU_NAME", None) or "host") != "host":
        return False
    try:
        return bool(_llvm.get_host_cpu_features().get("avx512f", False))
    except RuntimeError:  # (no feature list on this platform)
        return False


# Strips of 48 columns on 16-lane vectors where the machine has AVX-512: three registers a
# row as in the tile of 24, half the loads and broadcasts per multiply-add (one thread,
# products alone, hot: 105-111 GFLOP/s -> 114-117; 64 x 64 x 3072 95 -> 106)
WIDE = _has_avx512()
WR = 48  # columns of a wide tile


@njit(cache=True, nogil=True)
def _put(tmp: np.ndarray, t0: int | np.int64, c: int, co: int, ldc: int,
         rows: int | np.int64, cols: int, beta: float, ldt: int | np.int64) -> None:
    """C's rows x cols block at element co from address ``c`` = tmp's from its row t0
    (rows ``ldt`` apart) (+ beta * C)."""
    for i in range(rows):
        for t in range(cols):
            v = tmp[(t0 + i) * ldt + t]
            if beta != 0.0:
                v += np.float32(beta) * fload(c, co + i * ldc + t)
            fstore(c, co + i * ldc + t, v)
