"""Initializers, with Gluon's names and dispatch.

Subclass :class:`Initializer` and override ``_init_weight(self, name, data)`` (optionally
``_init_bias`` and friends); ``data`` is a float32 numpy array to fill in place. Random
initializers draw from ``self.rng``, a generator seeded from the global seed
(:func:`seed`) and the parameter's name, so the same seed gives the same values whether
a parameter was initialized at ``initialize()`` or deferred to the first forward.

>>> import numpy as np
>>> w = np.empty((2, 3), np.float32)
>>> Constant(0.5)("0.weight", w)
>>> float(w.sum())
3.0
"""

from __future__ import annotations

import hashlib
import math
from typing import Any

import numpy as np

__all__ = [
    "Constant",
    "Initializer",
    "MSRAPrelu",
    "Normal",
    "One",
    "Uniform",
    "Xavier",
    "Zero",
    "create",
    "rng_for",
    "seed",
]

_SEED = [0]


def seed(value: int) -> None:
    """Seed every initializer's random numbers (``sg.init.seed(42)``)."""
    _SEED[0] = int(value)


def rng_for(name: str) -> np.random.Generator:
    """The generator for parameter ``name``: depends on the global seed and the name only."""
    digest = hashlib.sha256(f"{_SEED[0]}:{name}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


class Initializer:
    """Base class: ``init(name, data)`` fills ``data`` according to the name's suffix.

    ``...weight`` -> ``_init_weight``, ``...bias`` -> ``_init_bias`` (zeros),
    ``...gamma`` -> ``_init_gamma`` (ones), ``...beta`` -> ``_init_beta`` (zeros),
    ``...running_mean`` -> zeros, ``...running_var`` -> ones, anything else ->
    ``_init_default``.
    """

    rng: np.random.Generator

    def __init__(self, **kwargs: Any) -> None:
        self._kwargs = kwargs
        self.rng = rng_for("")

    def __call__(self, name: str, data: np.ndarray) -> None:
        self.rng = rng_for(name)
        leaf = name.rsplit(".", 1)[-1]
        if leaf.endswith("weight"):
            self._init_weight(name, data)
        elif leaf.endswith("bias"):
            self._init_bias(name, data)
        elif leaf.endswith("gamma"):
            self._init_gamma(name, data)
        elif leaf.endswith("beta"):
            self._init_beta(name, data)
        elif leaf.endswith(("running_mean", "moving_mean")):
            self._init_zero(name, data)
        elif leaf.endswith(("running_var", "moving_var")):
            self._init_one(name, data)
        else:
            self._init_default(name, data)

    def _init_weight(self, name: str, data: np.ndarray) -> None:
        raise NotImplementedError(f"{type(self).__name__} must implement _init_weight")

    def _init_bias(self, name: str, data: np.ndarray) -> None:
        data[...] = 0.0

    def _init_gamma(self, name: str, data: np.ndarray) -> None:
        data[...] = 1.0

    def _init_beta(self, name: str, data: np.ndarray) -> None:
        data[...] = 0.0

    def _init_zero(self, name: str, data: np.ndarray) -> None:
        data[...] = 0.0

    def _init_one(self, name: str, data: np.ndarray) -> None:
        data[...] = 1.0

    def _init_default(self, name: str, data: np.ndarray) -> None:
        self._init_weight(name, data)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._kwargs.items())
        return f"{type(self).__name__}({args})"


class Uniform(Initializer):
    """Uniform on [-scale, scale] (Gluon's default, scale 0.07)."""

    def __init__(self, scale: float = 0.07) -> None:
        super().__init__(scale=scale)
        self.scale = scale

    def _init_weight(self, name: str, data: np.ndarray) -> None:
        data[...] = self.rng.uniform(-self.scale, self.scale, data.shape)


class Normal(Initializer):
    """Normal with mean 0 and standard deviation ``sigma``."""

    def __init__(self, sigma: float = 0.01) -> None:
        super().__init__(sigma=sigma)
        self.sigma = sigma

    def _init_weight(self, name: str, data: np.ndarray) -> None:
        data[...] = self.rng.normal(0.0, self.sigma, data.shape)


def _fans(shape: tuple[int, ...]) -> tuple[float, float]:
    if len(shape) < 2:
        return float(shape[0]) if shape else 1.0, float(shape[0]) if shape else 1.0
    receptive = math.prod(shape[2:]) if len(shape) > 2 else 1
    return float(shape[1] * receptive), float(shape[0] * receptive)


class Xavier(Initializer):
    """Xavier/Glorot: ``rnd_type`` "uniform" or "gaussian", ``factor_type`` "avg", "in"
    or "out", ``magnitude`` 3 (as in Gluon)."""

    def __init__(self, rnd_type: str = "uniform", factor_type: str = "avg",
                 magnitude: float = 3.0) -> None:
        super().__init__(rnd_type=rnd_type, factor_type=factor_type, magnitude=magnitude)
        if rnd_type not in ("uniform", "gaussian"):
            raise ValueError(f"Xavier rnd_type must be 'uniform' or 'gaussian', got {rnd_type!r}")
        if factor_type not in ("avg", "in", "out"):
            raise ValueError(f"Xavier factor_type must be 'avg', 'in' or 'out', "
                             f"got {factor_type!r}")
        self.rnd_type, self.factor_type, self.magnitude = rnd_type, factor_type, magnitude

    def _init_weight(self, name: str, data: np.ndarray) -> None:
        fan_in, fan_out = _fans(data.shape)
        factor = {"avg": (fan_in + fan_out) / 2.0, "in": fan_in, "out": fan_out}[self.factor_type]
        scale = math.sqrt(self.magnitude / factor)
        if self.rnd_type == "uniform":
            data[...] = self.rng.uniform(-scale, scale, data.shape)
        else:
            data[...] = self.rng.normal(0.0, scale, data.shape)


class MSRAPrelu(Xavier):
    """He initialization for (P)ReLU networks: gaussian, ``factor_type`` "avg", slope 0.25."""

    def __init__(self, factor_type: str = "avg", slope: float = 0.25) -> None:
        super().__init__("gaussian", factor_type, 2.0 / (1 + slope**2))
        self._kwargs = {"factor_type": factor_type, "slope": slope}


class Constant(Initializer):
    """Every element set to ``value``."""

    def __init__(self, value: float) -> None:
        super().__init__(value=value)
        self.value = value

    def _init_weight(self, name: str, data: np.ndarray) -> None:
        data[...] = self.value

    _init_bias = _init_gamma = _init_beta = _init_default = _init_weight


class Zero(Constant):
    """Zeros."""

    def __init__(self) -> None:
        super().__init__(0.0)
        self._kwargs = {}


class One(Constant):
    """Ones."""

    def __init__(self) -> None:
        super().__init__(1.0)
        self._kwargs = {}


_BY_NAME: dict[str, type[Initializer]] = {
    "zeros": Zero, "zero": Zero, "ones": One, "one": One, "uniform": Uniform,
    "normal": Normal, "xavier": Xavier, "msraprelu": MSRAPrelu,
}


def create(spec: Initializer | str | None, what: str = "initializer") -> Initializer | None:
    """An initializer from an instance, a Gluon name (``"zeros"``, ``"xavier"``) or None."""
    if spec is None or isinstance(spec, Initializer):
        return spec
    if isinstance(spec, str) and spec.lower() in _BY_NAME:
        return _BY_NAME[spec.lower()]()
    known = ", ".join(sorted(_BY_NAME))
    raise ValueError(f"{what}: unknown initializer {spec!r}; use an Initializer instance or "
                     f"one of: {known}")
