"""What the trials of a new user found (issue 8), one test per finding: each failed
before its fix."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest

import shapegraph as sg
from shapegraph import nn, ops

# -- initialize() never refuses a valid network for a guessed input rank ------------------


@pytest.mark.parametrize("tail", [lambda: nn.Conv1D(2, kernel_size=1), lambda: nn.MaxPool1D(),
                                  lambda: nn.AvgPool1D(2), lambda: nn.GlobalAvgPool1D(),
                                  lambda: nn.BatchNorm(axis=2)])
def test_initialize_defers_what_the_declarations_cannot_decide(tail: Any) -> None:
    net = nn.Sequential()
    net.add(nn.Dense(4, flatten=False), tail())
    net.initialize()  # raised SG202: it assumed the dense sees rank 2
    x = np.ones((2, 3, 5), np.float32)
    assert sg.check(net, sg.Input("x", ("batch", 3, 5))).ok
    assert net(x).shape[0] == 2


class SelfAttention(nn.Block):
    def __init__(self, width: int = 8) -> None:
        super().__init__()
        self.q = nn.Dense(width, flatten=False)
        self.k = nn.Dense(width, flatten=False)
        self.out = nn.Dense(width, flatten=False, in_units=width)

    def forward(self, x: Any) -> Any:
        scores = ops.matmul(self.q(x), self.k(x).transpose(0, 2, 1))
        return self.out(ops.matmul(ops.softmax(scores, axis=-1), x)) + x


def test_initialize_attention() -> None:
    net = SelfAttention()
    net.initialize()
    assert net(np.ones((2, 5, 8), np.float32)).shape == (2, 5, 8)


def test_initialize_still_infers_what_every_rank_agrees_on() -> None:
    net = nn.Sequential()
    net.add(nn.Dense(256, in_units=20, activation="relu"), nn.Dense(10))
    net.initialize()
    assert net[1].weight.is_initialized and net[1].weight.shape == (10, 256)
    net = nn.Sequential()
    net.add(nn.Embedding(10, 8), nn.Dense(4, flatten=False))
    net.initialize()  # the embedding adds one axis to any rank: in_units is 8 at all
    assert net[1].weight.shape == (4, 8) and net[1].weight.is_initialized


def test_initialize_does_not_infer_from_one_guessed_rank() -> None:
    """A batchnorm with declared channels and a flattening dense on the same input: at
    rank 2 the dense would see 3 features, at rank 3 three times more. Nothing is created."""

    class Two(nn.Block):
        def __init__(self) -> None:
            super().__init__()
            self.bn = nn.BatchNorm(in_channels=3)
            self.d = nn.Dense(4)

        def forward(self, x: Any) -> Any:
            return self.d(self.bn(x))

    net = Two()
    net.initialize()
    assert not net.d.weight.is_initialized
    assert net(np.ones((2, 3, 5), np.float32)).shape == (2, 4)
    assert net.d.weight.shape == (4, 15)


def test_initialize_still_reports_declarations_that_conflict_at_every_rank() -> None:
    net = nn.Sequential()
    net.add(nn.Dense(256), nn.Dense(10, in_units=300))
    with pytest.raises(sg.ShapeError, match="in_units"):
        net.initialize()


# -- set_data before initialize() is a way to give a parameter its value -------------------


def test_set_data_before_initialize_is_kept() -> None:
    net = nn.Sequential()
    net.add(nn.Dense(4, in_units=3), nn.Dense(2))
    w = np.arange(12, dtype=np.float32).reshape(4, 3)
    net[0].weight.set_data(w)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "already initialized" warning: it never was
        net.initialize()
    net(np.ones((1, 3), np.float32))  # said "Call initialize()" forever
    np.testing.assert_array_equal(net[0].weight.data(), w)
    net.initialize(force_reinit=True)  # force_reinit still means what it says
    assert not np.array_equal(net[0].weight.data(), w)


def test_set_data_refuses_complex_and_non_numbers() -> None:
    p = nn.Dense(2, in_units=2).weight
    with pytest.raises(TypeError, match="complex"):
        p.set_data(np.ones((2, 2)) * (1 + 2j))
    with pytest.raises(TypeError, match="real numbers"):
        p.set_data(np.array([["a", "b"], ["c", "d"]]))
    assert not p.is_initialized


# -- every layer sharing a parameter constrains it -----------------------------------------


def test_sharing_layer_declaration_is_merged() -> None:
    net = nn.Sequential()
    net.add(nn.Dense(8))
    net.add(nn.Dense(8, in_units=20, params=net[0].params))
    assert net[0].weight.shape == (8, 20)  # Gluon merges the declarations
    with pytest.raises(sg.ShapeError) as e:
        net.initialize()  # layer 1 sees 8 features, its (shared) weight wants 20
    d = e.value.diagnostics[0]
    assert d.code == "SG208"
    text = str(e.value)
    assert "shared by layers `0`, `1`" in text and "declared on layer `1`" in text


def test_sharing_layers_that_agree_run() -> None:
    class Tied(nn.Block):
        def __init__(self) -> None:
            super().__init__()
            self.a = nn.Dense(8)
            self.b = nn.Dense(8, in_units=20, params=self.a.params)

        def forward(self, x: Any, z: Any) -> Any:
            return self.a(x) + self.b(z)

    net = Tied()
    net.initialize()
    assert net.a.weight.is_initialized and net.a.weight.shape == (8, 20)
    x = np.ones((2, 20), np.float32)
    np.testing.assert_allclose(net(x, x), 2 * net.a(x), rtol=1e-6)


def test_sharing_layers_with_contradicting_declarations_fail_at_construction() -> None:
    net = nn.Sequential()
    net.add(nn.Dense(8, in_units=10))
    with pytest.raises(ValueError, match=r"shares parameter 'weight' of Dense\(8, in_units=10\)"):
        net.add(nn.Dense(8, in_units=20, params=net[0].params))
    assert net[0].weight.shape == (8, 10)


# -- empty batches --------------------------------------------------------------------------


def _cnn() -> nn.Sequential:
    net = nn.Sequential()
    net.add(nn.Conv2D(4, 3, padding=1), nn.BatchNorm(), nn.MaxPool2D(),
            nn.Dense(5, activation="relu"), nn.Dense(2))
    net.initialize()
    return net


def test_batch_of_zero_eager_and_compiled() -> None:
    net = _cnn()
    empty = np.ones((0, 3, 8, 8), np.float32)
    assert net(empty).shape == (0, 2)  # ZeroDivisionError before
    model = sg.compile(net, sg.Input("x", ("b", 3, 8, 8)))
    assert model(empty).shape == (0, 2)
    assert model(np.ones((2, 3, 8, 8), np.float32)).shape == (2, 2)
    assert "none (a value has no elements" in model.memory_plan(b=0)


# -- a failed initialize() is not forgotten --------------------------------------------------


def test_forward_after_failed_initialize_says_why() -> None:
    net = nn.Sequential()
    net.add(nn.Dense(256), nn.Dense(10, in_units=300))
    with pytest.raises(sg.ShapeError) as first:
        net.initialize()
    with pytest.raises(sg.ShapeError, match="initialize\\(\\) failed") as again:
        net(np.ones((2, 5), np.float32))
    assert [d.message for d in again.value.diagnostics] == \
        [d.message for d in first.value.diagnostics]


# -- warnings point at the user's line -------------------------------------------------------


def test_warnings_point_at_the_user() -> None:
    net = nn.Sequential()
    net.add(nn.Dense(4, in_units=3))
    net.initialize()
    with pytest.warns(UserWarning, match="already initialized") as w:
        net.initialize()
    assert w[0].filename == __file__

    class Unused(nn.Block):
        def __init__(self) -> None:
            super().__init__()
            self.used = nn.Dense(2)
            self.spare = nn.Dense(3)

        def forward(self, x: Any) -> Any:
            return self.used(x)

    net2 = Unused()
    net2.initialize()
    with pytest.warns(UserWarning, match="SG301") as w:
        net2(np.ones((1, 4), np.float32))
    assert w[0].filename == __file__


# -- a window that turns out larger than its input is SG204, never a negative size ---------


class _PinnedWidth(nn.Block):
    """concat(GlobalMaxPool1D(LayerNorm(Conv1D(1, 3)(x))), x) pins x's width to 1 after
    the convolution's rule ran: its output width would be 1 - 2 = -1."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential()
        self.body.add(nn.Conv1D(1, 3, in_channels=2), nn.LayerNorm(), nn.GlobalMaxPool1D())

    def forward(self, x: Any) -> Any:
        return ops.concat(self.body(x), x, dim=1)


def test_window_larger_than_a_width_known_later() -> None:
    net = _PinnedWidth()
    with pytest.raises(sg.ShapeError, match="SG204"):
        net.initialize()  # created LayerNorm's gamma with shape (-1,) before
    assert not any(p.is_initialized for p in net.collect_params().values())
    # with data, the concat is what does not fit (3 against the pooled 1)
    assert [d.code for d in sg.check(net, sg.Input("x", (1, 2, 3))).diagnostics] == ["SG201"]
    with pytest.raises(sg.ShapeError):
        net(np.ones((1, 2, 3), np.float32))


def test_ceil_mode_pool_window_must_fit_the_padded_input() -> None:
    net = nn.Sequential()
    net.add(nn.MaxPool1D(pool_size=3, strides=2, ceil_mode=True))
    net.initialize()
    assert [d.code for d in sg.check(net, sg.Input("x", (1, 1, 2))).diagnostics] == ["SG204"]
    with pytest.raises(sg.ShapeError):
        net(np.ones((1, 1, 2), np.float32))
    assert net(np.ones((1, 1, 3), np.float32)).shape == (1, 1, 1)


def test_softmax_of_an_empty_tensor_is_empty() -> None:
    class Soft(nn.Block):
        def forward(self, x: Any) -> Any:
            return ops.softmax(x, axis=-1)

    net = Soft()
    net.initialize()
    assert net(np.ones((2, 0), np.float32)).shape == (2, 0)
    assert net(np.ones((0, 3), np.float32)).shape == (0, 3)
