"""Render diagnostics: rustc-style text frames (plain or colored) and versioned JSON.

The order is deterministic: the order the diagnostics are given in (the pass emits them in
graph order). Colors go through ``rich``; the plain text is the same characters.
"""

from __future__ import annotations

import json
import linecache
from collections.abc import Iterable, Sequence
from typing import Any

from shapegraph.core.diagnostics import Diagnostic, Related

__all__ = [
    "JSON_SCHEMA_VERSION",
    "layer_rows",
    "render_json",
    "render_rich",
    "render_table",
    "render_text",
]

JSON_SCHEMA_VERSION = 1
WIDTH = 100  # an origin line longer than this names the layers it went through briefly

_Seg = tuple[str, str]  # (text, rich style)
_SEVERITY_STYLE = {"error": "bold red", "warning": "bold yellow", "note": "bold cyan"}


def _source_line(location: str | None) -> tuple[int, str] | None:
    if not location or ":" not in location:
        return None
    path, _, line = location.rpartition(":")
    if not line.isdigit():
        return None
    text = linecache.getline(path, int(line))
    return (int(line), text.rstrip()) if text.strip() else None


def _vias(via: Sequence[str]) -> list[str]:
    """``, via `3` relu, `2` Conv2D``, then the layer paths alone, then a count: the
    layers a value passed through unchanged, from the fullest form to the shortest."""
    if not via:
        return [""]
    paths = [v.split(" ", 1)[0] if v.startswith("`") else v for v in via]
    n = sum(1 for v in via if v.startswith("`"))
    return [f", via {', '.join(via)}", f", via {', '.join(paths)}",
            f", via {n} layer{'s' if n != 1 else ''}"]


def _related_lines(r: Related, gutter: str, depth: int) -> list[list[_Seg]]:
    if depth == 0:
        head: list[_Seg] = [(f"{gutter}= ", "blue"), (r.value, "bold"), (": ", "")]
    else:
        head = [(f"{gutter}{'  ' * depth}- ", "blue"), (r.value, "bold"), (": ", "")]
    tail = r.text
    if r.location:
        tail += f" ({r.location})"
    # the layers passed through, as briefly as the line needs; their paths at least
    width = sum(len(t) for t, _ in head) + len(tail)
    forms = _vias(r.via)
    via = next((v for v in forms if width + len(v) <= WIDTH), forms[min(1, len(forms) - 1)])
    lines = [[*head, (tail + via, "")]]
    for p in r.parts:
        lines.extend(_related_lines(p, gutter, depth + 1))
    return lines


def _frame(d: Diagnostic) -> list[list[_Seg]]:
    lines: list[list[_Seg]] = [[(f"{d.severity}[{d.code}]", _SEVERITY_STYLE[d.severity]),
                                (f": {d.message}", "bold")]]
    src = _source_line(d.location)
    width = len(str(src[0])) if src else 2
    gutter = " " * (width + 1)
    if d.location:
        lines.append([(f"{' ' * width}--> ", "blue"), (d.location, "")])
    if src:
        lines.append([(f"{gutter}|", "blue")])
        lines.append([(f"{src[0]:>{width}} | ", "blue"), (src[1], "")])
        caret = (" " * (d.column - 1) + "^" * max(d.width, 1)) if d.column else ""
        lines.append([(f"{gutter}|" + (" " if caret else ""), "blue"),
                      (caret, _SEVERITY_STYLE[d.severity])])
    where = (d.path if d.path.startswith("input `") else  # an input is not a layer
             f"in layer `{d.path or '<root>'}`" + (f" {d.layer}" if d.layer else ""))
    if d.signature:
        where += f": {d.signature}"
    lines.append([(f"{gutter}= ", "blue"), (where, "")])
    for r in d.related:
        lines.extend(_related_lines(r, gutter, 0))
    if d.help:
        lines.append([(f"{gutter}= ", "blue"), ("help", "bold green"), (f": {d.help}", "")])
    return lines



def _all_lines(diags: Iterable[Diagnostic]) -> list[list[_Seg]]:
    out: list[list[_Seg]] = []
    for i, d in enumerate(diags):
        if i:
            out.append([])
        out.extend(_frame(d))
    return out


def render_text(diags: Iterable[Diagnostic], color: bool = False) -> str:
    """Every diagnostic as a text frame; ``color`` adds ANSI styles through rich."""
    lines = _all_lines(diags)
    if not color:
        return "\n".join("".join(t for t, _ in line) for line in lines)
    from io import StringIO

    from rich.console import Console

    buf = StringIO()
    console = Console(file=buf, force_terminal=True, color_system="standard", width=10_000,
                      highlight=False, soft_wrap=True)
    console.print(render_rich(lines))
    return buf.getvalue().rstrip("\n")


def render_rich(lines_or_diags: Sequence[list[_Seg]] | Iterable[Diagnostic]) -> Any:
    """A ``rich.text.Text`` of the frames, for printing on a terminal."""
    from rich.text import Text

    items: list[Any] = list(lines_or_diags)
    lines: list[list[_Seg]] = (_all_lines(items) if items and isinstance(items[0], Diagnostic)
                               else items)
    text = Text()
    for i, line in enumerate(lines):
        if i:
            text.append("\n")
        for t, style in line:
            text.append(t, style=style or None)
    return text


def render_json(diags: Iterable[Diagnostic], **extra: Any) -> str:
    """``{"version": 1, "diagnostics": [...], **extra}`` as indented JSON."""
    doc: dict[str, Any] = {"version": JSON_SCHEMA_VERSION,
                           "diagnostics": [d.to_dict() for d in diags]}
    doc.update(extra)
    return json.dumps(doc, indent=2)


def layer_rows(res: Any) -> list[dict[str, Any]]:
    """One row per node of a :class:`~shapegraph.infer.propagate.Resolution`: layer path, layer,
    op, input and output types, parameter shapes (``?`` where unknown)."""
    from shapegraph.core.diagnostics import show_types
    from shapegraph.core.dims import dim_str

    rows = []
    for node in res.graph.nodes:
        def show(v: int) -> str:
            t = res.types[v]
            return show_types([t])[0] if t is not None else "-"

        params = {key: "(" + ", ".join(dim_str(d) for d in res.param_dims[key]) + ")"
                  for _, key in node.params}
        rows.append({
            "path": node.prov.display_path,
            "layer": node.prov.detail or node.prov.kind,
            "op": node.op,
            "inputs": [show(v) for v in node.inputs],
            "outputs": [show(v) for v in node.outputs],
            "params": params,
        })
    return rows


def render_table(rows: Sequence[dict[str, Any]]) -> str:
    """The rows of :func:`layer_rows` as a plain-text table (rich lays it out)."""
    from rich import box
    from rich.console import Console
    from rich.table import Table

    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, header_style="",
                  collapse_padding=True)
    for h in ("layer", "kind", "op", "input", "output", "parameters"):
        table.add_column(h, no_wrap=True)
    for r in rows:
        table.add_row(r["path"], r["layer"], r["op"], ", ".join(r["inputs"]),
                      ", ".join(r["outputs"]),
                      "  ".join(f"{k.rsplit('.', 1)[-1]}{v}" for k, v in r["params"].items()),
                      )
    console = Console(width=100_000, color_system=None, force_terminal=False,
                      highlight=False, emoji=False, markup=False)
    with console.capture() as capture:
        console.print(table)
    return "\n".join(line.rstrip() for line in capture.get().splitlines() if line.strip())
