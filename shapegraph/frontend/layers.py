"""Layers with Gluon's names and arguments. Each emits one op (plus its activation).

Parameters are declared from the op's parameter rule, so ``Dense(256)`` has a weight of
shape ``(256, None)`` and ``Dense(256, in_units=20)`` one of ``(256, 20)``.

Every argument a layer takes is in its signature: a name it does not know is a
``TypeError`` naming the closest one (:mod:`shapegraph.frontend.layer_args`). The few Gluon
arguments that mean nothing here are accepted only where a class lists them in ``ignored``
(and its docstring says so). A layer describes itself as the call that builds it, from its
``shown`` table of ``(argument, default)``:

>>> from shapegraph import nn
>>> nn.MaxPool2D(pool_size=3, strides=2).describe()
'MaxPool2D(pool_size=3, strides=2)'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from shapegraph.frontend.block import Block
from shapegraph.frontend.init import create
from shapegraph.frontend.layer_args import ALWAYS, POSITIONAL, call_args, call_string, strict_init
from shapegraph.frontend.params import Parameter
from shapegraph.frontend.trace import SymbolicTensor, current
from shapegraph.opset.base import AttrError
from shapegraph.opset.elementwise import ACTIVATIONS
from shapegraph.opset.registry import get_op

__all__ = [
    "GELU",
    "Activation",
    "AvgPool1D",
    "AvgPool2D",
    "AvgPool3D",
    "BatchNorm",
    "Conv1D",
    "Conv2D",
    "Conv3D",
    "Dense",
    "Dropout",
    "Embedding",
    "Flatten",
    "GlobalAvgPool1D",
    "GlobalAvgPool2D",
    "GlobalAvgPool3D",
    "GlobalMaxPool1D",
    "GlobalMaxPool2D",
    "GlobalMaxPool3D",
    "LayerNorm",
    "MaxPool1D",
    "MaxPool2D",
    "MaxPool3D",
]


def _positive(value: Any, what: str, layer: str, allow_none: bool = False) -> int | None:
    if value is None or (allow_none and value == 0):
        if allow_none:
            return None
        raise ValueError(f"{layer}: {what} is required")
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{layer}: {what} must be a positive int, got {value!r}")
    return value


def _tuple(value: Any, n: int, what: str, layer: str, minimum: int = 1) -> tuple[int, ...]:
    vals = (value,) * n if isinstance(value, int) and not isinstance(value, bool) else value
    try:
        out = tuple(int(v) for v in vals)
        ok = len(out) == n and all(isinstance(v, int) and not isinstance(v, bool)
                                   for v in vals) and min(out) >= minimum
    except TypeError:
        ok = False
    if not ok:
        raise ValueError(f"{layer}: {what} must be an int >= {minimum} or {n} of them, "
                         f"got {value!r}")
    return out


def _activation(name: Any, layer: str) -> str | None:
    if name is None:
        return None
    if not isinstance(name, str):
        hint = (f"; the second argument of {layer} is activation: write {layer}(256, "
                f"in_units=20) for 20 -> 256, not PyTorch's Linear(20, 256)"
                if layer == "Dense" and isinstance(name, int) else "")
        raise TypeError(f"{layer}: activation must be a name such as 'relu' or None, "
                        f"got {name!r}{hint}")
    if name not in ACTIVATIONS:
        raise ValueError(f"{layer}: unknown activation {name!r}; use one of "
                         f"{', '.join(sorted(ACTIVATIONS))}")
    return name


def _flag(value: Any, what: str, layer: str) -> bool:
    """A yes/no argument; ``use_bias="False"`` would be true, so only bools (and 0/1) pass."""
    if not isinstance(value, bool | np.bool_) and not (isinstance(value, int)
                                                       and value in (0, 1)):
        raise TypeError(f"{layer}: {what} must be True or False, got {value!r}")
    return bool(value)


def _axis(value: Any, layer: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{layer}: axis must be an int, got {value!r}")
    return int(value)


def _number(value: Any, what: str, layer: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{layer}: {what} must be a number, got {value!r}")
    return float(value)


def _float32(dtype: Any, layer: str) -> None:
    """``dtype`` is accepted for Gluon code, as long as it asks for the one dtype there is."""
    try:
        ok = np.dtype(dtype) == np.float32
    except TypeError:
        ok = False
    if not ok:
        raise ValueError(f"{layer}: dtype={dtype!r} is not supported: shapegraph computes in "
                         f"float32 only; leave dtype out")


def _layout(layout: Any, nd: int, layer: str) -> None:
    supported = ("NCW", "NCHW", "NCDHW")[nd - 1]
    if layout not in (None, supported):
        raise ValueError(f"{layer}: only layout {supported!r} is supported, got {layout!r}")


Table = tuple[tuple[str, Any], ...]


class _Layer(Block):
    """A block that emits one op with its own parameters, then an optional activation.

    ``shown`` lists the arguments ``describe()`` writes, each with its default (or
    ``POSITIONAL``/``ALWAYS``); ``ignored`` the Gluon arguments accepted with no effect.
    Every subclass's ``__init__`` is checked by :func:`strict_init`.
    """

    op = ""
    shown: ClassVar[Table] = ()
    ignored: ClassVar[tuple[str, ...]] = ("prefix",)
    _args: dict[str, Any]
    _attrs: dict[str, Any]
    _act: str | None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "__init__" in cls.__dict__:
            cls.__init__ = strict_init(cls.__dict__["__init__"])  # type: ignore[method-assign]

    def __init__(self, args: Mapping[str, Any], attrs: Mapping[str, Any],
                 inits: Mapping[str, Any] | None = None,
                 params: Mapping[str, Parameter] | None = None,
                 activation: str | None = None) -> None:
        super().__init__(params=params)
        object.__setattr__(self, "_args", dict(args))
        try:  # the op's schema fills in every default (one place) and checks the rest
            complete = get_op(self.op).complete(attrs)
        except AttrError as e:
            raise ValueError(f"{type(self).__name__}: {e}") from None
        object.__setattr__(self, "_attrs", complete)
        object.__setattr__(self, "_act", activation)
        for decl in get_op(self.op).param_rule(self._attrs):
            init = create((inits or {}).get(decl.role), f"{type(self).__name__} {decl.role}")
            self._param(decl.role, Parameter(decl.role, decl.shape, init=init,
                                             notes=decl.notes, declare=decl.declare))

    def forward(self, x: SymbolicTensor) -> SymbolicTensor:
        tr = current()
        assert tr is not None
        prov = self.provenance()
        y = tr.layer(self.op, [x], self._attrs, dict(self._reg_params), prov)
        if self._act is not None:
            y = tr.layer(self._act, [y], {}, {}, prov)
        return y

    def describe(self) -> str:
        """The call that builds this layer: ``Conv2D(16, kernel_size=3, strides=2)``."""
        return call_string(type(self).__name__, self.shown, self._args)

    def _io_repr(self, cin: int | str, cout: int | None, in_arg: str) -> str:
        """Gluon's repr: ``Dense(20 -> 256, Activation(relu))``, with every other argument
        that differs from its default."""
        rest = call_args(self.shown[1:], self._args, skip=(in_arg, "activation"))
        act = f"Activation({self._act})" if self._act else "linear"
        return f"{type(self).__name__}({', '.join([f'{cin} -> {cout}', *rest, act])})"


class Dense(_Layer):
    """Fully connected: ``y = act(x @ weight.T + bias)``; ``flatten=True`` first reshapes the
    input to ``(batch, -1)``. ``in_units`` may be left out (0 or None): it is inferred.

    ``dtype`` must be float32, the only dtype. ``params`` shares another layer's
    parameters. Accepted for Gluon compatibility, with no effect: ``prefix`` (parameter
    names are structured paths).
    """

    op = "dense"
    shown = (("units", POSITIONAL), ("activation", None), ("use_bias", True),
             ("flatten", True), ("in_units", None))

    def __init__(self, units: int, activation: str | None = None, use_bias: bool = True,
                 flatten: bool = True, dtype: Any = "float32", weight_initializer: Any = None,
                 bias_initializer: Any = "zeros", in_units: int | None = None, *,
                 prefix: str | None = None, params: Mapping[str, Parameter] | None = None,
                 ) -> None:
        _float32(dtype, "Dense")
        args: dict[str, Any] = {"units": _positive(units, "units", "Dense"),
                "activation": _activation(activation, "Dense"),
                "use_bias": _flag(use_bias, "use_bias", "Dense"),
                "flatten": _flag(flatten, "flatten", "Dense"),
                "in_units": _positive(in_units, "in_units", "Dense", allow_none=True)}
        attrs = {k: args[k] for k in ("units", "use_bias", "flatten", "in_units")}
        super().__init__(args, attrs, {"weight": weight_initializer, "bias": bias_initializer},
                         params, args["activation"])

    def __repr__(self) -> str:
        w = self._reg_params["weight"].shape
        return self._io_repr(w[1] if w[1] is not None else "?", w[0], "in_units")


def _conv_channels(channels: Any, groups: Any, in_channels: Any, name: str
                   ) -> dict[str, int | None]:
    ch = _positive(channels, "channels", name)
    g = _positive(groups, "groups", name)
    in_ch = _positive(in_channels, "in_channels", name, allow_none=True)
    assert ch is not None and g is not None
    if ch % g or (in_ch is not None and in_ch % g):
        raise ValueError(f"{name}: channels={ch} and in_channels={in_ch} must be "
                         f"multiples of groups={g}")
    return {"channels": ch, "groups": g, "in_channels": in_ch}


class _Conv(_Layer):
    """Shared by Conv1D, Conv2D and Conv3D (Gluon's signature)."""

    op = "conv"
    nd = 2
    shown = (("channels", POSITIONAL), ("kernel_size", ALWAYS), ("strides", 1), ("padding", 0),
             ("dilation", 1), ("groups", 1), ("activation", None), ("use_bias", True),
             ("in_channels", None))

    def __init__(self, channels: int, kernel_size: Any, strides: Any = 1, padding: Any = 0,
                 dilation: Any = 1, groups: int = 1, layout: str | None = None,
                 activation: str | None = None, use_bias: bool = True,
                 weight_initializer: Any = None, bias_initializer: Any = "zeros",
                 in_channels: int | None = None, *, prefix: str | None = None,
                 params: Mapping[str, Parameter] | None = None) -> None:
        name, nd = type(self).__name__, self.nd
        _layout(layout, nd, name)
        args: dict[str, Any] = {**_conv_channels(channels, groups, in_channels, name),
                "kernel_size": _tuple(kernel_size, nd, "kernel_size", name),
                "strides": _tuple(strides, nd, "strides", name),
                "padding": _tuple(padding, nd, "padding", name, minimum=0),
                "dilation": _tuple(dilation, nd, "dilation", name),
                "activation": _activation(activation, name),
                "use_bias": _flag(use_bias, "use_bias", name)}
        attrs = {"kernel": args["kernel_size"], "ndim": nd, **{k: args[k] for k in (
            "channels", "strides", "padding", "dilation", "groups", "use_bias", "in_channels")}}
        super().__init__(args, attrs, {"weight": weight_initializer, "bias": bias_initializer},
                         params, args["activation"])

    def __repr__(self) -> str:
        w = self._reg_params["weight"].shape
        cin = "?" if w[1] is None else w[1] * self._attrs["groups"]
        return self._io_repr(cin, w[0], "in_channels")


class Conv1D(_Conv):
    """1-D convolution over (batch, channels, width).

    ``layout`` must be ``"NCW"``, the only layout. ``params`` shares another layer's
    parameters. Accepted for Gluon compatibility, with no effect: ``prefix`` (parameter
    names are structured paths).
    """

    nd = 1


class Conv2D(_Conv):
    """2-D convolution over (batch, channels, height, width).

    ``layout`` must be ``"NCHW"``, the only layout. ``params`` shares another layer's
    parameters. Accepted for Gluon compatibility, with no effect: ``prefix`` (parameter
    names are structured paths).
    """

    nd = 2


class Conv3D(_Conv):
    """3-D convolution over (batch, channels, depth, height, width).

    ``layout`` must be ``"NCDHW"``, the only layout. ``params`` shares another layer's
    parameters. Accepted for Gluon compatibility, with no effect: ``prefix`` (parameter
    names are structured paths).

    >>> from shapegraph import nn
    >>> nn.Conv3D(8, kernel_size=3, padding=1).describe()
    'Conv3D(8, kernel_size=3, padding=1)'
    """

    nd = 3


class _Pool(_Layer):
    """Shared by the max and average pools; each class keeps Gluon's argument order."""

    op = "pool"
    nd = 2
    kind = "max"
    shown: ClassVar[Table] = (("pool_size", ALWAYS), ("strides", None), ("padding", 0),
                              ("ceil_mode", False))

    def _setup(self, pool_size: Any, strides: Any, padding: Any, layout: Any, ceil_mode: Any,
               count_include_pad: Any = True) -> None:
        name, nd = type(self).__name__, self.nd
        _layout(layout, nd, name)
        k = _tuple(pool_size, nd, "pool_size", name)
        s = k if strides is None else _tuple(strides, nd, "strides", name)
        args = {"pool_size": k, "strides": None if s == k else s,
                "padding": _tuple(padding, nd, "padding", name, minimum=0),
                "ceil_mode": _flag(ceil_mode, "ceil_mode", name),
                "count_include_pad": _flag(count_include_pad, "count_include_pad", name)}
        _Layer.__init__(self, args, {
            "kind": self.kind, "kernel": k, "strides": s, "padding": args["padding"],
            "ndim": nd, "ceil_mode": args["ceil_mode"],
            "count_include_pad": args["count_include_pad"]})


class _MaxPool(_Pool):
    def __init__(self, pool_size: Any = 2, strides: Any = None, padding: Any = 0,
                 layout: str | None = None, ceil_mode: bool = False, *,
                 prefix: str | None = None) -> None:
        self._setup(pool_size, strides, padding, layout, ceil_mode)


class MaxPool1D(_MaxPool):
    """Max pooling over width; ``strides`` defaults to ``pool_size``.

    ``layout`` must be ``"NCW"``. Accepted for Gluon compatibility, with no effect:
    ``prefix`` (parameter names are structured paths).
    """

    nd, kind = 1, "max"


class MaxPool2D(_MaxPool):
    """Max pooling over height and width; ``strides`` defaults to ``pool_size``.

    ``layout`` must be ``"NCHW"``. Accepted for Gluon compatibility, with no effect:
    ``prefix`` (parameter names are structured paths).
    """

    nd, kind = 2, "max"


class MaxPool3D(_MaxPool):
    """Max pooling over depth, height and width; ``strides`` defaults to ``pool_size``.
    (Gluon's order: ``ceil_mode`` comes before ``layout`` here, unlike MaxPool1D/2D.)

    ``layout`` must be ``"NCDHW"``. Accepted for Gluon compatibility, with no effect:
    ``prefix`` (parameter names are structured paths).
    """

    nd, kind = 3, "max"

    def __init__(self, pool_size: Any = 2, strides: Any = None, padding: Any = 0,
                 ceil_mode: bool = False, layout: str | None = None, *,
                 prefix: str | None = None) -> None:
        self._setup(pool_size, strides, padding, layout, ceil_mode)


_AVG_SHOWN: Table = (*_Pool.shown, ("count_include_pad", True))


class AvgPool1D(_Pool):
    """Average pooling over width; ``strides`` defaults to ``pool_size``.

    ``layout`` must be ``"NCW"``. Accepted for Gluon compatibility, with no effect:
    ``prefix`` (parameter names are structured paths).
    """

    nd, kind = 1, "avg"
    shown = _AVG_SHOWN

    def __init__(self, pool_size: Any = 2, strides: Any = None, padding: Any = 0,
                 layout: str | None = None, ceil_mode: bool = False,
                 count_include_pad: bool = True, *, prefix: str | None = None) -> None:
        self._setup(pool_size, strides, padding, layout, ceil_mode, count_include_pad)


class AvgPool2D(_Pool):
    """Average pooling over height and width; ``strides`` defaults to ``pool_size``.
    (Gluon's order: ``ceil_mode`` comes before ``layout`` here, unlike the others.)

    ``layout`` must be ``"NCHW"``. Accepted for Gluon compatibility, with no effect:
    ``prefix`` (parameter names are structured paths).
    """

    nd, kind = 2, "avg"
    shown = _AVG_SHOWN

    def __init__(self, pool_size: Any = 2, strides: Any = None, padding: Any = 0,
                 ceil_mode: bool = False, layout: str | None = None,
                 count_include_pad: bool = True, *, prefix: str | None = None) -> None:
        self._setup(pool_size, strides, padding, layout, ceil_mode, count_include_pad)


class AvgPool3D(_Pool):
    """Average pooling over depth, height and width; ``strides`` defaults to
    ``pool_size``. (Gluon's order: ``ceil_mode`` comes before ``layout``.)

    ``layout`` must be ``"NCDHW"``. Accepted for Gluon compatibility, with no effect:
    ``prefix`` (parameter names are structured paths).
    """

    nd, kind = 3, "avg"
    shown = _AVG_SHOWN

    def __init__(self, pool_size: Any = 2, strides: Any = None, padding: Any = 0,
                 ceil_mode: bool = False, layout: str | None = None,
                 count_include_pad: bool = True, *, prefix: str | None = None) -> None:
        self._setup(pool_size, strides, padding, layout, ceil_mode, count_include_pad)


class _GlobalPool(_Layer):
    op = "global_pool"
    nd = 2
    kind = "avg"

    def __init__(self, layout: str | None = None, *, prefix: str | None = None) -> None:
        _layout(layout, self.nd, type(self).__name__)
        super().__init__({}, {"kind": self.kind, "ndim": self.nd})


class GlobalAvgPool1D(_GlobalPool):
    """Mean over width, kept as size 1.

    ``layout`` must be ``"NCW"``. Accepted for Gluon compatibility, with no effect:
    ``prefix`` (parameter names are structured paths).
    """

    nd, kind = 1, "avg"


class GlobalAvgPool2D(_GlobalPool):
    """Mean over height and width, kept as size 1.

    ``layout`` must be ``"NCHW"``. Accepted for Gluon compatibility, with no effect:
    ``prefix`` (parameter names are structured paths).
    """

    nd, kind = 2, "avg"


class GlobalAvgPool3D(_GlobalPool):
    """Mean over depth, height and width, kept as size 1.

    ``layout`` must be ``"NCDHW"``. Accepted for Gluon compatibility, with no effect:
    ``prefix`` (parameter names are structured paths).
    """

    nd, kind = 3, "avg"


class GlobalMaxPool1D(_GlobalPool):
    """Max over width, kept as size 1.

    ``layout`` must be ``"NCW"``. Accepted for Gluon compatibility, with no effect:
    ``prefix`` (parameter names are structured paths).
    """

    nd, kind = 1, "max"


class GlobalMaxPool2D(_GlobalPool):
    """Max over height and width, kept as size 1.

    ``layout`` must be ``"NCHW"``. Accepted for Gluon compatibility, with no effect:
    ``prefix`` (parameter names are structured paths).
    """

    nd, kind = 2, "max"


class GlobalMaxPool3D(_GlobalPool):
    """Max over depth, height and width, kept as size 1.

    ``layout`` must be ``"NCDHW"``. Accepted for Gluon compatibility, with no effect:
    ``prefix`` (parameter names are structured paths).
    """

    nd, kind = 3, "max"


class Flatten(_Layer):
    """(batch, d1, d2, ...) -> (batch, d1*d2*...).

    Accepted for Gluon compatibility, with no effect: ``prefix`` (parameter names are
    structured paths).
    """

    op = "flatten"

    def __init__(self, *, prefix: str | None = None) -> None:
        super().__init__({}, {})


class Dropout(_Layer):
    """Dropout: the identity at inference (shapegraph runs inference).

    Accepted for Gluon compatibility, with no effect: ``axes`` (inference drops nothing)
    and ``prefix`` (parameter names are structured paths).
    """

    op = "dropout"
    shown = (("rate", POSITIONAL),)
    ignored = ("axes", "prefix")

    def __init__(self, rate: float, axes: Sequence[int] = (), *,
                 prefix: str | None = None) -> None:
        if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 <= rate < 1:
            raise ValueError(f"Dropout: rate must be in [0, 1), got {rate!r}")
        super().__init__({"rate": float(rate)}, {"rate": float(rate)})


class Activation(_Layer):
    """An activation by name: relu, sigmoid, tanh, softrelu, softsign, gelu.

    Accepted for Gluon compatibility, with no effect: ``prefix`` (parameter names are
    structured paths).
    """

    shown: ClassVar[Table] = (("activation", POSITIONAL),)

    def __init__(self, activation: str, *, prefix: str | None = None) -> None:
        act = _activation(activation, type(self).__name__)
        if act is None:
            raise TypeError(f"{type(self).__name__}: activation must be a name such as "
                            f"'relu', got None")
        object.__setattr__(self, "op", act)
        super().__init__({"activation": act}, {})


class GELU(Activation):
    """The GELU activation (erf form).

    ``approximation`` (Gluon 2) must be ``"erf"``, the only form. Accepted for Gluon
    compatibility, with no effect: ``prefix`` (parameter names are structured paths).
    """

    shown: ClassVar[Table] = ()

    def __init__(self, approximation: str = "erf", *, prefix: str | None = None) -> None:
        if approximation != "erf":
            raise ValueError(f"GELU: approximation={approximation!r} is not supported; "
                             f"only 'erf' is")
        super().__init__("gelu")


class BatchNorm(_Layer):
    """Batch normalization with running statistics (inference).

    ``params`` shares another layer's parameters. Accepted for Gluon compatibility, with
    no effect: ``momentum`` and ``use_global_stats`` (inference always uses the running
    statistics) and ``prefix`` (parameter names are structured paths).
    """

    op = "batchnorm"
    shown = (("axis", 1), ("epsilon", 1e-5), ("center", True), ("scale", True),
             ("in_channels", None))
    ignored = ("momentum", "use_global_stats", "prefix")

    def __init__(self, axis: int = 1, momentum: float = 0.9, epsilon: float = 1e-5,
                 center: bool = True, scale: bool = True, use_global_stats: bool = False,
                 beta_initializer: Any = "zeros", gamma_initializer: Any = "ones",
                 running_mean_initializer: Any = "zeros",
                 running_variance_initializer: Any = "ones", in_channels: int | None = None,
                 *, prefix: str | None = None, params: Mapping[str, Parameter] | None = None,
                 ) -> None:
        args = {"axis": _axis(axis, "BatchNorm"),
                "epsilon": _number(epsilon, "epsilon", "BatchNorm"),
                "center": _flag(center, "center", "BatchNorm"),
                "scale": _flag(scale, "scale", "BatchNorm"),
                "in_channels": _positive(in_channels, "in_channels", "BatchNorm", True)}
        super().__init__(args, args, {"gamma": gamma_initializer, "beta": beta_initializer,
                                      "running_mean": running_mean_initializer,
                                      "running_var": running_variance_initializer},
                         params=params)


class LayerNorm(_Layer):
    """Layer normalization over ``axis`` (default the last).

    ``center`` and ``scale`` must stay True (beta and gamma are always applied).
    ``params`` shares another layer's parameters. Accepted for Gluon compatibility, with
    no effect: ``prefix`` (parameter names are structured paths).
    """

    op = "layernorm"
    shown = (("axis", -1), ("epsilon", 1e-5), ("in_channels", None))

    def __init__(self, axis: int = -1, epsilon: float = 1e-5, center: bool = True,
                 scale: bool = True, beta_initializer: Any = "zeros",
                 gamma_initializer: Any = "ones", in_channels: int | None = None, *,
                 prefix: str | None = None, params: Mapping[str, Parameter] | None = None,
                 ) -> None:
        for what, value in (("center", center), ("scale", scale)):
            if not _flag(value, what, "LayerNorm"):
                raise ValueError(f"LayerNorm: {what}=False is not supported (beta and gamma "
                                 f"are always applied); leave {what} out")
        args = {"axis": _axis(axis, "LayerNorm"),
                "epsilon": _number(epsilon, "epsilon", "LayerNorm"),
                "in_channels": _positive(in_channels, "in_channels", "LayerNorm", True)}
        super().__init__(args, args, {"gamma": gamma_initializer, "beta": beta_initializer},
                         params=params)


class Embedding(_Layer):
    """Rows of ``weight`` (input_dim, output_dim) picked by the (integer-valued) input.

    ``dtype`` must be float32, the only dtype. ``params`` shares another layer's
    parameters. Accepted for Gluon compatibility, with no effect: ``sparse_grad`` (there
    are no gradients) and ``prefix`` (parameter names are structured paths).
    """

    op = "embedding"
    shown = (("input_dim", POSITIONAL), ("output_dim", POSITIONAL))
    ignored = ("sparse_grad", "prefix")

    def __init__(self, input_dim: int, output_dim: int, dtype: Any = "float32",
                 weight_initializer: Any = None, sparse_grad: bool = False, *,
                 prefix: str | None = None, params: Mapping[str, Parameter] | None = None,
                 ) -> None:
        _float32(dtype, "Embedding")
        args = {"input_dim": _positive(input_dim, "input_dim", "Embedding"),
                "output_dim": _positive(output_dim, "output_dim", "Embedding")}
        super().__init__(args, args, {"weight": weight_initializer}, params=params)
