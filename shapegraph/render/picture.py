"""``--graph``: a picture of a checked network, through Graphviz.

Layers are boxes with their output types; inputs are ovals; a layer where a diagnostic
surfaced, and the edges into it, are red, labelled with the diagnostic's values. The DOT
source is built with the ``graphviz`` package (``pip install 'shapegraph[plot]'``) and
rendered by Graphviz's ``dot`` program (SVG, PNG, PDF: any format it writes, chosen by
the file's extension) when it is installed; a ``.dot`` file holds the source itself.
"""

from __future__ import annotations

import os
import shutil
from typing import TYPE_CHECKING, Any

from shapegraph.core.diagnostics import Diagnostic

if TYPE_CHECKING:
    from shapegraph.api.check import Report

__all__ = ["dot_source", "write_picture"]

RED = "#c0392b"


def dot_source(report: Report) -> Any:
    """A ``graphviz.Digraph`` of the report's graph."""
    import graphviz

    g = graphviz.Digraph("shapegraph", graph_attr={"rankdir": "TB"},
                         node_attr={"shape": "box", "fontname": "Helvetica", "fontsize": "10"},
                         edge_attr={"fontname": "Helvetica", "fontsize": "9"})
    graph, res = report.graph, report.resolution
    if graph is None or res is None:
        g.node("none", "(the network could not be traced)")
        return g
    bad: dict[str, list[Diagnostic]] = {}
    for d in report.diagnostics:
        if d.is_error:
            bad.setdefault(d.path, []).append(d)
    for gi in graph.inputs:
        g.node(f"in_{gi.name}", f"{gi.name}\n{res.types[gi.value]}", shape="oval")
    for n in graph.nodes:
        out = res.types[n.outputs[0]]
        label = f"{n.prov.display_path}: {n.prov.detail or n.prov.kind}\n{n.op} -> " \
                f"{out if out is not None else '(not computed)'}"
        problems = bad.get(n.prov.path, [])
        attrs = {"color": RED, "fontcolor": RED, "penwidth": "2"} if problems else {}
        if problems:
            label += "\n" + "\n".join(f"{d.code}: " + " vs ".join(r.value for r in d.related)
                                      for d in problems)
        g.node(f"n{n.id}", label, **attrs)
        for v in n.inputs:
            src = graph.values[v].producer
            tail = f"n{src}" if src is not None else f"in_{graph.values[v].name}"
            t = res.types[v]
            g.edge(tail, f"n{n.id}", label=str(t) if t is not None else "",
                   **({"color": RED, "fontcolor": RED} if problems else {}))
    return g


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
