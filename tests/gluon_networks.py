"""The network generator of the differential test (tests/test_differential.py).

``cases()`` is a Hypothesis strategy for one network, described as ``gluon_reference``
data, with an input shape (some do not fit) and an input array. The generator tracks the
shape each layer would see on the nominal input, so that most networks fit; on purpose it
also declares wrong sizes, picks layers of the wrong rank, and perturbs the input shape.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import gluon_reference as ref
import numpy as np
from gluon_reference import Layer, Residual, Seq
from hypothesis import strategies as st

__all__ = ["ALL_KINDS", "cases", "layers_of", "pairs", "walk"]

# ----------------------------------------------------------------------------- generator

ACTS = ("relu", "sigmoid", "tanh", "softrelu", "softsign", "gelu")
ANY_RANK = ("Dense", "Dense", "Activation", "Dropout", "BatchNorm", "LayerNorm", "ParamAct")
BY_RANK = {
    3: ("Conv1D", "Conv1D", "Conv1D", "MaxPool1D", "AvgPool1D", "GlobalAvgPool1D",
        "GlobalMaxPool1D", "Flatten"),
    4: ("Conv2D", "Conv2D", "Conv2D", "MaxPool2D", "AvgPool2D", "GlobalAvgPool2D",
        "GlobalMaxPool2D", "Flatten"),
}
ALL_KINDS = ANY_RANK + BY_RANK[3] + BY_RANK[4]
PRODUCERS = ("Dense", "Conv1D", "Conv2D", "MaxPool1D", "AvgPool1D", "MaxPool2D", "AvgPool2D",
             "Embedding")


class Gen:
    """Draws one network layer by layer, tracking the shape it would have on the nominal
    input so that most networks fit (and some, on purpose, do not)."""

    def __init__(self, draw: Callable[[Any], Any]) -> None:
        self.draw = draw
        self.uid = 0
        self.denses: list[tuple[Layer, int | None]] = []  # (layer, input width) to share

    def int(self, lo: int, hi: int) -> int:
        return int(self.draw(st.integers(lo, hi)))

    def chance(self, p: float) -> bool:
        """True with probability ``p``; shrinks towards False."""
        return bool(self.draw(st.integers(0, 99)) >= 100 - round(100 * p))

    def pick(self, items: tuple[Any, ...]) -> Any:
        return self.draw(st.sampled_from(items))

    def layer(self, kind: str, args: dict[str, Any], share: int | None = None) -> Layer:
        self.uid += 1
        return Layer(kind, args, self.uid, share)

    def declared(self, right: int | None) -> int | None:
        """A declared size: mostly absent, sometimes right, rarely wrong."""
        if right is None or not self.chance(0.35):
            return None
        return right if not self.chance(0.25) else max(1, right + self.pick((-2, -1, 1, 3)))

    # -- sequences ----------------------------------------------------------------------
    def seq(self, shape: tuple[int, ...] | None, depth: int, n: int) -> tuple[Seq, Any]:
        items: list[Any] = []
        for _ in range(n):
            if shape is None:
                break
            if depth < 2 and self.chance(0.15):
                node, shape = self.residual(shape, depth + 1)
                items.append(node)
                continue
            for lay in self.layers(shape):
                items.append(lay)
                shape = _shape_or_none(lay, shape)
        return Seq(items), shape

    def residual(self, shape: tuple[int, ...], depth: int) -> tuple[Residual, Any]:
        mode = self.pick(("add", "concat"))
        body, out = self.seq(shape, depth, self.int(1, 3))
        short = None
        if self.chance(0.3):
            short, _ = self.seq(shape, depth, 1)
        node = Residual(body, mode, short)
        try:
            return node, _ref_shape(node, shape)
        except ref.Inconsistent:
            return node, out

    def layers(self, shape: tuple[int, ...]) -> list[Layer]:
        r = len(shape)
        kinds = ANY_RANK + BY_RANK.get(r, ("Flatten",) if r > 2 else ())
        if self.chance(0.04):
            kinds = ALL_KINDS  # possibly the wrong rank
        if self.denses and self.chance(0.12):
            out = [self.shared_dense(shape)]
        else:
            out = [self.make(self.pick(kinds), shape)]
        first = out[0]
        if (first.kind == "Dense" and first.share is None and self.chance(0.25)
                and _shape_or_none(first, shape) == shape):
            out.append(self.shared_dense(shape, first))  # same width: the sharing fits
        elif first.kind in PRODUCERS and self.chance(0.3):
            nxt = _shape_or_none(out[0], shape)
            if nxt is not None:
                out.append(self.batchnorm(nxt))
        return out

    # -- layers -------------------------------------------------------------------------
    def make(self, kind: str, shape: tuple[int, ...]) -> Layer:
        if kind == "Dense":
            return self.dense(shape)
        if kind.startswith("Conv"):
            return self.conv(kind, shape)
        if "Pool" in kind and not kind.startswith("Global"):
            return self.pool(kind)
        if kind == "BatchNorm":
            return self.batchnorm(shape)
        if kind == "LayerNorm":
            axis = 1 if self.chance(0.1) else -1
            return self.layer(kind, {"axis": axis, "in_channels": self.declared(shape[axis])})
        if kind == "Activation":
            return self.layer(kind, {"activation": self.pick(ACTS)})
        if kind == "ParamAct":
            return self.param_act(shape)
        if kind == "Dropout":
            return self.layer(kind, {"rate": self.pick((0.0, 0.5))})
        return self.layer(kind, {})

    def param_act(self, shape: tuple[int, ...]) -> Layer:
        """An activation with a parameter: LeakyReLU, ELU, SELU, Swish, SiLU, or PReLU with
        one shared slope, one per channel (declared, sometimes wrongly), or inferred (0)."""
        kind = self.pick(ref.PARAM_ACTS)
        args: dict[str, Any] = {}
        if kind == "LeakyReLU":
            args["alpha"] = self.pick((0.0, 0.1, 0.3, 1.5))
        elif kind == "ELU" and self.chance(0.5):
            args["alpha"] = self.pick((0.5, 2.0))
        elif kind == "Swish" and self.chance(0.5):
            args["beta"] = self.pick((0.5, 2.0))
        elif kind == "PReLU" and len(shape) >= 2 and not self.chance(0.3):
            args["in_channels"] = self.declared(shape[1]) or 0
        return self.layer(kind, args)

    def dense(self, shape: tuple[int, ...]) -> Layer:
        flatten = len(shape) < 3 or self.chance(0.5)
        width = int(np.prod(shape[1:])) if flatten else shape[-1]
        units = width if self.chance(0.3) else self.int(1, 8)
        args: dict[str, Any] = {"units": units, "flatten": flatten,
                                "use_bias": not self.chance(0.3),
                                "in_units": self.declared(width)}
        if self.chance(0.3):
            args["activation"] = self.pick(ACTS)
        lay = self.layer("Dense", args)
        self.denses.append((lay, width))
        return lay

    def shared_dense(self, shape: tuple[int, ...], src: Layer | None = None) -> Layer:
        """A Dense with ``params=src.params`` (an earlier Dense, ``src`` or any)."""
        src, width = next(((d, w) for d, w in self.denses if d is src), None) or self.pick(
            tuple(self.denses))
        args = dict(src.args)
        args["flatten"] = len(shape) < 3 or self.chance(0.5)
        args["in_units"] = self.declared(width)  # the source's input width
        if self.chance(0.05):
            args["units"] = src.args["units"] + 1  # a different units than the shared weight
        return self.layer("Dense", args, share=src.uid)

    def conv(self, kind: str, shape: tuple[int, ...]) -> Layer:
        cin = shape[1] if len(shape) > 1 else 1
        groups = self.pick(tuple(g for g in (1, 1, 2, 3) if cin % g == 0) or (1,))
        if self.chance(0.05):
            groups = self.pick((2, 3))  # may not divide the input channels
        k = self.int(1, 3)
        same = self.chance(0.4)  # keeps the spatial size (and often the channels)
        dilation = 1 if same or not self.chance(0.3) else 2
        padding = dilation * (k - 1) // 2 if same and k % 2 else self.int(0, 2)
        keep = same and cin % groups == 0 and self.chance(0.6)
        channels = cin if keep else groups * self.int(1, 3)
        in_ch = self.declared(cin)
        if in_ch is not None and in_ch % groups:
            in_ch = None  # the layer itself rejects that (ValueError at construction)
        window: dict[str, Any] = {"kernel_size": k, "strides": 1 if same else self.int(1, 2),
                                  "padding": padding, "dilation": dilation}
        if kind == "Conv2D" and not same and self.chance(0.3):  # a different size per axis
            window = {"kernel_size": (k, self.int(1, 3)), "strides": (1, self.int(1, 2)),
                      "padding": (self.int(0, 1), padding), "dilation": (dilation, 1)}
        return self.layer(kind, {
            "channels": channels, **window, "groups": groups, "use_bias": not self.chance(0.3),
            "in_channels": in_ch,
            "activation": self.pick(ACTS) if self.chance(0.3) else None})

    def pool(self, kind: str) -> Layer:
        ceil = self.chance(0.4)

        def window() -> tuple[int, int, int]:  # kernel, strides, padding <= k / 2
            k = self.int(1, 3)  # strides > kernel only in floor mode: MXNet's ceil mode
            s = self.int(1, k if ceil else k + 1)  # then has windows of negative size
            return k, s, self.int(0, k // 2)

        k, s, p = window()
        args: dict[str, Any] = {"pool_size": k, "strides": s, "padding": p, "ceil_mode": ceil}
        if kind.endswith("2D") and self.chance(0.3):  # a different window per axis
            k2, s2, p2 = window()
            args.update(pool_size=(k, k2), strides=(s, s2), padding=(p, p2))
        if kind.startswith("Avg"):
            args["count_include_pad"] = not self.chance(0.4)
        return self.layer(kind, args)

    def batchnorm(self, shape: tuple[int, ...]) -> Layer:
        axis = self.pick((-1, 2)) if self.chance(0.15) else 1
        channels = shape[axis] if len(shape) > max(axis, 1) else None
        return self.layer("BatchNorm", {"axis": axis, "in_channels": self.declared(channels),
                                        "center": not self.chance(0.15),
                                        "scale": not self.chance(0.15)})


def _ref_shape(node: Any, shape: tuple[int, ...]) -> tuple[int, ...]:
    return ref.evaluate(node, np.zeros(shape)).shape


def _shape_or_none(lay: Layer, shape: tuple[int, ...]) -> tuple[int, ...] | None:
    try:
        return ref.layer_shape(lay, shape)
    except ref.Inconsistent:
        return None


@st.composite
def cases(draw: Callable[[Any], Any]) -> dict[str, Any]:
    """A network spec, an input shape, the input array and the random seed of the run."""
    g = Gen(draw)
    kind = g.pick(("vec", "seq", "img", "tokens"))
    batch = 0 if g.chance(0.05) else g.int(1, 3)
    shape: tuple[int, ...] = {
        "vec": lambda: (batch, g.int(1, 12)),
        "seq": lambda: (batch, g.int(1, 6), g.int(1, 12)),
        "img": lambda: (batch, g.int(1, 4), g.int(1, 9), g.int(1, 9)),
        "tokens": lambda: (batch, g.int(1, 5)),
    }[kind]()
    first: list[Layer] = []
    cur = shape
    if kind == "tokens":
        n_tok = g.int(2, 10)
        first.append(g.layer("Embedding", {"input_dim": n_tok, "output_dim": g.int(1, 6)}))
        cur = ref.layer_shape(first[0], shape)
        if g.chance(0.3):
            first.append(g.batchnorm(cur))
    body, _ = g.seq(cur, 0, g.int(1, 5))
    body.items[:0] = first
    net: Any = body
    if g.chance(0.3):
        net = Residual(body, g.pick(("add", "concat")))
    given_shape = shape
    if kind != "tokens" and g.chance(0.2):  # an input that may not fit
        dims = list(shape)
        if g.chance(0.2) and g.chance(0.5):
            dims.append(g.int(1, 4))
        elif g.chance(0.2):
            dims.pop()
        elif len(dims) > 1:
            j = g.int(1, len(dims) - 1)
            dims[j] = max(1, dims[j] + g.pick((-2, -1, 1, 2)))
        given_shape = tuple(dims) if len(dims) >= 2 else shape
    seed = g.int(0, 2**31 - 1)
    rng = np.random.default_rng(seed)
    if kind == "tokens":
        x = rng.integers(0, n_tok, size=given_shape).astype(np.float32)
    else:
        x = rng.standard_normal(given_shape).astype(np.float32)
    return {"net": net, "shape": given_shape, "x": x, "seed": seed}


# ----------------------------------------------------------------------------- walking


def walk(node: Any) -> Iterator[Any]:
    """Every node in forward order (body before shortcut)."""
    yield node
    if isinstance(node, Seq):
        for item in node.items:
            yield from walk(item)
    elif isinstance(node, Residual):
        yield from walk(node.body)
        if node.short is not None:
            yield from walk(node.short)


def layers_of(node: Any) -> list[Layer]:
    return [n for n in walk(node) if isinstance(n, Layer)]


def pairs(node: Any) -> Iterator[tuple[Layer, Layer]]:
    for n in walk(node):
        if isinstance(n, Seq):
            yield from zip(n.items, n.items[1:], strict=False)
