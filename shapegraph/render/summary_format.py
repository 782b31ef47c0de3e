"""A :class:`~shapegraph.render.summary.Summary` as a rich table (text), as JSON data and as
an HTML table (notebooks). Symbolic counts print in their canonical form (``51200*batch``),
unknown ones as ``?``; the totals add the value at the bound sizes."""

from __future__ import annotations

import html
import json
import re
from io import StringIO
from typing import TYPE_CHECKING, Any

from shapegraph.core.dims import Dim, dim_str, holes
from shapegraph.core.types import TensorType

if TYPE_CHECKING:
    from shapegraph.render.summary import LayerRow, Summary

__all__ = ["render_summary", "summary_dict", "summary_html"]

JSON_VERSION = 1
_HEADERS = ("Layer", "Type", "Output", "Parameters", "Param #", "FLOPs", "Activations")


# --------------------------------------------------------------------------- pieces


def count_str(d: Dim | None) -> str:
    """``51,200``; ``51,200*batch``; ``?`` when unknown."""
    if d is None or (not isinstance(d, int) and holes(d)):
        return "?"
    if isinstance(d, int):
        return f"{d:,}"
    return re.sub(r"[0-9]{4,}", lambda m: f"{int(m.group()):,}", dim_str(d))


def _dim(d: Dim) -> str:
    """A dim as shown: an unknown one (or one computed from unknowns) is ``?``."""
    return "?" if not isinstance(d, int) and holes(d) else dim_str(d)


def shape_str(shape: tuple[Dim, ...]) -> str:
    """``(batch, 256)``; a one-dim shape ``(256,)`` as ``(256)``, as in the check table."""
    return "(" + ", ".join(_dim(d) for d in shape) + ")"


def type_str(t: TensorType | None) -> str:
    if t is None:
        return "?"
    return shape_str(t.shape) + ("" if t.dtype == "float32" else f" {t.dtype}")


def human(n: int, unit: str, base: int = 1000) -> str:
    """``1.23 M`` + unit (decimal), or ``3.4 MiB`` (``base=1024``)."""
    steps = ("", "K", "M", "G", "T", "P") if base == 1000 else ("", "Ki", "Mi", "Gi", "Ti", "Pi")
    value, k = float(n), 0
    while abs(value) >= base and k < len(steps) - 1:
        value, k = value / base, k + 1
    return f"{n} {unit}" if k == 0 else f"{value:.2f} {steps[k]}{unit}"


def _json_count(d: Dim | None) -> int | str | None:
    if d is None or (not isinstance(d, int) and holes(d)):
        return None
    return d if isinstance(d, int) else dim_str(d)


def _json_type(t: TensorType | None) -> dict[str, Any] | None:
    if t is None:
        return None
    return {"shape": [d if isinstance(d, int) else _dim(d) for d in t.shape],
            "dtype": t.dtype}


def _label(row: LayerRow) -> str:
    name = row.path or "<root>"
    return "  " * row.depth + name


def _params_str(row: LayerRow) -> str:
    return "\n".join(f"{key.rsplit('.', 1)[-1]} {shape_str(s)}" for key, s in row.params)


def _cells(row: LayerRow, links: bool) -> tuple[str, ...]:
    cells = (_label(row), row.kind, ", ".join(type_str(t) for t in row.outputs),
             _params_str(row), count_str(row.param_count), count_str(row.flops),
             count_str(row.act_bytes))
    return (*cells, "\n".join(row.inputs)) if links else cells


def _headers(s: Summary) -> tuple[str, ...]:
    """The columns; "Connected to" (the rows a layer takes its inputs from, as Keras's
    "Connected to") when the network is not a plain chain."""
    return _HEADERS if s.is_chain else (*_HEADERS, "Connected to")


def _totals(s: Summary) -> list[tuple[str, str]]:
    """(label, value) lines under the table."""
    def line(d: Dim, unit: str, base: int = 1000) -> str:
        text = count_str(d)
        at = s.at(d)
        if isinstance(at, int) and not isinstance(d, int):
            bound = ", ".join(f"{k}={v}" for k, v in sorted(s.sizes.items()))
            text += f" = {at:,} at {bound}"
        if isinstance(at, int):
            text += f" ({human(at, unit, base)})"
        return text

    return [("Total params", _params_line(s)),
            ("Trainable params", count_str(s.trainable_params)),
            ("Non-trainable params", count_str(s.total_params - s.trainable_params)),
            ("Parameter memory", line(s.param_bytes, "B", 1024)),
            ("FLOPs (2 per multiply-add)", line(s.flops, "FLOPs")),
            ("Activation memory", line(s.act_bytes, "B", 1024)),
            ("Input memory", line(s.input_bytes, "B", 1024)),
            ("Total memory", line(s.param_bytes + s.act_bytes + s.input_bytes, "B", 1024))]


def _params_line(s: Summary) -> str:
    """The parameter count, or, while some sizes wait for the input, what is known."""
    if isinstance(s.total_params, int) or not holes(s.total_params):
        return count_str(s.total_params)
    known = sum(r.param_count for r in s.rows if r.leaf and isinstance(r.param_count, int))
    return f"? ({known:,} in the layers whose sizes are known; the rest needs the input)"


# --------------------------------------------------------------------------- formats


def summary_dict(s: Summary) -> dict[str, Any]:
    """The summary as JSON-ready data: shapes as arrays of ints and symbol strings, counts
    as ints, expression strings (``"51200*batch"``) or null when unknown."""
    layers = [{"name": r.name, "path": r.path, "type": r.kind, "reads": list(r.inputs),
               "depth": r.depth, "container": not r.leaf,
               "outputs": [_json_type(t) for t in r.outputs],
               "params": {k: _json_type(TensorType(sh))["shape"]  # type: ignore[index]
                          for k, sh in r.params},
               "param_count": _json_count(r.param_count), "macs": _json_count(r.macs),
               "flops": _json_count(r.flops), "activation_bytes": _json_count(r.act_bytes)}
              for r in s.rows]
    if not s.ok:
        return {"version": JSON_VERSION, "target": s.target, "ok": False,
                "inputs": {n: _json_type(t) for n, t in s.inputs.items()},
                "sizes": dict(s.sizes), "layers": [], "totals": None, "totals_at_sizes": None,
                "diagnostics": [d.to_dict() for d in s.diagnostics],
                "help": f"the shapes conflict: run `shapegraph check {s.target}` for the "
                        "diagnostics"}
    totals = {"params": s.total_params, "trainable_params": s.trainable_params,
              "non_trainable_params": s.total_params - s.trainable_params,
              "param_bytes": s.param_bytes, "macs": s.macs, "flops": s.flops,
              "activation_bytes": s.act_bytes, "input_bytes": s.input_bytes}
    return {"version": JSON_VERSION, "target": s.target, "ok": s.ok,
            "inputs": {n: _json_type(t) for n, t in s.inputs.items()},
            "sizes": dict(s.sizes), "layers": layers,
            "totals": {k: _json_count(v) for k, v in totals.items()},
            "totals_at_sizes": {k: _json_count(s.at(v)) for k, v in totals.items()},
            "diagnostics": [d.to_dict() for d in s.diagnostics]}


def _conflict_text(s: Summary) -> str:
    errors = [d for d in s.diagnostics if d.is_error]
    lines = [f"summary of {s.target}: the shapes conflict ({len(errors)} error"
             f"{'s' if len(errors) != 1 else ''}), so there are no sizes to count:"]
    lines += [f"  error[{d.code}] at `{d.path or '<root>'}`: {d.message.splitlines()[0]}"
              for d in errors]
    lines.append(f"run `shapegraph check {s.target}` (sg.check in Python) for the full "
                 "diagnostics and their fixes")
    return "\n".join(lines)


def render_summary(s: Summary, fmt: str, color: bool, width: int) -> str:
    if fmt == "json":
        return json.dumps(summary_dict(s), indent=2)
    if fmt != "text":
        raise ValueError(f"unknown format {fmt!r}: use 'text' or 'json'")
    if not s.ok:
        return _conflict_text(s)
    from rich.console import Console
    from rich.table import Table

    buf = StringIO()
    console = Console(file=buf, width=width, force_terminal=color, no_color=not color,
                      color_system="standard" if color else None, highlight=False)
    ins = ", ".join(f"{n}: {type_str(t)}" for n, t in s.inputs.items())
    table = Table(title=f"{s.target} ({ins})" if ins else s.target, title_justify="left")
    headers = _headers(s)
    for h in headers:  # shapes and counts do not break across lines
        table.add_column(h, justify="right" if h in _HEADERS[4:] else "left",
                         no_wrap=h not in ("Type", "Parameters", "Connected to"))
    for r in s.rows:
        table.add_row(*_cells(r, len(headers) > len(_HEADERS)), style=None if r.leaf else "bold")
    console.print(table)
    totals = Table.grid(padding=(0, 2))
    totals.add_column()
    totals.add_column()
    for label, value in _totals(s):
        totals.add_row(label, value)
    console.print(totals)
    if any(not r.leaf for r in s.rows):
        console.print("(bold rows are blocks: their numbers total the rows below them)")
    for d in s.diagnostics:  # warnings and notes (an unused layer is not counted)
        console.print(f"{d.severity}[{d.code}] at `{d.path or '<root>'}`: "
                      f"{d.message.splitlines()[0]}", markup=False)
    return "\n".join(line.rstrip() for line in buf.getvalue().rstrip().splitlines())


def summary_html(s: Summary) -> str:
    """An HTML table for notebooks (Jupyter's ``_repr_html_``)."""
    esc = html.escape
    if not s.ok:
        return f"<pre>{esc(_conflict_text(s))}</pre>"
    headers = _headers(s)
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = []
    for r in s.rows:
        cells = list(_cells(r, len(headers) > len(_HEADERS)))
        cells[0] = "&nbsp;&nbsp;" * r.depth + esc(r.path or "<root>")
        tds = "".join(f"<td>{c if k == 0 else esc(c).replace(chr(10), '<br>')}</td>"
                      for k, c in enumerate(cells))
        style = "" if r.leaf else ' style="font-weight:bold"'
        body.append(f"<tr{style}>{tds}</tr>")
    totals = "".join(f"<tr><td>{esc(k)}</td><td>{esc(v)}</td></tr>" for k, v in _totals(s))
    return (f"<div><b>{esc(s.target)}</b><table><thead><tr>{head}</tr></thead><tbody>"
            f"{''.join(body)}</tbody></table><table>{totals}</table></div>")
