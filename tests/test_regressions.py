"""What the trials of a new user found (issue 8), one test per finding: each failed
before its fix."""

from __future__ import annotations

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
