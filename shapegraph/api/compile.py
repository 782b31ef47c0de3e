"""Compile-then-run: ``sg.compile(net, sg.Input("x", ("batch", 20)))`` -> ``CompiledModel``.

Compiling traces the network, propagates the input types (symbols allowed), creates any
deferred parameters the types determine (all or nothing) and snapshots the parameters.
Each concrete binding of the symbols gets its own plan, built on first use and cached;
a call validates its inputs against the plan key in Python, then enters compiled code once.

>>> import numpy as np
>>> import shapegraph as sg
>>> from shapegraph import nn
>>> net = nn.Sequential(); net.add(nn.Dense(4, activation="relu"), nn.Dense(2))
>>> net.initialize()
>>> model = sg.compile(net, sg.Input("x", ("batch", 3)))
>>> model(np.ones((5, 3), np.float32)).shape
(5, 2)
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from shapegraph.core.diagnostics import Diagnostic
from shapegraph.core.dims import Sym
from shapegraph.core.graph import Graph
from shapegraph.core.types import TensorType
from shapegraph.executor.model import CompiledModel, as_input
from shapegraph.infer.propagate import propagate
from shapegraph.opset.build import float_consumer
from shapegraph.render.errors import ShapeError

if TYPE_CHECKING:
    from shapegraph.frontend.block import Block

__all__ = ["INPUT_DTYPES", "Input", "compile", "dtype_problems"]

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


INPUT_DTYPES = ("float32", "int32", "int64")


@dataclass(frozen=True)
class Input:
    """A network input: a name and a shape of ints and symbol names (``"batch"``)."""

    name: str
    shape: tuple[int | str, ...]
    dtype: str = "float32"

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.fullmatch(self.name):
            raise ValueError(f"Input name must be an identifier, got {self.name!r}")
        for j, d in enumerate(self.shape):
            ok = (isinstance(d, int) and not isinstance(d, bool) and d >= 0) or (
                isinstance(d, str) and _NAME.fullmatch(d))
            if not ok:
                raise ValueError(f"Input `{self.name}` dim {j}: expected a size (int >= 0) or "
                                 f"a symbol name, got {d!r}")
        if self.dtype not in INPUT_DTYPES:
            raise ValueError(f"Input `{self.name}`: dtype must be float32, or int32/int64 for "
                             f"token ids feeding an Embedding; got {self.dtype!r}")
        object.__setattr__(self, "shape", tuple(self.shape))

    def type(self) -> TensorType:
        return TensorType(tuple(Sym(d) if isinstance(d, str) else d for d in self.shape),
                          self.dtype)


def _input_types(net: Block, inputs: Sequence[Any]) -> tuple[list[str], list[TensorType]]:
    from shapegraph.frontend.root import input_names

    names = input_names(net, len(inputs))
    types = []
    for k, spec in enumerate(inputs):
        if isinstance(spec, Input):
            names[k] = spec.name
            types.append(spec.type())
        elif isinstance(spec, tuple) and all(isinstance(d, (int, str)) for d in spec):
            # a shape, ``(2, 10)`` or ``("batch", 3, 32, 32)``: as sg.Input(name, shape)
            types.append(Input(names[k], spec).type())
        else:  # a sample array: its batch dim is the symbol `batch`
            arr = as_input(spec, names[k])
            types.append(TensorType((Sym("batch"), *arr.shape[1:])))
    return names, types


def compile(net: Block, *inputs: Input | np.ndarray, debug: bool = False) -> CompiledModel:
    """Compile ``net`` for ``inputs`` (``Input`` specs, shape tuples such as ``("batch",
    784)``, or sample arrays; a sample's first dim becomes the symbol ``batch``). Raises
    ShapeError when the shapes conflict."""
    from shapegraph.frontend.lifecycle import materialize
    from shapegraph.frontend.root import _newly_known, check_initialized, param_specs, trace
    from shapegraph.onnx.importer import OnnxModel

    if isinstance(net, OnnxModel):
        return _compile_onnx(net, inputs, debug)
    if not inputs:
        raise TypeError("compile() needs the network's inputs: sg.Input(name, shape) or "
                        "sample arrays")
    names, types = _input_types(net, inputs)
    graph, _, params = trace(net, [t.rank for t in types])
    graph = graph.with_input_names(names).with_input_dtypes([t.dtype for t in types])
    specs = param_specs(params)
    graph = graph.with_params({k: specs[k] for k in graph.params})
    res = propagate(graph, dict(zip(names, types, strict=True)))
    errors = [*res.errors, *dtype_problems(graph)]
    if errors:
        raise ShapeError(errors, headline="the network does not compile for "
                         + ", ".join(f"{n}: {t}" for n, t in zip(names, types, strict=True)))
    check_initialized(net, [params[k] for k in graph.params])
    materialize(list(_newly_known(res, params).values()), None)
    snapshot = {k: params[k].data().copy() for k in graph.params}
    specs = param_specs(params)
    graph = graph.with_params({k: specs[k] for k in graph.params})
    return CompiledModel(graph, snapshot, types, res, compiled=not debug)


def _compile_onnx(model: Any, inputs: tuple[Any, ...], debug: bool) -> CompiledModel:
    """An imported ONNX model for the given input types (by default its declared ones)."""
    types = model.types_for(inputs)
    res = propagate(model.graph, types)
    if res.errors:
        raise ShapeError(list(res.errors), headline="the model does not compile for "
                         + ", ".join(f"{n}: {t}" for n, t in types.items()))
    return CompiledModel(model.graph, model.params(), list(types.values()), res,
                         compiled=not debug)


def dtype_problems(graph: Graph) -> list[Diagnostic]:
    """SG211 for each integer input that a layer reads as float data (only an embedding
    takes token ids)."""
    out = []
    for gi in graph.inputs:
        node = float_consumer(graph, gi.value) if gi.dtype != "float32" else None
        if node is not None:
            out.append(Diagnostic.make(
                "SG211", f"input `{gi.name}` is {gi.dtype}, but layer {node.describe()} reads "
                "it as float32 data", path=node.prov.path, location=node.prov.location,
                help=f"give `{gi.name}` as float32, or feed it to an Embedding: only an "
                "embedding takes integer token ids"))
    return out
