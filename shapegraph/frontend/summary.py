"""``net.summary(*inputs)``: a network's summary from tracing and propagation alone.

Nothing is allocated and no parameter is created or changed, so it works before
``initialize()`` and without any input (then the sizes are what the declarations
determine, ``?`` elsewhere). Inputs are sample arrays (their first dim becomes the symbol
``batch``, bound to the array's size for the totals), ``sg.Input`` specs, or shape tuples
of ints and symbol names.

>>> from shapegraph import nn
>>> net = nn.Sequential(); net.add(nn.Dense(256, activation="relu"), nn.Dense(10))
>>> s = summarize_block(net, [("batch", 100)], {"batch": 8})
>>> [str(r.flops) for r in s.rows], s.at(s.flops)
(['51200*batch', '5120*batch'], 450560)
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from shapegraph.core.dims import Sym
from shapegraph.core.graph import Graph
from shapegraph.core.types import TensorType
from shapegraph.executor.model import as_input
from shapegraph.frontend.root import (
    best_trial,
    input_names,
    param_specs,
    static_trials,
    trace,
    unused_diagnostic,
    unused_layers,
)
from shapegraph.frontend.trace import CannotTraceStatically, Tracer
from shapegraph.infer.propagate import propagate
from shapegraph.render.summary import Summary, summarize

if TYPE_CHECKING:
    from shapegraph.frontend.block import Block
    from shapegraph.frontend.params import ParameterDict

__all__ = ["input_types", "show_summary", "summarize_block"]

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def _shape_type(name: str, shape: tuple[Any, ...]) -> TensorType:
    for j, d in enumerate(shape):
        ok = (isinstance(d, int) and not isinstance(d, bool) and d >= 0) or (
            isinstance(d, str) and _NAME.match(d))
        if not ok:
            raise ValueError(f"input `{name}` dim {j}: expected a size (int >= 0) or a symbol "
                             f"name, got {d!r}")
    return TensorType(tuple(Sym(d) if isinstance(d, str) else d for d in shape))


def input_types(net: Block, inputs: Sequence[Any]) -> tuple[list[str], list[TensorType],
                                                           dict[str, int]]:
    """(names, types, sizes) of ``inputs``: ``sg.Input`` specs (anything with ``name`` and
    ``type()``), shape tuples, or sample arrays (batch dim -> ``batch``, its size in
    ``sizes``)."""
    names = input_names(net, len(inputs))
    types: list[TensorType] = []
    sizes: dict[str, int] = {}
    for k, spec in enumerate(inputs):
        if isinstance(getattr(spec, "name", None), str) and callable(getattr(spec, "type", None)):
            names[k] = spec.name
            types.append(spec.type())
        elif isinstance(spec, tuple):
            types.append(_shape_type(names[k], spec))
        else:
            arr = as_input(spec, names[k], "int64" if np.asarray(spec).dtype.kind in "iu"
                           else "float32")
            if arr.ndim == 0:
                raise ValueError(f"input `{names[k]}` is a scalar; give an array with a batch "
                                 "dim")
            sizes["batch"] = int(arr.shape[0])
            types.append(TensorType((Sym("batch"), *arr.shape[1:]), str(arr.dtype)))
    return names, types, sizes


def _traced(net: Block, types: list[TensorType]) -> tuple[Graph, Tracer, ParameterDict]:
    """The trace for ``types`` (none: a static trace, or the best static trial)."""
    if types:
        return trace(net, [t.rank for t in types])
    try:
        return trace(net, [None] * len(input_names(net, None)), static=True)
    except CannotTraceStatically:
        trial = best_trial(static_trials(net))
        if trial is None:
            raise ValueError(f"{type(net).__name__}: no layer fixes the rank of its input; "
                             "give the input shapes, e.g. summary(('batch', 20))") from None
        return trial.graph, trial.tracer, trial.params


def summarize_block(net: Block, inputs: Sequence[Any] = (), dims: Mapping[str, int] | None = None,
                    target: str = "") -> Summary:
    """The summary of ``net`` for ``inputs`` (see the module); ``dims`` binds symbols to
    sizes for the totals (``{"batch": 8}``)."""
    names, types, sizes = input_types(net, inputs)
    if inputs and len(inputs) != len(input_names(net, None)):
        raise TypeError(f"{type(net).__name__}.forward takes "
                        f"{', '.join(input_names(net, None))}; {len(inputs)} inputs given")
    graph, tr, params = _traced(net, types)
    if types:
        graph = graph.with_input_names(names).with_input_dtypes([t.dtype for t in types])
    specs = param_specs(params)
    graph = graph.with_params({k: specs[k] for k in graph.params})
    res = propagate(graph, dict(zip(graph.input_names, types, strict=False)))
    kinds = {path: type(b).__name__ for path, b in net.walk()}
    frozen = [k for k, p in params.items() if p.constant]
    unused = [unused_diagnostic(path, b) for path, b in unused_layers(net, tr)]
    return summarize(res, target or type(net).__name__, kinds, frozen,
                     {**sizes, **(dims or {})}, unused)


def show_summary(s: Summary) -> None:
    """Print ``s`` as a table as wide as the terminal (at least 100 columns)."""
    import shutil

    print(s.render("text", width=max(100, shutil.get_terminal_size((150, 24)).columns)))
