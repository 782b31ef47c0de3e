"""Turn the pass's raw findings into diagnostics: walk every number back to its origin.

Each dim of each value carries a :class:`~shapegraph.opset.base.Src`; walking those back
through pass-through layers (collected as ``via``) ends at a layer attribute, a declared
or inferred parameter dim, a computation (conv arithmetic, a flatten product) or a graph
input. Inferred dims go on through the unifier's record of who bound them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from shapegraph.core.diagnostics import Diagnostic, Related, show_dims, show_types
from shapegraph.core.dims import Dim, Hole, dim_str, holes, syms
from shapegraph.core.graph import Node, Provenance
from shapegraph.infer.chains import (
    cap_depth,
    computed,
    layer_label,
    one_dim,
    source_span,
    with_via,
)
from shapegraph.infer.fixes import (
    axis_fix,
    flatten_fix,
    given_origin,
    min_input_fix,
    nhwc_note,
    padding_fix,
    shortcut_fix,
)
from shapegraph.infer.unify import Outcome
from shapegraph.opset.base import (
    Derived,
    Eq,
    Fail,
    FromAttr,
    FromInput,
    FromParam,
    GivenInput,
    Src,
)
from shapegraph.opset.values import FromValue, is_size

if TYPE_CHECKING:
    from shapegraph.infer.propagate import Resolution, _Conflict

__all__ = ["Explainer", "build_diagnostics"]

_MAX_DEPTH = 40
_MAX_PARTS = 6


class Explainer:
    """Answers "where did this number come from?" for a finished :class:`Resolution`."""

    def __init__(self, res: Resolution) -> None:
        self.res = res
        self.g = res.graph

    # ------------------------------------------------------------------ values

    def value_of(self, nid: int, src: Src) -> Dim | None:
        node = self.g.nodes[nid]
        if isinstance(src, FromInput):
            t = self.res.types[node.inputs[src.i]]
            return t.shape[src.j] if t is not None and src.j < t.rank else None
        if isinstance(src, FromParam):
            return self.res.param_dims[node.param_key(src.role)][src.j]
        if isinstance(src, FromAttr) and src.name.endswith("]"):
            return _attr_elem(node, src.name)
        if isinstance(src, FromValue):
            val = self.res.vals.get(node.inputs[src.i])
            if val is not None and src.k < val.size:
                e = val.elems[src.k]
                return e if type(e) is int or is_size(e) else None  # type: ignore[return-value]
        return None

    def at(self, nid: int, src: Src, value: Dim | None, depth: int = 0) -> Related:
        """Explain ``src`` as seen from node ``nid``."""
        shown = "?" if value is None else one_dim(value)
        node = self.g.nodes[nid]
        if depth > _MAX_DEPTH:
            return Related(shown, f"(origin chain continues at layer {node.describe()})")
        if isinstance(src, FromInput):
            return self.value_dim(node.inputs[src.i], src.j, depth)
        if isinstance(src, FromParam):
            return self.param(node.param_key(src.role), src.j, depth)
        if isinstance(src, FromAttr):
            return Related(shown, f"{src.name} of layer {node.describe()}", node.prov.location)
        if isinstance(src, FromValue):
            return self.value_elem(node.inputs[src.i], src.k, shown, depth)
        if isinstance(src, Derived):
            parts = tuple(self.at(nid, p, self.value_of(nid, p), depth + 1)
                          for p in src.parts[:_MAX_PARTS])
            if len(parts) == 1 and len(src.parts) == 1 and parts[0].value == shown:
                # a step that changes nothing ("Conv2D output size = in"): the layer is a via
                return with_via(parts[0], layer_label(node))
            return Related(shown, computed(src.what, node, depth), node.prov.location,
                           parts=parts)
        return self._given(src, shown, depth)

    def value_dim(self, v: int, j: int, depth: int = 0) -> Related:
        """Explain dim ``j`` of value ``v``, following pass-throughs backwards."""
        t = self.res.types[v]
        value = t.shape[j] if t is not None and j < t.rank else None
        via: list[str] = []
        while True:
            producer = self.g.values[v].producer
            srcs = self.res.srcs[v]
            if srcs is None or j >= len(srcs):
                return Related("?" if value is None else one_dim(value), "not computed")
            src = srcs[j]
            if producer is None or not isinstance(src, FromInput):
                break
            label = layer_label(self.g.nodes[producer])
            if not via or via[-1] != label:
                via.append(label)
            v, j = self.g.nodes[producer].inputs[src.i], src.j
        if producer is None:
            r = self._given(src, one_dim(value) if value is not None else "?", depth)
        else:
            r = self.at(producer, src, value, depth + 1)
            own = f"`{self.g.nodes[producer].prov.display_path}` "
            while via and via[-1].startswith(own):  # the origin's own layer: named already
                via.pop()
        return with_via(r, *via) if via else r

    def value_elem(self, v: int, k: int, shown: str, depth: int = 0) -> Related:
        """Explain element ``k`` of the value of ``v`` (a shape vector, a constant)."""
        val, producer = self.res.vals.get(v), self.g.values[v].producer
        if val is None or producer is None or k >= val.size:
            return Related(shown, f"element {k} of a value not known")
        e = val.elems[k]
        value = e if type(e) is int or is_size(e) else None
        r = self.at(producer, val.srcs[k], value, depth + 1)  # type: ignore[arg-type]
        src, node = val.srcs[k], self.g.nodes[producer]
        if isinstance(src, (FromValue, FromInput)):  # passed on: the layer is a via
            return with_via(r, layer_label(node))
        return r

    def _given(self, src: Src, shown: str, depth: int) -> Related:
        assert isinstance(src, GivenInput), src
        raw = self.res.raw_inputs.get(src.name)
        raw_dim = raw.shape[src.j] if raw is not None else None
        if isinstance(raw_dim, Hole):
            why = self.res.why(raw_dim)
            if why is None or why.node is None:
                return Related(shown, f"dim {src.j} of input `{src.name}` (not given)")
            return self._inferred(f"dim {src.j} of input `{src.name}`", shown, why.node,
                                  why.src, depth)
        given = f"given as {raw}" if raw is not None else "given"
        return Related(shown, f"dim {src.j} of input `{src.name}` ({given})")

    def _inferred(self, what: str, shown: str, nid: int, src: Src | None,
                  depth: int) -> Related:
        node = self.g.nodes[nid]
        parts = (self.at(nid, src, self.value_of(nid, src), depth + 1),) if src else ()
        return Related(shown, f"{what}, inferred at layer {node.describe()}",
                       node.prov.location, parts=parts)

    # ------------------------------------------------------------------ parameters

    def param(self, key: str, j: int, depth: int = 0) -> Related:
        """Explain dim ``j`` of parameter ``key``: declared, or inferred (and from what)."""
        spec = self.g.params[key]
        value = self.res.param_dims[key][j]
        shown = one_dim(value)
        if spec.shape[j] is not None:
            note = spec.note(j) or f"{key} dim {j} = {spec.shape[j]}"
            head, sep, tail = note.partition(", ")  # "in_units=20, inferred from ..."
            prep = "on" if "declared" in head else "of"
            owner = spec.owner_of(j)
            text = f"{head} {prep} layer {owner.describe()}" + (f", {tail}" if sep else "")
            return Related(shown, text, owner.location)
        raw = self.res.raw_param_dim(key, j)
        why = self.res.why(raw) if isinstance(raw, Hole) else None
        if why is None or why.node is None:
            return Related(shown, f"`{key}` dim {j}, not known yet")
        return self._inferred(f"`{key}` dim {j}", shown, why.node, why.src, depth)

    def declared_arg(self, nid: int, src: Src) -> tuple[str, str] | None:
        """(argument, layer path) when ``src`` is a dim the user declared as an argument."""
        if isinstance(src, Derived) and len(src.parts) == 1:
            return self.declared_arg(nid, src.parts[0])
        if not isinstance(src, FromParam):
            return None
        spec = self.g.params[self.g.nodes[nid].param_key(src.role)]
        arg = spec.declare[src.j] if src.j < len(spec.declare) else ""
        if spec.shape[src.j] is None or not arg or "declared" not in spec.note(src.j):
            return None
        return arg, spec.owner_of(src.j).display_path

    def given_input(self, nid: int, src: Src) -> tuple[str, int] | None:
        """(input name, dim) when ``src`` passes a given input dim through unchanged."""
        if not isinstance(src, FromInput):
            return None
        v, j = self.g.nodes[nid].inputs[src.i], src.j
        while True:
            producer = self.g.values[v].producer
            srcs = self.res.srcs[v]
            if srcs is None:
                return None
            s = srcs[j]
            if producer is None:
                return (s.name, s.j) if isinstance(s, GivenInput) else None
            if not isinstance(s, FromInput):
                return None
            v, j = self.g.nodes[producer].inputs[s.i], s.j

    # ------------------------------------------------------------------ frames

    def signature(self, node: Node) -> str:
        failed = node.id in self.res.failed
        values = node.inputs if failed else (*node.inputs, *node.outputs)
        shown = show_types([self.res.types[v] for v in values])
        ins = ", ".join(shown[:len(node.inputs)])
        outs = "(failed)" if failed else ", ".join(shown[len(node.inputs):])
        return f"{node.op}({ins}) -> {outs}"

    def shapes(self, values: Sequence[int]) -> tuple[tuple[int | str, ...] | None, ...]:
        """The types of ``values`` as dims (ints, symbol names, ``?``), None if unknown."""
        types = (self.res.types[v] for v in values)
        return tuple(None if t is None else tuple(d if type(d) is int else n
                                                  for d, n in zip(t.shape, show_dims(t.shape),
                                                                  strict=True))
                     for t in types)

    def frame(self, node: Node, code: str, message: str, related: Sequence[Related],
              help: str, arg: str = "") -> Diagnostic:
        prov = node.prov
        # the argument to point at: one the layer declared and the finding names
        args = [m.group(1) for r in related
                for m in [re.match(rf"(\w+=\S+) declared on layer `{re.escape(prov.display_path)}`",
                                   r.text)] if m]
        call = prov.detail or prov.kind
        if call.endswith(" in forward"):  # an op written in forward: its call, ``concat(``
            call = node.op + "("
        span = source_span(prov.location, call, arg or (args[0] if args else ""))
        failed = node.id in self.res.failed
        return Diagnostic.make(
            code, message, path=prov.path, location=prov.location,
            layer=prov.detail or prov.kind, signature=self.signature(node),
            related=tuple(related), help=help,
            column=span[0] if span else None, width=span[1] if span else 0,
            input_shapes=self.shapes(node.inputs),
            output_shapes=() if failed else self.shapes(node.outputs))


def _attr_elem(node: Node, name: str) -> Dim | None:
    """Element ``k`` of an attribute named ``NAME[k]`` (a reshape target's, a constant's)."""
    attr, _, k = name[:-1].partition("[")
    value = node.attrs.get(attr)
    if value is None or not k.isdigit():
        return None
    flat = np.asarray(value).reshape(-1)
    if int(k) >= flat.size or flat.dtype.kind not in "iu":
        return None
    return int(flat[int(k)])


def build_diagnostics(res: Resolution, conflicts: Sequence[_Conflict],
                      input_errors: Sequence[tuple[str, str]],
                      retry: Callable[[dict[tuple[str, int], int]], bool] | None = None,
                      ) -> list[Diagnostic]:
    """Every finding of the pass as a Diagnostic, in graph order, without duplicates.

    ``retry`` propagates again with some input dims changed and says whether no window
    is larger than its input then (it finds the smallest input that works)."""
    ex = Explainer(res)
    out = [Diagnostic.make("SG211", msg, path=f"input `{name}`",
                           help="pass inputs with the names and ranks the network takes")
           for name, msg in input_errors]
    said: set[tuple[str, str, str]] = set()
    for group in _joined(conflicts):
        c = group[0]
        d = (_fail_diag(ex, c, retry) if c.fail is not None else
             _eq_diag(ex, c) if len(group) == 1 and not _is_join(ex, c) else
             _join_diag(ex, group))
        # the same finding twice (a re-run node, one layer called twice): say it once
        if (d.code, d.path, d.message) not in said:
            said.add((d.code, d.path, d.message))
            out.append(d)
    out.extend(_symbolic_param_diags(ex))
    out.extend(_unresolved_notes(ex, {c.node for c in conflicts}))
    return [replace(d, related=tuple(cap_depth(r) for r in d.related)) for d in out]


def _pair(c: _Conflict) -> tuple[int, int] | None:
    """(input, input) when ``c`` is two inputs of one node that must agree on a dim."""
    if c.fail is not None or c.eq is None or c.outcome is not Outcome.MISMATCH:
        return None
    lhs, rhs = c.eq.lhs_src, c.eq.rhs_src
    if isinstance(lhs, FromInput) and isinstance(rhs, FromInput) and lhs.i != rhs.i:
        return lhs.i, rhs.i
    return None


def _is_join(ex: Explainer, c: _Conflict) -> bool:
    return _pair(c) is not None and c.node is not None and "axis" in ex.g.nodes[c.node].attrs


def _joined(conflicts: Sequence[_Conflict]) -> list[list[_Conflict]]:
    """The conflicts, with the dims of one pair of inputs of one node in one group: one
    mistake (a branch that lost 4 pixels each way) is one diagnostic, not one per axis."""
    groups: list[list[_Conflict]] = []
    where: dict[tuple[int | None, tuple[int, int]], list[_Conflict]] = {}
    for c in conflicts:
        pair = _pair(c)
        key = (c.node, pair) if pair is not None else None
        if key is not None and key in where:
            where[key].append(c)
            continue
        groups.append([c])
        if key is not None:
            where[key] = groups[-1]
    return groups


def _join_diag(ex: Explainer, group: list[_Conflict]) -> Diagnostic:
    """Two inputs of a node (a concat's branches) that differ on one or more axes."""
    c0 = group[0]
    assert c0.node is not None and c0.eq is not None
    node = ex.g.nodes[c0.node]
    i, k = _pair(c0)  # type: ignore[misc]
    axes = [c.eq.lhs_src.j for c in group]  # type: ignore[union-attr]
    related: list[Related] = []
    for c in group:
        assert c.eq is not None
        related += [replace(ex.at(c0.node, c.eq.lhs_src, c.a), value=f"{c.eq.lhs_label} = {c.a}"),
                    replace(ex.at(c0.node, c.eq.rhs_src, c.b), value=f"{c.eq.rhs_label} = {c.b}")]
    if len(group) == 1:
        msg = f"{c0.eq.lhs_label} = {dim_str(c0.a)}, but {c0.eq.rhs_label} = {dim_str(c0.b)}"
    else:
        t_i, t_k = ex.res.types[node.inputs[i]], ex.res.types[node.inputs[k]]
        diffs = " and ".join(f"dim {j} ({dim_str(c.a)} vs {dim_str(c.b)})"
                             for j, c in zip(axes, group, strict=True))
        msg = f"input {i} ({t_i}) and input {k} ({t_k}) differ in {diffs}"
    help = _join_help(ex, node, group, axes)
    axis = node.attrs.get("axis")
    arg = f"dim={axis}" if help.startswith("did you mean dim=") else ""
    return ex.frame(node, "SG201", msg, related, help, arg)


def _join_help(ex: Explainer, node: Node, group: list[_Conflict], axes: list[int]) -> str:
    c0 = group[0]
    i, k = _pair(c0)  # type: ignore[misc]
    if all(type(c.a) is int and type(c.b) is int for c in group):
        small, big = (k, i) if c0.b < c0.a else (i, k)  # type: ignore[operator]
        same = all((c.b < c.a) == (c0.b < c0.a) for c in group)  # type: ignore[operator]
        target = max(c0.a, c0.b)  # type: ignore[type-var]
        fix = (padding_fix(ex.res, node.inputs[small], axes, target)
               if same and len({max(c.a, c.b) for c in group}) == 1 else None)  # type: ignore[type-var]
        if fix is not None:
            return (f"{fix}, so that input {small} comes out "
                    f"{'x'.join([dim_str(target)] * len(axes))} like input {big}")
    shapes = [ex.res.types[v] for v in node.inputs]
    if all(t is not None for t in shapes):
        fix = axis_fix(node, shapes)  # type: ignore[arg-type]
        if fix is not None:
            return fix
    assert c0.eq is not None
    return _suggest(ex, c0.node, c0.eq, c0.a, c0.b)  # type: ignore[arg-type]


def _fail_diag(ex: Explainer, c: _Conflict,
               retry: Callable[[dict[tuple[str, int], int]], bool] | None) -> Diagnostic:
    assert c.fail is not None and c.node is not None
    node = ex.g.nodes[c.node]
    related = [replace(ex.at(c.node, src, value), value=f"{label} = {one_dim(value)}")
               for label, value, src in c.fail.involved]
    return ex.frame(node, c.fail.code, c.fail.message, related,
                    _fail_help(ex, node, c.fail, retry))


def _fail_help(ex: Explainer, node: Node, fail: Fail,
               retry: Callable[[dict[tuple[str, int], int]], bool] | None) -> str:
    """A failed rule's own help, or a sharper one when the graph shows the cause."""
    fix: str | None = None
    if fail.code == "SG206":
        fix = shortcut_fix(ex.res, node)
    elif fail.code == "SG204" and fail.involved and isinstance(fail.involved[0][2], FromInput):
        j = fail.involved[0][2].j
        note = _nhwc(ex, node.inputs[0], j)
        if note is not None:
            return f"{note}; otherwise {fail.help}"
        fix = min_input_fix(ex.res, node, j, retry) if retry is not None else None
        if fix is not None:
            return f"{fix}; or pad more / downsample less on the way"
    return fix if fix is not None else fail.help


def _nhwc(ex: Explainer, v: int, j: int) -> str | None:
    """The NHWC note when dim ``j`` of ``v`` comes from a graph input that looks NHWC."""
    origin = given_origin(ex.res, v, j)
    if origin is None:
        return None
    return nhwc_note(ex.res.raw_inputs.get(origin[0]))


def _eq_diag(ex: Explainer, c: _Conflict) -> Diagnostic:
    assert c.eq is not None and c.node is not None
    eq, node = c.eq, ex.g.nodes[c.node]
    a, b = _factored(ex, c.node, eq.lhs_src, c.a), _factored(ex, c.node, eq.rhs_src, c.b)
    related = [ex.at(c.node, eq.lhs_src, c.a), ex.at(c.node, eq.rhs_src, c.b)]
    related = [replace(r, value=v) for r, v in zip(related, (a, b), strict=True)]
    tied = _tied_param(ex, c.node, eq)
    if tied is not None:
        return _shared_diag(ex, node, eq, tied, a, b, related)
    if c.outcome is Outcome.RIGID:
        names = sorted(s.name for s in syms(c.a) | syms(c.b))
        msg = (f"{eq.lhs_label} {a} must equal {eq.rhs_label} {b}, which does not hold "
               f"for every value of {', '.join(f'`{n}`' for n in names)}")
        help = (f"give {', '.join(f'`{n}`' for n in names)} a concrete size, or make the "
                "two sides agree symbolically")
        return ex.frame(node, "SG203", msg, related, help)
    if c.outcome is Outcome.NO_INTEGER:
        msg = (f"{eq.lhs_label} {a} must equal {eq.rhs_label} {b}, and no whole-number "
               "size makes that true")
        help = (f"change the sizes so that {eq.lhs_label} is a multiple of what "
                f"{eq.rhs_label} is made of ({b}); e.g. pick channels divisible by the groups, "
                "or a declared size that the layers before can produce")
        return ex.frame(node, "SG209", msg, related, help)
    msg = f"{eq.lhs_label} = {a}, but {eq.rhs_label} = {b}"
    help = _suggest(ex, c.node, eq, c.a, c.b)
    if isinstance(eq.lhs_src, Derived) and "flattened" in eq.lhs_src.what:
        flat = flatten_fix(ex.res.types[node.inputs[0]], c.b)
        if flat is not None:
            return ex.frame(node, "SG201", msg, related, flat)
    nhwc = _nhwc(ex, node.inputs[0], 1) if isinstance(eq.lhs_src, FromInput) and \
        eq.lhs_src.j == 1 and eq.lhs_src.i == 0 else None
    if nhwc is not None:
        help = f"{nhwc}; otherwise {help}"
    return ex.frame(node, "SG201", msg, related, f"{eq.hint}; or {help}" if eq.hint else help)


def _factored(ex: Explainer, nid: int, src: Src, value: Dim) -> str:
    """A symbolic product (a flatten size) as the product of its factors, which reads
    better than its expanded canonical form: ``16*(h//2 - 2)*(w//2 - 2)``."""
    if type(value) is int or not isinstance(src, Derived) or "flatten" not in src.what:
        return show_dims([value])[0]
    parts = [ex.value_of(nid, p) for p in src.parts]
    if any(p is None for p in parts):
        return show_dims([value])[0]
    shown = show_dims(parts)  # type: ignore[arg-type]
    return "*".join(f"({s})" if " " in s else s for s in shown)


def _tied_param(ex: Explainer, nid: int, eq: Eq) -> tuple[str, int, Provenance, bool] | None:
    """(key, dim, the other layer, whether it declared the dim) when one side of ``eq`` is
    a dim of a parameter that several layers use, fixed by another layer than ``nid``."""
    for src in (eq.rhs_src, eq.lhs_src):
        if not isinstance(src, FromParam):
            continue
        key = ex.g.nodes[nid].param_key(src.role)
        if len(ex.g.param_users(key)) < 2:
            continue
        spec = ex.g.params[key]
        if spec.shape[src.j] is not None:
            layers = {n.prov.path for n in ex.g.param_users(key)}
            if len(layers) > 1:  # a declaration that other layers share
                return key, src.j, spec.owner_of(src.j), True
            continue
        raw = ex.res.raw_param_dim(key, src.j)
        why = ex.res.why(raw) if isinstance(raw, Hole) else None
        if why is not None and why.node is not None and why.node != nid:
            return key, src.j, ex.g.nodes[why.node].prov, False
    return None


def _shared_diag(ex: Explainer, node: Node, eq: Eq, tied: tuple[str, int, Provenance, bool],
                 a: str, b: str, related: list[Related]) -> Diagnostic:
    """SG208: a shared parameter meets a size that another of its users fixed."""
    key, j, other, declared = tied
    users = sorted({n.prov.display_path for n in ex.g.param_users(key)})
    shared = f"`{key}` is shared by layers {', '.join(f'`{u}`' for u in users)}"
    how = (f"is {b}, declared on layer {other.describe()}" if declared else
           f"was already fixed to {b} at layer {other.describe()}")
    msg = f"shared parameter `{key}` is used here with {eq.lhs_label} {a}, but its dim {j} {how}"
    if len(users) == 1:
        help = (f"layer `{users[0]}` is called on inputs of different sizes: give it inputs "
                "of one size, or use a separate layer for each")
    else:
        between = " and ".join(f"layer `{u}`" for u in users)
        help = (f"{shared}: give every use of it inputs of the same size, or stop sharing "
                f"it between {between}")
    return ex.frame(node, "SG208", msg, related, help)


def _suggest(ex: Explainer, nid: int, eq: Eq, a: Dim, b: Dim) -> str:
    sides = ((eq.rhs_src, a), (eq.lhs_src, b))
    for src, other in sides:
        decl = ex.declared_arg(nid, src)
        if decl is not None:
            arg, path = decl
            return (f"set {arg}={dim_str(other)} on layer `{path}`, or omit {arg} so that "
                    "it is inferred")
    for src, other in sides:
        given = ex.given_input(nid, src)
        if given is not None:
            return f"feed input `{given[0]}` with dim {given[1]} = {dim_str(other)}"
    return f"make {eq.lhs_label} and {eq.rhs_label} agree"


def _symbolic_param_diags(ex: Explainer) -> list[Diagnostic]:
    out = []
    for key in ex.res.unsettled:
        dims = ex.res.param_dims[key]
        bad = [j for j, d in enumerate(dims) if type(d) is not int and syms(d)
               and not holes(d)]
        if not bad:
            continue
        spec = ex.g.params[key]
        shape = ", ".join(show_dims(dims))
        names = sorted({s.name for j in bad for s in syms(dims[j])})
        args = sorted({spec.declare[j] for j in bad if spec.declare[j]})
        out.append(Diagnostic.make(
            "SG207",
            f"parameter `{key}` would have shape ({shape}), but a parameter's size cannot "
            f"depend on {', '.join(f'`{n}`' for n in names)}",
            path=spec.owner.path, location=spec.owner.location, layer=spec.owner.detail,
            related=tuple(ex.param(key, j) for j in bad),
            help=("give those input dims as concrete sizes"
                  + (f", or declare {' and '.join(args)}" if args else "")),
        ))
    return out


def _unresolved_notes(ex: Explainer, conflicted: set[int | None]) -> list[Diagnostic]:
    res = ex.res
    groups: dict[Hole, list[tuple[str, int]]] = {}
    for key in res.unsettled:
        for j, d in enumerate(res.param_dims[key]):
            if isinstance(d, Hole):
                groups.setdefault(d, []).append((key, j))
    inputs: dict[Hole, list[tuple[str, int]]] = {}
    for gi in ex.g.inputs:
        raw, t = res.raw_inputs.get(gi.name), res.types[gi.value]
        if raw is None or t is None:
            continue
        for j, (d, r) in enumerate(zip(raw.shape, t.shape, strict=True)):
            if isinstance(d, Hole) and isinstance(r, Hole):
                inputs.setdefault(r, []).append((gi.name, j))
    out = []
    for hole, places in groups.items():
        ran = res.ran
        places = [(k, i) for k, i in places
                  if all(n.id in ran and n.id not in conflicted and n.id not in res.tainted
                         for n in ex.g.param_users(k))]
        if not places:
            continue  # unknown because of a conflict reported already: say it once
        key, _ = places[0]
        spec = ex.g.params[key]
        ways = [f"give the shape of input `{n}` (dim {k})" for n, k in inputs.get(hole, [])]
        ways += sorted({f"declare {ex.g.params[k].declare[i]} on layer "
                        f"`{ex.g.params[k].owner.display_path}`"
                        for k, i in places if ex.g.params[k].declare[i]})
        what = ", ".join(f"`{k}` dim {i}" for k, i in places)
        out.append(Diagnostic.make(
            "SG101", f"the size of {what} is not known yet",
            path=spec.owner.path, location=spec.owner.location, layer=spec.owner.detail,
            help=(" or ".join(ways) if ways else "give the network's input shapes")
            + " to resolve it",
        ))
    return out
