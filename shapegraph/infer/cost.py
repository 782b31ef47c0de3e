"""What a resolved graph costs: multiply-accumulates per node (from each op record's
``macs`` rule, the one place an op's count is written), and the bytes of values and
parameters. Symbolic where the types are: a Dense(256) on ``(batch, 100)`` does
``25600*batch`` multiply-adds.

>>> import shapegraph as sg
>>> res = sg.propagate(sg.build.chain(2, [("dense", {"units": 10})]), {"x": ("batch", 20)})
>>> str(graph_macs(res))
'200*batch'
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from shapegraph.core.dims import Dim, product
from shapegraph.core.graph import Node
from shapegraph.core.types import TensorType
from shapegraph.opset.registry import get_op

if TYPE_CHECKING:
    from shapegraph.infer.propagate import Resolution

__all__ = ["graph_macs", "itemsize", "node_macs", "param_bytes", "type_bytes"]


def node_macs(node: Node, res: Resolution) -> Dim | None:
    """The multiply-accumulates of ``node`` (0 for ops whose record counts none), or None
    when a type it needs is unknown (the node's rule failed)."""
    rule = get_op(node.op).macs
    if rule is None:
        return 0
    ins = [res.types[v] for v in node.inputs]
    outs = [res.types[v] for v in node.outputs]
    if any(t is None for t in (*ins, *outs)):
        return None
    params = {role: tuple(res.param_dims[key]) for role, key in node.params}
    return rule(ins, outs, params, node.attrs)  # type: ignore[arg-type]


def graph_macs(res: Resolution) -> Dim:
    """The multiply-accumulates of every node of the resolved graph; ValueError when a
    node's types are unknown."""
    total: Dim = 0
    for node in res.graph.nodes:
        m = node_macs(node, res)
        if m is None:
            raise ValueError(f"node {node.id} ({node.op} at {node.prov.display_path}) has "
                             "no resolved type")
        total = total + m
    return total


def itemsize(dtype: str) -> int:
    """Bytes per element of a dtype name (``float32`` -> 4)."""
    return int(np.dtype(dtype).itemsize)


def type_bytes(t: TensorType) -> Dim:
    """The bytes a value of type ``t`` takes (symbolic where its shape is)."""
    return product((*t.shape, itemsize(t.dtype)))


def param_bytes(shape: tuple[Dim, ...], dtype: str) -> Dim:
    """The bytes of a parameter of ``shape`` and ``dtype``."""
    return product((*shape, itemsize(dtype)))
