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
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from shapegraph.build import float_consumer
from shapegraph.diagnostics import Diagnostic, ShapeError
from shapegraph.dims import Dim, Sym, dim_str
from shapegraph.graph import Graph
from shapegraph.propagate import Resolution, propagate
from shapegraph.types import TensorType

if TYPE_CHECKING:
    from shapegraph.executor.runtime import EmptyRunner, Runner
    from shapegraph.nn.block import Block

__all__ = ["CompiledModel", "Input", "compile"]

_F32 = np.dtype(np.float32)
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


class CompiledModel:
    """A network compiled for its input types: call it with arrays (positional or by name).

    ``print(model)`` shows every value's type, every parameter's shape and the memory plan
    of the plans built so far; ``model.memory_plan(batch=64)`` plans for given symbol
    values. ``debug=True`` runs plans step by step in Python (each kernel still compiled).
    """

    def __init__(self, graph: Graph, params: dict[str, np.ndarray],
                 input_types: Sequence[TensorType] | None = None,
                 resolution: Resolution | None = None, compiled: bool = True) -> None:
        self.graph = graph
        self.params = params
        self.input_names = graph.input_names
        self.input_types = tuple(input_types) if input_types is not None else None
        self.resolution = resolution
        self.compiled = compiled
        self._runners: dict[tuple[tuple[int, ...], ...], Runner | EmptyRunner] = {}
        self._lock = threading.Lock()
        self._n = len(graph.inputs)
        self._dtypes = [np.dtype(gi.dtype) for gi in graph.inputs]

    # -- calling -----------------------------------------------------------------------
    def __call__(self, *args: Any, **named: Any) -> Any:
        if named:
            args = self._bind(args, named)
        if len(args) != self._n:
            raise TypeError(f"the model takes {self._n} input(s) ({', '.join(self.input_names)})"
                            f", got {len(args)}")
        arrays = []
        for k, a in enumerate(args):
            if (a.__class__ is not np.ndarray or a.dtype is not self._dtypes[k]
                    or not a.flags.c_contiguous):
                a = self._coerce(a, k)
            arrays.append(a)
        key = tuple(a.shape for a in arrays)
        runner = self._runners.get(key)
        if runner is None:
            runner = self._runner_for(key)
        outs = runner.run(arrays)
        return outs[0] if len(outs) == 1 else tuple(outs)

    def _bind(self, args: tuple[Any, ...], named: Mapping[str, Any]) -> tuple[Any, ...]:
        values = list(args)
        for name in self.input_names[len(args):]:
            if name not in named:
                raise TypeError(f"missing input `{name}` (inputs: {', '.join(self.input_names)})")
            values.append(named[name])
        extra = set(named) - set(self.input_names[len(args):])
        if extra:
            raise TypeError(f"unknown input(s) {', '.join(sorted(extra))} (inputs: "
                            f"{', '.join(self.input_names)})")
        return tuple(values)

    def _coerce(self, a: Any, k: int) -> np.ndarray:
        from shapegraph.nn.root import as_input

        return as_input(a, self.input_names[k], self.graph.inputs[k].dtype)

    def _runner_for(self, key: tuple[tuple[int, ...], ...]) -> Runner | EmptyRunner:
        with self._lock:
            runner = self._runners.get(key)
            if runner is None:
                runner = self._build(key)
                self._runners[key] = runner
            return runner

    def _build(self, key: tuple[tuple[int, ...], ...]) -> Runner | EmptyRunner:
        from shapegraph.executor.runtime import build_runner

        res = self.resolve(key)
        return build_runner(self.graph, res, self.params, self.compiled)

    def resolve(self, key: Sequence[tuple[int, ...]]) -> Resolution:
        """Propagate concrete input shapes; ShapeError (nothing cached) when they do not fit
        the network or the compiled input types."""
        shapes = dict(zip(self.input_names, key, strict=True))
        res = propagate(self.graph, shapes)
        mismatch = self._spec_mismatch(key)
        if not res.ok or mismatch:
            given = ", ".join(f"{n} {s}" for n, s in shapes.items())
            what = "the network" if not res.ok else "the compiled input types"
            raise ShapeError([*res.errors, *([mismatch] if mismatch else [])],
                             headline=f"the input shapes ({given}) do not fit {what}")
        return res

    def _spec_mismatch(self, key: Sequence[tuple[int, ...]]) -> Diagnostic | None:
        if self.input_types is None:
            return None
        bound: dict[str, tuple[int, str]] = {}
        for name, t, shape in zip(self.input_names, self.input_types, key, strict=True):
            problem = _dim_problem(name, t, shape, bound)
            if problem:
                return Diagnostic.make("SG211", problem, path=f"input `{name}`",
                                       help=f"pass `{name}` with shape {_show(t)}, or compile "
                                       "with a symbol for the dims that vary")
        return None

    # -- reporting -----------------------------------------------------------------------
    def memory_plan(self, **symbols: int) -> str:
        """The memory plan for concrete symbol values, e.g. ``memory_plan(batch=64)``."""
        if self.input_types is None:
            raise ValueError("this model has no symbolic input types; call it with arrays "
                             "and print it to see the plans built")
        key = tuple(tuple(_bind_dim(d, symbols, t) for d in t.shape)
                    for t in self.input_types)
        return _plan_report(self._runner_for(key).plan, key)

    def __repr__(self) -> str:
        from shapegraph.render import layer_rows, render_table

        ins = ", ".join(f"{n}: {_show(t)}" for n, t in zip(
            self.input_names, self.input_types or [None] * self._n, strict=True))
        lines = [f"CompiledModel({ins})"]
        if self.resolution is not None:
            lines.append(render_table(layer_rows(self.resolution)))
        lines.append("parameters:")
        lines += [f"  {k}: {tuple(a.shape)}" for k, a in self.params.items()]
        for key, runner in self._runners.items():
            lines.append(_plan_report(runner.plan, key))
        return "\n".join(lines)


def _show(t: TensorType | None) -> str:
    return str(t) if t is not None else "any shape the network accepts"


def _bind_dim(d: Dim, symbols: Mapping[str, int], t: TensorType) -> int:
    if type(d) is int:
        return d
    name = dim_str(d)
    if name not in symbols:
        raise ValueError(f"memory_plan needs a value for `{name}` (input type {t})")
    return int(symbols[name])


def _dim_problem(name: str, t: TensorType, shape: tuple[int, ...],
                 bound: dict[str, tuple[int, str]]) -> str | None:
    if len(shape) != t.rank:
        return f"input `{name}` has rank {len(shape)} {shape}, compiled for {t}"
    for j, (want, got) in enumerate(zip(t.shape, shape, strict=True)):
        if type(want) is int:
            if want != got:
                return f"input `{name}` dim {j} is {got}, compiled for {want} ({t})"
            continue
        sym = dim_str(want)
        if sym in bound and bound[sym][0] != got:
            return (f"input `{name}` dim {j} is {got}, but `{sym}` is {bound[sym][0]} in "
                    f"{bound[sym][1]}")
        bound[sym] = (got, f"input `{name}` dim {j}")
    return None


def _plan_report(plan: Any, key: Sequence[tuple[int, ...]]) -> str:
    kib = 1024.0
    if plan is None:
        return (f"plan for inputs {', '.join(map(str, key))}: none (a value has no elements: "
                "the result is computed by the ops' numpy references, nothing is allocated)")
    steps = len(plan.lowered.steps)
    lines = [f"plan for inputs {', '.join(map(str, key))}: {steps} steps, activation arena "
             f"{plan.arena_bytes / kib:.1f} KiB (every value in its own buffer: "
             f"{plan.separate_size * 4 / kib:.1f} KiB), weights {plan.weight_bytes / kib:.1f} "
             f"KiB"]
    for v, st in sorted(plan.storage.items(), key=lambda kv: (kv[1].kind, kv[1].index)):
        if st.kind == "arena":
            lines.append(f"  value {v} {plan.shapes[v]}: arena offset {st.index * 4} bytes, "
                         f"{st.size * 4} bytes")
    return "\n".join(lines)


def _input_types(net: Block, inputs: Sequence[Any]) -> tuple[list[str], list[TensorType]]:
    from shapegraph.nn.root import as_input, input_names

    names = input_names(net, len(inputs))
    types = []
    for k, spec in enumerate(inputs):
        if isinstance(spec, Input):
            names[k] = spec.name
            types.append(spec.type())
        else:  # a sample array: its batch dim is the symbol `batch`
            arr = as_input(spec, names[k])
            types.append(TensorType((Sym("batch"), *arr.shape[1:])))
    return names, types


def compile(net: Block, *inputs: Input | np.ndarray, debug: bool = False) -> CompiledModel:
    """Compile ``net`` for ``inputs`` (``Input`` specs or sample arrays; a sample's first dim
    becomes the symbol ``batch``). Raises ShapeError when the shapes conflict."""
    from shapegraph.lifecycle import materialize
    from shapegraph.nn.root import _newly_known, check_initialized, param_specs, trace

    if not inputs:
        raise TypeError("compile() needs the network's inputs: sg.Input(name, shape) or "
                        "sample arrays")
    names, types = _input_types(net, inputs)
    graph, _, params = trace(net, [t.rank for t in types])
    graph = _renamed(graph, names).with_input_dtypes([t.dtype for t in types])
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


def _renamed(graph: Graph, names: Sequence[str]) -> Graph:
    """The graph with its inputs named as the caller named them."""
    from dataclasses import replace

    from shapegraph.graph import GraphInput, Value

    if list(graph.input_names) == list(names):
        return graph
    values = list(graph.values)
    new_inputs = []
    for gi, name in zip(graph.inputs, names, strict=True):
        values[gi.value] = Value(gi.value, name, None)
        new_inputs.append(GraphInput(name, gi.value, gi.rank, gi.dtype))
    return replace(graph, values=tuple(values), inputs=tuple(new_inputs))
