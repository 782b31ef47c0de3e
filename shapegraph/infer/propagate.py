"""The propagation pass: (graph, inputs) -> a type for every value, a shape for every
parameter, and diagnostics. It needs no data and allocates nothing.

Information flows both ways: rules state equalities (an input width must equal a weight's
``in_units``) and the unifier binds whichever side is unknown, so a declared ``in_units``
on layer 2 fixes layer 1's output width and an input shape fixes every weight downstream.
Rules that cannot decide yet (a broadcast against an unknown dim) run again until nothing
changes. Conflicts are recorded, never raised; a node whose rule fails poisons its outputs
so that nothing downstream of it is reported again.

>>> from shapegraph.core.graph import GraphBuilder, ParamSpec, Provenance
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

import gc
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import shapegraph.opset  # noqa: F401  (registers every op)
from shapegraph.core.diagnostics import Diagnostic
from shapegraph.core.dims import Dim, DimExpr, Hole, Sym, holes
from shapegraph.core.graph import Graph, Node
from shapegraph.core.types import TensorType
from shapegraph.infer.explain import Explainer, build_diagnostics
from shapegraph.infer.unify import Because, Outcome, Unifier
from shapegraph.opset.base import (
    Derived,
    Eq,
    Fail,
    GivenInput,
    Out,
    Src,
    ValueRule,
    pass_through,
)
from shapegraph.opset.registry import all_ops
from shapegraph.opset.values import Val, WithValues, is_value_source

_NO_PARAMS: dict[str, tuple[Dim, ...]] = {}
_PASS = [pass_through(r) for r in range(9)]

__all__ = ["GivenInput", "InputSpec", "Resolution", "as_input_type", "propagate"]

InputSpec = TensorType | Sequence[int | str | Dim | None] | None


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


def _has_holes(t: TensorType) -> bool:
    for d in t.shape:  # noqa: SIM110  (a plain loop is faster than any() on the hot path)
        if d.__class__ is not int and d.__class__ is not Sym:
            return True
    return False


class _Pass:
    """The pass's working state. Hot paths are written for speed: a value whose type has
    no holes (``dirty`` says which do) is never re-resolved, parameters whose dims are all
    known are passed as they are, and same-shape ops skip their rule."""

    def __init__(self, graph: Graph, inputs: Mapping[str, InputSpec]) -> None:
        self.graph = graph
        self.u = Unifier()
        self.types: list[TensorType | None] = [None] * len(graph.values)
        self.srcs: list[tuple[Src, ...] | None] = [None] * len(graph.values)
        self.dirty: set[int] = set()
        self.conflicts: list[_Conflict] = []
        self.deferred: list[tuple[int, Eq]] = []
        self.pending: set[int] = set()
        ops = all_ops()
        # per op: its shape rule and its value rule (None for most ops), in one lookup
        self.rules = {name: (op.shape_rule, op.value_rule) for name, op in ops.items()}
        self.out_rank = {name: op.out_rank for name, op in ops.items()}
        # the value lattice: ops with a value rule, and the known values (by value id)
        self.value_rules: dict[str, ValueRule] = {
            name: op.value_rule for name, op in ops.items() if op.value_rule is not None}
        self.vals: dict[int, Val] = {}
        self.value_sources = frozenset(name for name, r in self.value_rules.items()
                                       if is_value_source(r))
        self.tainted_values: set[int] = set()  # values downstream of a failed rule
        self.tainted_nodes: set[int] = set()
        self.same_shape = frozenset(name for name, op in ops.items() if op.same_shape)
        self.raw_param_dims: dict[str, tuple[Dim, ...]] = {}
        self.open_params: set[str] = set()  # params with a dim that was not known up front
        for key, spec in graph.params.items():
            shape = spec.shape
            if None in shape:
                shape = tuple([d if d is not None else Hole.fresh() for d in shape])  # type: ignore[misc]
                self.open_params.add(key)
            self.raw_param_dims[key] = shape  # type: ignore[assignment]
        self.param_dims = dict(self.raw_param_dims)
        self.seen_params: set[str] = set()
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
            self._store(gi.value, t, tuple(GivenInput(gi.name, j) for j in range(t.rank)))

    def _store(self, v: int, t: TensorType, s: tuple[Src, ...]) -> None:
        self.types[v] = t
        self.srcs[v] = s
        if _has_holes(t):
            self.dirty.add(v)

    # ------------------------------------------------------------------ the fixed point

    def run(self) -> None:
        """One pass in graph order, then re-runs until nothing changes.

        The first pass is the hot loop: same-shape ops are handled inline (they copy their
        input's type), everything else goes through ``visit``.
        """
        types, srcs, dirty, same, visit = (self.types, self.srcs, self.dirty,
                                           self.same_shape, self.visit)
        for node in self.graph.nodes:
            if node.op in same:
                v = node.inputs[0]
                t = types[v]
                if t is not None:
                    out = node.outputs[0]
                    types[out] = t
                    rank = len(t.shape)
                    srcs[out] = _PASS[rank] if rank < len(_PASS) else pass_through(rank)
                    if v in dirty:
                        dirty.add(out)
                    if v in self.tainted_values:
                        self.tainted_values.add(out)
            else:
                visit(node)
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
        """Run the node's rule; True when a re-run learned something new.

        Written for speed (it runs once per node): locals instead of attribute lookups,
        same-shape ops without their rule, no resolving of hole-free types.
        """
        types, dirty, resolve = self.types, self.dirty, self.u.resolve
        ins = []
        for v in node.inputs:
            t = types[v]
            if t is None:
                return False  # downstream of a failure (or of a bad input): stay quiet
            if v in dirty:
                t = TensorType(tuple([resolve(x) for x in t.shape]), t.dtype)
                if not _has_holes(t):
                    types[v] = t
                    dirty.discard(v)
            ins.append(t)
        if node.params:
            pd, open_params, seen = self.param_dims, self.open_params, self.seen_params
            params = {}
            for role, key in node.params:
                dims = pd[key]
                if key in open_params:
                    # a parameter's holes can only be bound by the nodes that use it, so at
                    # its first use they are still fresh and need no resolving
                    if key in seen:
                        dims = tuple([d if d.__class__ is int else resolve(d) for d in dims])
                    else:
                        seen.add(key)
                params[role] = dims
        else:
            params = _NO_PARAMS
        if self.tainted_values and any(v in self.tainted_values for v in node.inputs):
            self.tainted_nodes.add(node.id)
        rule, vr = self.rules[node.op]
        if vr is not None and not (self.vals and not self.vals.keys().isdisjoint(
                node.inputs)) and node.op not in self.value_sources:
            vr = None  # no input value known: the op is an ordinary one here
        attrs = node.attrs if vr is None else self._with_values(node)
        r = rule(tuple(ins), params, attrs)
        if r.__class__ is Fail:
            if not self._from_poison(node, ins):
                for eq in r.eqs:
                    self.require(node.id, eq)
                self.conflicts.append(_Conflict(node.id, None, fail=r))
            self.pending.discard(node.id)
            self._fallback(node, ins)
            return False
        if r.pending or self.pending:  # type: ignore[union-attr]
            progress = self._accept(node, r)  # type: ignore[arg-type]
            if vr is not None:
                progress |= self._run_value_rule(node, vr, ins, attrs)  # type: ignore[arg-type]
            return progress
        bind_fresh = self.u.bind_fresh
        for eq in r.eqs:
            a, b = eq[0], eq[2]
            if a.__class__ is int:
                if b.__class__ is int and a == b:
                    continue
                if b.__class__ is Hole and bind_fresh(b, a, node.id, eq[1]):
                    continue  # the common case: an unknown weight dim meets a known size
            self.require(node.id, eq)
        srcs, outs = self.srcs, node.outputs
        if node.id in self.tainted_nodes:
            self.tainted_values.update(outs)
        for k in range(len(outs)):
            v, t = outs[k], r.types[k]  # type: ignore[union-attr]
            types[v] = t
            srcs[v] = r.srcs[k]  # type: ignore[union-attr]
            for d in t.shape:
                if d.__class__ is not int and d.__class__ is not Sym:
                    dirty.add(v)
                    break
        if vr is not None:
            self._run_value_rule(node, vr, ins, attrs)  # type: ignore[arg-type]
        return False

    # ------------------------------------------------------------------ values

    def _val(self, v: int) -> Val | None:
        """The known value of ``v``, its symbolic elements resolved as far as known."""
        val = self.vals.get(v)
        if val is None:
            return None
        if any(e.__class__ is Hole or e.__class__ is DimExpr for e in val.elems):
            resolve = self.u.resolve
            elems = tuple(e if e.__class__ is int or e.__class__ is float
                          else resolve(e) for e in val.elems)  # type: ignore[arg-type]
            val = Val(val.shape, elems, val.srcs, val.dtype)
            self.vals[v] = val
        return val

    def _with_values(self, node: Node) -> WithValues:
        return WithValues(node.attrs, tuple([self._val(v) for v in node.inputs]))

    def _run_value_rule(self, node: Node, vr: ValueRule, ins: list[TensorType],
                        attrs: WithValues) -> bool:
        """Store the node's output values; True when one became known or changed."""
        outs = vr(tuple(ins), attrs.vals, attrs)
        if not outs:
            return False
        progress = False
        for v, val in zip(node.outputs, outs, strict=False):
            if val is not None and self.vals.get(v) != val:
                progress |= v not in self.vals
                self.vals[v] = val
        return progress

    def _from_poison(self, node: Node, ins: list[TensorType]) -> bool:
        """The node's input stands for a failed layer's output: its failure follows."""
        if node.id not in self.tainted_nodes:
            return False
        poison = self.u.poison
        return any(h.id in poison for t in ins for d in t.shape for h in holes(d))

    def _fallback(self, node: Node, ins: list[TensorType]) -> None:
        """After a failure: unknown output dims that absorb every requirement (so nothing
        is blamed on them), while conflicts that do not depend on them are still found."""
        rank = self.out_rank[node.op](tuple(t.rank for t in ins), node.attrs)
        if rank is None or len(node.outputs) != 1 or self.types[node.outputs[0]] is not None:
            return
        dims = tuple(Hole.fresh() for _ in range(rank))
        self.u.poison.update(h.id for h in dims)
        src = Derived(f"unknown, because layer `{node.prov.display_path}` failed", ())
        v = node.outputs[0]
        self._store(v, TensorType(dims, ins[0].dtype if ins else "float32"), (src,) * rank)
        self.tainted_values.add(v)
        self.tainted_nodes.add(node.id)

    def _accept(self, node: Node, r: Out) -> bool:
        """Store a rule's result during the fixed-point re-runs (the slow, general path)."""
        nid = node.id
        for eq in r.eqs:
            self.require(nid, eq)
        if nid in self.tainted_nodes:
            self.tainted_values.update(node.outputs)
        rerun = nid in self.pending
        progress = False
        for v, t, s in zip(node.outputs, r.types, r.srcs, strict=True):
            old = self.types[v]
            if rerun and old is not None:
                progress |= self._refine(nid, old, t)
            self._store(v, t, s)
        if r.pending:
            self.pending.add(nid)
        elif rerun:
            self.pending.discard(nid)
            progress = True
        return progress

    def _refine(self, nid: int, old: TensorType, new: TensorType) -> bool:
        progress = False
        for a, b in zip(old.shape, new.shape, strict=True):
            if isinstance(self.u.resolve(a), Hole) and not isinstance(self.u.resolve(b), Hole):
                self.u.unify(a, b, nid)
                progress = True
        return progress

    def require(self, nid: int, eq: Eq) -> None:
        a, b = eq.lhs, eq.rhs
        if a.__class__ is int and b.__class__ is int:
            if a != b:
                self.conflicts.append(_Conflict(nid, Outcome.MISMATCH, eq, a=a, b=b))
            return
        outcome = self.u.unify(a, b, nid, eq.lhs_src, eq.rhs_src)
        if outcome is Outcome.OK:
            return
        if outcome is Outcome.DEFER:
            self.deferred.append((nid, eq))
        else:
            self.conflicts.append(
                _Conflict(nid, outcome, eq, a=self.u.resolve(a), b=self.u.resolve(b)))

    def final_types(self) -> tuple[TensorType | None, ...]:
        types, resolve = list(self.types), self.u.resolve
        for v in self.dirty:
            t = types[v]
            if t is not None:
                types[v] = TensorType(tuple([resolve(x) for x in t.shape]), t.dtype)
        return tuple(types)

    def final_params(self) -> tuple[dict[str, tuple[Dim, ...]], list[str]]:
        """Resolved parameter dims, and the keys still not all ints (in graph order)."""
        out, resolve = self.param_dims, self.u.resolve
        unsettled = []
        for key in self.open_params:
            dims = tuple([d if d.__class__ is int else resolve(d) for d in out[key]])
            out[key] = dims
            for d in dims:
                if d.__class__ is not int:
                    unsettled.append(key)
                    break
        order = {k: i for i, k in enumerate(self.graph.params)} if unsettled else {}
        return out, sorted(unsettled, key=order.__getitem__)


class Resolution:
    """What the pass found: types, parameter shapes, diagnostics (``ok`` when no errors)."""

    def __init__(self, p: _Pass, diagnostics: list[Diagnostic]) -> None:
        self.graph = p.graph
        self._u = p.u
        self.types: tuple[TensorType | None, ...] = p.final_types()
        self.srcs = tuple(p.srcs)
        self.vals: dict[int, Val] = {v: p._val(v) for v in p.vals}  # type: ignore[misc]
        self.param_dims, self.unsettled = p.final_params()
        self._raw_param_dims = p.raw_param_dims
        self.raw_inputs = dict(p.raw_inputs)
        self.tainted = frozenset(p.tainted_nodes)  # downstream of a failed rule
        self.failed = frozenset(c.node for c in p.conflicts if c.fail is not None)
        self.conflicts = tuple(p.conflicts)  # where each one is: for pictures
        self.diagnostics: tuple[Diagnostic, ...] = tuple(diagnostics)

    @property
    def ran(self) -> frozenset[int]:
        """Nodes whose rule succeeded (their outputs have types)."""
        return frozenset(n.id for n in self.graph.nodes
                         if all(self.types[v] is not None for v in n.outputs))

    @property
    def ok(self) -> bool:
        """No error-severity diagnostics."""
        return not any(d.is_error for d in self.diagnostics)

    @property
    def errors(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.is_error)

    def type_of(self, value: int) -> TensorType | None:
        return self.types[value]

    def value_of(self, value: int) -> Val | None:
        """The value lattice's answer for ``value``: its known data (a constant, or a
        vector of symbolic dims such as ``Shape(x)``), or None when unknown."""
        return self.vals.get(value)

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
        """A :class:`~shapegraph.core.diagnostics.Related` saying where that dim came from."""

        return Explainer(self).param(key, j)


def _retry(graph: Graph, given: Mapping[str, TensorType]
           ) -> Callable[[dict[tuple[str, int], int]], bool]:
    """Propagate again with some input dims changed: no window larger than its input?"""
    def run(sizes: dict[tuple[str, int], int]) -> bool:
        inputs: dict[str, InputSpec] = {}
        for name, t in given.items():
            dims: list[Any] = [None if isinstance(d, Hole) else d for d in t.shape]
            for (n, j), size in sizes.items():
                if n == name:
                    dims[j] = size
            inputs[name] = dims
        p = _Pass(graph, inputs)
        p.run()
        return not any(c.fail is not None and c.fail.code == "SG204" for c in p.conflicts)
    return run


def propagate(graph: Graph, inputs: Mapping[str, InputSpec] | None = None) -> Resolution:
    """Resolve every type of ``graph`` from ``inputs`` (ints, symbol names, None) and the
    declared parameter dims; see the module docstring for an example."""

    paused = gc.isenabled()
    gc.disable()  # the pass allocates many small records and frees none: skip GC scans
    try:
        p = _Pass(graph, inputs or {})
        p.run()
        res = Resolution(p, [])
        res.diagnostics = tuple(build_diagnostics(res, p.conflicts, p.input_errors,
                                                  _retry(graph, p.raw_inputs)))
    finally:
        if paused:
            gc.enable()
    return res
