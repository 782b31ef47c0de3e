"""Activations with parameters (leaky relu, ELU, SELU, hard sigmoid, SiLU/Swish, clip) and
PReLU, end to end, from one table: references against formulas written out here, the
activation kernel against the references (random parameters, extremes, NaN), the
parameters fused into a Dense and a Conv2D epilogue (compiled plans against the reference
interpreter), ONNX Runtime against the references, the layers and ``ops`` functions, and
bad arguments. Adding an activation with a parameter adds one row to ``TABLE``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from graphs import Net
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import expit

import shapegraph as sg
from shapegraph import nn, ops
from shapegraph.core.types import TensorType
from shapegraph.executor import kernels as K
from shapegraph.executor.lower import Step, lower
from shapegraph.executor.model import CompiledModel
from shapegraph.infer.interpret import run_reference
from shapegraph.infer.propagate import propagate
from shapegraph.ops import get_op
from shapegraph.opset.base import AttrError

RNG = np.random.default_rng(0)
SELU_A, SELU_G = 1.6732632423543772, 1.0507009873554805

# (op, attributes, the formula on float64 x, with the attributes written out)
TABLE: list[tuple[str, dict[str, float], Any]] = [
    ("leaky_relu", {}, lambda x: np.where(x >= 0, x, 0.01 * x)),
    ("leaky_relu", {"alpha": 0.3}, lambda x: np.where(x >= 0, x, 0.3 * x)),
    ("elu", {}, lambda x: np.where(x >= 0, x, np.exp(x) - 1)),
    ("elu", {"alpha": 0.5}, lambda x: np.where(x >= 0, x, 0.5 * (np.exp(x) - 1))),
    ("selu", {}, lambda x: SELU_G * np.where(x > 0, x, SELU_A * (np.exp(x) - 1))),
    ("hard_sigmoid", {}, lambda x: np.minimum(1, np.maximum(0, 0.2 * x + 0.5))),
    ("hard_sigmoid", {"alpha": 0.5, "beta": 0.1},
     lambda x: np.minimum(1, np.maximum(0, 0.5 * x + 0.1))),
    ("silu", {}, lambda x: x * expit(x)),
    ("silu", {"beta": 2.0}, lambda x: x * expit(2 * x)),
    ("clip", {"min": -0.5, "max": 0.8}, lambda x: np.minimum(np.maximum(x, -0.5), 0.8)),
    ("clip", {"max": 0.0}, lambda x: np.minimum(x, 0.0)),
    ("clip", {}, lambda x: x),
]
IDS = [f"{op}-{'-'.join(f'{k}{v}' for k, v in a.items())}" for op, a, _ in TABLE]


def rand(*shape: int) -> np.ndarray:
    return (RNG.standard_normal(shape) * 3).astype(np.float32)


def reference(op: str, x: np.ndarray, attrs: dict[str, Any]) -> np.ndarray:
    rec = get_op(op)
    (y,) = rec.reference([x], {}, rec.complete(attrs))
    return y


def kernel_act(op: str, attrs: dict[str, Any]) -> tuple[int, float, float]:
    """The (code, p0, p1) a compiled plan passes for this node."""
    rec = get_op(op)
    assert rec.lowering is not None
    full = rec.complete(attrs)
    ps = [float(full[p]) for p in rec.lowering.params] + [0.0, 0.0]
    return (rec.lowering.code, ps[0], ps[1])


@pytest.mark.parametrize(("op", "attrs", "formula"), TABLE, ids=IDS)
def test_reference_is_the_formula(op: str, attrs: dict[str, float], formula: Any) -> None:
    x = np.concatenate([rand(200), np.float32([0, -0.0, 1e-30, -1e-30, 80, -80])])
    got = reference(op, x, attrs)
    assert got.dtype == np.float32 and got.shape == x.shape
    np.testing.assert_allclose(got, formula(x.astype(np.float64)), rtol=1e-6, atol=1e-7)
    nan = reference(op, np.float32([np.nan]), attrs)
    assert np.isnan(nan).all()  # NaN in, NaN out, for every activation


@pytest.mark.parametrize(("op", "attrs", "formula"), TABLE, ids=IDS)
def test_kernel_matches_the_reference(op: str, attrs: dict[str, float], formula: Any) -> None:
    x = np.concatenate([rand(300), np.float32([np.nan, np.inf, -np.inf, 0, 88, -88])])
    out = np.empty_like(x)
    K.activation(x, kernel_act(op, attrs), out)
    want = reference(op, x, attrs)
    np.testing.assert_allclose(out, want, rtol=2e-6, atol=1e-6, equal_nan=True)


@settings(max_examples=30, deadline=None)
@given(st.sampled_from(["leaky_relu", "elu", "hard_sigmoid", "silu", "clip"]),
       st.floats(-3, 3), st.floats(-3, 3), st.integers(0, 2**32 - 1))
def test_kernel_with_random_parameters(op: str, p: float, q: float, seed: int) -> None:
    names = {"leaky_relu": ("alpha",), "elu": ("alpha",), "hard_sigmoid": ("alpha", "beta"),
             "silu": ("beta",), "clip": ("min", "max")}[op]
    values = sorted((p, q)) if op == "clip" else (p, q)
    attrs = dict(zip(names, values, strict=False))
    x = (np.random.default_rng(seed).standard_normal(64) * 4).astype(np.float32)
    out = np.empty_like(x)
    K.activation(x, kernel_act(op, attrs), out)
    np.testing.assert_allclose(out, reference(op, x, attrs), rtol=2e-6, atol=2e-6)


def steps_of(model: CompiledModel, shape: tuple[int, ...]) -> list[Step]:
    """The lowered steps of ``model``'s plan for one input of ``shape``."""
    res = model.resolve((shape,))
    types = {v: t for v, t in enumerate(res.types) if t is not None}
    return lower(model.graph, types, model.params).steps


def _chain(first: str, first_attrs: dict[str, Any], op: str, attrs: dict[str, Any],
           rank: int) -> Any:
    n = Net()
    h = n.layer("0", first, n.input("x", rank), **first_attrs)
    y = n.layer("1", op, h, **attrs)
    return n.build(y)


# every row after a Dense (one compiled kernel serves them all); after a convolution, each
# generated kernel is compiled for its activation (seconds each, cold), so the rows whose
# parameters matter most: a slope, two parameters, open and closed bounds
CONV_ROWS = ("leaky_relu-alpha0.3", "selu-", "clip-min-0.5-max0.8", "clip-max0.0")
FUSED = [pytest.param("dense", *row, id=f"dense-{i}") for row, i in zip(TABLE, IDS, strict=True)]
FUSED += [pytest.param("conv", *row, id=f"conv-{i}") for row, i in zip(TABLE, IDS, strict=True)
          if i in CONV_ROWS]


@pytest.mark.parametrize(("producer", "op", "attrs", "formula"), FUSED)
def test_fused_into_dense_and_conv(producer: str, op: str, attrs: dict[str, float],
                                   formula: Any) -> None:
    """The activation, parameters included, runs in the producer's output pass."""
    if producer == "dense":
        g = _chain("dense", {"units": 7}, op, attrs, 2)
        shape: tuple[int, ...] = (5, 6)
    else:
        g = _chain("conv", {"channels": 4, "kernel": (3, 3), "padding": (1, 1)}, op, attrs, 4)
        shape = (2, 3, 6, 6)
    res = propagate(g, {"x": shape})
    assert res.ok
    params = {k: rand(*(int(d) for d in res.param_dims[k])) for k in g.params}
    model = CompiledModel(g, params, [TensorType(shape)])
    x = rand(*shape)
    (want,) = run_reference(g, params, {"x": x})
    np.testing.assert_allclose(model(x), want, rtol=1e-4, atol=1e-4)
    (step,) = steps_of(model, shape)  # one step: the activation is fused
    assert step.act == kernel_act(op, attrs)


@pytest.mark.parametrize(("op", "attrs", "formula"), TABLE, ids=IDS)
def test_onnx_runtime_matches_the_reference(op: str, attrs: dict[str, float],
                                            formula: Any) -> None:
    ort = pytest.importorskip("onnxruntime")
    from shapegraph.onnx import to_onnx

    x = rand(3, 40)
    n = Net()
    g = n.build(n.layer("0", op, n.input("x", 2), **attrs))
    res = propagate(g, {"x": x.shape})
    model = to_onnx(g, {"x": TensorType(x.shape)}, {}, types=dict(enumerate(res.types)))
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    (got,) = sess.run(None, {"x": x})
    np.testing.assert_allclose(got, reference(op, x, attrs), rtol=1e-5, atol=1e-6)


# ----------------------------------------------------------------------------- PReLU


@pytest.mark.parametrize("in_channels", [1, 4, None])
def test_prelu_per_channel_or_shared(in_channels: int | None) -> None:
    net = nn.Sequential()
    net.add(nn.Conv2D(4, 3, in_channels=2), nn.PReLU(in_channels=in_channels))
    net.initialize()
    x = rand(2, 2, 7, 7)
    model = sg.compile(net, sg.Input("x", ("batch", 2, 7, 7)))
    size = 1 if in_channels == 1 else 4
    assert model.params["1.alpha"].shape == (size,)
    np.testing.assert_array_equal(model.params["1.alpha"], np.full(size, 0.25, np.float32))
    slope = (RNG.random(size) - 0.5).astype(np.float32)
    model.params["1.alpha"][...] = slope
    (want,) = run_reference(model.graph, model.params, {"x": x})
    np.testing.assert_allclose(model(x), want, rtol=1e-5, atol=1e-5)
    assert want.shape == (2, 4, 5, 5)
    np.testing.assert_array_equal(want < 0, (want / np.where(
        want < 0, slope.reshape(-1, 1, 1), 1.0)) < 0)  # negative only where the slope is


def test_prelu_kernel_matches_the_reference() -> None:
    x = rand(3, 5, 7)
    for alpha in (np.float32([0.2]), rand(5)):
        out = np.empty_like(x)
        K.prelu(x, alpha, out)
        rec = get_op("prelu")
        (want,) = rec.reference([x], {"alpha": alpha}, rec.complete({"in_channels": None}))
        np.testing.assert_allclose(out, want, rtol=1e-6)
        np.testing.assert_allclose(want, np.where(x < 0, alpha.reshape(-1, 1) * x, x))


def test_prelu_wrong_channels_is_one_conflict_naming_both_sides() -> None:
    net = nn.Sequential()
    net.add(nn.Dense(8, in_units=3, flatten=False), nn.PReLU(in_channels=5))
    report = sg.check(net, sg.Input("x", (2, 4, 3)))
    (d,) = report.diagnostics
    assert d.code == "SG201" and d.path == "1"
    assert "alpha size" in d.message and "in_channels=5" in str(d)


def test_prelu_onnx_runtime() -> None:
    ort = pytest.importorskip("onnxruntime")
    net = nn.Sequential()
    net.add(nn.Conv2D(4, 3, in_channels=2), nn.PReLU(in_channels=4))
    net.initialize()
    model = sg.compile(net, sg.Input("x", ("batch", 2, 7, 7)))
    model.params["1.alpha"][...] = np.float32([0.1, -0.2, 0.3, 0.9])
    x = rand(3, 2, 7, 7)
    from shapegraph.onnx import to_onnx

    proto = to_onnx(model.graph, {"x": TensorType((3, 2, 7, 7))}, model.params)
    sess = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    (got,) = sess.run(None, {"x": x})
    (want,) = run_reference(model.graph, model.params, {"x": x})
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


# ----------------------------------------------------------------------------- front end


class _Ops(nn.Block):
    def forward(self, x: Any) -> Any:
        return (ops.leaky_relu(x, 0.2) + ops.elu(x) + ops.selu(x) + ops.silu(x)
                + ops.swish(x, 0.5) + ops.hard_sigmoid(x) + ops.clip(x, -1.0, 1.0))


def test_layers_and_ops_functions_compile_and_match_the_reference() -> None:
    net = nn.Sequential()
    net.add(nn.Dense(16, in_units=6), nn.LeakyReLU(0.2), nn.Dense(16), nn.ELU(0.5),
            nn.Dense(16), nn.SELU(), nn.Dense(16), nn.Swish(1.5), nn.Dense(16), nn.SiLU(),
            _Ops())
    net.initialize()
    x = rand(4, 6)
    model = sg.compile(net, sg.Input("x", ("batch", 6)))
    (want,) = run_reference(model.graph, model.params, {"x": x})
    np.testing.assert_allclose(model(x), want, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(net(x), want, rtol=1e-4, atol=1e-4)
    assert "not compiled" not in model.memory_plan(batch=4)
    kernels = [s.kernel for s in steps_of(model, (4, 6))]
    assert kernels[:5] == ["dense_narrow"] * 5  # each activation fused into its Dense


def test_reprs_show_the_call() -> None:
    assert [b.describe() for b in (nn.LeakyReLU(0.1), nn.ELU(), nn.ELU(0.5), nn.SELU(),
                                   nn.Swish(), nn.Swish(2.0), nn.SiLU(), nn.PReLU(),
                                   nn.PReLU(in_channels=8))] == [
        "LeakyReLU(0.1)", "ELU()", "ELU(alpha=0.5)", "SELU()", "Swish()", "Swish(beta=2.0)",
        "SiLU()", "PReLU()", "PReLU(in_channels=8)"]


@pytest.mark.parametrize(("make", "error", "message"), [
    (lambda: nn.LeakyReLU("a"), TypeError, "LeakyReLU: alpha must be a number, got 'a'"),
    (lambda: nn.LeakyReLU(-1), ValueError, "LeakyReLU: alpha must be >= 0, got -1"),
    (lambda: nn.LeakyReLU(), TypeError, "alpha"),
    (lambda: nn.ELU(alph=1.0), TypeError, "did you mean 'alpha'"),
    (lambda: nn.Swish(True), TypeError, "Swish: beta must be a number, got True"),
    (lambda: nn.PReLU(in_channels=-1), ValueError, "PReLU: in_channels must be a positive int"),
])
def test_bad_layer_arguments(make: Any, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        make()


def test_bad_op_arguments_name_the_layer_and_attribute() -> None:
    class Bad(nn.Block):
        def forward(self, x: Any) -> Any:
            return ops.clip(x, 2.0, 1.0)

    net = Bad()
    net.initialize()
    with pytest.raises(AttrError, match=r"op `clip`: min=2.0 is above max=1.0"):
        net(rand(2, 3))

    class Typo(nn.Block):
        def forward(self, x: Any) -> Any:
            return ops.leaky_relu(x, alpha="big")

    with pytest.raises(AttrError, match=r"attribute `alpha` must be a number, got 'big'"):
        Typo()(rand(2, 3))
