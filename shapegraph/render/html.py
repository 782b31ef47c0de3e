"""HTML for notebooks (``_repr_html_``): the text report in a ``<pre>``, the layer table as a
``<table>``; every piece of text escaped, since layer names and paths come from user code.

>>> from shapegraph.render.html import html_table
>>> html_table([{"path": "0", "layer": "Dense(<b>)", "op": "dense", "inputs": ["f32[?,2]"],
...              "outputs": ["f32[?,3]"], "params": {}}])[:60]
'<table class="shapegraph-layers"><thead><tr><th>layer</th><th'
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

__all__ = ["html_block", "html_table"]

_HEADER = ("layer", "kind", "op", "input", "output", "parameters")


def _cells(row: dict[str, Any]) -> tuple[str, ...]:
    params = "  ".join(f"{k.rsplit('.', 1)[-1]}{v}" for k, v in row["params"].items())
    return (row["path"], row["layer"], row["op"], ", ".join(row["inputs"]),
            ", ".join(row["outputs"]), params)


def html_table(rows: Sequence[dict[str, Any]]) -> str:
    """The rows of ``render.text.layer_rows`` as an HTML table."""
    head = "".join(f"<th>{h}</th>" for h in _HEADER)
    body = "".join("<tr>" + "".join(f"<td><code>{escape(c)}</code></td>" for c in _cells(r))
                   + "</tr>" for r in rows)
    return (f'<table class="shapegraph-layers"><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table>")


def html_block(title: str, text: str, rows: Sequence[dict[str, Any]] = (),
               color: str = "", after: str = "") -> str:
    """A ``<div>`` with a bold title (in ``color`` when given), ``text`` preformatted, the
    layer table, and ``after`` preformatted."""
    style = f' style="color:{escape(color)}"' if color else ""
    parts = [f'<div class="shapegraph"><p><b{style}>{escape(title)}</b></p>']
    if text:
        parts.append(f"<pre>{escape(text)}</pre>")
    if rows:
        parts.append(html_table(rows))
    if after:
        parts.append(f"<pre>{escape(after)}</pre>")
    parts.append("</div>")
    return "".join(parts)
