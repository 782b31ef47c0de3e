"""Local response normalization across channels (ONNX ``LRN``, MXNet ``F.LRN``).

``y = x / (bias + alpha/size * sum of x^2 over channels c - floor((size-1)/2) ..
c + ceil((size-1)/2))^beta``, over axis 1 of a tensor of rank >= 3 (NCHW and the like);
channels outside [0, C) count as zero. The output has the input's type.

>>> import numpy as np
>>> x = np.ones((1, 3, 1, 1), np.float32)
>>> lrn_reference(x, {"size": 3, "alpha": 3.0, "beta": 1.0, "bias": 1.0})[:, :, 0, 0]
array([[0.33333334, 0.25      , 0.33333334]], dtype=float32)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from shapegraph.core.dims import Dim
from shapegraph.core.types import TensorType
from shapegraph.opset.base import (
    Attr,
    Attrs,
    Lowering,
    OpDef,
    Out,
    RuleResult,
    pass_through,
    positive,
)
from shapegraph.opset.common import rank_fail
from shapegraph.opset.registry import register

__all__ = ["LRN", "lrn_reference"]


def lrn_reference(x: np.ndarray, attrs: Attrs) -> np.ndarray:
    """LRN in numpy (float64 inside): the sum of squares over the window of channel c,
    [c - (size-1)//2, c + size - 1 - (size-1)//2] clipped to the channels, as a sum of
    ``size`` shifted copies of the zero-padded squares. (A cumulative sum over the
    channels, the earlier form, let an inf or NaN in one channel turn every later
    channel's output into NaN, windows that do not contain it included.)"""
    size, alpha, beta, bias = (attrs[k] for k in ("size", "alpha", "beta", "bias"))
    sq = np.square(x.astype(np.float64))
    channels = x.shape[1]
    before = (size - 1) // 2
    pads = [(0, 0), (before, size - 1 - before)] + [(0, 0)] * (x.ndim - 2)
    padded = np.pad(sq, pads)
    total = np.zeros_like(sq)
    for k in range(size):
        total += padded[:, k:k + channels]
    y: np.ndarray = x / (bias + alpha / size * total) ** beta
    return y.astype(x.dtype)


def _lrn_rule(
    ins: tuple[TensorType, ...], params: Mapping[str, tuple[Dim, ...]], attrs: Attrs
) -> RuleResult:
    x = ins[0]
    if x.rank < 3:
        return rank_fail("LRN", x, "rank >= 3 (batch, channels, spatial...)",
                         "LRN normalizes across channels (axis 1) at each spatial position: "
                         "feed an input of rank >= 3, such as (batch, channels, height, width)")
    return Out((x,), (pass_through(x.rank),))


def _lrn_ref(
    ins: Sequence[np.ndarray], params: Mapping[str, np.ndarray], attrs: Attrs
) -> tuple[np.ndarray, ...]:
    return (lrn_reference(ins[0], attrs),)


LRN = register(OpDef(
    "lrn", _lrn_rule, _lrn_ref, lazy_rank=lambda a: None,
    doc="local response normalization across channels (axis 1), as ONNX LRN",
    lowering=Lowering("lrn"), onnx="LRN",
    # ONNX's attributes and defaults (size has none: it is required)
    schema=(Attr("size", "int", check=positive, onnx="size"),
            Attr("alpha", "float", 1e-4, onnx="alpha"),
            Attr("beta", "float", 0.75, onnx="beta"),
            Attr("bias", "float", 1.0, onnx="bias"))))
