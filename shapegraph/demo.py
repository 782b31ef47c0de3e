"""``shapegraph demo``: the propagation pass on the seed chapter's network.

Shows the resolved types of the seed MLP from a concrete and from a symbolic batch, what
declarations alone determine, and the rendered conflict for wrong dimensions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shapegraph.build import chain
from shapegraph.graph import Graph
from shapegraph.propagate import InputSpec, propagate
from shapegraph.render import layer_rows, render_table, render_text

__all__ = ["run_demo"]


def _mlp(in_units_0: int | None = None, in_units_1: int | None = None) -> Graph:
    return chain(2, [
        ("dense", {"units": 256, "in_units": in_units_0}),
        ("relu", {}),
        ("dense", {"units": 10, "in_units": in_units_1}),
    ])


def _lenet() -> Graph:
    def conv(c: int, k: int, p: int = 0) -> tuple[str, Mapping[str, Any]]:
        return ("conv", {"channels": c, "kernel": (k, k), "strides": (1, 1), "padding": (p, p),
                         "dilation": (1, 1), "groups": 1, "ndim": 2})

    pool = ("pool", {"kind": "max", "kernel": (2, 2), "strides": (2, 2), "padding": (0, 0),
                     "ndim": 2})
    return chain(4, [conv(6, 5, 2), ("relu", {}), pool, conv(16, 5), ("relu", {}), pool,
                     ("dense", {"units": 120, "in_units": 400}), ("relu", {}),
                     ("dense", {"units": 84}), ("relu", {}), ("dense", {"units": 10})])


def _show(title: str, graph: Graph, inputs: Mapping[str, InputSpec], color: bool) -> None:
    print(f"\n== {title}")
    res = propagate(graph, inputs)
    print(render_table(layer_rows(res)))
    if res.diagnostics:
        print()
        print(render_text(res.diagnostics, color=color))


def run_demo(color: bool = False) -> int:
    """Print the walkthrough; returns the exit code (0)."""
    print("shapegraph demo: the seed network nn.Dense(256, activation='relu') -> nn.Dense(10)")
    _show("x: (2, 20) -- every shape resolves from one concrete input", _mlp(), {"x": (2, 20)},
          color)
    _show("x: (batch, 20) -- a symbolic batch resolves the same weights", _mlp(),
          {"x": ("batch", 20)}, color)
    _show("no input, Dense(256, in_units=20) -- declarations alone fix both weights",
          _mlp(20), {}, color)
    _show("no input, Dense(10, in_units=256) -- the second weight is known; the first waits",
          _mlp(None, 256), {}, color)
    _show("x: (2, 20), Dense(10, in_units=300) -- wrong dims: one conflict, both origins",
          _mlp(None, 300), {"x": (2, 20)}, color)
    _show("LeNet fed 64x64 instead of 28x28 -- the flatten size is derived through the "
          "conv/pool chain", _lenet(), {"x": ("batch", 1, 64, 64)}, color)
    return 0
