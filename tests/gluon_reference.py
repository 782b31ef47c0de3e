"""An independent numpy model of MXNet Gluon's layers, for the differential test.

Written from Gluon's documented semantics (the ``mxnet.gluon.nn`` and ``mxnet.ndarray``
operator docs, and MXNet's pooling shape rules), not from shapegraph's op records: it must
not import shapegraph. A network is described by plain data (:class:`Layer`, :class:`Seq`,
:class:`Residual`); :func:`evaluate` runs it on a float64 array, binding each parameter's
unknown dims at its first use as Gluon's deferred initialization does, and raises
:class:`Inconsistent` when a shape does not fit.

Semantics modelled (NCW / NCHW layouts throughout):

- ``Dense``: ``y = x Wᵀ + b``, ``W`` (units, in_units); ``flatten=True`` first reshapes the
  input to (batch, -1) and needs rank >= 2; ``flatten=False`` works on the last axis.
- ``Conv1D/2D``: ``W`` (channels, in_channels / groups, *kernel); the input channels must be
  divisible by ``groups``; output size ``floor((n + 2p - d(k-1) - 1) / s) + 1`` >= 1.
- pooling: ``floor`` (``ceil`` with ``ceil_mode``) of ``(n + 2p - k) / s`` plus 1, and the
  kernel may not exceed the padded input (MXNet checks ``k <= n + 2p``). Averages divide by
  the window clipped to the padded input (``count_include_pad=True``) or to the input.
  A window that holds no input element has no defined value: the model gives NaN there.
- global pools keep the spatial dims as size 1; ``Flatten`` gives (batch, prod(rest)).
- ``BatchNorm`` (inference): ``(x - running_mean) / sqrt(running_var + eps) * gamma + beta``
  along ``axis``; ``LayerNorm``: normalize over ``axis`` (default the last) with the
  population variance.
- ``Embedding``: rows of ``W`` (input_dim, output_dim); ``Dropout`` is the identity.
- a residual ``add`` broadcasts like ``NDArray.__add__``; ``concat`` joins along dim 1.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["Inconsistent", "Layer", "Params", "Residual", "Seq", "evaluate", "layer_shape"]

SPATIAL = {"Conv1D": 1, "Conv2D": 2, "MaxPool1D": 1, "MaxPool2D": 2, "AvgPool1D": 1,
           "AvgPool2D": 2, "GlobalAvgPool1D": 1, "GlobalAvgPool2D": 2, "GlobalMaxPool1D": 1,
           "GlobalMaxPool2D": 2}


class Inconsistent(Exception):
    """The network does not fit the input shape (the message says where and why)."""


@dataclass
class Layer:
    """One Gluon layer: its class name in ``nn``, its keyword arguments, and optionally the
    ``uid`` of an earlier Dense whose parameters it shares (``params=other.params``)."""

    kind: str
    args: dict[str, Any]
    uid: int
    share: int | None = None

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.args.items())
        share = f", params=<layer {self.share}>.params" if self.share is not None else ""
        return f"nn.{self.kind}({args}{share})#{self.uid}"


@dataclass
class Seq:
    """``nn.Sequential`` of the items."""

    items: list[Any] = field(default_factory=list)


@dataclass
class Residual:
    """A custom Block: ``body(x) + short(x)`` (``mode="add"``) or
    ``concat(body(x), short(x), dim=1)``; ``short`` None is the identity."""

    body: Seq
    mode: str
    short: Seq | None = None


def _tup(v: Any, n: int) -> tuple[int, ...]:
    return (int(v),) * n if isinstance(v, int) else tuple(int(u) for u in v)


def _window(kind: str, args: dict[str, Any], nd: int) -> tuple[tuple[int, ...], ...]:
    """(kernel, strides, padding, dilation) of a conv or pool layer."""
    if kind.startswith("Conv"):
        k = _tup(args["kernel_size"], nd)
        return (k, _tup(args.get("strides", 1), nd), _tup(args.get("padding", 0), nd),
                _tup(args.get("dilation", 1), nd))
    k = _tup(args.get("pool_size", 2), nd)
    s = k if args.get("strides") is None else _tup(args["strides"], nd)
    return k, s, _tup(args.get("padding", 0), nd), (1,) * nd


def _out_len(kind: str, args: dict[str, Any], n: int, k: int, s: int, p: int, d: int) -> int:
    if kind.startswith("Conv"):
        return (n + 2 * p - d * (k - 1) - 1) // s + 1
    span = n + 2 * p - k
    return (-(-span // s) if args.get("ceil_mode", False) else span // s) + 1


def layer_shape(layer: Layer, shape: tuple[int, ...]) -> tuple[int, ...]:
    """The output shape, ignoring the layer's declared sizes (the generator uses this to
    keep networks mostly well formed); Inconsistent when the input cannot fit at all."""
    k, a, r = layer.kind, layer.args, len(shape)
    if k == "Dense":
        if a.get("flatten", True):
            _need(r >= 2, layer, f"rank {r} input, Dense(flatten=True) needs rank >= 2")
            return (shape[0], a["units"])
        return (*shape[:-1], a["units"])
    if k in SPATIAL:
        nd = SPATIAL[k]
        _need(r == nd + 2, layer, f"rank {r} input, needs rank {nd + 2}")
        if k.startswith("Global"):
            return (*shape[:2], *(1,) * nd)
        win = list(zip(shape[2:], *_window(k, a, nd), strict=True))
        if not k.startswith("Conv"):
            _need(all(kk <= n + 2 * p for n, kk, _, p, _ in win), layer,
                  f"pool kernel exceeds the padded input {shape} (MXNet checks k <= n + 2p)")
        outs = tuple(_out_len(k, a, *w) for w in win)
        _need(min(outs) >= 1, layer, f"window larger than the padded input {shape}")
        ch = a["channels"] if k.startswith("Conv") else shape[1]
        return (shape[0], ch, *outs)
    if k == "Flatten":
        _need(r >= 2, layer, "Flatten needs rank >= 2")
        return (shape[0], math.prod(shape[1:]))
    if k == "Embedding":
        return (*shape, a["output_dim"])
    if k == "PReLU":
        _need(r >= 2, layer, f"rank {r} input, PReLU's slopes are along axis 1")
    if k in ("BatchNorm", "LayerNorm"):
        axis = a.get("axis", 1 if k == "BatchNorm" else -1)
        _need(-r <= axis < r, layer, f"axis {axis} out of range for rank {r}")
    return shape


def _need(ok: bool, layer: Layer, why: str) -> None:
    if not ok:
        raise Inconsistent(f"{layer!r}: {why}")


# ----------------------------------------------------------------------------- parameters


Lookup = Callable[[int, str], np.ndarray]


class Params:
    """Parameter shapes by (owner uid, role), unknown dims bound at first use; values from
    ``lookup`` (the network's own) or, when None, zeros of the bound shape. With ``bound``
    the looked-up parameters already exist (an earlier call created them), so a use that
    needs another shape does not fit; without it, that is the network's mistake."""

    def __init__(self, lookup: Lookup | None = None, bound: bool = False) -> None:
        self.shapes: dict[tuple[int, str], tuple[int | None, ...]] = {}
        self.lookup = lookup
        self.bound = bound

    def use(self, layer: Layer, role: str, declared: tuple[int | None, ...],
            actual: tuple[int, ...]) -> np.ndarray:
        """The parameter ``role`` of ``layer`` as used with the shape ``actual``."""
        owner = layer.share if layer.share is not None else layer.uid
        key = (owner, role)
        have = self.shapes.get(key, declared)
        for want in (have, declared):
            for j, (w, g) in enumerate(zip(want, actual, strict=True)):
                _need(w is None or w == g, layer,
                      f"{role} dim {j} is {w} (declared or bound earlier), input needs {g}")
        self.shapes[key] = actual
        if self.lookup is None:
            return np.zeros(actual)
        data = np.asarray(self.lookup(owner, role), dtype=np.float64)
        _need(not self.bound or data.shape == actual, layer,
              f"{role} was created as {data.shape} by an earlier call, this one needs {actual}")
        if data.shape != actual:
            raise AssertionError(f"{layer!r}: the network's {role} has shape {data.shape}, "
                                 f"Gluon's would be {actual}")
        return data


# ----------------------------------------------------------------------------- layers


def _act(name: str | None, x: np.ndarray) -> np.ndarray:
    if name is None:
        return x
    if name == "relu":
        return np.maximum(x, 0.0)
    if name == "sigmoid":
        return 0.5 * (1.0 + np.tanh(0.5 * x))
    if name == "tanh":
        return np.tanh(x)
    if name == "softrelu":  # log(1 + exp(x))
        return np.logaddexp(0.0, x)
    if name == "softsign":
        return x / (1.0 + np.abs(x))
    if name == "gelu":  # the erf form, as Gluon's GELU
        from math import erf

        return 0.5 * x * (1.0 + np.vectorize(erf, otypes=[float])(x / math.sqrt(2.0)))
    raise ValueError(f"unknown activation {name}")


_SELU_SCALE, _SELU_ALPHA = 1.0507009873554804934, 1.6732632423543772848  # Klambauer et al.


def _sig(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def _param_act(layer: Layer, x: np.ndarray, ps: Params) -> np.ndarray:
    """Gluon 2's LeakyReLU, ELU, SELU, Swish, SiLU and PReLU, from their definitions."""
    k, a = layer.kind, layer.args
    if k == "LeakyReLU":
        return np.where(x > 0, x, a["alpha"] * x)
    if k == "ELU":
        return np.where(x > 0, x, a.get("alpha", 1.0) * (np.exp(x) - 1.0))
    if k == "SELU":
        return _SELU_SCALE * np.where(x > 0, x, _SELU_ALPHA * (np.exp(x) - 1.0))
    if k in ("Swish", "SiLU"):
        return x * _sig(a.get("beta", 1.0) * x)
    _need(x.ndim >= 2, layer, f"rank {x.ndim} input")
    declared = a.get("in_channels", 1) or None  # 0: inferred
    actual = 1 if declared == 1 else x.shape[1]
    alpha = ps.use(layer, "alpha", (declared,), (actual,))
    slope = alpha.reshape((-1,) + (1,) * (x.ndim - 2))
    return np.where(x > 0, x, slope * x)


PARAM_ACTS = ("LeakyReLU", "ELU", "SELU", "Swish", "SiLU", "PReLU")


def _dense(layer: Layer, x: np.ndarray, ps: Params) -> np.ndarray:
    a = layer.args
    flatten = a.get("flatten", True)
    _need(x.ndim >= (2 if flatten else 1), layer, f"rank {x.ndim} input")
    if flatten:
        x = x.reshape(x.shape[0], math.prod(x.shape[1:]))
    units, in_units = a["units"], a.get("in_units") or None
    w = ps.use(layer, "weight", (units, in_units), (units, x.shape[-1]))
    y = np.tensordot(x, w, axes=([x.ndim - 1], [1]))
    if a.get("use_bias", True):
        y = y + ps.use(layer, "bias", (units,), (units,))
    return _act(a.get("activation"), y)


def _conv(layer: Layer, x: np.ndarray, ps: Params) -> np.ndarray:
    a, nd = layer.args, SPATIAL[layer.kind]
    out_shape = layer_shape(layer, x.shape)
    k, s, p, d = _window(layer.kind, a, nd)
    groups, cin = a.get("groups", 1), x.shape[1]
    _need(cin % groups == 0, layer, f"{cin} input channels, groups={groups}")
    declared = a.get("in_channels") or None
    w = ps.use(layer, "weight", (a["channels"], declared and declared // groups, *k),
               (a["channels"], cin // groups, *k))
    _need(declared is None or declared == cin, layer, f"in_channels={declared}, input {cin}")
    xp = np.pad(x, [(0, 0), (0, 0), *((q, q) for q in p)])
    # im2col: positions[a][o, j] = o * s + j * d along spatial axis a
    pos = [np.arange(o)[:, None] * s[i] + np.arange(k[i])[None, :] * d[i]
           for i, o in enumerate(out_shape[2:])]
    if nd == 1:
        cols = xp[:, :, pos[0]]  # (N, C, O, K)
        spec = "ncOK,ocK->noO"
    else:
        cols = xp[:, :, pos[0][:, None, :, None], pos[1][None, :, None, :]]  # N C Oh Ow Kh Kw
        spec = "ncHWKL,ocKL->noHW"
    cg, og = cin // groups, a["channels"] // groups
    y = np.concatenate([np.einsum(spec, cols[:, g * cg:(g + 1) * cg], w[g * og:(g + 1) * og])
                        for g in range(groups)], axis=1)
    if a.get("use_bias", True):
        b = ps.use(layer, "bias", (a["channels"],), (a["channels"],))
        y = y + b.reshape((-1,) + (1,) * nd)
    return _act(a.get("activation"), y)


def _pool(layer: Layer, x: np.ndarray) -> np.ndarray:
    a, nd = layer.args, SPATIAL[layer.kind]
    out_shape = layer_shape(layer, x.shape)
    k, s, p, _ = _window(layer.kind, a, nd)
    is_max = layer.kind.startswith("Max")
    y = np.empty(out_shape)
    for o in itertools.product(*(range(n) for n in out_shape[2:])):
        lo = [o[i] * s[i] - p[i] for i in range(nd)]
        hi = [min(lo[i] + k[i], x.shape[2 + i] + p[i]) for i in range(nd)]  # padded extent
        lo_in = [max(v, 0) for v in lo]
        hi_in = [min(hi[i], x.shape[2 + i]) for i in range(nd)]
        window = x[(slice(None), slice(None), *(slice(u, v) for u, v in zip(lo_in, hi_in,
                                                                         strict=True)))]
        inside = math.prod(max(v - u, 0) for u, v in zip(lo_in, hi_in, strict=True))
        if inside == 0:
            y[(slice(None), slice(None), *o)] = np.nan  # no input element: undefined
        elif is_max:
            y[(slice(None), slice(None), *o)] = window.max(axis=tuple(range(2, 2 + nd)))
        else:
            count = (math.prod(v - u for u, v in zip(lo, hi, strict=True))
                     if a.get("count_include_pad", True) else inside)
            y[(slice(None), slice(None), *o)] = window.sum(axis=tuple(range(2, 2 + nd))) / count
    return y


def _norm_params(layer: Layer, x: np.ndarray, axis: int, ps: Params,
                 roles: tuple[str, ...]) -> dict[str, np.ndarray]:
    c = x.shape[axis]
    declared = layer.args.get("in_channels") or None
    shape = [1] * x.ndim
    shape[axis] = c
    return {r: ps.use(layer, r, (declared,), (c,)).reshape(shape) for r in roles}


def _batchnorm(layer: Layer, x: np.ndarray, ps: Params) -> np.ndarray:
    a = layer.args
    axis = a.get("axis", 1)
    _need(-x.ndim <= axis < x.ndim, layer, f"axis {axis} of a rank {x.ndim} input")
    q = _norm_params(layer, x, axis % x.ndim, ps,
                     ("gamma", "beta", "running_mean", "running_var"))
    y = (x - q["running_mean"]) / np.sqrt(q["running_var"] + a.get("epsilon", 1e-5))
    if a.get("scale", True):
        y = y * q["gamma"]
    if a.get("center", True):
        y = y + q["beta"]
    return y


def _layernorm(layer: Layer, x: np.ndarray, ps: Params) -> np.ndarray:
    axis = layer.args.get("axis", -1)
    _need(-x.ndim <= axis < x.ndim, layer, f"axis {axis} of a rank {x.ndim} input")
    q = _norm_params(layer, x, axis % x.ndim, ps, ("gamma", "beta"))
    mean = x.mean(axis=axis, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=axis, keepdims=True)
    return (x - mean) / np.sqrt(var + layer.args.get("epsilon", 1e-5)) * q["gamma"] + q["beta"]


def _embedding(layer: Layer, x: np.ndarray, ps: Params) -> np.ndarray:
    a = layer.args
    shape = (a["input_dim"], a["output_dim"])
    w = ps.use(layer, "weight", shape, shape)
    idx = x.astype(np.int64)
    if np.any(idx != x) or (idx.size and (idx.min() < 0 or idx.max() >= shape[0])):
        raise ValueError("Embedding input must be integer indices in range (generator bug)")
    return w[idx]


def run_layer(layer: Layer, x: np.ndarray, ps: Params) -> np.ndarray:
    k = layer.kind
    if k == "Dense":
        return _dense(layer, x, ps)
    if k.startswith("Conv"):
        return _conv(layer, x, ps)
    if k.startswith("Global"):
        layer_shape(layer, x.shape)
        axes = tuple(range(2, x.ndim))
        if "Max" in k and 0 in x.shape[2:]:  # the maximum of no values does not exist
            raise Inconsistent(f"{k} over an empty spatial dim of {x.shape}")
        return (x.max if "Max" in k else x.mean)(axis=axes, keepdims=True)
    if k in SPATIAL:
        return _pool(layer, x)
    if k == "Flatten":
        return x.reshape(layer_shape(layer, x.shape))
    if k == "BatchNorm":
        return _batchnorm(layer, x, ps)
    if k == "LayerNorm":
        return _layernorm(layer, x, ps)
    if k == "Embedding":
        return _embedding(layer, x, ps)
    if k == "Activation":
        return _act(layer.args["activation"], x)
    if k in PARAM_ACTS:
        return _param_act(layer, x, ps)
    if k == "Dropout":
        return x
    raise ValueError(f"unknown layer kind {k}")


def _run(node: Any, x: np.ndarray, ps: Params) -> np.ndarray:
    if isinstance(node, Layer):
        return run_layer(node, x, ps)
    if isinstance(node, Seq):
        for item in node.items:
            x = _run(item, x, ps)
        return x
    a = _run(node.body, x, ps)
    b = x if node.short is None else _run(node.short, x, ps)
    if node.mode == "add":
        try:
            np.broadcast_shapes(a.shape, b.shape)
        except ValueError:
            raise Inconsistent(f"add of shapes {a.shape} and {b.shape}") from None
        return a + b
    same = a.ndim == b.ndim >= 2 and all(u == v for j, (u, v) in
                                         enumerate(zip(a.shape, b.shape, strict=True)) if j != 1)
    if not same:
        raise Inconsistent(f"concat(dim=1) of shapes {a.shape} and {b.shape}")
    return np.concatenate([a, b], axis=1)


def evaluate(net: Any, x: np.ndarray, lookup: Lookup | None = None, bound: bool = False
             ) -> np.ndarray:
    """The network's output for ``x`` (float64), with the parameter values ``lookup(uid,
    role)`` gives (zeros when None: for deciding consistency only); ``bound``: those
    parameters exist already and their shapes are fixed. Raises Inconsistent."""
    with np.errstate(invalid="ignore", over="ignore"):  # NaN marks undefined windows
        return _run(net, np.asarray(x, dtype=np.float64), Params(lookup, bound))


def consistent(net: Any, shape: tuple[int, ...]) -> str | None:
    """None when ``net`` fits an input of ``shape``, else the reason it does not."""
    try:
        evaluate(net, np.zeros(shape))
    except Inconsistent as e:
        return str(e)
    return None
