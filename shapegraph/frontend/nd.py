"""A tiny MXNet-style array shim: ``nd.array``, ``nd.zeros``, ``nd.ones``,
``nd.random.uniform(shape=...)``. Arrays are plain float32 numpy arrays.

>>> x = random.uniform(shape=(2, 20))
>>> x.shape, x.dtype
((2, 20), dtype('float32'))
"""

from __future__ import annotations

from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

import numpy as np

__all__ = ["array", "ones", "random", "zeros"]

_rng = [np.random.default_rng()]


def array(data: Any, dtype: Any = np.float32) -> np.ndarray:
    """``data`` as a new array (float32 unless told otherwise)."""
    return np.array(data, dtype=dtype)


def zeros(shape: int | Sequence[int], dtype: Any = np.float32) -> np.ndarray:
    return np.zeros(shape, dtype=dtype)


def ones(shape: int | Sequence[int], dtype: Any = np.float32) -> np.ndarray:
    return np.ones(shape, dtype=dtype)


def _seed(value: int) -> None:
    """Seed ``nd.random`` (and, as in MXNet, parameter initialization)."""
    from shapegraph.frontend import init

    _rng[0] = np.random.default_rng(value)
    init.seed(value)


def _uniform(low: float = 0.0, high: float = 1.0, shape: int | Sequence[int] = 1,
             dtype: Any = np.float32) -> np.ndarray:
    return _rng[0].uniform(low, high, shape).astype(dtype)


def _normal(loc: float = 0.0, scale: float = 1.0, shape: int | Sequence[int] = 1,
            dtype: Any = np.float32) -> np.ndarray:
    return _rng[0].normal(loc, scale, shape).astype(dtype)


random = SimpleNamespace(uniform=_uniform, normal=_normal, seed=_seed)
