"""The seed chapter, step by step, and the answers to its three exercises."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import shapegraph as sg
from shapegraph import init, nd, nn, ops


class Recorder(init.Initializer):
    """The chapter's MyInit: records (name, shape) instead of printing."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, tuple[int, ...]]] = []

    def _init_weight(self, name: str, data: np.ndarray) -> None:
        assert data.dtype == np.float32
        self.calls.append((name, data.shape))
        data[...] = 0.5


def getnet() -> nn.Sequential:
    net = nn.Sequential()
    net.add(nn.Dense(256, activation="relu"))
    net.add(nn.Dense(10))
    return net


X = nd.random.uniform(shape=(2, 20))

# ----------------------------------------------------------------------------- the chapter


def test_1_collect_params_before_initialize_shows_unknown_dims() -> None:
    net = getnet()
    text = repr(net.collect_params())
    assert "0.weight (shape=(256, ?)" in text and "1.weight (shape=(10, ?)" in text
    assert "0.bias (shape=(256,)" in text
    assert "weight(256, ?)" in str(net.collect_params)  # the bound method shows the net
    assert net[0].weight.shape == (256, None)


def test_2_data_before_initialize_and_after_deferred_initialize() -> None:
    net = getnet()
    with pytest.raises(RuntimeError, match=r"initialize\(\)") as e1:
        net[0].weight.data()
    assert not isinstance(e1.value, sg.DeferredInitializationError)
    net.initialize()
    with pytest.raises(sg.DeferredInitializationError) as e2:
        net[0].weight.data()
    msg = str(e2.value)
    assert "0.weight" in msg and "(256, ?)" in msg and "dimension(s) 1" in msg
    assert "forward pass" in msg and "in_units" in msg
    assert isinstance(e2.value, RuntimeError)


def test_3_initialize_creates_only_what_has_a_known_shape() -> None:
    net = getnet()
    rec = Recorder()
    net.initialize(init=rec)
    assert rec.calls == []
    assert net[0].bias.is_initialized and net[1].bias.is_initialized
    assert not net[0].weight.is_initialized and not net[1].weight.is_initialized
    assert net[0].weight.shape == (256, None)


def test_4_first_forward_infers_allocates_initializes_once_in_layer_order() -> None:
    net = getnet()
    rec = Recorder()
    net.initialize(init=rec)
    y = net(X)
    assert y.shape == (2, 10) and y.dtype == np.float32
    assert rec.calls == [("0.weight", (256, 20)), ("1.weight", (10, 256))]
    net(X)
    net(nd.random.uniform(shape=(7, 20)))
    assert len(rec.calls) == 2  # never again
    assert net[0].weight.data().shape == (256, 20)


def test_5_force_reinit_reinitializes_at_once() -> None:
    net = getnet()
    net.initialize()
    net(X)
    rec = Recorder()
    net.initialize(init=rec, force_reinit=True)
    assert rec.calls == [("0.weight", (256, 20)), ("1.weight", (10, 256))]
    assert np.all(net[0].weight.data() == 0.5)


def test_6_every_width_declared_initializes_at_initialize() -> None:
    net = nn.Sequential()
    net.add(nn.Dense(256, in_units=20, activation="relu"))
    net.add(nn.Dense(10, in_units=256))
    rec = Recorder()
    net.initialize(init=rec)
    assert rec.calls == [("0.weight", (256, 20)), ("1.weight", (10, 256))]


def test_default_initializer_and_per_layer_initializers() -> None:
    net = nn.Sequential()
    net.add(nn.Dense(64, in_units=32, weight_initializer=init.Constant(3.0)),
            nn.Dense(4, in_units=64))
    net.initialize()
    assert np.all(net[0].weight.data() == 3.0)  # the layer's own beats the global default
    w1 = net[1].weight.data()
    assert np.abs(w1).max() <= 0.07 and np.abs(w1).max() > 0.03  # Uniform(0.07)
    assert np.all(net[1].bias.data() == 0)  # bias_initializer defaults to zeros


def test_initialize_twice_warns_and_keeps_values() -> None:
    net = nn.Sequential()
    net.add(nn.Dense(4, in_units=3))
    net.initialize()
    before = net[0].weight.data().copy()
    with pytest.warns(UserWarning, match="already initialized"):
        net.initialize(init=init.Constant(1.0))
    np.testing.assert_array_equal(net[0].weight.data(), before)


def test_same_seed_same_values_deferred_or_not() -> None:
    init.seed(7)
    a = nn.Sequential()
    a.add(nn.Dense(8, in_units=5), nn.Dense(3))
    a.initialize(init=init.Xavier())
    b = nn.Sequential()
    b.add(nn.Dense(8), nn.Dense(3))
    b.initialize(init=init.Xavier())
    b(np.ones((1, 5)))
    for key in ("0.weight", "1.weight"):
        np.testing.assert_array_equal(a.collect_params()[key].data(),
                                      b.collect_params()[key].data())


def test_nd_shim_and_float64_inputs() -> None:
    assert nd.array([1, 2]).dtype == np.float32
    assert nd.zeros((2, 3)).shape == (2, 3) and nd.ones(4).sum() == 4
    net = getnet()
    net.initialize()
    y64 = net(X.astype(np.float64))
    np.testing.assert_array_equal(y64, net(X))
    assert y64.dtype == np.float32


# ----------------------------------------------------------------------------- exercise 1


def test_exercise1_partial_dims_resolve_statically() -> None:
    net = nn.Sequential()
    net.add(nn.Dense(256, in_units=20), nn.Dense(10))
    rec = Recorder()
    net.initialize(init=rec)
    assert rec.calls == [("0.weight", (256, 20)), ("1.weight", (10, 256))]


def test_exercise1_later_declaration_initializes_that_weight_only() -> None:
    net = nn.Sequential()
    net.add(nn.Dense(256), nn.Dense(10, in_units=256))
    rec = Recorder()
    net.initialize(init=rec)
    assert rec.calls == [("1.weight", (10, 256))]
    net(X)
    assert rec.calls == [("1.weight", (10, 256)), ("0.weight", (256, 20))]


# ----------------------------------------------------------------------------- exercise 2


def test_exercise2_declarations_conflict_at_initialize_before_any_data() -> None:
    net = nn.Sequential()
    net.add(nn.Dense(256), nn.Dense(10, in_units=300))
    with pytest.raises(sg.ShapeError) as e:
        net.initialize()
    (d,) = e.value.diagnostics
    assert d.code == "SG201" and d.path == "1"
    assert "256" in str(e.value) and "300" in str(e.value) and "units=256" in str(e.value)
    assert "help: set in_units=256" in str(e.value)
    assert not any(p.is_initialized for p in net.collect_params().values())
    with pytest.raises(RuntimeError, match=r"initialize\(\)"):
        net[0].bias.data()  # initialize() failed as a whole


def test_exercise2_conflict_only_data_reveals_changes_nothing() -> None:
    net = nn.Sequential()
    net.add(nn.Dense(256, in_units=30), nn.Dense(10))
    net.initialize()
    snapshot = {k: p.data().copy() for k, p in net.collect_params().items()}
    with pytest.raises(sg.ShapeError) as e:
        net(X)
    (d,) = e.value.diagnostics
    assert d.path == "0" and "20" in d.message and "30" in d.message
    assert "dim 1 of input `x`" in str(e.value)
    after = net.collect_params()
    assert {k: p.shape for k, p in after.items()} == {k: v.shape for k, v in snapshot.items()}
    for k, v in snapshot.items():
        np.testing.assert_array_equal(after[k].data(), v)
    assert net(nd.random.uniform(shape=(2, 30))).shape == (2, 10)  # the next correct call


def test_exercise2_failed_first_forward_leaves_nothing_half_created() -> None:
    net = nn.Sequential()
    net.add(nn.Dense(8), nn.Dense(4), nn.Dense(2, in_units=5))
    with pytest.raises(sg.ShapeError):
        net.initialize()
    net = nn.Sequential()
    net.add(nn.Dense(8), nn.Dense(4, activation="relu"), nn.Flatten(), nn.Dense(2))
    net.initialize()
    with pytest.raises(sg.ShapeError):
        net(np.ones((2,)))  # rank 1: Dense needs (batch, features)
    assert [p.is_initialized for p in net.collect_params().values()] == [
        False, True, False, True, False, True]
    assert net(np.ones((2, 3))).shape == (2, 2)


# ----------------------------------------------------------------------------- exercise 3


def test_exercise3_other_batch_sizes_run_without_tracing_again() -> None:
    net = getnet()
    net.initialize()
    net(X)
    traces = dict(net._rt.traces)
    for n in (1, 5, 64):
        assert net(nd.random.uniform(shape=(n, 20))).shape == (n, 10)
    assert net._rt.traces == traces


def test_exercise3_other_feature_width_is_an_error_naming_layer_and_widths() -> None:
    net = getnet()
    net.initialize()
    net(X)
    w = net[0].weight.data().copy()
    with pytest.raises(sg.ShapeError) as e:
        net(nd.random.uniform(shape=(2, 30)))
    (d,) = e.value.diagnostics
    assert d.path == "0" and "30" in d.message and "20" in d.message
    assert "inferred from dim 1 of input `x` (given as f32[2,20])" in str(e.value)
    np.testing.assert_array_equal(net[0].weight.data(), w)
    assert net[0].weight.shape == (256, 20)


def test_exercise3_higher_rank_input_flattens_like_gluon() -> None:
    net = getnet()
    net.initialize()
    net(X)
    assert net(nd.random.uniform(shape=(2, 4, 5))).shape == (2, 10)


class TwoUses(nn.Block):
    def __init__(self, style: str) -> None:
        super().__init__()
        self.a = nn.Dense(8)
        if style == "gluon1":
            self.b = nn.Dense(8, params=self.a.params)
        else:
            self.b = nn.Dense(8)
            self.b.share_parameters(self.a.collect_params())

    def forward(self, x, z):  # type: ignore[no-untyped-def]
        return self.a(x) + self.b(z)


@pytest.mark.parametrize("style", ["gluon1", "gluon2"])
def test_exercise3_tied_parameters(style: str) -> None:
    net = TwoUses(style)
    assert net.a.weight is net.b.weight
    assert list(net.collect_params()) == ["a.weight", "a.bias"]
    net.initialize()
    with pytest.raises(sg.ShapeError) as e:
        net(np.ones((2, 20)), np.ones((2, 30)))
    (d,) = e.value.diagnostics
    assert d.code == "SG208" and d.path == "b"
    assert "`a.weight`" in d.message and "layer `a`" in d.message
    assert not net.a.weight.is_initialized
    y = net(np.ones((2, 20)), np.ones((2, 20)))
    np.testing.assert_allclose(y, 2 * net.a(np.ones((2, 20))))


def test_unused_layer_is_reported_at_the_first_forward() -> None:
    class WithSpare(nn.Block):
        def __init__(self) -> None:
            super().__init__()
            self.used = nn.Dense(4)
            self.spare = nn.Dense(3)

        def forward(self, x):  # type: ignore[no-untyped-def]
            return self.used(x)

    net = WithSpare()
    net.initialize()
    with pytest.warns(sg.UnusedLayerWarning, match="`spare`"):
        net(np.ones((2, 5)))
    with pytest.raises(sg.DeferredInitializationError, match="never used by forward"):
        net.spare.weight.data()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        net(np.ones((2, 5)))  # reported once


# ----------------------------------------------------------------------------- custom blocks


class Residual(nn.Block):
    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential()
        self.body.add(nn.Dense(16, activation="relu"), nn.Dense(16))
        self.left = nn.Dense(8)
        self.right = nn.Dense(4)

    def forward(self, x):  # type: ignore[no-untyped-def]
        h = ops.relu(self.body(x) + x)
        y = ops.concat(self.left(h), self.right(h), self.left(h) * 2.0 - 1, dim=1)
        return (y / 2).reshape(0, -1)


def test_custom_block_matches_a_numpy_computation() -> None:
    net = Residual()
    net.initialize(init=init.Normal(0.5))
    x = np.random.default_rng(1).standard_normal((3, 16)).astype(np.float32)
    y = net(x)
    p = {k: v.data() for k, v in net.collect_params().items()}

    def dense(v: np.ndarray, name: str) -> np.ndarray:
        return v @ p[f"{name}.weight"].T + p[f"{name}.bias"]

    h = np.maximum(dense(np.maximum(dense(x, "body.0"), 0), "body.1") + x, 0)
    want = np.concatenate([dense(h, "left"), dense(h, "right"), dense(h, "left") * 2 - 1], 1) / 2
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-5)
    assert y.shape == (3, 20)


def test_operators_and_ops_functions_trace() -> None:
    class Many(nn.Block):
        def __init__(self) -> None:
            super().__init__()
            self.d = nn.Dense(6, in_units=6)

        def forward(self, x):  # type: ignore[no-untyped-def]
            a = ops.sigmoid(x) - ops.tanh(x) * 0.5
            b = (x @ x.T).reshape(0, -1)
            c = ops.softmax(self.d(a), axis=-1) + ops.log_softmax(a)
            return ops.concat(c, b, 1.0 - ops.gelu(x) / 3, dim=1).flatten()

    net = Many()
    net.initialize()
    x = np.random.default_rng(2).standard_normal((4, 6)).astype(np.float32)
    assert net(x).shape == (4, 6 + 4 + 6)


def test_data_dependent_control_flow_is_a_clear_error() -> None:
    class Branchy(nn.Block):
        def __init__(self) -> None:
            super().__init__()
            self.d = nn.Dense(3)

        def forward(self, x):  # type: ignore[no-untyped-def]
            if x > 0:
                return self.d(x)
            return x

    net = Branchy()
    net.initialize()
    with pytest.raises(sg.TraceError, match="cannot be traced"):
        net(np.ones((2, 3)))
    with pytest.raises(sg.TraceError, match="symbolic"):
        class Shapey(nn.Block):
            def forward(self, x):  # type: ignore[no-untyped-def]
                return x.reshape(x.shape[0], -1)

        Shapey()(np.ones((2, 3)))


def test_one_layer_called_twice_shares_its_parameters() -> None:
    class Twice(nn.Block):
        def __init__(self) -> None:
            super().__init__()
            self.d = nn.Dense(5)

        def forward(self, x):  # type: ignore[no-untyped-def]
            return self.d(self.d(x))

    net = Twice()
    net.initialize()
    with pytest.raises(sg.ShapeError, match=r"SG208|in_units"):
        net(np.ones((2, 3)))
    assert net(np.ones((2, 5))).shape == (2, 5)


def test_bad_inputs_are_clear_errors() -> None:
    net = getnet()
    net.initialize()
    with pytest.raises(TypeError, match="input `x`: expected an array of numbers"):
        net(np.array(["a", "b"]))
    with pytest.raises(ValueError, match="scalar"):
        net(3.0)
    with pytest.raises(ValueError, match="Dense: units must be a positive int"):
        nn.Dense(0)
    with pytest.raises(ValueError, match="unknown activation 'rleu'"):
        nn.Dense(3, activation="rleu")
    with pytest.raises(ValueError, match="Conv2D: kernel_size"):
        nn.Conv2D(3, kernel_size=(3, 3, 3))
    with pytest.raises(ValueError, match="multiples of groups"):
        nn.Conv2D(6, 3, groups=4)


def test_forward_before_initialize() -> None:
    with pytest.raises(RuntimeError, match=r"initialize\(\)"):
        getnet()(X)


# ----------------------------------------------------------------------------- set_data


def test_set_data_fills_unknown_dims_after_checking_the_network() -> None:
    net = nn.Sequential()
    net.add(nn.Dense(4), nn.Dense(2))
    net.initialize()
    with pytest.raises(sg.ShapeError) as e:
        net[1].weight.set_data(np.ones((2, 5)))  # layer 0 gives 4 features
    assert "4" in str(e.value) and "5" in str(e.value)
    assert net[1].weight.shape == (2, None) and not net[1].weight.is_initialized
    with pytest.raises(ValueError, match="dim 0 must be 4"):
        net[0].weight.set_data(np.ones((5, 3)))
    net[0].weight.set_data(np.ones((4, 3)))
    assert net[0].weight.shape == (4, 3)
    assert net(np.ones((1, 3))).shape == (1, 2)
    with pytest.raises(sg.ShapeError):
        net(np.ones((1, 7)))



def test_a_shape_tuple_is_an_input_shape_not_a_sample() -> None:
    """``sg.check(net, (2, 10))`` checks for a (2, 10) input, as ``sg.Input("x", (2, 10))``
    does; a tuple with a symbol keeps it; an array is a sample (its batch symbolic)."""
    net = nn.Dense(4)
    for spec, want in [((2, 10), "f32[2,4]"), (("N", 10), "f32[N,4]"),
                       (np.zeros((2, 10), np.float32), "f32[batch,4]")]:
        report = sg.check(net, spec)
        assert report.ok
        assert str(report.resolution.type_of(report.graph.outputs[0])) == want
    assert sg.check(net, (2, 10, 3)).ok  # flattens, as Gluon
