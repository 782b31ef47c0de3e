"""Reductions (mean, sum, max, min) and unary math (exp, log, sqrt, abs, square), end to end:
shape rules (a table), references against numpy, kernels against references, eager and
compiled networks against the reference interpreter, ONNX Runtime against the references,
the tensor methods and ``shapegraph.ops`` functions, and ``ops.concat``'s two call forms.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest
from graphs import Net
from hypothesis import given, settings
from hypothesis import strategies as st

import shapegraph as sg
from shapegraph import nd, nn, ops
from shapegraph.core.dims import Hole, Sym
from shapegraph.core.types import TensorType
from shapegraph.executor import kernels as K
from shapegraph.infer.interpret import run_reference
from shapegraph.infer.propagate import propagate
from shapegraph.ops import get_op
from shapegraph.opset.base import Fail, FromAttr, FromInput
from shapegraph.opset.elementwise import MATH

REDUCE = ("mean", "sum", "max", "min")
UNARY = ("exp", "log", "sqrt", "abs", "square")
NUMPY = {"mean": np.mean, "sum": np.sum, "max": np.max, "min": np.min, "exp": np.exp,
         "log": np.log, "sqrt": np.sqrt, "abs": np.abs, "square": np.square}
B = Sym("batch")
RNG = np.random.default_rng(0)


def rand(*shape: int, positive: bool = False) -> np.ndarray:
    x = RNG.standard_normal(shape).astype(np.float32)
    return np.abs(x) + 0.1 if positive else x


# ----------------------------------------------------------------------------- shape rules

# (op, input dims, axis, keepdims, expected type or (code, text in the message))
RULES: list[tuple[str, tuple[Any, ...], Any, bool, Any]] = [
    ("mean", (B, 20), None, False, "f32[]"),
    ("mean", (B, 20), None, True, "f32[1,1]"),
    ("sum", (B, 20), (1,), True, "f32[batch,1]"),
    ("sum", (B, 20), 1, False, "f32[batch]"),
    ("sum", (B, 20), (0,), False, "f32[20]"),
    ("max", (B, 3, 4), (-1,), False, "f32[batch,3]"),
    ("min", (B, 3, 4), (0, 2), True, "f32[1,3,1]"),
    ("min", (B, 3, 4), (2, 0), False, "f32[3]"),
    ("mean", (2, 3), (), False, "f32[2,3]"),
    ("sum", (B, Sym("n"), 7), (1, 2), False, "f32[batch]"),
    ("mean", (B, 20), (2,), False, ("SG202", "mean: axis 2 is out of range for f32[batch,20]")),
    ("sum", (B, 20), (-3,), True, ("SG202", "sum: axis -3 is out of range")),
    ("max", (B, 20), (0, 5, 7), False, ("SG202", "max: axis (5, 7) is out of range")),
    ("min", (B, 20), (1, -1), False, ("SG210", "min: axis=(1, -1) names the same axis")),
    ("sum", (B, 20), ("a",), False, ("SG210", "not an int, a tuple of ints or None")),
    ("max", (B, 0), (1,), False, ("SG210", "max: axis 1 of f32[batch,0] is empty")),
    ("sum", (B, 0), (1,), False, "f32[batch]"),
]


@pytest.mark.parametrize(("op", "dims", "axis", "keep", "want"), RULES)
def test_reduce_rule(op: str, dims: tuple[Any, ...], axis: Any, keep: bool, want: Any) -> None:
    r = get_op(op).shape_rule((TensorType(dims),), {}, {"axis": axis, "keepdims": keep})
    if isinstance(want, str):
        assert not isinstance(r, Fail), r
        assert str(r.types[0]) == want
        return
    assert isinstance(r, Fail)
    assert (r.code, want[1]) == (want[0], want[1]) and want[1] in r.message, r.message


def test_reduce_rule_sources() -> None:
    r = get_op("sum").shape_rule((TensorType((B, 3, 4)),), {},
                                 {"axis": (1,), "keepdims": True})
    assert not isinstance(r, Fail)
    assert r.srcs[0] == (FromInput(0, 0), FromAttr("keepdims"), FromInput(0, 2))
    r = get_op("mean").shape_rule((TensorType((Hole.fresh(), 5)),), {},
                                  {"axis": (0,), "keepdims": False})
    assert not isinstance(r, Fail) and str(r.types[0]) == "f32[5]"


@pytest.mark.parametrize("op", UNARY)
def test_unary_rule_keeps_the_type(op: str) -> None:
    t = TensorType((B, Sym("n"), 3))
    r = get_op(op).shape_rule((t,), {}, {})
    assert not isinstance(r, Fail) and r.types[0] == t


def test_bad_axis_is_a_diagnostic_naming_the_layer() -> None:
    n = Net()
    x = n.input("x", 2)
    h = n.layer("0", "dense", x, layer_kind="Dense", units=5)
    y = n.layer("1", "mean", h, axis=(2,), keepdims=False)
    z = n.layer("2", "dense", y, layer_kind="Dense", units=3, in_units=4)
    res = propagate(n.build(z), {"x": ("batch", 10)})
    assert [(d.code, d.path) for d in res.diagnostics] == [("SG202", "1")]
    assert "mean: axis 2 is out of range for f32[batch,5] (rank 2)" in res.diagnostics[0].message


# ----------------------------------------------------------------------------- references

# (op, shape, axis, keepdims): every case also runs through the kernels and ONNX Runtime
CASES: list[tuple[str, tuple[int, ...], Any, bool]] = [
    ("mean", (4, 6), None, False),
    ("sum", (4, 6), None, True),
    ("max", (3, 5, 2), (1,), False),
    ("min", (3, 5, 2), (-1,), True),
    ("mean", (3, 5, 2), (1, 2), False),
    ("sum", (2, 3, 4, 5), (0, 2), False),      # separated axes: the strided kernel
    ("max", (2, 3, 4, 5), (1, 3), True),
    ("min", (2, 1, 4, 5), (0, 3), False),
    ("mean", (2, 3, 4, 5), (0, 1, 3), False),
    ("sum", (3, 4), (), False),
    ("mean", (1, 7), (0,), False),
]


@pytest.mark.parametrize(("op", "shape", "axis", "keep"), CASES)
def test_reduce_reference_is_numpy(op: str, shape: tuple[int, ...], axis: Any, keep: bool
                                   ) -> None:
    x = rand(*shape)
    (got,) = get_op(op).reference([x], {}, {"axis": axis, "keepdims": keep})
    want = NUMPY[op](x, axis=axis, keepdims=keep)
    assert isinstance(got, np.ndarray) and got.dtype == np.float32 and got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-6)
    t = get_op(op).shape_rule((TensorType(shape),), {}, {"axis": axis, "keepdims": keep})
    assert not isinstance(t, Fail) and t.types[0].shape == got.shape


@pytest.mark.parametrize("op", UNARY)
def test_unary_reference_is_numpy(op: str) -> None:
    x = np.array([-2.0, -0.5, 0.0, 0.25, 3.0, np.nan], np.float32)
    (got,) = get_op(op).reference([x], {}, {})
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(got, NUMPY[op](x))
    assert got.dtype == np.float32


# ----------------------------------------------------------------------------- kernels

FEW = settings(max_examples=15, deadline=None)


@FEW
@given(st.integers(1, 4), st.integers(0, 40), st.integers(1, 5), st.sampled_from(REDUCE),
       st.integers(0, 2**32 - 1))
def test_reduce_axis_kernel(a: int, b: int, c: int, op: str, seed: int) -> None:
    if op in ("max", "min") and b == 0:
        b = 1  # the rule refuses an empty max/min
    x = np.random.default_rng(seed).standard_normal((a, b, c)).astype(np.float32)
    out = np.empty((a, c), np.float32)
    K.reduce_axis(x, K.REDUCE_CODES[op], out)
    with warnings.catch_warnings():  # numpy warns about the mean of an empty axis (NaN)
        warnings.simplefilter("ignore", RuntimeWarning)
        (want,) = get_op(op).reference([x], {}, {"axis": (1,), "keepdims": False})
    np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-5)


def test_reduce_kernels_propagate_nan() -> None:
    x = np.array([[[1.0], [np.nan], [3.0]]], np.float32)
    for op in REDUCE:
        out = np.empty((1, 1), np.float32)
        K.reduce_axis(x, K.REDUCE_CODES[op], out)
        assert np.isnan(out[0, 0]), op
        flat = np.empty(1, np.float32)
        K.reduce_strided(x.ravel(), np.array([1, 1, 1, 1, 3, 1], np.int64),
                         np.zeros(6, np.int64), K.REDUCE_CODES[op], flat)
        assert np.isnan(flat[0]), op


@FEW
@given(st.lists(st.integers(1, 4), min_size=3, max_size=6), st.sampled_from(REDUCE),
       st.data())
def test_reduce_strided_kernel(shape: list[int], op: str, data: st.DataObject) -> None:
    axes = tuple(sorted(data.draw(st.sets(st.integers(0, len(shape) - 1), min_size=1))))
    x = RNG.standard_normal(shape).astype(np.float32)
    (want,) = get_op(op).reference([x], {}, {"axis": axes, "keepdims": False})
    out_strides, acc = [0] * len(shape), 1
    for j in reversed(range(len(shape))):
        if j not in axes:
            out_strides[j], acc = acc, acc * shape[j]
    pad = 6 - len(shape)
    out = np.empty(want.size, np.float32)
    K.reduce_strided(x.ravel(), np.array([1] * pad + shape, np.int64),
                     np.array([0] * pad + out_strides, np.int64), K.REDUCE_CODES[op], out)
    np.testing.assert_allclose(out.reshape(want.shape), want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("op", UNARY)
def test_math_codes_in_the_activation_kernel(op: str) -> None:
    x = np.array([-80.0, -2.0, -0.5, 0.0, 1e-30, 0.25, 3.0, 80.0, np.nan], np.float32)
    x = np.concatenate([x, rand(200) * 4])
    out = np.empty_like(x)
    K.activation(x, (K.MATH_CODES[op], 0.0, 0.0), out)
    (want,) = get_op(op).reference([x.astype(np.float64)], {}, {})
    np.testing.assert_allclose(out, want, rtol=2e-6, atol=1e-30)
    y = x.copy()
    K.activation(y, (K.MATH_CODES[op], 0.0, 0.0), y)  # in place
    np.testing.assert_array_equal(y, out)
    assert set(MATH) == set(K.MATH_CODES)


# ----------------------------------------------------------------------------- networks


class Reduce(nn.Block):
    """dense -> one reduction or unary op given as a function of the tensor."""

    def __init__(self, fn: Any, units: int = 6) -> None:
        super().__init__()
        self.fn = fn
        self.dense = nn.Dense(units, flatten=False)

    def forward(self, x):  # type: ignore[no-untyped-def]
        return self.fn(self.dense(x))


def _method(op: str, axis: Any, keep: bool) -> Any:
    return lambda t: getattr(t, op)(axis=axis, keepdims=keep)


def _run_both(net: nn.Block, x: np.ndarray, inputs: Any) -> tuple[Any, Any]:
    """Eager and compiled results, each checked against the reference interpreter."""
    net.initialize()
    eager = net(x)
    model = sg.compile(net, sg.Input("x", inputs))
    compiled = model(x)
    (want,) = run_reference(model.graph, model.params, {"x": x})
    np.testing.assert_allclose(eager, want, rtol=2e-4, atol=2e-4)
    np.testing.assert_allclose(compiled, want, rtol=2e-4, atol=2e-4)
    runner = next(iter(model._runners.values()))
    assert runner.gen.compiled and not runner.plan.lowered.ref_nodes
    return eager, runner.plan.lowered.steps


@pytest.mark.parametrize(("op", "shape", "axis", "keep"), CASES)
def test_reductions_eager_and_compiled(op: str, shape: tuple[int, ...], axis: Any, keep: bool
                                       ) -> None:
    x = rand(*shape[:-1], 3)
    y, steps = _run_both(Reduce(_method(op, axis, keep), units=shape[-1]), x,
                         ("batch", *shape[1:-1], 3))
    assert y.shape == NUMPY[op](np.empty(shape), axis=axis, keepdims=keep).shape
    assert {s.kernel for s in steps} & {"reduce_axis", "reduce_strided"}


@pytest.mark.parametrize("op", UNARY)
def test_unary_eager_and_compiled(op: str) -> None:
    x = rand(5, 4, positive=True)
    positive = op in ("log", "sqrt")  # after abs: the dense output may be negative
    fn = (lambda t: getattr(t.abs(), op)()) if positive else (lambda t: getattr(ops, op)(t))
    _, steps = _run_both(Reduce(fn), x, ("batch", 4))
    assert steps[0].kernel in ("dense", "dense_narrow") and \
        (positive or steps[0].act == (K.MATH_CODES[op], 0.0, 0.0))


def test_functions_match_methods() -> None:
    class Both(nn.Block):
        def forward(self, x):  # type: ignore[no-untyped-def]
            a = ops.sum(x, axis=1, keepdims=True) + ops.max(x) + ops.min(x, axis=-1).reshape(-1, 1)
            b = x.sum(axis=1, keepdims=True) + x.max() + x.min(axis=-1).reshape(-1, 1)
            c = ops.square(ops.log(ops.exp(ops.sqrt(ops.abs(x))))) - ops.mean(x, (0, 1))
            return a - b, c

    x = rand(3, 4)
    diff, c = Both()(x)
    np.testing.assert_allclose(diff, 0, atol=1e-5)
    np.testing.assert_allclose(c, np.abs(x) - x.mean(), rtol=1e-5, atol=1e-5)


class CenteredLayer(nn.Block):
    """D2L, "Custom Layers": a layer without parameters."""

    def forward(self, X):  # type: ignore[no-untyped-def]
        return X - X.mean()


def test_d2l_centered_layer() -> None:
    layer = CenteredLayer()
    np.testing.assert_allclose(layer(nd.array([1, 2, 3, 4, 5])), [-2, -1, 0, 1, 2])
    net = nn.Sequential()
    net.add(nn.Dense(128), CenteredLayer())
    net.initialize()
    x = nd.random.uniform(shape=(4, 8))
    y = net(x)
    assert y.shape == (4, 128) and abs(float(y.mean())) < 1e-6
    model = sg.compile(net, sg.Input("x", ("batch", 8)))
    for batch in (1, 4, 9):
        xb = nd.random.uniform(shape=(batch, 8))
        yb = model(xb)
        assert abs(float(yb.mean())) < 1e-6
        np.testing.assert_allclose(yb, net(xb), rtol=1e-5, atol=1e-5)
    steps = next(iter(model._runners.values())).plan.lowered.steps
    assert [s.kernel for s in steps] == ["dense", "reduce_axis", "binary"]
    assert "f32[]" in str(model)  # the mean is a 0-d value


def test_zero_d_output_and_reductions_before_any_layer() -> None:
    class Total(nn.Block):
        def __init__(self) -> None:
            super().__init__()
            self.out = nn.Dense(2)

        def forward(self, x):  # type: ignore[no-untyped-def]
            return self.out(x.mean(axis=1)).sum()

    net = Total()  # _run_both initializes: the reduction needs the input's rank, so deferred
    x = rand(3, 4, 5)
    y, _ = _run_both(net, x, ("batch", 4, 5))
    assert y.shape == ()
    assert net.out.weight.shape == (2, 5)


def test_wrong_calls_say_what_is_wrong() -> None:
    class Bad(nn.Block):
        def __init__(self, fn: Any) -> None:
            super().__init__()
            self.fn = fn

        def forward(self, x):  # type: ignore[no-untyped-def]
            return self.fn(x)

    x = rand(2, 3)
    with pytest.raises(TypeError, match="axis must be an int, a tuple of ints, or None"):
        Bad(lambda t: t.mean(axis="rows"))(x)
    with pytest.raises(TypeError, match="keepdims must be True or False"):
        Bad(lambda t: ops.sum(t, keepdims="yes"))(x)
    with pytest.raises(AttributeError, match="mean, sum, max, min"):
        Bad(lambda t: t.argmax())(x)
    with pytest.raises(sg.ShapeError, match="max: axis 3 is out of range"):
        Bad(lambda t: t.max(axis=3))(x)


# ----------------------------------------------------------------------------- concat


class Cat(nn.Block):
    def __init__(self, fn: Any) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, a, b):  # type: ignore[no-untyped-def]
        return self.fn(a, b)


@pytest.mark.parametrize(("fn", "axis"), [
    (lambda a, b: ops.concat(a, b), 1),                  # MXNet: dim 1 by default
    (lambda a, b: ops.concat(a, b, dim=0), 0),
    (lambda a, b: ops.concat([a, b], axis=1), 1),        # numpy: a list, axis
    (lambda a, b: ops.concat((a, b)), 0),                # numpy's default axis 0
    (lambda a, b: ops.concat([a, b], dim=1), 1),
    (lambda a, b: ops.concat(a, b, axis=-1), 1),
])
def test_concat_call_forms(fn: Any, axis: int) -> None:
    a, b = rand(2, 2), rand(2, 2)
    np.testing.assert_array_equal(Cat(fn)(a, b), np.concatenate([a, b], axis=axis))


@pytest.mark.parametrize(("fn", "message"), [
    (lambda a, b: ops.concat([a, b], axis=1, dim=1), "give the axis once"),
    (lambda a, b: ops.concat([]), "at least one tensor, got an empty list"),
    (lambda a, b: ops.concat(), "at least one tensor"),
    (lambda a, b: ops.concat([a, "b"], axis=1), "item 1 is a str, not a tensor"),
    (lambda a, b: ops.concat([a, [b]], axis=1), "item 1 is a list, not a tensor"),
    (lambda a, b: ops.concat([a], b), "either as one list"),
    (lambda a, b: ops.concat(a, b, dim=1.0), "the axis must be an int"),
])
def test_concat_wrong_calls(fn: Any, message: str) -> None:
    with pytest.raises(TypeError, match=message):
        Cat(fn)(rand(2, 2), rand(2, 2))


# ----------------------------------------------------------------------------- ONNX


def _ort(op: str, attrs: dict[str, Any], x: np.ndarray) -> None:
    ort = pytest.importorskip("onnxruntime")
    from shapegraph.onnx import to_onnx

    n = Net()
    y = n.layer("0", op, n.input("x", x.ndim), **attrs)
    g = n.build(y)
    res = propagate(g, {"x": x.shape})
    assert res.ok
    (want,) = get_op(op).reference([x], {}, g.nodes[0].attrs)
    model = to_onnx(g, {"x": TensorType(x.shape)}, {}, types=dict(enumerate(res.types)))
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    (got,) = sess.run(None, {"x": x})
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("opset", [17, 18])  # 18: ReduceMean/Max/Min take axes as an input
@pytest.mark.parametrize(("op", "shape", "axis", "keep"), CASES)
def test_reductions_onnx(op: str, shape: tuple[int, ...], axis: Any, keep: bool, opset: int,
                         monkeypatch: pytest.MonkeyPatch) -> None:
    from shapegraph.onnx import export

    monkeypatch.setattr(export, "OPSET", opset)
    _ort(op, {"axis": axis, "keepdims": keep}, rand(*shape))


@pytest.mark.parametrize("op", UNARY)
def test_unary_onnx(op: str) -> None:
    _ort(op, {}, rand(3, 4, positive=op in ("log", "sqrt")))


def test_docstring_examples() -> None:
    import doctest

    from shapegraph.opset import reduce

    assert doctest.testmod(reduce).failed == 0
