"""The graph IR: frozen records for values, nodes, parameters and where each came from.

A :class:`Graph` is what tracing a network produces and what every pass reads. Nodes are
stored in topological order (tracing appends them in execution order), so passes walk the
tuple directly; :func:`to_networkx` is there for analysis and pictures, not for the hot path.

>>> b = GraphBuilder()
>>> x = b.add_input("x", rank=2)
>>> (y,) = b.add_node("relu", [x], {}, Provenance("0", "Activation"))
>>> g = b.build([y])
>>> [n.op for n in g.nodes], g.input_names
(['relu'], ('x',))
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

__all__ = [
    "Graph",
    "GraphBuilder",
    "GraphInput",
    "Node",
    "ParamSpec",
    "Provenance",
    "Value",
    "to_networkx",
]


@dataclass(frozen=True, slots=True)
class Provenance:
    """Where a node or parameter came from: layer path, layer kind, user source location.

    ``path`` is the structured layer path (``"encoder.1"``); ``""`` is the root block.
    """

    path: str
    kind: str
    file: str | None = None
    line: int | None = None
    detail: str = ""

    @property
    def display_path(self) -> str:
        return self.path if self.path else "<root>"

    @property
    def location(self) -> str | None:
        """``file:line`` or None."""
        if self.file is None:
            return None
        return f"{self.file}:{self.line}" if self.line is not None else self.file

    def describe(self) -> str:
        """```1` Dense(10, in_units=300)`` -- how messages name a layer."""
        what = self.detail or self.kind
        return f"`{self.display_path}` {what}"


@dataclass(frozen=True, slots=True)
class ParamSpec:
    """A parameter of the graph: one per key, however many nodes use it (tying).

    ``shape`` holds ints for known dims and None for unknown ones; ``notes`` says per dim
    where a known size came from (``"in_units=300 declared"``), and ``declare`` names the
    layer argument that would fix an unknown dim (``"in_units"``).
    """

    key: str
    shape: tuple[int | None, ...]
    owner: Provenance
    notes: tuple[str, ...] = ()
    declare: tuple[str, ...] = ()
    dtype: str = "float32"
    # per dim, the layer that declared it when that is not ``owner`` (a layer sharing the
    # parameter declared it: ``Dense(8, in_units=20, params=other.params)``)
    dim_owners: tuple[Provenance | None, ...] = ()

    def note(self, j: int) -> str:
        return self.notes[j] if j < len(self.notes) else ""

    def owner_of(self, j: int) -> Provenance:
        """The layer that declared dim ``j`` (the parameter's owner unless a sharer did)."""
        other = self.dim_owners[j] if j < len(self.dim_owners) else None
        return other if other is not None else self.owner


@dataclass(frozen=True, slots=True)
class Value:
    """An edge of the graph: produced by node ``producer`` (None for a graph input)."""

    id: int
    name: str
    producer: int | None
    index: int = 0


@dataclass(frozen=True, slots=True)
class GraphInput:
    """A graph input: its value, its rank (tracing fixes it) and dtype."""

    name: str
    value: int
    rank: int
    dtype: str = "float32"


@dataclass(frozen=True, slots=True, eq=False)
class Node:
    """One operation: op name, input/output value ids, attributes, parameters by role."""

    id: int
    op: str
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    attrs: Mapping[str, Any]
    params: tuple[tuple[str, str], ...]
    prov: Provenance

    def param_key(self, role: str) -> str:
        for r, key in self.params:
            if r == role:
                return key
        raise KeyError(f"node {self.id} ({self.op}) has no parameter {role!r}")

    def describe(self) -> str:
        return self.prov.describe()


@dataclass(frozen=True, slots=True, eq=False)
class Graph:
    """A traced network: values, nodes in topological order, inputs, outputs, parameters."""

    values: tuple[Value, ...]
    nodes: tuple[Node, ...]
    inputs: tuple[GraphInput, ...]
    outputs: tuple[int, ...]
    params: Mapping[str, ParamSpec]
    consumers: Mapping[int, tuple[int, ...]] = field(default_factory=dict)
    users: Mapping[str, tuple[int, ...]] = field(default_factory=dict)  # param key -> nodes

    @property
    def input_names(self) -> tuple[str, ...]:
        return tuple(i.name for i in self.inputs)

    def param_users(self, key: str) -> list[Node]:
        """Every node that uses parameter ``key`` (more than one when tied)."""
        return [self.nodes[i] for i in self.users.get(key, ())]

    def with_input_dtypes(self, dtypes: Sequence[str]) -> Graph:
        """The same graph with other input dtypes (int64 token ids for an embedding)."""
        inputs = tuple(GraphInput(gi.name, gi.value, gi.rank, d)
                       for gi, d in zip(self.inputs, dtypes, strict=True))
        return Graph(self.values, self.nodes, inputs, self.outputs, self.params,
                     self.consumers, self.users)

    def with_input_names(self, names: Sequence[str]) -> Graph:
        """The same graph with its inputs named as the caller named them
        (``sg.Input("img", ...)``)."""
        if list(self.input_names) == list(names):
            return self
        values = list(self.values)
        inputs = []
        for gi, name in zip(self.inputs, names, strict=True):
            values[gi.value] = Value(gi.value, name, None)
            inputs.append(GraphInput(name, gi.value, gi.rank, gi.dtype))
        return Graph(tuple(values), self.nodes, tuple(inputs), self.outputs, self.params,
                     self.consumers, self.users)

    def with_params(self, params: Mapping[str, ParamSpec]) -> Graph:
        """The same graph with other parameter specs (a rewrite returns a new record)."""
        return Graph(self.values, self.nodes, self.inputs, self.outputs,
                     MappingProxyType(dict(params)), self.consumers, self.users)


class GraphBuilder:
    """Mutable builder used while tracing; :meth:`build` freezes it into a :class:`Graph`."""

    def __init__(self) -> None:
        self._values: list[Value] = []
        self._nodes: list[Node] = []
        self._inputs: list[GraphInput] = []
        self._params: dict[str, ParamSpec] = {}

    def add_input(self, name: str, rank: int, dtype: str = "float32") -> int:
        vid = self._new_value(name, None, 0)
        self._inputs.append(GraphInput(name, vid, rank, dtype))
        return vid

    def set_input_rank(self, value: int, rank: int) -> None:
        """Fix the rank of an input traced with an unknown rank (see ``trace``)."""
        for i, gi in enumerate(self._inputs):
            if gi.value == value:
                self._inputs[i] = GraphInput(gi.name, gi.value, rank, gi.dtype)

    def input_rank(self, value: int) -> int:
        """The rank of the input with this value id (-1 while a static trace has not
        fixed it)."""
        return next(gi.rank for gi in self._inputs if gi.value == value)

    def add_param(self, spec: ParamSpec) -> None:
        self._params.setdefault(spec.key, spec)

    def add_node(
        self,
        op: str,
        inputs: Sequence[int],
        attrs: Mapping[str, Any],
        prov: Provenance,
        params: Sequence[tuple[str, str]] = (),
        n_outputs: int = 1,
    ) -> tuple[int, ...]:
        nid = len(self._nodes)
        outs = tuple(self._new_value(f"{op}{nid}", nid, k) for k in range(n_outputs))
        self._nodes.append(
            Node(nid, op, tuple(inputs), outs, MappingProxyType(dict(attrs)), tuple(params), prov)
        )
        return outs

    def _new_value(self, name: str, producer: int | None, index: int) -> int:
        vid = len(self._values)
        self._values.append(Value(vid, name, producer, index))
        return vid

    def build(self, outputs: Sequence[int]) -> Graph:
        consumers: dict[int, list[int]] = {}
        users: dict[str, list[int]] = {}
        for n in self._nodes:
            for v in n.inputs:
                consumers.setdefault(v, []).append(n.id)
            for _, key in n.params:
                users.setdefault(key, []).append(n.id)
        return Graph(
            tuple(self._values),
            tuple(self._nodes),
            tuple(self._inputs),
            tuple(outputs),
            MappingProxyType(dict(self._params)),
            MappingProxyType({k: tuple(v) for k, v in consumers.items()}),
            MappingProxyType({k: tuple(v) for k, v in users.items()}),
        )


def to_networkx(graph: Graph) -> Any:
    """A ``networkx.MultiDiGraph`` of the nodes (plus ``input:NAME`` nodes), for analysis.

    Edges carry the value id; node attributes carry the op and the layer path.
    """
    import networkx as nx

    g = nx.MultiDiGraph()
    for gi in graph.inputs:
        g.add_node(f"input:{gi.name}", op="input", path=gi.name)
    for n in graph.nodes:
        g.add_node(n.id, op=n.op, path=n.prov.path)
    for n in graph.nodes:
        for v in n.inputs:
            src = graph.values[v].producer
            g.add_edge(src if src is not None else f"input:{graph.values[v].name}", n.id, value=v)
    return g
