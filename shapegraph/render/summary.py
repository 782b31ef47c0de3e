"""A model summary: one row per layer (nested blocks as a tree), with output types, parameter
shapes and counts, FLOPs and activation memory, and totals; built from a resolved graph
alone (nothing allocated), so it works before ``initialize()`` and on ONNX models.

Counts stay symbolic where the types are (``51200*batch``); the totals are also given at
the sizes bound in ``sizes`` (``{"batch": 8}``). A graph whose shapes conflict gives a
summary without rows that says so and points at ``shapegraph check``.

>>> import shapegraph as sg
>>> res = sg.propagate(sg.build.chain(2, [("dense", {"units": 10})]), {"x": ("batch", 20)})
>>> s = summarize(res, "chain", sizes={"batch": 4})
>>> s.total_params, str(s.flops), s.at(s.flops)
(210, '400*batch', 1600)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from shapegraph.core.diagnostics import Diagnostic
from shapegraph.core.dims import Dim, evaluate, holes, product, syms
from shapegraph.core.graph import Node
from shapegraph.core.types import TensorType
from shapegraph.infer.cost import node_macs, param_bytes, type_bytes

if TYPE_CHECKING:
    from shapegraph.infer.propagate import Resolution

__all__ = ["FROZEN_ROLES", "LayerRow", "Summary", "summarize"]

# parameters that training does not change (statistics, not weights)
FROZEN_ROLES = frozenset({"running_mean", "running_var"})


@dataclass(frozen=True)
class LayerRow:
    """One row: a layer (its nodes), a container block (totals of its rows below), or an
    operation written in a container's ``forward`` (``relu in forward``)."""

    path: str
    kind: str
    depth: int
    leaf: bool
    outputs: tuple[TensorType | None, ...]
    params: tuple[tuple[str, tuple[Dim, ...]], ...]  # (key, shape), for leaf rows
    param_count: Dim
    macs: Dim | None
    act_bytes: Dim | None
    # what the row reads: the names of the rows (or graph inputs) whose outputs it takes
    inputs: tuple[str, ...] = ()
    op: str = ""  # an op of a container's forward: its op (the row is named path:op)

    @property
    def name(self) -> str:
        """How other rows refer to this one: its path (``path:op`` for an op written in a
        container's ``forward``; ``<root>`` for a network that is one layer)."""
        if self.op:
            return f"{self.path}:{self.op}" if self.path else self.op
        return self.path or "<root>"

    @property
    def flops(self) -> Dim | None:
        return None if self.macs is None else 2 * self.macs


@dataclass(frozen=True)
class Summary:
    """What ``sg.summary`` returns: rows, totals, and whether the shapes are consistent.
    ``str()`` / ``render("text")`` give a rich table, ``render("json")`` / ``to_dict()``
    the data, ``_repr_html_`` an HTML table for notebooks."""

    target: str
    inputs: Mapping[str, TensorType]
    rows: tuple[LayerRow, ...]
    diagnostics: tuple[Diagnostic, ...] = ()
    sizes: Mapping[str, int] = field(default_factory=dict)
    total_params: Dim = 0
    trainable_params: Dim = 0
    param_bytes: Dim = 0
    macs: Dim = 0
    act_bytes: Dim = 0
    input_bytes: Dim = 0

    @property
    def ok(self) -> bool:
        """No error diagnostics: the numbers mean something."""
        return not any(d.is_error for d in self.diagnostics)

    @property
    def flops(self) -> Dim:
        return 2 * self.macs

    @property
    def is_chain(self) -> bool:
        """Every layer reads the one before it (a Sequential of plain layers): no need to
        say what is connected to what."""
        prev: tuple[str, ...] = tuple(self.inputs)[:1]
        for r in self.rows:
            if r.leaf:
                if r.inputs != prev:
                    return False
                prev = (r.name,)
        return True

    def at(self, d: Dim | None) -> Dim | None:
        """``d`` at the bound sizes (an int when they bind every symbol in it)."""
        if d is None or isinstance(d, int) or holes(d):
            return d
        if all(s.name in self.sizes for s in syms(d)):
            return evaluate(d, self.sizes)
        return d

    def to_dict(self) -> dict[str, Any]:
        from shapegraph.render.summary_format import summary_dict

        return summary_dict(self)

    def render(self, fmt: str = "text", color: bool = False, width: int = 150) -> str:
        """``"text"``: the table and totals (rich); ``"json"``: :meth:`to_dict` as JSON."""
        from shapegraph.render.summary_format import render_summary

        return render_summary(self, fmt, color, width)

    def __str__(self) -> str:
        return self.render("text")

    def __repr__(self) -> str:
        verdict = "ok" if self.ok else "shape conflicts"
        return f"<Summary {self.target}: {len(self.rows)} rows, {verdict}>"

    def _repr_html_(self) -> str:
        from shapegraph.render.summary_format import summary_html

        return summary_html(self)


def summarize(res: Resolution, target: str, kinds: Mapping[str, str] | None = None,
              frozen: Iterable[str] = (), sizes: Mapping[str, int] | None = None,
              extra: Iterable[Diagnostic] = ()) -> Summary:
    """The summary of a resolved graph. ``kinds``: the block type of each container path
    (``{"0": "BasicBlock"}``); ``frozen``: parameter keys that are not trainable (besides
    batchnorm statistics); ``sizes``: sizes for the symbols, for the totals."""
    graph = res.graph
    diags = (*res.diagnostics, *extra)
    inputs = {gi.name: t for gi in graph.inputs
              if (t := res.types[gi.value]) is not None}
    if any(d.is_error for d in diags):
        return Summary(target, inputs, (), diags, dict(sizes or {}))
    rows = _rows(res, dict(kinds or {}))
    frozen_keys = set(frozen) | {key for n in graph.nodes for role, key in n.params
                                 if role in FROZEN_ROLES}
    shapes = {k: tuple(res.param_dims[k]) for k in graph.params}
    counts = {k: product(s) for k, s in shapes.items()}
    leaves = [r for r in rows if r.leaf]
    return Summary(
        target, inputs, tuple(rows), diags, dict(sizes or {}),
        total_params=_sum(counts.values()),
        trainable_params=_sum(c for k, c in counts.items() if k not in frozen_keys),
        param_bytes=_sum(param_bytes(s, graph.params[k].dtype) for k, s in shapes.items()),
        macs=_sum(r.macs for r in leaves),
        act_bytes=_sum(r.act_bytes for r in leaves),
        input_bytes=_sum(type_bytes(t) for t in inputs.values()))


def _sum(items: Iterable[Dim | None]) -> Dim:
    total: Dim = 0
    for d in items:
        if d is not None:
            total = total + d
    return total


# --------------------------------------------------------------------------- the rows


def _ancestors(path: str) -> list[str]:
    """``"a.b.c"`` -> ``["a", "a.b"]`` (the root ``""`` is not a row)."""
    parts = path.split(".") if path else []
    return [".".join(parts[:k]) for k in range(1, len(parts))]


def _depth(path: str) -> int:
    return path.count(".") if path else 0


def _groups(nodes: Iterable[Node], containers: set[str]) -> list[tuple[str, list[Node]]]:
    """Consecutive nodes of one layer form a group; an op written in a container's
    ``forward`` is a group of its own."""
    out: list[tuple[str, list[Node]]] = []
    for n in nodes:
        own = n.prov.path in containers
        if out and not own and out[-1][0] == n.prov.path:
            out[-1][1].append(n)
        else:
            out.append((n.prov.path, [n]))
    return out


def _rows(res: Resolution, kinds: dict[str, str]) -> list[LayerRow]:
    nodes = res.graph.nodes
    containers = {a for n in nodes for a in _ancestors(n.prov.path)}
    containers |= {p for p in kinds if any(n.prov.path.startswith(p + ".") for n in nodes)}
    if any(n.prov.path for n in nodes):
        containers.add("")
    seen_params: set[str] = set()
    made_by = {gi.value: gi.name for gi in res.graph.inputs}  # value -> row name
    rows: list[LayerRow] = []
    opened: dict[str, list[LayerRow]] = {}  # container path -> its rows below
    for path, group in _groups(nodes, containers):
        for a in _ancestors(path) + ([path] if path in containers and path else []):
            if a not in opened:
                opened[a] = []
                rows.append(_container_stub(a, kinds))
        row = _group_row(res, path, group, path in containers, seen_params)
        row = replace(row, inputs=_reads(group, made_by))
        made_by.update({v: row.name for n in group for v in n.outputs})
        rows.append(row)
        for a, below in opened.items():
            if row.path == a or row.path.startswith(a + "."):
                below.append(row)
    return [_container_row(r, opened[r.path]) if not r.leaf else r for r in rows]


def _reads(group: list[Node], made_by: dict[int, str]) -> tuple[str, ...]:
    """The rows (or graph inputs) whose values the group reads, in order, once each."""
    inside = {v for n in group for v in n.outputs}
    names = [made_by[v] for n in group for v in n.inputs if v not in inside and v in made_by]
    return tuple(dict.fromkeys(names))


def _container_stub(path: str, kinds: dict[str, str]) -> LayerRow:
    return LayerRow(path, kinds.get(path, "Block"), _depth(path), False, (), (), 0, 0, 0)


def _container_row(stub: LayerRow, below: list[LayerRow]) -> LayerRow:
    """A container's row: the output of its last row, the totals of its rows."""
    last = below[-1].outputs if below else ()
    macs = None if any(r.macs is None for r in below) else _sum(r.macs for r in below)
    act = None if any(r.act_bytes is None for r in below) else _sum(
        r.act_bytes for r in below)
    return LayerRow(stub.path, stub.kind, stub.depth, False, last, (),
                    _sum(r.param_count for r in below), macs, act)


def _group_row(res: Resolution, path: str, group: list[Node], functional: bool,
               seen: set[str]) -> LayerRow:
    """The row of one layer's nodes (or of one op of a container's ``forward``)."""
    last = group[-1]
    outputs = tuple(res.types[v] for v in last.outputs)
    keys = [key for n in group for _, key in n.params if key not in seen]
    seen.update(keys)
    params = tuple((k, tuple(res.param_dims[k])) for k in dict.fromkeys(keys))
    macs_each = [node_macs(n, res) for n in group]
    macs = None if any(m is None for m in macs_each) else _sum(macs_each)
    act = None if any(t is None for t in outputs) else _sum(
        type_bytes(t) for t in outputs if t is not None)
    kind = (last.prov.detail or last.op) if functional else last.prov.kind
    depth = _depth(path) + (1 if functional and path else 0)
    return LayerRow(path, kind, depth, True, outputs, params,
                    _sum(product(s) for _, s in params), macs, act,
                    op=last.op if functional else "")
