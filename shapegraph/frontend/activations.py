"""Activation layers with parameters (Gluon 2's names): LeakyReLU, PReLU, ELU, SELU, Swish,
SiLU. Each emits one op whose record holds the parameter's default (the one place: the
signatures below read it from the record), its kernel and its ONNX mapping.

>>> from shapegraph import nn
>>> nn.LeakyReLU(0.1).describe(), nn.ELU().describe(), nn.PReLU(in_channels=16).describe()
('LeakyReLU(0.1)', 'ELU()', 'PReLU(in_channels=16)')
"""

from __future__ import annotations

from typing import Any, ClassVar

from shapegraph.frontend.init import Constant
from shapegraph.frontend.layer_args import POSITIONAL
from shapegraph.frontend.layers import Table, _Layer, _number, _positive
from shapegraph.frontend.params import Parameter
from shapegraph.opset.registry import attr_default

__all__ = ["ELU", "SELU", "LeakyReLU", "PReLU", "SiLU", "Swish"]


class _Param(_Layer):
    """An activation whose arguments are its op's attributes, under the same names."""

    shown: ClassVar[Table] = ()

    def _setup(self, **args: Any) -> None:
        name = type(self).__name__
        checked = {k: _number(v, k, name) for k, v in args.items()}
        _Layer.__init__(self, checked, checked)


class LeakyReLU(_Param):
    """``x`` for ``x >= 0``, ``alpha * x`` below (``alpha >= 0``, required as in Gluon).

    Fused into the output pass of a Dense or Conv before it, alpha included. Accepted for
    Gluon compatibility, with no effect: ``prefix``.
    """

    op = "leaky_relu"
    shown = (("alpha", POSITIONAL),)

    def __init__(self, alpha: float, *, prefix: str | None = None) -> None:
        if not isinstance(alpha, bool) and isinstance(alpha, int | float) and alpha < 0:
            raise ValueError(f"LeakyReLU: alpha must be >= 0, got {alpha!r}")
        self._setup(alpha=alpha)


class ELU(_Param):
    """``x`` for ``x >= 0``, ``alpha * (exp(x) - 1)`` below. Accepted for Gluon
    compatibility, with no effect: ``prefix``."""

    op = "elu"
    shown = (("alpha", attr_default("elu", "alpha")),)

    def __init__(self, alpha: float = attr_default("elu", "alpha"), *,
                 prefix: str | None = None) -> None:
        self._setup(alpha=alpha)


class SELU(_Param):
    """Scaled ELU with the fixed constants of Klambauer et al. (ONNX's defaults).
    Accepted for Gluon compatibility, with no effect: ``prefix``."""

    op = "selu"

    def __init__(self, *, prefix: str | None = None) -> None:
        self._setup()


class Swish(_Param):
    """``x * sigmoid(beta * x)``. Accepted for Gluon compatibility, with no effect:
    ``prefix``."""

    op = "silu"
    shown = (("beta", attr_default("silu", "beta")),)

    def __init__(self, beta: float = attr_default("silu", "beta"), *,
                 prefix: str | None = None) -> None:
        self._setup(beta=beta)


class SiLU(_Param):
    """``x * sigmoid(x)`` (Swish with beta 1). Accepted for Gluon compatibility, with no
    effect: ``prefix``."""

    op = "silu"

    def __init__(self, *, prefix: str | None = None) -> None:
        self._setup()


class PReLU(_Layer):
    """Leaky ReLU with a learned slope: one per channel (axis 1) with ``in_channels=C``, or
    one shared by every channel (``in_channels=1``, Gluon's default); ``in_channels=None``
    infers the channel count from the data. ``alpha_initializer`` defaults to
    ``Constant(0.25)``.

    ``params`` shares another layer's parameters. Accepted for Gluon compatibility, with no
    effect: ``prefix``.
    """

    op = "prelu"
    shown = (("in_channels", 1),)

    def __init__(self, alpha_initializer: Any = None, in_channels: int | None = 1, *,
                 prefix: str | None = None, params: dict[str, Parameter] | None = None,
                 ) -> None:
        args = {"in_channels": _positive(in_channels, "in_channels", "PReLU", allow_none=True)}
        init = Constant(0.25) if alpha_initializer is None else alpha_initializer
        super().__init__(args, args, {"alpha": init}, params=params)
