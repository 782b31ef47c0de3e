"""``sg.summary(net, *inputs)``: the per-layer summary of a Block or an imported ONNX model
(see :mod:`shapegraph.render.summary`), from propagation alone.

>>> import shapegraph as sg
>>> from shapegraph import nn
>>> net = nn.Sequential(); net.add(nn.Dense(256, activation="relu"), nn.Dense(10))
>>> s = sg.summary(net, sg.Input("x", ("batch", 100)), dims={"batch": 8})
>>> s.total_params, str(s.flops), s.at(s.flops)
(28426, '56320*batch', 450560)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from shapegraph.core.diagnostics import Diagnostic
from shapegraph.frontend.summary import summarize_block
from shapegraph.infer.propagate import propagate
from shapegraph.onnx.importer import OnnxModel
from shapegraph.render.summary import Summary, summarize

__all__ = ["Summary", "summary"]


def summary(net: Any, *inputs: Any, dims: Mapping[str, int] | None = None,
            target: str = "") -> Summary:
    """The summary of ``net`` (a Block, or what ``sg.load_onnx`` returns) for ``inputs``
    (sample arrays, ``sg.Input`` specs, shape tuples; none: the declared or declarable
    sizes). ``dims`` binds symbols to sizes for the totals (``{"batch": 8}``)."""
    if isinstance(net, OnnxModel):
        return _onnx_summary(net, inputs, dict(dims or {}), target or os.path.basename(net.source))
    return summarize_block(net, inputs, dims, target)


def _onnx_summary(model: OnnxModel, inputs: tuple[Any, ...], dims: dict[str, int],
                  target: str) -> Summary:
    try:
        types = model.types_for(inputs)
    except (TypeError, ValueError) as e:
        bad = Diagnostic.make("SG211", str(e), path="inputs",
                              help="give one shape per graph input")
        return Summary(target, {}, (), (bad,), dims)
    res = propagate(model.graph, types)
    return summarize(res, target, sizes=dims)
