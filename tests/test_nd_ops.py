"""3-D convolution and pooling (Conv3D, MaxPool3D, AvgPool3D, GlobalAvg/MaxPool3D) and
local response normalization (LRN, ``ops.lrn``), end to end: shape rules (a table), the
numpy references against independent loops, the kernels of ``executor/kernels_nd.py``
against the references, eager and compiled networks against the reference interpreter,
ONNX Runtime against the references, and clear errors for bad arguments.
"""

from __future__ import annotations

from itertools import product
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import shapegraph as sg
from shapegraph import nn, ops
from shapegraph.core.dims import Hole, Sym
from shapegraph.core.types import TensorType
from shapegraph.executor import kernels_nd as KND
from shapegraph.infer.interpret import run_reference
from shapegraph.ops import get_op
from shapegraph.opset.base import Fail
from shapegraph.opset.conv import conv_reference, pool_reference, window_out
from shapegraph.opset.lrn import lrn_reference

B = Sym("batch")
RNG = np.random.default_rng(0)
FEW = settings(max_examples=20, deadline=None)


def rand(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape).astype(np.float32)


class LRN(nn.Block):
    """``ops.lrn`` as a layer, for the tables and networks."""

    op = "lrn"

    def __init__(self, **kw: Any) -> None:
        super().__init__()
        self.kw = kw

    @property
    def _attrs(self) -> dict[str, Any]:
        kw = dict(self.kw)
        return {"size": kw.pop("nsize"), **{("bias" if k == "knorm" else k): v
                                            for k, v in kw.items()}}

    def forward(self, x):  # type: ignore[no-untyped-def]
        return ops.lrn(x, **self.kw)


# ----------------------------------------------------------------------------- shape rules


def rule_of(layer: Any, dims: tuple[Any, ...]) -> Any:
    """The layer's op record's shape rule on an input of ``dims``, unknown weight dims
    as fresh holes."""
    op = get_op(layer.op)
    params = {d.role: tuple(Hole.fresh() if v is None else v for v in d.shape)
              for d in op.param_rule(layer._attrs)}
    return op.shape_rule((TensorType(dims),), params, layer._attrs)


# (layer, input dims, expected type or (code, text in the message))
RULES: list[tuple[Any, tuple[Any, ...], Any]] = [
    (nn.Conv3D(8, 3), (B, 3, 10, 12, 14), "f32[batch,8,8,10,12]"),
    (nn.Conv3D(8, 3, padding=1), (B, 3, 10, 12, 14), "f32[batch,8,10,12,14]"),
    (nn.Conv3D(8, (1, 3, 5), strides=(1, 2, 3)), (2, 3, 4, 9, 16), "f32[2,8,4,4,4]"),
    (nn.Conv3D(6, 3, dilation=2, groups=3, in_channels=6), (B, 6, 5, 5, 5), "f32[batch,6,1,1,1]"),
    (nn.Conv3D(4, 2, strides=2), (B, 1, Sym("d"), 8, 8), "f32[batch,4,d//2,4,4]"),
    (nn.MaxPool3D(2), (B, 3, 8, 8, 8), "f32[batch,3,4,4,4]"),
    (nn.MaxPool3D(3, strides=2, ceil_mode=True), (B, 3, 8, 8, 8), "f32[batch,3,4,4,4]"),
    (nn.MaxPool3D(3, strides=2), (B, 3, 8, 8, 8), "f32[batch,3,3,3,3]"),
    (nn.AvgPool3D((1, 2, 2), padding=(0, 1, 1)), (B, 3, 5, 6, 6), "f32[batch,3,5,4,4]"),
    (nn.GlobalAvgPool3D(), (B, 7, 3, 4, 5), "f32[batch,7,1,1,1]"),
    (nn.GlobalMaxPool3D(), (B, 7, 3, 4, 5), "f32[batch,7,1,1,1]"),
    (LRN(nsize=5), (B, 16, 7, 7), "f32[batch,16,7,7]"),
    (LRN(nsize=2), (B, 3, 4), "f32[batch,3,4]"),
    (LRN(nsize=3), (B, 3, 2, 2, 2), "f32[batch,3,2,2,2]"),
    (nn.Conv3D(8, 3), (B, 3, 10, 12), ("SG202", "Conv3D expects rank 5 (batch, channels, "
                                       "depth, height, width), got f32[batch,3,10,12]")),
    (nn.MaxPool3D(2), (B, 3, 8, 8), ("SG202", "MaxPool3D expects rank 5")),
    (nn.AvgPool3D(2), (B, 3, 8, 8, 8, 8), ("SG202", "AvgPool3D expects rank 5")),
    (nn.GlobalMaxPool3D(), (B, 3, 8), ("SG202", "GlobalMaxPool3D expects rank 5")),
    (nn.Conv3D(8, 5), (B, 3, 4, 12, 12), ("SG204", "Conv3D: output size 0 along dim 2: "
                                          "window 5 is larger")),
    (nn.Conv3D(8, 3, dilation=(1, 1, 4)), (B, 3, 8, 8, 8), ("SG204", "along dim 4: window 9")),
    (nn.MaxPool3D(3), (B, 3, 8, 2, 8), ("SG204", "MaxPool3D: output size 0 along dim 3")),
    (nn.AvgPool3D(3, ceil_mode=True), (B, 3, 8, 8, 2), ("SG204", "AvgPool3D")),
    (nn.GlobalMaxPool3D(), (B, 3, 8, 0, 8), ("SG210", "maximum of no values")),
    (LRN(nsize=5), (B, 16), ("SG202", "LRN expects rank >= 3 (batch, channels, spatial...), "
                             "got f32[batch,16] (rank 2)")),
]


@pytest.mark.parametrize(("layer", "dims", "want"), RULES,
                         ids=[f"{type(r[0]).__name__}-{i}" for i, r in enumerate(RULES)])
def test_rule(layer: Any, dims: tuple[Any, ...], want: Any) -> None:
    r = rule_of(layer, dims)
    if isinstance(want, str):
        assert not isinstance(r, Fail), r
        assert str(r.types[0]) == want
        return
    assert isinstance(r, Fail), r
    assert r.code == want[0] and want[1] in r.message, r.message


def test_conv3d_channels_are_an_equation() -> None:
    r = rule_of(nn.Conv3D(8, 3, groups=2), (B, 6, 5, 5, 5))
    assert not isinstance(r, Fail)
    (eq,) = r.eqs
    assert (eq.lhs, eq.lhs_label, eq.rhs_label) == (6, "input channels", "in_channels")


def test_wrong_rank_is_a_diagnostic_naming_the_layer() -> None:
    net = nn.Sequential()
    net.add(nn.Dense(16), nn.Conv3D(4, 3), nn.MaxPool3D(), nn.GlobalAvgPool3D())
    report = sg.check(net, sg.Input("x", ("batch", 8)))
    assert [(d.code, d.path) for d in report.diagnostics] == [("SG202", "1")]
    assert "Conv3D expects rank 5" in report.render("text")


def test_window_too_large_names_the_input_dim() -> None:
    net = nn.Sequential()
    net.add(nn.Conv3D(4, 3), nn.MaxPool3D(pool_size=(4, 1, 1)))
    report = sg.check(net, sg.Input("x", ("batch", 1, 5, 9, 9)))
    (d,) = report.diagnostics
    assert (d.code, d.path) == ("SG204", "1")
    assert "MaxPool3D: output size 0 along dim 2: window 4" in d.message


# ----------------------------------------------------------------------------- references


def conv_loop(x: np.ndarray, w: np.ndarray, s: tuple[int, ...], p: tuple[int, ...],
              d: tuple[int, ...], groups: int) -> np.ndarray:
    """3-D convolution, one output element at a time, written from the definition."""
    xp = np.pad(x.astype(np.float64), [(0, 0), (0, 0), *((q, q) for q in p)])
    o_dim, cg = w.shape[:2]
    ks = w.shape[2:]
    outs = [(x.shape[2 + a] + 2 * p[a] - d[a] * (ks[a] - 1) - 1) // s[a] + 1 for a in range(3)]
    y = np.zeros((x.shape[0], o_dim, *outs))
    for n, o, i, j, q in product(range(x.shape[0]), range(o_dim), *map(range, outs)):
        c0 = (o // (o_dim // groups)) * cg
        win = xp[n, c0:c0 + cg,
                 i * s[0]:i * s[0] + d[0] * (ks[0] - 1) + 1:d[0],
                 j * s[1]:j * s[1] + d[1] * (ks[1] - 1) + 1:d[1],
                 q * s[2]:q * s[2] + d[2] * (ks[2] - 1) + 1:d[2]]
        y[n, o, i, j, q] = np.sum(win * w[o])
    return y


def pool_loop(x: np.ndarray, kind: str, k: tuple[int, ...], s: tuple[int, ...],
              p: tuple[int, ...], ceil: bool, include_pad: bool) -> np.ndarray:
    """3-D pooling, one output element at a time: the window's positions inside the
    input (max: -inf when none), the divisor counting positions inside the padded input
    [-p, n + p) or only those inside the input."""
    sizes = x.shape[2:]
    outs = [int(window_out(sizes[a], k[a], s[a], p[a], 1, ceil)) for a in range(3)]
    y = np.zeros((*x.shape[:2], *outs))
    for i, j, q in product(*map(range, outs)):
        rng = [range(o * s[a] - p[a], o * s[a] - p[a] + k[a]) for a, o in enumerate((i, j, q))]
        inside = [[v for v in r if 0 <= v < sizes[a]] for a, r in enumerate(rng)]
        padded = [[v for v in r if -p[a] <= v < sizes[a] + p[a]] for a, r in enumerate(rng)]
        win = x[:, :, inside[0]][:, :, :, inside[1]][:, :, :, :, inside[2]].astype(np.float64)
        if kind == "max":
            y[:, :, i, j, q] = win.max(axis=(2, 3, 4)) if win.size else -np.inf
            continue
        count = int(np.prod([len(v) for v in (padded if include_pad else inside)]))
        y[:, :, i, j, q] = win.sum(axis=(2, 3, 4)) / max(count, 1)
    return y


def lrn_loop(x: np.ndarray, size: int, alpha: float, beta: float, bias: float) -> np.ndarray:
    """ONNX's LRN definition, channel by channel."""
    y = np.empty(x.shape)
    channels = x.shape[1]
    for c in range(channels):
        lo = max(0, c - (size - 1) // 2)
        hi = min(channels - 1, c + int(np.ceil((size - 1) / 2)))
        sq = np.sum(x[:, lo:hi + 1].astype(np.float64) ** 2, axis=1)
        y[:, c] = x[:, c] / (bias + alpha / size * sq) ** beta
    return y


def conv_attrs(ch: int, k: tuple[int, ...], s: tuple[int, ...], p: tuple[int, ...],
               d: tuple[int, ...], g: int) -> dict[str, Any]:
    return {"ndim": 3, "channels": ch, "kernel": k, "strides": s, "padding": p, "pads_end": p,
            "dilation": d, "groups": g}


def pool_attrs(kind: str, k: tuple[int, ...], s: tuple[int, ...], p: tuple[int, ...],
               ceil: bool, include_pad: bool) -> dict[str, Any]:
    return {"ndim": 3, "kind": kind, "kernel": k, "strides": s, "padding": p, "pads_end": p,
            "ceil_mode": ceil, "count_include_pad": include_pad, "ceil_drop_last": False}


CONVS = [  # (x shape, out channels, kernel, strides, padding, dilation, groups)
    ((2, 3, 4, 5, 6), 4, (3, 3, 3), (1, 1, 1), (0, 0, 0), (1, 1, 1), 1),
    ((1, 4, 5, 6, 7), 6, (2, 3, 1), (2, 1, 3), (1, 0, 2), (1, 2, 1), 2),
    ((1, 4, 6, 4, 5), 4, (1, 2, 2), (1, 2, 1), (0, 1, 1), (2, 1, 2), 4),
]


@pytest.mark.parametrize(("shape", "ch", "k", "s", "p", "d", "g"), CONVS)
def test_conv3d_reference_is_the_definition(shape: tuple[int, ...], ch: int,
                                            k: tuple[int, ...], s: tuple[int, ...],
                                            p: tuple[int, ...], d: tuple[int, ...],
                                            g: int) -> None:
    x, w = rand(*shape), rand(ch, shape[1] // g, *k)
    got = conv_reference(x, w, conv_attrs(ch, k, s, p, d, g))
    np.testing.assert_allclose(got, conv_loop(x, w, s, p, d, g), rtol=1e-5, atol=1e-5)


def test_conv3d_reference_is_scipy() -> None:
    signal = pytest.importorskip("scipy.signal")
    x, w = rand(1, 2, 5, 6, 7), rand(3, 2, 2, 3, 2)
    got = conv_reference(x, w, conv_attrs(3, (2, 3, 2), (1, 1, 1), (0, 0, 0), (1, 1, 1), 1))
    for o in range(3):
        want = sum(signal.correlate(x[0, c].astype(np.float64), w[o, c], mode="valid")
                   for c in range(2))
        np.testing.assert_allclose(got[0, o], want, rtol=1e-5, atol=1e-5)


POOLS = [  # (x shape, kind, kernel, strides, padding, ceil mode, count_include_pad)
    ((2, 3, 4, 4, 4), "max", (2, 2, 2), (2, 2, 2), (0, 0, 0), False, True),
    ((1, 2, 5, 6, 7), "max", (3, 2, 3), (2, 2, 2), (1, 1, 1), True, True),
    ((1, 2, 5, 6, 7), "avg", (3, 2, 3), (2, 1, 2), (1, 1, 1), True, True),
    ((1, 2, 5, 6, 7), "avg", (3, 3, 3), (2, 2, 2), (1, 1, 1), True, False),
    ((2, 1, 3, 4, 5), "avg", (1, 2, 3), (1, 2, 3), (0, 1, 1), False, False),
]


@pytest.mark.parametrize(("shape", "kind", "k", "s", "p", "ceil", "cip"), POOLS)
def test_pool3d_reference_is_the_definition(shape: tuple[int, ...], kind: str,
                                            k: tuple[int, ...], s: tuple[int, ...],
                                            p: tuple[int, ...], ceil: bool, cip: bool) -> None:
    x = rand(*shape)
    got = pool_reference(x, pool_attrs(kind, k, s, p, ceil, cip))
    np.testing.assert_allclose(got, pool_loop(x, kind, k, s, p, ceil, cip), rtol=1e-6)


@pytest.mark.parametrize("size", [1, 2, 3, 4, 5, 8])
def test_lrn_reference_is_the_definition(size: int) -> None:
    x = rand(2, 6, 3, 4)
    attrs = {"size": size, "alpha": 0.5, "beta": 0.75, "bias": 2.0}
    np.testing.assert_allclose(lrn_reference(x, attrs), lrn_loop(x, size, 0.5, 0.75, 2.0),
                               rtol=1e-6)
    only_size = lrn_reference(x, get_op("lrn").complete({"size": size}))  # ONNX's defaults
    np.testing.assert_allclose(only_size, lrn_loop(x, size, 1e-4, 0.75, 1.0), rtol=1e-6)


# ----------------------------------------------------------------------------- kernels

dim3 = st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3))


@FEW
@given(st.integers(1, 2), st.integers(1, 3), st.sampled_from([1, 2, 3]), st.integers(1, 2),
       dim3, dim3, st.tuples(*[st.integers(0, 2)] * 3), st.tuples(*[st.integers(1, 2)] * 3),
       st.tuples(*[st.integers(1, 7)] * 3), st.booleans())
def test_conv3d_kernel(n: int, cpg: int, g: int, opg: int, k: tuple[int, ...],
                       s: tuple[int, ...], p: tuple[int, ...], d: tuple[int, ...],
                       size: tuple[int, ...], bias: bool) -> None:
    outs = [window_out(size[a], k[a], s[a], p[a], d[a]) for a in range(3)]
    assume(all(isinstance(o, int) and o > 0 for o in outs))
    assume(all(d[a] * (k[a] - 1) + 1 <= size[a] + 2 * p[a] for a in range(3)))
    x, w = rand(n, cpg * g, *size), rand(opg * g, cpg, *k)
    b = rand(opg * g) if bias else np.zeros(opg * g, np.float32)
    want = conv_reference(x, w, conv_attrs(opg * g, k, s, p, d, g)) + b.reshape(-1, 1, 1, 1)
    out = np.empty(want.shape, np.float32)
    KND.conv3d(x, w, b, *s, *p, *d, g, out)
    np.testing.assert_allclose(out, want, rtol=1e-4, atol=1e-4)


@FEW
@given(st.sampled_from(["max", "avg"]), st.integers(1, 2), st.integers(1, 3), dim3, dim3,
       st.tuples(*[st.integers(0, 1)] * 3), st.tuples(*[st.integers(1, 6)] * 3),
       st.booleans(), st.booleans())
def test_pool3d_kernel(kind: str, n: int, c: int, k: tuple[int, ...], s: tuple[int, ...],
                       p: tuple[int, ...], size: tuple[int, ...], ceil: bool, cip: bool) -> None:
    assume(all(k[a] <= size[a] + 2 * p[a] for a in range(3)))
    x = rand(n, c, *size)
    want = pool_reference(x, pool_attrs(kind, k, s, p, ceil, cip))
    out = np.empty(want.shape, np.float32)
    if kind == "max":
        KND.maxpool3d(x, *k, *s, *p, out)
    else:
        KND.avgpool3d(x, *k, *s, *p, cip, out)
    np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-6)


def test_maxpool3d_kernel_propagates_nan() -> None:
    x = np.zeros((1, 1, 2, 2, 2), np.float32)
    x[0, 0, 1, 0, 1] = np.nan
    out = np.empty((1, 1, 1, 1, 1), np.float32)
    KND.maxpool3d(x, 2, 2, 2, 2, 2, 2, 0, 0, 0, out)
    assert np.isnan(out).all()


@FEW
@given(st.integers(1, 3), st.integers(1, 9), st.lists(st.integers(1, 4), min_size=1,
                                                       max_size=3),
       st.integers(1, 7), st.floats(1e-4, 2.0),
       st.one_of(st.sampled_from([0.5, 0.75, 1.0]), st.floats(0.1, 1.5)), st.floats(0.5, 3.0))
def test_lrn_kernel(n: int, c: int, spatial: list[int], size: int, alpha: float, beta: float,
                    bias: float) -> None:
    """Any beta, and the three the kernel computes with square roots instead of a power
    (0.75 is AlexNet's and Inception's)."""
    x = rand(n, c, *spatial) * 3
    want = lrn_reference(x, {"size": size, "alpha": alpha, "beta": beta, "bias": bias})
    out = np.empty((n, c, int(np.prod(spatial))), np.float32)
    KND.lrn(x.reshape(out.shape), size, alpha, beta, bias, out)
    np.testing.assert_allclose(out.reshape(x.shape), want, rtol=2e-5, atol=1e-6)


@pytest.mark.parametrize("beta", [0.5, 0.75, 1.0, 0.6])
@pytest.mark.parametrize("bias", [0.0, -1.0, 1.0])
def test_lrn_kernel_special_values(beta: float, bias: float) -> None:
    """Zero and negative bases (bias 0 with zero inputs, a negative bias), infinities and
    NaN: the square-root forms give what the power gives (NaN, inf or a finite number)."""
    x = np.array([0.0, 1.0, -2.0, np.inf, -np.inf, np.nan, 1e30, 3e-20], np.float32)
    x = np.stack([x, x[::-1], np.roll(x, 3)]).reshape(1, 3, 8)
    with np.errstate(all="ignore"):
        want = lrn_reference(x, {"size": 3, "alpha": 0.5, "beta": beta, "bias": bias})
    out = np.empty_like(x)
    KND.lrn(x, 3, 0.5, beta, bias, out)
    np.testing.assert_allclose(out, want, rtol=2e-6, atol=0, equal_nan=True)


# ----------------------------------------------------------------------------- networks


def _run_both(net: nn.Block, x: np.ndarray, dims: Any) -> list[str]:
    """Eager and compiled results against the reference interpreter; the kernels run."""
    net.initialize()
    eager = net(x)
    model = sg.compile(net, sg.Input("x", dims))
    (want,) = run_reference(model.graph, model.params, {"x": x})
    np.testing.assert_allclose(eager, want, rtol=2e-4, atol=2e-4)
    np.testing.assert_allclose(model(x), want, rtol=2e-4, atol=2e-4)
    runner = next(iter(model._runners.values()))
    assert runner.gen.compiled and not runner.plan.lowered.ref_nodes
    return [s.kernel for s in runner.plan.lowered.steps]


def video_net() -> nn.Sequential:
    net = nn.Sequential()
    net.add(nn.Conv3D(4, 3, padding=1, strides=(1, 2, 1), activation="relu"),
            nn.MaxPool3D(2, ceil_mode=True),
            nn.Conv3D(6, (1, 2, 3), groups=2, dilation=(1, 1, 2), use_bias=False),
            nn.BatchNorm(),
            nn.AvgPool3D(2, padding=1, count_include_pad=False),
            nn.GlobalMaxPool3D(), nn.Dense(3))
    return net


def test_video_network_eager_and_compiled() -> None:
    kernels = _run_both(video_net(), rand(2, 3, 5, 7, 9), ("batch", 3, 5, 7, 9))
    assert kernels == ["conv3d", "activation", "maxpool3d", "conv3d", "channel_affine",
                       "avgpool3d", "global_pool", "dense_narrow"]


def test_global_avg_pool3d_and_lrn_network() -> None:
    class Net(nn.Block):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv3D(5, 1)
            self.pool = nn.GlobalAvgPool3D()

        def forward(self, x):  # type: ignore[no-untyped-def]
            return self.pool(ops.lrn(self.conv(x), alpha=0.01, beta=0.5, knorm=1.5, nsize=3))

    kernels = _run_both(Net(), rand(3, 2, 3, 4, 5), ("batch", 2, 3, 4, 5))
    assert kernels == ["conv3d", "lrn", "global_pool"]


def test_lrn_after_conv2d_batch_varies() -> None:
    class Alex(nn.Block):  # AlexNet's first stage
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2D(8, 3, activation="relu")
            self.pool = nn.MaxPool2D(3, strides=2)

        def forward(self, x):  # type: ignore[no-untyped-def]
            return self.pool(ops.lrn(self.conv(x), alpha=1e-4, beta=0.75, knorm=2, nsize=5))

    net = Alex()
    assert "lrn" in _run_both(net, rand(2, 3, 11, 11), ("batch", 3, 11, 11))
    model = sg.compile(net, sg.Input("x", ("batch", 3, 11, 11)))
    for batch in (1, 4):
        x = rand(batch, 3, 11, 11)
        (want,) = run_reference(model.graph, model.params, {"x": x})
        np.testing.assert_allclose(model(x), want, rtol=2e-4, atol=2e-4)


# ----------------------------------------------------------------------------- ONNX


def _ort_check(net: nn.Block, x: np.ndarray, dims: tuple[Any, ...]) -> None:
    """The exported model under ONNX Runtime against the reference interpreter."""
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    from shapegraph.onnx import to_onnx

    net.initialize()
    model = sg.compile(net, sg.Input("x", dims))
    (want,) = run_reference(model.graph, model.params, {"x": x})
    sym = tuple(Sym(d) if isinstance(d, str) else d for d in dims)
    proto = to_onnx(model.graph, {"x": TensorType(sym)}, model.params)
    sess = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    (got,) = sess.run(None, {"x": x})
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


ONNX_NETS: list[tuple[Any, ...]] = [
    (nn.Conv3D(4, (2, 3, 3), strides=(1, 2, 1), padding=(1, 0, 1), dilation=(2, 1, 1)),),
    (nn.Conv3D(6, 3, groups=3, use_bias=False),),
    (nn.MaxPool3D(2),),
    (nn.MaxPool3D((2, 3, 3), strides=2, padding=1),),
    (nn.AvgPool3D(3, strides=2, padding=1),),
    (nn.AvgPool3D(3, strides=2, padding=1, count_include_pad=False),),
    (nn.AvgPool3D(2, ceil_mode=True),),
    (nn.GlobalAvgPool3D(),),
    (nn.GlobalMaxPool3D(),),
]


@pytest.mark.parametrize("layers", ONNX_NETS, ids=lambda ls: ls[0].describe())
def test_3d_layers_onnx(layers: tuple[Any, ...]) -> None:
    net = nn.Sequential()
    net.add(*layers)
    _ort_check(net, rand(2, 3, 5, 6, 7), ("batch", 3, 5, 6, 7))


# odd sizes only: ONNX allows an even size, but ONNX Runtime's CPU LRN refuses one
# (`size_ % 2 == 1`), and onnx.reference's LRN loops over the batch instead of the
# channels; even sizes are checked against the definition (test_lrn_reference_...)
@pytest.mark.parametrize("kw", [{"nsize": 5}, {"nsize": 3, "alpha": 0.1, "beta": 0.5,
                                                "knorm": 1.0}, {"nsize": 1, "alpha": 1.0}])
def test_lrn_onnx(kw: dict[str, Any]) -> None:
    _ort_check(LRN(**kw), rand(2, 7, 3, 4) * 3, ("batch", 7, 3, 4))


def test_lrn_exports_as_onnx_lrn() -> None:
    pytest.importorskip("onnx")
    from shapegraph.onnx import to_onnx

    model = sg.compile(LRN(nsize=4, knorm=1.5), sg.Input("x", (2, 4, 5, 5)))
    proto = to_onnx(model.graph, {"x": TensorType((2, 4, 5, 5))}, model.params)
    (node,) = proto.graph.node
    attrs = {a.name: (a.i if a.name == "size" else round(a.f, 6)) for a in node.attribute}
    assert node.op_type == "LRN" and attrs == {"size": 4, "alpha": 1e-4, "beta": 0.75,
                                               "bias": 1.5}


# ----------------------------------------------------------------------------- arguments


@pytest.mark.parametrize(("make", "error", "message"), [
    (lambda: nn.Conv3D(4, (3, 3)), ValueError,
     r"Conv3D: kernel_size must be an int >= 1 or 3 of them, got \(3, 3\)"),
    (lambda: nn.Conv3D(4, 3, strides=(1, 0, 1)), ValueError, "Conv3D: strides must be"),
    (lambda: nn.Conv3D(4, 3, padding=-1), ValueError, "Conv3D: padding must be an int >= 0"),
    (lambda: nn.Conv3D(6, 3, groups=4), ValueError, "Conv3D: channels=6 .* groups=4"),
    (lambda: nn.Conv3D(4, 3, layout="NCHW"), ValueError,
     "Conv3D: only layout 'NCDHW' is supported, got 'NCHW'"),
    (lambda: nn.Conv3D(4, 3, stride=2), TypeError, "did you mean 'strides'"),
    (lambda: nn.Conv3D(4, 3, activation="nope"), ValueError, "Conv3D: unknown activation"),
    (lambda: nn.MaxPool3D((2, 2)), ValueError, "MaxPool3D: pool_size must be an int >= 1 or 3"),
    (lambda: nn.MaxPool3D(layout="NDHWC"), ValueError, "MaxPool3D: only layout 'NCDHW'"),
    (lambda: nn.MaxPool3D(2, 2, 0, "yes"), TypeError, "MaxPool3D: ceil_mode must be True"),
    (lambda: nn.AvgPool3D(2, count_include_pad="no"), TypeError,
     "AvgPool3D: count_include_pad must be True or False"),
    (lambda: nn.AvgPool3D(2, strides=0), ValueError, "AvgPool3D: strides must be"),
    (lambda: nn.GlobalAvgPool3D(layout="NCHW"), ValueError, "GlobalAvgPool3D: only layout"),
    (lambda: nn.GlobalMaxPool3D("NCW"), ValueError, "GlobalMaxPool3D: only layout 'NCDHW'"),
])
def test_bad_layer_arguments(make: Any, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        make()


@pytest.mark.parametrize(("kw", "error", "message"), [
    ({}, TypeError, "ops.lrn: nsize is required"),
    ({"nsize": 0}, ValueError, "ops.lrn: nsize must be a positive int, got 0"),
    ({"nsize": 2.5}, ValueError, "ops.lrn: nsize must be a positive int, got 2.5"),
    ({"nsize": 3, "alpha": "big"}, TypeError, "ops.lrn: alpha must be a number"),
    ({"nsize": 3, "knorm": None}, TypeError, "ops.lrn: knorm must be a number"),
])
def test_bad_lrn_arguments(kw: dict[str, Any], error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        LRN(**kw)(rand(1, 3, 2, 2))


def test_lrn_wrong_rank_names_the_op() -> None:
    with pytest.raises(sg.ShapeError, match="LRN expects rank >= 3"):
        LRN(nsize=3)(rand(2, 3))


def test_gluon_argument_order_and_describe() -> None:
    pool = nn.MaxPool3D((1, 2, 2), None, 0, True)  # ceil_mode before layout, as in Gluon
    assert pool.describe() == "MaxPool3D(pool_size=(1, 2, 2), ceil_mode=True)"
    assert nn.AvgPool3D(2, 1, 1, True, "NCDHW", False).describe() == (
        "AvgPool3D(pool_size=2, strides=1, padding=1, ceil_mode=True, count_include_pad=False)")
    conv = nn.Conv3D(8, 3, 1, 1, 1, 1, "NCDHW", "relu", in_channels=4)
    assert repr(conv) == "Conv3D(4 -> 8, kernel_size=3, padding=1, Activation(relu))"
    assert conv.weight.shape == (8, 4, 3, 3, 3)


def test_docstring_examples() -> None:
    import doctest

    from shapegraph.frontend import layers
    from shapegraph.opset import lrn

    for mod in (KND, lrn, layers):
        assert doctest.testmod(mod).failed == 0, mod.__name__
