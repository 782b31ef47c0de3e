"""``--graph``: a picture of a checked network, through Graphviz.

Each layer is one box (its activation folded in: ``Conv2D(64, 3x3) + relu``) with its path
and parameter shapes; blocks are dashed frames labelled with their path; inputs and outputs
are ovals, and every arrow carries its value's type. Where a conflict surfaced, only the
node whose rule found it is red, labelled with the values in conflict, and only the arrows
that carry a wrong value are red (at a concat, the branch that differs from the others).
The DOT source is built with the ``graphviz`` package (``pip install 'shapegraph[plot]'``)
and rendered by Graphviz's ``dot`` program (SVG, PNG, PDF: any format it writes, chosen by
the file's extension) when it is installed; a ``.dot`` file holds the source itself.
"""

from __future__ import annotations

import os
import re
import shutil
from collections import Counter
from collections.abc import Iterator, Sequence
from html import escape
from typing import TYPE_CHECKING, Any

from shapegraph.core.diagnostics import Diagnostic
from shapegraph.core.dims import dim_str
from shapegraph.core.graph import Graph, Node
from shapegraph.opset.base import Derived, FromInput, Src

if TYPE_CHECKING:
    from shapegraph.api.check import Report
    from shapegraph.infer.propagate import Resolution

__all__ = ["dot_source", "write_picture"]

RED = "#c0392b"
GREY = "#666666"
_ARG = re.compile(r"(?:[^,()\[\]'\"]|\([^()]*\)|\[[^\[\]]*\]|'[^']*'|\"[^\"]*\")+")


# --------------------------------------------------------------------------- layers as boxes


def boxes(graph: Graph, res: Resolution | None = None) -> list[list[Node]]:
    """The nodes grouped into boxes: a layer's node and the parameterless single-input
    nodes the same layer applies right after it (its activation; in a block's own
    ``forward``, any op that keeps its input's type; in an imported ONNX graph, such an
    op right after one with parameters), in graph order."""
    box_of: dict[int, list[Node]] = {}
    out: list[list[Node]] = []
    for n in graph.nodes:
        prev = _folds_into(graph, res, n)
        if prev is not None and box_of[prev.id][-1] is prev:
            box_of[prev.id].append(n)
            box_of[n.id] = box_of[prev.id]
            continue
        box_of[n.id] = [n]
        out.append(box_of[n.id])
    return out


def _folds_into(graph: Graph, res: Resolution | None, n: Node) -> Node | None:
    if n.params or len(n.inputs) != 1:
        return None
    src = graph.values[n.inputs[0]].producer
    if src is None:
        return None
    p = graph.nodes[src]
    if len(p.outputs) != 1 or tuple(graph.consumers.get(p.outputs[0], ())) != (n.id,):
        return None
    keeps_type = res is not None and res.types[n.inputs[0]] == res.types[n.outputs[0]]
    if p.prov.detail == p.prov.kind and n.prov.detail == n.prov.kind:  # ONNX: no layers
        return p if keeps_type and p.params else None
    if p.prov.path != n.prov.path:
        return None
    if p.prov.detail == n.prov.detail:  # the layer's own activation
        return p
    in_forward = p.prov.detail.endswith(" in forward") and n.prov.detail.endswith(" in forward")
    return p if in_forward and keeps_type else None


def _args(inner: str) -> list[str]:
    return [a.strip() for a in _ARG.findall(inner) if a.strip()]


def box_title(box: Sequence[Node]) -> str:
    """``Conv2D(64, 3x3) + relu``: the layer without its activation argument, a kernel as
    ``3x3``, and the folded nodes' ops."""
    head = box[0]
    detail = (head.prov.detail or head.prov.kind).removesuffix(" in forward")
    m = re.fullmatch(r"(\w+)\((.*)\)", detail, re.S)
    if m:
        kernel = head.attrs.get("kernel")
        shown = []
        for a in _args(m.group(2)):
            if a.startswith("activation="):
                continue
            if a.startswith("kernel_size=") and isinstance(kernel, tuple):
                a = "x".join(str(k) for k in kernel)
            shown.append(a)
        detail = f"{m.group(1)}({', '.join(shown)})"
    return " + ".join([detail, *(n.op for n in box[1:])])


# --------------------------------------------------------------------------- conflicts


def _input_srcs(src: Src) -> Iterator[FromInput]:
    if isinstance(src, FromInput):
        yield src
    elif isinstance(src, Derived):
        for part in src.parts:
            yield from _input_srcs(part)


def _odd_inputs(node: Node, res: Resolution, involved: set[tuple[int, int]]) -> set[int]:
    """Of the inputs a conflict names, those that differ from the others along its axis:
    the one branch of three that disagrees, or both sides when there is no majority."""
    out: set[int] = set()
    for i, j in involved:
        dims = []
        for v in node.inputs:
            t = res.types[v]
            dims.append(dim_str(t.shape[j]) if t is not None and j < t.rank else None)
        common = Counter(d for d in dims if d is not None).most_common(2)
        majority = common[0][0] if common and common[0][1] > 1 and (
            len(common) == 1 or common[1][1] < common[0][1]) else None
        if majority is None or dims[i] != majority:
            out.add(i)
    return out


def culprits(res: Resolution) -> dict[int, set[int]]:
    """Node id -> the indices of its inputs that carry a wrong value, for every node whose
    rule found a conflict (its own, not one that follows from an earlier failure)."""
    found: dict[int, set[tuple[int, int]]] = {}
    for c in res.conflicts:
        if c.node is None:
            continue
        srcs = [c.eq.lhs_src, c.eq.rhs_src] if c.eq is not None else [
            s for _, _, s in (c.fail.involved if c.fail is not None else ())]
        found.setdefault(c.node, set()).update(
            (s.i, s.j) for src in srcs for s in _input_srcs(src))
    for nid in res.failed:
        if nid is not None:
            found.setdefault(nid, set())
    return {nid: _odd_inputs(res.graph.nodes[nid], res, pairs) for nid, pairs in found.items()}


def _problems(report: Report, graph: Graph, bad: dict[int, set[int]]) -> dict[int, list[str]]:
    """Node id -> the ``SG201: 256 vs 300`` lines of the errors that surfaced there; an
    error at a layer path where no rule failed goes to that layer's first node."""
    by_path: dict[str, list[int]] = {}
    for n in graph.nodes:
        by_path.setdefault(n.prov.path, []).append(n.id)
    out: dict[int, list[str]] = {}
    for d in report.diagnostics:
        ids = by_path.get(d.path, [])
        if not d.is_error or not ids:
            continue
        at = [i for i in ids if i in bad] or ids[:1]
        bad.setdefault(at[0], set())
        lines = out.setdefault(at[0], [])
        if _problem_line(d) not in lines:  # one line for the height and the width
            lines.append(_problem_line(d))
    return out


def _problem_line(d: Diagnostic) -> str:
    """``SG201: 32 vs 28``: the values in conflict, each pair once (a diagnostic of several
    axes relates ``input 0 dim 2 = 32``, ``input 2 dim 2 = 28``, ``input 0 dim 3 = 32``...)."""
    values = [r.value.rsplit("= ", 1)[-1] for r in d.related if r.value]
    if len(values) > 2 and len(values) % 2 == 0:
        pairs = [f"{a} vs {b}" for a, b in zip(values[::2], values[1::2], strict=True)]
        text = ", ".join(dict.fromkeys(pairs))
    else:
        text = " vs ".join(values)
    return f"{d.code}: {text}" if text else f"{d.code}: {d.message[:60]}"


# --------------------------------------------------------------------------- DOT


def _params(box: Sequence[Node], res: Resolution) -> list[str]:
    shown = [f"{role} ({', '.join(dim_str(d) for d in res.param_dims[key])})"
             for n in box for role, key in n.params if key in res.param_dims]
    return ["  ".join(shown[k:k + 2]) for k in range(0, len(shown), 2)]


def _paths(box: Sequence[Node]) -> str:
    paths = dict.fromkeys(n.prov.display_path for n in box)  # ONNX: one per node
    return ", ".join(paths)


def _label(box: Sequence[Node], res: Resolution, problems: Sequence[str]) -> str:
    lines = [f"<b>{escape(box_title(box))}</b>",
             f'<font point-size="9" color="{GREY}">{escape(_paths(box))}</font>']
    lines += [f'<font point-size="9">{escape(p)}</font>' for p in _params(box, res)]
    lines += [f'<font color="{RED}"><b>{escape(p)}</b></font>' for p in problems]
    return "<" + "<br/>".join(lines) + ">"


def _clusters(graph: Graph) -> dict[str, str]:
    """Block path -> its label: every path that other layers' paths are nested in."""
    paths = {n.prov.path for n in graph.nodes}
    blocks = {p.rsplit(".", k)[0] for p in paths for k in range(1, p.count(".") + 1)}
    kinds = {n.prov.path: n.prov.kind for n in graph.nodes if n.prov.path in blocks}
    return {b: f"{b} {kinds[b]}" if b in kinds else b for b in sorted(blocks)}


def _cluster_of(path: str, blocks: dict[str, str]) -> str:
    if path in blocks:
        return path
    parent = path.rpartition(".")[0]
    return parent if parent in blocks else ""


def _legend(conflicts: bool, frames: bool) -> str:
    rows = ["<b>legend</b>", "box: a layer (its activation folded in), path, parameters",
            "oval: an input or output; arrow: a value and its type"]
    if frames:
        rows.append("dashed frame: a block (its path and, with a forward of its own, class)")
    if conflicts:
        rows += [f'<font color="{RED}">red box: where a conflict surfaced, with its values</font>',
                 f'<font color="{RED}">red arrow: the value in conflict</font>']
    cells = "".join(f'<tr><td align="left">{r}</td></tr>' for r in rows)
    return f'<<table border="1" cellborder="0" cellspacing="0" color="{GREY}">{cells}</table>>'


def dot_source(report: Report) -> Any:
    """A ``graphviz.Digraph`` of the report's graph."""
    import graphviz

    g = graphviz.Digraph("shapegraph", graph_attr={"rankdir": "TB", "fontname": "Helvetica",
                                                   "fontsize": "10"},
                         node_attr={"shape": "box", "fontname": "Helvetica", "fontsize": "10"},
                         edge_attr={"fontname": "Helvetica", "fontsize": "9"})
    graph, res = report.graph, report.resolution
    if graph is None or res is None:
        g.node("none", "(the network could not be traced)")
        return g
    bad = culprits(res)
    problems = _problems(report, graph, bad)
    groups = boxes(graph, res)
    box_id = {n.id: f"n{b[0].id}" for b in groups for n in b}
    blocks = _clusters(graph)
    _add_boxes(g, groups, res, bad, problems, blocks)
    for gi in graph.inputs:
        g.node(f"in_{gi.name}", gi.name, shape="oval")
    for b in groups:
        for k, v in enumerate(b[0].inputs):
            src = graph.values[v].producer
            tail = box_id[src] if src is not None else f"in_{graph.values[v].name}"
            red = k in bad.get(b[0].id, set())
            g.edge(tail, box_id[b[0].id], label=_type(res, v),
                   **({"color": RED, "fontcolor": RED, "penwidth": "2"} if red else {}))
    for k, v in enumerate(graph.outputs):
        name = "output" if len(graph.outputs) == 1 else f"output {k}"
        g.node(f"out_{k}", name, shape="oval")
        src = graph.values[v].producer
        g.edge(box_id[src] if src is not None else f"in_{graph.values[v].name}", f"out_{k}",
               label=_type(res, v))
    g.node("legend", _legend(bool(problems), bool(blocks)), shape="plaintext", fontsize="9")
    return g


def _type(res: Resolution, v: int) -> str:
    t = res.types[v]
    return str(t) if t is not None else "(not computed)"


def _add_boxes(g: Any, groups: list[list[Node]], res: Resolution, bad: dict[int, set[int]],
               problems: dict[int, list[str]], blocks: dict[str, str]) -> None:
    """Each box in its block's frame, frames nested as the blocks are."""
    members: dict[str, list[list[Node]]] = {}
    for b in groups:
        members.setdefault(_cluster_of(b[0].prov.path, blocks), []).append(b)

    def emit(into: Any, block: str) -> None:
        for b in members.get(block, []):
            red = any(n.id in bad for n in b)
            attrs = {"color": RED, "penwidth": "2"} if red else {}
            lines = [p for n in b for p in problems.get(n.id, [])]
            into.node(f"n{b[0].id}", _label(b, res, lines), **attrs)
        for child in blocks:
            if _cluster_of(child.rpartition(".")[0], blocks) == block and child != block:
                with into.subgraph(name=f"cluster_{child}") as c:
                    c.attr(label=blocks[child], style="dashed", color=GREY, fontcolor=GREY,
                           labeljust="l")
                    emit(c, child)

    emit(g, "")


def write_picture(report: Report, path: str) -> str:
    """Write ``path`` (.dot or .svg); returns a message for the user, or ``""``."""
    try:
        g = dot_source(report)
    except ImportError:
        return ("--graph needs the graphviz package: pip install 'shapegraph[plot]' "
                "(no picture written)")
    fmt = os.path.splitext(path)[1].lstrip(".").lower()
    if fmt in ("dot", "gv"):
        with open(path, "w", encoding="utf-8") as f:
            f.write(g.source)
        return ""
    if shutil.which("dot") is None:
        dot_path = os.path.splitext(path)[0] + ".dot"
        with open(dot_path, "w", encoding="utf-8") as f:
            f.write(g.source)
        return (f"Graphviz's dot program is not installed, so {path} was not rendered; "
                f"wrote the DOT source to {dot_path} (apt-get install graphviz)")
    import graphviz

    try:
        data = g.pipe(format=fmt)
    except (ValueError, graphviz.CalledProcessError) as e:
        return f"--graph {path}: Graphviz cannot write {fmt!r} files ({e}); use .svg or .dot"
    with open(path, "wb") as f:
        f.write(data)
    return ""
