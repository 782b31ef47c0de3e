"""Layers with Gluon's names and arguments. Each emits one op (plus its activation).

Parameters are declared from the op's parameter rule, so ``Dense(256)`` has a weight of
shape ``(256, None)`` and ``Dense(256, in_units=20)`` one of ``(256, 20)``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from shapegraph.init import create
from shapegraph.nn.block import Block
from shapegraph.ops.elementwise import ACTIVATIONS
from shapegraph.ops.registry import get_op
from shapegraph.params import Parameter
from shapegraph.trace import SymbolicTensor, current

__all__ = [
    "GELU",
    "Activation",
    "AvgPool1D",
    "AvgPool2D",
    "BatchNorm",
    "Conv1D",
    "Conv2D",
    "Dense",
    "Dropout",
    "Embedding",
    "Flatten",
    "GlobalAvgPool1D",
    "GlobalAvgPool2D",
    "GlobalMaxPool1D",
    "GlobalMaxPool2D",
    "LayerNorm",
    "MaxPool1D",
    "MaxPool2D",
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
    if name not in ACTIVATIONS:
        raise ValueError(f"{layer}: unknown activation {name!r}; use one of "
                         f"{', '.join(sorted(ACTIVATIONS))}")
    return str(name)


class _Layer(Block):
    """A block that emits one op with its own parameters, then an optional activation."""

    op = ""
    _attrs: dict[str, Any]
    _act: str | None

    def __init__(self, attrs: Mapping[str, Any], inits: Mapping[str, Any] | None = None,
                 activation: str | None = None, params: Mapping[str, Parameter] | None = None,
                 ) -> None:
        super().__init__(params=params)
        object.__setattr__(self, "_attrs", dict(attrs))
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

    def _act_str(self) -> str:
        return f"Activation({self._act})" if self._act else "linear"


class Dense(_Layer):
    """Fully connected: ``y = act(x @ weight.T + bias)``; ``flatten=True`` first reshapes the
    input to ``(batch, -1)``. ``in_units`` may be left out (0 or None): it is inferred."""

    op = "dense"

    def __init__(self, units: int, activation: str | None = None, use_bias: bool = True,
                 flatten: bool = True, dtype: str = "float32", weight_initializer: Any = None,
                 bias_initializer: Any = "zeros", in_units: int | None = None,
                 params: Mapping[str, Parameter] | None = None, **_: Any) -> None:
        attrs = {"units": _positive(units, "units", "Dense"), "use_bias": bool(use_bias),
                 "flatten": bool(flatten),
                 "in_units": _positive(in_units, "in_units", "Dense", allow_none=True)}
        super().__init__(attrs, {"weight": weight_initializer, "bias": bias_initializer},
                         _activation(activation, "Dense"), params)

    def describe(self) -> str:
        extra = f", in_units={self._attrs['in_units']}" if self._attrs["in_units"] else ""
        extra += "" if self._attrs["flatten"] else ", flatten=False"
        act = f", activation={self._act!r}" if self._act else ""
        return f"Dense({self._attrs['units']}{extra}{act})"

    def __repr__(self) -> str:
        w = self._reg_params["weight"].shape
        return f"Dense({w[1] if w[1] is not None else '?'} -> {w[0]}, {self._act_str()})"


class _Conv(_Layer):
    op = "conv"
    nd = 2

    def __init__(self, channels: int, kernel_size: Any, strides: Any = 1, padding: Any = 0,
                 dilation: Any = 1, groups: int = 1, layout: str | None = None,
                 activation: str | None = None, use_bias: bool = True,
                 weight_initializer: Any = None, bias_initializer: Any = "zeros",
                 in_channels: int | None = None,
                 params: Mapping[str, Parameter] | None = None, **_: Any) -> None:
        name, nd = type(self).__name__, self.nd
        layout_ok = ("NCW", "NCHW")[nd - 1]
        if layout not in (None, layout_ok):
            raise ValueError(f"{name}: only layout {layout_ok!r} is supported, got {layout!r}")
        ch = _positive(channels, "channels", name)
        g = _positive(groups, "groups", name)
        in_ch = _positive(in_channels, "in_channels", name, allow_none=True)
        assert ch is not None and g is not None
        if ch % g or (in_ch is not None and in_ch % g):
            raise ValueError(f"{name}: channels={ch} and in_channels={in_ch} must be "
                             f"multiples of groups={g}")
        attrs = {"channels": ch, "kernel": _tuple(kernel_size, nd, "kernel_size", name),
                 "strides": _tuple(strides, nd, "strides", name),
                 "padding": _tuple(padding, nd, "padding", name, minimum=0),
                 "dilation": _tuple(dilation, nd, "dilation", name), "groups": g,
                 "ndim": nd, "use_bias": bool(use_bias), "in_channels": in_ch}
        super().__init__(attrs, {"weight": weight_initializer, "bias": bias_initializer},
                         _activation(activation, name), params)

    def describe(self) -> str:
        a = self._attrs
        k = "x".join(map(str, a["kernel"]))
        extra = "".join(f", {n}={a[n] if len(set(a[n])) > 1 else a[n][0]}"
                        for n in ("strides", "padding", "dilation") if any(v != d for v in a[n]
                        for d in [0 if n == "padding" else 1]))
        extra += f", groups={a['groups']}" if a["groups"] > 1 else ""
        extra += f", in_channels={a['in_channels']}" if a["in_channels"] else ""
        return f"{type(self).__name__}({a['channels']}, kernel_size={k}{extra})"

    def __repr__(self) -> str:
        w = self._reg_params["weight"].shape
        cin = "?" if w[1] is None else w[1] * self._attrs["groups"]
        return f"{self.describe()[:-1]}, {cin} -> {w[0]}, {self._act_str()})"


class Conv1D(_Conv):
    """1-D convolution over (batch, channels, width)."""

    nd = 1


class Conv2D(_Conv):
    """2-D convolution over (batch, channels, height, width)."""

    nd = 2


class _Pool(_Layer):
    op = "pool"
    nd = 2
    kind = "max"

    def __init__(self, pool_size: Any = 2, strides: Any = None, padding: Any = 0,
                 layout: str | None = None, ceil_mode: bool = False,
                 count_include_pad: bool = True, **_: Any) -> None:
        name, nd = type(self).__name__, self.nd
        k = _tuple(pool_size, nd, "pool_size", name)
        s = k if strides is None else _tuple(strides, nd, "strides", name)
        p = _tuple(padding, nd, "padding", name, minimum=0)
        super().__init__({"kind": self.kind, "kernel": k, "strides": s, "padding": p,
                          "ndim": nd, "ceil_mode": bool(ceil_mode),
                          "count_include_pad": bool(count_include_pad)})

    def describe(self) -> str:
        a = self._attrs
        return f"{type(self).__name__}(pool_size={'x'.join(map(str, a['kernel']))})"


class MaxPool1D(_Pool):
    """Max pooling over width."""

    nd, kind = 1, "max"


class MaxPool2D(_Pool):
    """Max pooling over height and width."""

    nd, kind = 2, "max"


class AvgPool1D(_Pool):
    """Average pooling over width."""

    nd, kind = 1, "avg"


class AvgPool2D(_Pool):
    """Average pooling over height and width."""

    nd, kind = 2, "avg"


class _GlobalPool(_Layer):
    op = "global_pool"
    nd = 2
    kind = "avg"

    def __init__(self, layout: str | None = None, **_: Any) -> None:
        super().__init__({"kind": self.kind, "ndim": self.nd})

    def describe(self) -> str:
        return f"{type(self).__name__}()"


class GlobalAvgPool1D(_GlobalPool):
    """Mean over width, kept as size 1."""

    nd, kind = 1, "avg"


class GlobalAvgPool2D(_GlobalPool):
    """Mean over height and width, kept as size 1."""

    nd, kind = 2, "avg"


class GlobalMaxPool1D(_GlobalPool):
    """Max over width, kept as size 1."""

    nd, kind = 1, "max"


class GlobalMaxPool2D(_GlobalPool):
    """Max over height and width, kept as size 1."""

    nd, kind = 2, "max"


class Flatten(_Layer):
    """(batch, d1, d2, ...) -> (batch, d1*d2*...)."""

    op = "flatten"

    def __init__(self, **_: Any) -> None:
        super().__init__({})

    def describe(self) -> str:
        return "Flatten()"


class Dropout(_Layer):
    """Dropout: the identity at inference (shapegraph runs inference)."""

    op = "dropout"

    def __init__(self, rate: float, axes: Sequence[int] = (), **_: Any) -> None:
        if not isinstance(rate, int | float) or not 0 <= rate < 1:
            raise ValueError(f"Dropout: rate must be in [0, 1), got {rate!r}")
        super().__init__({"rate": float(rate)})

    def describe(self) -> str:
        return f"Dropout(p = {self._attrs['rate']})"


class Activation(_Layer):
    """An activation by name: relu, sigmoid, tanh, softrelu, softsign, gelu."""

    def __init__(self, activation: str, **_: Any) -> None:
        act = _activation(activation, "Activation")
        object.__setattr__(self, "op", act)
        super().__init__({})

    def describe(self) -> str:
        return f"Activation({self.op})"


class GELU(Activation):
    """The GELU activation (erf form)."""

    def __init__(self, **_: Any) -> None:
        super().__init__("gelu")


class BatchNorm(_Layer):
    """Batch normalization with running statistics (inference)."""

    op = "batchnorm"

    def __init__(self, axis: int = 1, momentum: float = 0.9, epsilon: float = 1e-5,
                 center: bool = True, scale: bool = True, use_global_stats: bool = False,
                 beta_initializer: Any = "zeros", gamma_initializer: Any = "ones",
                 running_mean_initializer: Any = "zeros",
                 running_variance_initializer: Any = "ones", in_channels: int | None = None,
                 params: Mapping[str, Parameter] | None = None, **_: Any) -> None:
        attrs = {"axis": int(axis), "epsilon": float(epsilon), "center": bool(center),
                 "scale": bool(scale),
                 "in_channels": _positive(in_channels, "in_channels", "BatchNorm", True)}
        super().__init__(attrs, {"gamma": gamma_initializer, "beta": beta_initializer,
                                 "running_mean": running_mean_initializer,
                                 "running_var": running_variance_initializer},
                         params=params)

    def describe(self) -> str:
        c = self._attrs["in_channels"]
        return f"BatchNorm(axis={self._attrs['axis']}{f', in_channels={c}' if c else ''})"


class LayerNorm(_Layer):
    """Layer normalization over ``axis`` (default the last)."""

    op = "layernorm"

    def __init__(self, axis: int = -1, epsilon: float = 1e-5, center: bool = True,
                 scale: bool = True, beta_initializer: Any = "zeros",
                 gamma_initializer: Any = "ones", in_channels: int | None = None,
                 params: Mapping[str, Parameter] | None = None, **_: Any) -> None:
        attrs = {"axis": int(axis), "epsilon": float(epsilon),
                 "in_channels": _positive(in_channels, "in_channels", "LayerNorm", True)}
        super().__init__(attrs, {"gamma": gamma_initializer, "beta": beta_initializer},
                         params=params)

    def describe(self) -> str:
        c = self._attrs["in_channels"]
        return f"LayerNorm(axis={self._attrs['axis']}{f', in_channels={c}' if c else ''})"


class Embedding(_Layer):
    """Rows of ``weight`` (input_dim, output_dim) picked by the (integer-valued) input."""

    op = "embedding"

    def __init__(self, input_dim: int, output_dim: int, dtype: str = "float32",
                 weight_initializer: Any = None,
                 params: Mapping[str, Parameter] | None = None, **_: Any) -> None:
        attrs = {"input_dim": _positive(input_dim, "input_dim", "Embedding"),
                 "output_dim": _positive(output_dim, "output_dim", "Embedding")}
        super().__init__(attrs, {"weight": weight_initializer}, params=params)

    def describe(self) -> str:
        return f"Embedding({self._attrs['input_dim']} -> {self._attrs['output_dim']})"
