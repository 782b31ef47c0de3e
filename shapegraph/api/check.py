"""``sg.check(net, *inputs) -> Report``: every shape problem of a network, without running it.

Checking traces the network (with the given input types, or without any: then only what
the declarations determine is checked), propagates, and collects every diagnostic,
including layers that ``forward`` never uses. It never raises for shape problems, never
creates or changes a parameter, and never imports numba.

>>> import shapegraph as sg
>>> from shapegraph import nn
>>> net = nn.Sequential(); net.add(nn.Dense(256), nn.Dense(10, in_units=300))
>>> report = sg.check(net, sg.Input("x", ("batch", 20)))
>>> report.ok, [d.code for d in report.diagnostics]
(False, ['SG201'])
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from shapegraph.core.diagnostics import Diagnostic, Related
from shapegraph.core.graph import Graph
from shapegraph.infer.propagate import Resolution, propagate
from shapegraph.render.html import html_block
from shapegraph.render.text import layer_rows, render_json, render_table, render_text

if TYPE_CHECKING:
    from shapegraph.api.compile import Input
    from shapegraph.frontend.block import Block

__all__ = ["Report", "check"]


@dataclass(repr=False)
class Report:
    """What ``check`` found: diagnostics, the layer table, and a verdict.

    ``print(report)`` shows the text report, ``repr(report)`` one short line, and in a
    notebook the report shows as HTML."""

    target: str
    inputs: dict[str, str]
    diagnostics: tuple[Diagnostic, ...]
    resolution: Resolution | None = None
    graph: Graph | None = None
    rows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No errors (warnings and notes are allowed)."""
        return not any(d.is_error for d in self.diagnostics)

    def counts(self) -> dict[str, int]:
        out = {"error": 0, "warning": 0, "note": 0}
        for d in self.diagnostics:
            out[d.severity] += 1
        return out

    @property
    def verdict(self) -> str:
        c = self.counts()
        parts = [f"{n} {k}{'s' if n != 1 else ''}" for k, n in c.items() if n]
        summary = ", ".join(parts) if parts else "no problems"
        head = "ok" if self.ok else "shape conflicts"
        return f"{head}: {self.target}: {summary}"

    def to_dict(self) -> dict[str, Any]:
        return {"target": self.target, "inputs": self.inputs, "ok": self.ok,
                "verdict": self.verdict, "counts": self.counts(), "layers": self.rows}

    def render(self, fmt: str = "text", color: bool = False) -> str:
        """``"text"``: diagnostic frames, the layer table, the verdict; ``"json"``: the
        versioned document described in docs/cli.md."""
        if fmt == "json":
            return render_json(self.diagnostics, **self.to_dict())
        if fmt != "text":
            raise ValueError(f"unknown format {fmt!r}: use 'text' or 'json'")
        parts = []
        if self.diagnostics:
            parts.append(render_text(self.diagnostics, color=color))
        if self.rows:
            parts.append(render_table(self.rows))
        parts.append(_styled(self.verdict, "bold green" if self.ok else "bold red", color))
        return "\n\n".join(parts)

    def __str__(self) -> str:
        return self.render("text")

    def __repr__(self) -> str:
        c = self.counts()
        parts = [f"{n} {k}{'s' if n != 1 else ''}" for k, n in c.items() if n]
        return f"<Report {self.target}: {', '.join(parts) or 'no problems'}>"

    def _repr_html_(self) -> str:
        text = render_text(self.diagnostics) if self.diagnostics else ""
        return html_block(self.verdict, text, self.rows, "#1e8449" if self.ok else "#c0392b")


def _styled(text: str, style: str, color: bool) -> str:
    """``text`` with a rich style when ``color`` (ANSI codes through rich), else as is."""
    if not color:
        return text
    from io import StringIO

    from rich.console import Console

    buf = StringIO()
    Console(file=buf, force_terminal=True, color_system="standard", width=10_000,
            highlight=False).print(text, style=style, end="")
    return buf.getvalue()


def _trace_failure(e: BaseException) -> Diagnostic:
    """SG302 for an exception raised while tracing ``forward``, at the block whose forward
    raised it, pointing at the user's code."""
    frames = [f for f in traceback.extract_tb(e.__traceback__)
              if "/shapegraph/" not in f.filename.replace("\\", "/")]
    where = f"{frames[-1].filename}:{frames[-1].lineno}" if frames else None
    path = getattr(e, "shapegraph_path", "")
    return Diagnostic.make(
        "SG302", f"forward could not be traced: {type(e).__name__}: {e}", path=path,
        location=where, related=tuple(Related(f"{f.name}()", f"line {f.lineno} of {f.filename}")
                                      for f in frames[-3:]),
        help="fix forward so that it only uses tensor operations on its inputs")


def _check_onnx(model: Any, inputs: tuple[Any, ...], target: str) -> Report:
    """An imported ONNX model, for its declared input types or the given ones."""
    try:
        types = model.types_for(inputs)
    except (TypeError, ValueError) as e:
        return Report(target or model.source, {}, (Diagnostic.make(
            "SG211", str(e), path="inputs", help="give one shape per graph input"),))
    res = propagate(model.graph, types)
    return Report(target or model.source, {n: str(t) for n, t in types.items()},
                  res.diagnostics, res, model.graph, layer_rows(res))


def check(net: Block, *inputs: Input | Any, target: str = "") -> Report:
    """Check ``net`` for ``inputs`` (``sg.Input`` specs, shape tuples such as ``("batch",
    3, 32, 32)``, or sample arrays), or, with none,
    for what its declarations determine. Never raises for shape problems."""
    from shapegraph.api.compile import _input_types, dtype_problems
    from shapegraph.frontend.root import (
        best_trial,
        input_names,
        param_specs,
        rank_independent,
        static_trials,
        trace,
        unused_diagnostic,
        unused_layers,
    )
    from shapegraph.frontend.trace import CannotTraceStatically
    from shapegraph.onnx.importer import OnnxModel

    if isinstance(net, OnnxModel):
        return _check_onnx(net, inputs, target)
    target = target or type(net).__name__
    wanted = input_names(net, None)
    if inputs and len(inputs) != len(wanted):
        takes = f"{type(net).__name__}.forward takes {', '.join(wanted) or 'no inputs'}"
        problems = [(f"input `{n}`", f"input `{n}` is missing: {takes}")
                    for n in wanted[len(inputs):]] or [
            ("inputs", f"{len(inputs)} inputs given, but {takes}")]
        return Report(target, {}, tuple(
            Diagnostic.make("SG211", msg, path=path, help="give one input per argument of "
                            "forward") for path, msg in problems))
    if inputs:
        names, types = _input_types(net, inputs)
        ranks: list[int | None] = [t.rank for t in types]
    else:
        names, types = wanted, []
        ranks = [None] * len(names)
    shown = {n: str(t) for n, t in zip(names, types, strict=False)}
    notes: tuple[Diagnostic, ...] = ()
    try:
        graph, tr, params = trace(net, ranks, static=not inputs)
    except CannotTraceStatically as e:
        trials = static_trials(net)
        trial = best_trial(trials)
        if trial is None:
            note = Diagnostic.make(
                "SG102", f"the network needs input shapes to be checked: {e}", path="",
                help="give the input shapes, e.g. --input x=batch,3,224,224")
            return Report(target, shown, (note,))
        graph, tr, params = trial.graph, trial.tracer, trial.params
        if not rank_independent(trials):
            notes = (Diagnostic.make(
                "SG102", f"no layer fixes the rank of input `{names[0]}`, and the "
                f"declarations give different results at different ranks: shown for rank "
                f"{trial.graph.inputs[0].rank}, the first that fits", path="",
                help="give the input shapes to check them for yours, e.g. --input x=batch,20"),)
    except Exception as e:
        return Report(target, shown, (_trace_failure(e),))
    graph = graph.with_input_names(names)
    if types:
        graph = graph.with_input_dtypes([t.dtype for t in types])
        notes = (*dtype_problems(graph), *notes)
    specs = param_specs(params)
    graph = graph.with_params({k: specs[k] for k in graph.params})
    res = propagate(graph, dict(zip(names, types, strict=False)))
    unused = [unused_diagnostic(path, b) for path, b in unused_layers(net, tr)]
    return Report(target, shown, res.diagnostics + tuple(unused) + notes, res, graph,
                  layer_rows(res))
