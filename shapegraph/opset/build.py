"""Building graphs without the front end: one call per layer, parameters from the op's rule.

The front end's tracer, the ONNX importer, the benchmarks and the tests all add layers
through :func:`add_layer`, so a layer's parameters are declared in exactly one place (its
op's parameter rule).

>>> g = chain(2, [("dense", {"units": 256}), ("relu", {}), ("dense", {"units": 10})])
>>> [n.op for n in g.nodes], sorted(g.params)
(['dense', 'relu', 'dense'], ['0.bias', '0.weight', '2.bias', '2.weight'])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from shapegraph.core.graph import Graph, GraphBuilder, Node, ParamSpec, Provenance
from shapegraph.opset.base import AttrError
from shapegraph.opset.registry import get_op

__all__ = ["add_layer", "chain", "complete_attrs", "float_consumer", "layer_detail"]


def layer_detail(kind: str, attrs: Mapping[str, Any], keys: Sequence[str] = ()) -> str:
    """``Dense(10, in_units=300)``: the layer kind with its interesting arguments."""
    shown = [repr(attrs[k]) if i == 0 else f"{k}={attrs[k]!r}"
             for i, k in enumerate(keys) if attrs.get(k) not in (None, False)]
    return f"{kind}({', '.join(shown)})"


def add_layer(
    b: GraphBuilder,
    op: str,
    inputs: Sequence[int],
    attrs: Mapping[str, Any],
    prov: Provenance,
    params: Mapping[str, str] | None = None,
    *,
    completed: bool = False,
) -> tuple[int, ...]:
    """Add one node; declare the parameters its op needs under ``<path>.<role>``.

    ``params`` maps a role to an existing key instead (a tied parameter). ``completed``:
    ``attrs`` already come from :func:`complete_attrs` (the tracer completes them first,
    to decide ranks), so they are not completed again.
    """
    opdef = get_op(op)
    if not completed:
        attrs = complete_attrs(op, attrs, prov)
    roles: list[tuple[str, str]] = []
    for decl in opdef.param_rule(attrs):
        key = (params or {}).get(decl.role) or (
            f"{prov.path}.{decl.role}" if prov.path else decl.role)
        b.add_param(ParamSpec(key, decl.shape, prov, decl.notes, decl.declare))
        roles.append((decl.role, key))
    return b.add_node(op, inputs, attrs, prov, roles)


def complete_attrs(op: str, attrs: Mapping[str, Any], prov: Provenance) -> dict[str, Any]:
    """``attrs`` completed and checked by ``op``'s schema (:meth:`OpDef.complete`); an
    error names the layer (or node) it was for."""
    try:
        return get_op(op).complete(attrs)
    except AttrError as e:
        where = f"{prov.kind} `{prov.path}`" if prov.path else prov.kind
        raise AttrError(f"{where}: {e}") from None


def float_consumer(graph: Graph, value: int) -> Node | None:
    """The first node that reads ``value`` as float data (not as integer indices, as an
    embedding does), or None when every use is as indices."""
    for nid in graph.consumers.get(value, ()):
        node = graph.nodes[nid]
        index = get_op(node.op).index_inputs
        if any(v == value and k not in index for k, v in enumerate(node.inputs)):
            return node
    return None


def chain(
    rank: int,
    layers: Sequence[tuple[str, Mapping[str, Any]]],
    file: str | None = None,
    first_line: int | None = None,
) -> Graph:
    """A chain of layers fed by one input ``x`` of ``rank``; layer ``k`` has path ``"k"``."""
    b = GraphBuilder()
    (v,) = (b.add_input("x", rank),)
    for k, (op, attrs) in enumerate(layers):
        line = None if first_line is None else first_line + k
        attrs = complete_attrs(op, attrs, Provenance(str(k), op, file, line))
        kind = _kind(op, attrs)
        prov = Provenance(str(k), kind, file, line, layer_detail(kind, attrs, _KEYS.get(op, ())))
        (v,) = add_layer(b, op, [v], attrs, prov)
    return b.build([v])


def _kind(op: str, attrs: Mapping[str, Any]) -> str:
    """The Gluon-style layer name of an op (complete attributes): ``Dense``, ``Conv2D``,
    ``MaxPool2D``..."""
    if op == "conv":
        return f"Conv{attrs['ndim']}D"
    if op in ("pool", "global_pool"):
        glob = "Global" if op == "global_pool" else ""
        return f"{glob}{attrs['kind'].capitalize()}Pool{attrs['ndim']}D"
    return {"dense": "Dense", "flatten": "Flatten", "batchnorm": "BatchNorm",
            "layernorm": "LayerNorm", "dropout": "Dropout", "embedding": "Embedding"}.get(op, op)


_KEYS: dict[str, tuple[str, ...]] = {
    "dense": ("units", "in_units"),
    "conv": ("channels", "kernel", "in_channels"),
    "pool": ("kernel",),
}
