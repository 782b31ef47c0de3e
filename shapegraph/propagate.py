"""The propagation pass: (graph, inputs) -> a type for every value, a shape for every
parameter, and diagnostics. It needs no data and allocates nothing.

Information flows both ways: rules state equalities (an input width must equal a weight's
``in_units``) and the unifier binds whichever side is unknown, so a declared ``in_units``
on layer 2 fixes layer 1's output width and an input shape fixes every weight downstream.
Rules that cannot decide yet (a broadcast against an unknown dim) run again until nothing
changes. Conflicts are recorded, never raised; a node whose rule fails poisons its outputs
so that nothing downstream of it is reported again.

>>> from shapegraph.graph import GraphBuilder, ParamSpec, Provenance
>>> b = GraphBuilder()
>>> x = b.add_input("x", rank=2)
>>> p = Provenance("0", "Dense")
>>> b.add_param(ParamSpec("0.weight", (256, None), p))
>>> (y,) = b.add_node("dense", [x], {"units": 256}, p, [("weight", "0.weight")])
>>> res = propagate(b.build([y]), {"x": ("batch", 20)})
>>> str(res.type_of(y)), res.param_shape("0.weight")
('f32[batch,256]', (256, 20))
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from shapegraph import ops as _ops  # noqa: F401  (registers every op)
from shapegraph.diagnostics import Diagnostic
from shapegraph.dims import Dim, Hole, Sym, holes, syms
from shapegraph.graph import Graph, Node
from shapegraph.ops.base import Eq, Fail, Out, Src
from shapegraph.ops.registry import all_ops
from shapegraph.types import TensorType
from shapegraph.unify import Because, Outcome, Unifier

__all__ = ["GivenInput", "InputSpec", "Resolution", "as_input_type", "propagate"]

InputSpec = TensorType | Sequence[int | str | Dim | None] | None


@dataclass(frozen=True, slots=True)
class GivenInput(Src):
    """Dim ``j`` of graph input ``name`` as the caller gave it."""

    name: str
    j: int


def as_input_type(spec: InputSpec, rank: int, name: str, dtype: str = "float32") -> TensorType:
    """A TensorType from ints, symbol names, None (unknown) or a TensorType."""
    if isinstance(spec, TensorType):
        return spec
    if spec is None:
        return TensorType(tuple(Hole.fresh(f"{name}[{j}]") for j in range(rank)), dtype)
    dims: list[Dim] = []
    for j, d in enumerate(spec):
        if d is None:
            dims.append(Hole.fresh(f"{name}[{j}]"))
        elif isinstance(d, str):
            dims.append(Sym(d))
        else:
            dims.append(d)
    return TensorType(tuple(dims), dtype)


@dataclass(slots=True)
class _Conflict:
    """A raw finding, turned into a Diagnostic once the pass is over."""

    node: int | None
    outcome: Outcome | None
    eq: Eq | None = None
    fail: Fail | None = None
    a: Dim = 0
    b: Dim = 0


class _Pass:
    def __init__(self, graph: Graph, inputs: Mapping[str, InputSpec]) -> None:
        self.graph = graph
        self.u = Unifier()
        self.types: list[TensorType | None] = [None] * len(graph.values)
        self.srcs: list[tuple[Src, ...] | None] = [None] * len(graph.values)
        self.conflicts: list[_Conflict] = []
        self.deferred: list[tuple[int, Eq]] = []
        self.pending: set[int] = set()
        self.rules = {name: op.shape_rule for name, op in all_ops().items()}
        self.param_dims: dict[str, tuple[Dim, ...]] = {
            key: tuple(d if d is not None else Hole.fresh(f"{key}[{j}]")
                       for j, d in enumerate(spec.shape))
            for key, spec in graph.params.items()
        }
        self.input_errors: list[tuple[str, str]] = []
        self.raw_inputs: dict[str, TensorType] = {}
        self._set_inputs(inputs)

    def _set_inputs(self, inputs: Mapping[str, InputSpec]) -> None:
        names = {gi.name for gi in self.graph.inputs}
        for extra in sorted(set(inputs) - names):
            self.input_errors.append((extra, f"the network has no input named `{extra}` "
                                      f"(its inputs: {', '.join(sorted(names)) or 'none'})"))
        for gi in self.graph.inputs:
            t = as_input_type(inputs.get(gi.name), gi.rank, gi.name, gi.dtype)
            if t.rank != gi.rank:
                self.input_errors.append((gi.name, f"input `{gi.name}` has rank {t.rank} "
                                          f"({t}) but the network was traced with rank "
                                          f"{gi.rank}"))
                continue
            self.raw_inputs[gi.name] = t
            self.types[gi.value] = t
            self.srcs[gi.value] = tuple(GivenInput(gi.name, j) for j in range(t.rank))

    # ------------------------------------------------------------------ the fixed point

    def run(self) -> None:
        for node in self.graph.nodes:
            self.visit(node)
        changed = True
        while changed and (self.pending or self.deferred):
            changed = self._retry_deferred()
            for nid in sorted(self.pending):
                changed |= self.visit(self.graph.nodes[nid])

    def _retry_deferred(self) -> bool:
        todo, self.deferred = self.deferred, []
        progress = False
        for nid, eq in todo:
            before = len(self.deferred)
            self.require(nid, eq)
            progress |= len(self.deferred) == before
        return progress

    def visit(self, node: Node) -> bool:
        """Run the node's rule; True when a re-run learned something new."""
        ins = []
        for v in node.inputs:
            t = self.types[v]
            if t is None:
                return False  # downstream of a failure (or of a bad input): stay quiet
            ins.append(self._resolved(t))
        params = {role: tuple(self.u.resolve(d) for d in self.param_dims[key])
                  for role, key in node.params}
        r = self.rules[node.op](tuple(ins), params, node.attrs)
        if isinstance(r, Fail):
            self.conflicts.append(_Conflict(node.id, None, fail=r))
            self.pending.discard(node.id)
            return False
        return self._accept(node, r)

    def _accept(self, node: Node, r: Out) -> bool:
        rerun = node.id in self.pending
        progress = False
        for v, t, s in zip(node.outputs, r.types, r.srcs, strict=True):
            old = self.types[v]
            if rerun and old is not None:
                progress |= self._refine(node.id, old, t)
            self.types[v], self.srcs[v] = t, s
        for eq in r.eqs:
            self.require(node.id, eq)
        if r.pending:
            self.pending.add(node.id)
        else:
            self.pending.discard(node.id)
            progress |= rerun
        return progress

    def _refine(self, nid: int, old: TensorType, new: TensorType) -> bool:
        progress = False
        for a, b in zip(old.shape, new.shape, strict=True):
            if isinstance(self.u.resolve(a), Hole) and not isinstance(self.u.resolve(b), Hole):
                self.u.unify(a, b, Because(nid, None))
                progress = True
        return progress

    def require(self, nid: int | None, eq: Eq) -> None:
        a, b = eq.lhs, eq.rhs
        if type(a) is int and type(b) is int:
            if a != b:
                self.conflicts.append(_Conflict(nid, Outcome.MISMATCH, eq, a=a, b=b))
            return
        outcome = self.u.unify(a, b, Because(nid, eq.rhs_src), eq.lhs_src)
        if outcome is Outcome.DEFER:
            self.deferred.append((nid if nid is not None else -1, eq))
        elif outcome is not Outcome.OK:
            self.conflicts.append(
                _Conflict(nid, outcome, eq, a=self.u.resolve(a), b=self.u.resolve(b)))

    def _resolved(self, t: TensorType) -> TensorType:
        for d in t.shape:
            if type(d) is not int and not isinstance(d, Sym):
                return t.with_shape(tuple(self.u.resolve(x) for x in t.shape))
        return t


class Resolution:
    """What the pass found: types, parameter shapes, diagnostics (``ok`` when no errors)."""

    def __init__(self, p: _Pass, diagnostics: list[Diagnostic]) -> None:
        self.graph = p.graph
        self._u = p.u
        self.types: tuple[TensorType | None, ...] = tuple(
            p._resolved(t) if t is not None else None for t in p.types)
        self.srcs = tuple(p.srcs)
        self.param_dims: dict[str, tuple[Dim, ...]] = {
            k: tuple(p.u.resolve(d) for d in dims) for k, dims in p.param_dims.items()}
        self._raw_param_dims = p.param_dims
        self.raw_inputs = dict(p.raw_inputs)
        self.diagnostics: tuple[Diagnostic, ...] = tuple(diagnostics)

    @property
    def ok(self) -> bool:
        """No error-severity diagnostics."""
        return not any(d.is_error for d in self.diagnostics)

    @property
    def errors(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.is_error)

    def type_of(self, value: int) -> TensorType | None:
        return self.types[value]

    def input_type(self, name: str) -> TensorType | None:
        for gi in self.graph.inputs:
            if gi.name == name:
                return self.types[gi.value]
        raise KeyError(name)

    def output_types(self) -> tuple[TensorType | None, ...]:
        return tuple(self.types[v] for v in self.graph.outputs)

    def param_shape(self, key: str) -> tuple[int | None, ...]:
        """The parameter's shape with None where a dim is not a known int."""
        return tuple(d if type(d) is int else None for d in self.param_dims[key])

    def param_known(self, key: str) -> bool:
        return all(type(d) is int for d in self.param_dims[key])

    def why(self, h: Hole) -> Because | None:
        return self._u.binding(h)

    def raw_param_dim(self, key: str, j: int) -> Dim:
        return self._raw_param_dims[key][j]

    def explain_param(self, key: str, j: int) -> Any:
        """A :class:`~shapegraph.diagnostics.Related` saying where that dim came from."""
        from shapegraph.explain import Explainer

        return Explainer(self).param(key, j)


def propagate(graph: Graph, inputs: Mapping[str, InputSpec] | None = None) -> Resolution:
    """Resolve every type of ``graph`` from ``inputs`` (ints, symbol names, None) and the
    declared parameter dims; see the module docstring for an example."""
    from shapegraph.explain import build_diagnostics

    p = _Pass(graph, inputs or {})
    p.run()
    res = Resolution(p, [])
    res.diagnostics = tuple(build_diagnostics(res, p.conflicts, p.input_errors))
    return res


def unresolved_params(res: Resolution) -> dict[str, tuple[int, ...]]:
    """Parameter keys whose shape still has holes, with the unknown dim indices."""
    out: dict[str, tuple[int, ...]] = {}
    for key, dims in res.param_dims.items():
        bad = tuple(j for j, d in enumerate(dims) if type(d) is not int and holes(d))
        if bad:
            out[key] = bad
    return out


def symbolic_params(res: Resolution) -> dict[str, tuple[int, ...]]:
    """Parameter keys whose shape depends on a symbol (which no allocation can satisfy)."""
    out: dict[str, tuple[int, ...]] = {}
    for key, dims in res.param_dims.items():
        bad = tuple(j for j, d in enumerate(dims)
                    if type(d) is not int and syms(d) and not holes(d))
        if bad:
            out[key] = bad
    return out
