"""Small helpers to build graphs in tests without the front end."""

from __future__ import annotations

from typing import Any

from shapegraph.core.graph import Graph, GraphBuilder, Provenance
from shapegraph.opset.build import add_layer, layer_detail


class Net:
    """``n = Net(); x = n.input("x", 2); y = n.layer("0", "dense", x, units=3)``."""

    def __init__(self, file: str = "model.py") -> None:
        self.b = GraphBuilder()
        self.file = file
        self.line = 10

    def input(self, name: str, rank: int) -> int:
        return self.b.add_input(name, rank)

    def layer(self, path: str, op: str, *ins: int, layer_kind: str | None = None,
              params: dict[str, str] | None = None, shown: dict[str, Any] | None = None,
              **attrs: Any) -> int:
        """``shown``: the layer's arguments for its detail, when they are not the op's
        (an activation that belongs to a Dense layer)."""
        self.line += 1
        kind = layer_kind or op
        keys = ("units", "in_units", "channels", "in_channels")
        prov = Provenance(path, kind, self.file, self.line,
                          layer_detail(kind, attrs if shown is None else shown, keys))
        (out,) = add_layer(self.b, op, list(ins), attrs, prov, params)
        return out

    def build(self, *outs: int) -> Graph:
        return self.b.build(list(outs))


def seed_mlp(in0: int | None = None, in1: int | None = None) -> Graph:
    """Gluon's Sequential(Dense(256, relu), Dense(10)): the activation belongs to layer 0."""
    n = Net()
    x = n.input("x", 2)
    h = n.layer("0", "dense", x, layer_kind="Dense", units=256, in_units=in0)
    n.line -= 1
    h = n.layer("0", "relu", h, layer_kind="Dense", shown={"units": 256, "in_units": in0})
    y = n.layer("1", "dense", h, layer_kind="Dense", units=10, in_units=in1)
    return n.build(y)


def conv_attrs(channels: int, k: int, s: int = 1, p: int = 0, d: int = 1, groups: int = 1,
               nd: int = 2, in_channels: int | None = None) -> dict[str, Any]:
    return {"channels": channels, "kernel": (k,) * nd, "strides": (s,) * nd,
            "padding": (p,) * nd, "dilation": (d,) * nd, "groups": groups, "ndim": nd,
            "in_channels": in_channels}


def pool_attrs(k: int = 2, s: int | None = None, p: int = 0, kind: str = "max", nd: int = 2,
               ceil: bool = False) -> dict[str, Any]:
    return {"kind": kind, "kernel": (k,) * nd, "strides": (s or k,) * nd, "padding": (p,) * nd,
            "ndim": nd, "ceil_mode": ceil, "ceil_drop_last": False}


def lenet(in_units: int | None = 400) -> Graph:
    n = Net("lenet.py")
    x = n.input("x", 4)
    h = n.layer("0", "conv", x, layer_kind="Conv2D", **conv_attrs(6, 5, p=2))
    h = n.layer("1", "relu", h)
    h = n.layer("2", "pool", h, layer_kind="MaxPool2D", **pool_attrs())
    h = n.layer("3", "conv", h, layer_kind="Conv2D", **conv_attrs(16, 5))
    h = n.layer("4", "relu", h)
    h = n.layer("5", "pool", h, layer_kind="MaxPool2D", **pool_attrs())
    h = n.layer("6", "dense", h, layer_kind="Dense", units=120, in_units=in_units)
    h = n.layer("7", "relu", h)
    h = n.layer("8", "dense", h, layer_kind="Dense", units=84)
    h = n.layer("9", "relu", h)
    y = n.layer("10", "dense", h, layer_kind="Dense", units=10)
    return n.build(y)
