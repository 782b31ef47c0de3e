"""The networks of the picture goldens (tests/test_render.py): one per picture kind."""

from __future__ import annotations

from collections.abc import Callable

import shapegraph as sg
from shapegraph import nn, ops
from shapegraph.api.check import Report


class Inception(nn.Block):
    """Three branches concatenated; the 5x5 one lacks padding=2, so it comes out smaller."""

    def __init__(self) -> None:
        super().__init__()
        self.p1 = nn.Conv2D(16, 1, activation="relu")
        self.p2 = nn.Sequential()
        self.p2.add(nn.Conv2D(16, 1, activation="relu"),
                    nn.Conv2D(24, 3, padding=1, activation="relu"))
        self.p3 = nn.Sequential()
        self.p3.add(nn.Conv2D(8, 1, activation="relu"), nn.Conv2D(8, 5, activation="relu"))

    def forward(self, x: object) -> object:
        return ops.concat(self.p1(x), self.p2(x), self.p3(x), dim=1)


class Residual(nn.Block):
    """A residual block whose body halves the size and doubles the channels, without a
    projection on the shortcut."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential()
        self.body.add(nn.Conv2D(32, 3, strides=2, padding=1), nn.BatchNorm(),
                      nn.Activation("relu"), nn.Conv2D(32, 3, padding=1))

    def forward(self, x: object) -> object:
        return ops.relu(self.body(x) + x)


def clean() -> Report:
    net = nn.Sequential()
    net.add(nn.Conv2D(6, 5, activation="relu"), nn.MaxPool2D(2),
            nn.Conv2D(16, 5, activation="relu"), nn.MaxPool2D(2), nn.Flatten(),
            nn.Dense(120, activation="relu"), nn.Dense(10))
    return sg.check(net, sg.Input("x", ("batch", 1, 28, 28)), target="lenet")


def sequential_conflict() -> Report:
    net = nn.Sequential()
    net.add(nn.Dense(256, activation="relu"), nn.Dense(128, activation="relu"),
            nn.Dense(10, in_units=300))
    return sg.check(net, sg.Input("x", ("batch", 20)), target="mlp")


def concat_conflict() -> Report:
    net = nn.Sequential()
    net.add(nn.Conv2D(16, 3, padding=1, activation="relu"), Inception(),
            nn.GlobalAvgPool2D(), nn.Dense(10))
    return sg.check(net, sg.Input("x", ("batch", 3, 32, 32)), target="inception")


def residual_conflict() -> Report:
    net = nn.Sequential()
    net.add(nn.Conv2D(16, 3, padding=1, activation="relu"), Residual(),
            nn.GlobalAvgPool2D(), nn.Dense(10))
    return sg.check(net, sg.Input("x", ("batch", 3, 32, 32)), target="resnet")


PICTURES: dict[str, Callable[[], Report]] = {
    "clean": clean, "sequential": sequential_conflict, "concat": concat_conflict,
    "residual": residual_conflict}
