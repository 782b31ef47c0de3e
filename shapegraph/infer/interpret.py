"""The reference interpreter: run a graph with every op's numpy reference semantics.

It is slow and simple on purpose: it is the oracle the numba executor is tested against.

>>> import numpy as np
>>> from shapegraph.opset.build import chain
>>> g = chain(2, [("dense", {"units": 2, "use_bias": False}), ("relu", {})])
>>> w = np.array([[1, -1], [-1, 1]], np.float32)
>>> run_reference(g, {"0.weight": w}, {"x": np.array([[3, 1]], np.float32)})
(array([[2., 0.]], dtype=float32),)
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from shapegraph.core.graph import Graph
from shapegraph.opset.registry import get_op

__all__ = ["run_reference"]


def run_reference(graph: Graph, params: Mapping[str, np.ndarray],
                  inputs: Mapping[str, np.ndarray]) -> tuple[np.ndarray, ...]:
    """The graph's outputs for ``inputs`` (by input name) and ``params`` (by key)."""
    values: list[np.ndarray | None] = [None] * len(graph.values)
    for gi in graph.inputs:
        values[gi.value] = inputs[gi.name]
    for node in graph.nodes:
        ins = [values[v] for v in node.inputs]
        p = {role: params[key] for role, key in node.params}
        outs = get_op(node.op).reference(ins, p, node.attrs)  # type: ignore[arg-type]
        for v, out in zip(node.outputs, outs, strict=True):
            values[v] = out
    return tuple(values[v] for v in graph.outputs)  # type: ignore[misc]
