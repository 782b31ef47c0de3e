"""A network compiled for its input types, and the checks at its boundary.

``CompiledModel`` holds a resolved graph and parameter values; each concrete binding of
the input symbols gets its own plan (lowered, memory-planned and generated on first use,
then cached); a call validates its inputs in Python, then enters compiled code once.
``sg.compile`` (``shapegraph.api.compile``) builds one from a network; a network called
with arrays (``net(x)``) runs through one as well.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from math import prod
from typing import TYPE_CHECKING, Any

import numpy as np

from shapegraph.core.diagnostics import Diagnostic
from shapegraph.core.dims import Dim, as_int, dim_str
from shapegraph.core.graph import Graph
from shapegraph.core.types import TensorType
from shapegraph.infer.propagate import Resolution, propagate
from shapegraph.render.errors import ShapeError

if TYPE_CHECKING:
    from shapegraph.executor.runtime import EmptyRunner, Runner
    from shapegraph.executor.split import SplitRunner

    _AnyRunner = Runner | EmptyRunner | SplitRunner  # (a plan's, the empty one's, a split's)

__all__ = ["CompiledModel", "as_input"]

_F32 = np.dtype(np.float32)


def as_input(value: Any, name: str, dtype: str = "float32") -> np.ndarray:
    """``value`` as a C-contiguous array of ``dtype`` (float32, or int32/int64 for token
    ids), or a TypeError naming the argument."""
    if getattr(value, "_tracer", None) is not None:  # a SymbolicTensor (see frontend.trace)
        raise TypeError(f"input `{name}` is a symbolic tensor outside of a trace")
    try:
        arr = np.asarray(value)
    except Exception as e:
        raise TypeError(f"input `{name}`: cannot convert {type(value).__name__} to an array: "
                        f"{e}") from None
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"input `{name}`: expected an array of numbers, got dtype "
                        f"{arr.dtype} ({type(value).__name__})")
    if arr.ndim == 0:
        raise ValueError(f"input `{name}`: expected an array with a batch dimension, got a "
                         "scalar")
    if dtype != "float32" and arr.dtype.kind not in "biu":
        raise TypeError(f"input `{name}` takes {dtype} token ids, got an array of "
                        f"{arr.dtype}")
    return np.ascontiguousarray(arr, dtype=dtype)



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
        self._runners: dict[tuple[tuple[int, ...], ...], _AnyRunner] = {}
        # a one-input model's runners by the input's shape alone (the short call path)
        self._by_shape: dict[tuple[int, ...], _AnyRunner] = {}
        self._lock = threading.Lock()
        self._n = len(graph.inputs)
        self._dtypes = [np.dtype(gi.dtype) for gi in graph.inputs]

    # -- calling -----------------------------------------------------------------------
    def __call__(self, *args: Any, **named: Any) -> Any:
        if len(args) == 1 and self._n == 1 and not named:  # the common case, kept short
            a = args[0]
            if a.__class__ is np.ndarray and a.dtype is self._dtypes[0]:
                f = a.flags
                if f.c_contiguous:
                    runner = self._by_shape.get(a.shape)
                    if runner is not None:
                        return runner.run1(a, f.aligned and f.writeable)
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
        return as_input(a, self.input_names[k], self.graph.inputs[k].dtype)

    def _runner_for(self, key: tuple[tuple[int, ...], ...]) -> _AnyRunner:
        with self._lock:
            runner = self._runners.get(key)
            if runner is None:
                runner = self._keep(key, self._build(key))
            return runner

    def _keep(self, key: tuple[tuple[int, ...], ...], runner: _AnyRunner) -> _AnyRunner:
        """``runner`` kept as the one for ``key`` (and, with one input, for its shape on
        the short call path). (Called with the lock held.)"""
        self._runners[key] = runner
        if len(key) == 1:
            self._by_shape[key[0]] = runner
        return runner

    def _build(self, key: tuple[tuple[int, ...], ...]) -> _AnyRunner:
        from shapegraph.executor.runtime import Runner
        from shapegraph.executor.split import SplitRunner, wants_split

        res = self.resolve(key)
        one = self._one_sample(key, res)
        if isinstance(one, Runner) and wants_split(key[0][0], one):
            return SplitRunner(one, key[0][0])
        return self._plan(res)

    def _plan(self, res: Resolution) -> Runner | EmptyRunner:
        from shapegraph.executor.runtime import Runner, build_runner

        previous = next((r.plan for r in self._runners.values() if isinstance(r, Runner)), None)
        return build_runner(self.graph, res, self.params, self.compiled, previous)

    def _one_sample(self, key: tuple[tuple[int, ...], ...], res: Resolution
                    ) -> Runner | EmptyRunner | None:
        """The batch-1 runner a batch of ``key`` might be split into (``split.py``): where
        the batch is more than one, the network's samples never meet, one sample's largest
        value is large (the plan is built, and kept, only then) and the plans are compiled;
        else None. (Called with the lock held.)"""
        from shapegraph.executor.split import SPLIT_MIN_VALUE, SplitRunner, batch_symbol

        batch = key[0][0] if key and key[0] else 0
        if (batch < 2 or not self.compiled or self.resolution is None
                or batch_symbol(self.graph, self.resolution) is None):
            return None
        largest = max((4 * prod(as_int(d) for d in t.shape) // batch
                       for t in res.types if t is not None), default=0)
        if largest < SPLIT_MIN_VALUE:
            return None
        key1 = tuple((1, *shape[1:]) for shape in key)
        have = self._runners.get(key1)
        if have is not None and not isinstance(have, SplitRunner):
            return have
        try:
            res1 = self.resolve(key1)
        except ShapeError:  # (a batch of one that does not fit: the batch's own plan)
            return None
        one = self._plan(res1)
        self._keep(key1, one)
        return one

    def resolve(self, key: Sequence[tuple[int, ...]]) -> Resolution:
        """Propagate concrete input shapes; ShapeError (nothing cached) when they do not fit
        the network or the compiled input types."""
        shapes = dict(zip(self.input_names, key, strict=True))
        res = propagate(self.graph, shapes)
        mismatch = self._spec_mismatch(key)
        if not res.ok or mismatch:
            given = ", ".join(f"{n} {s}" for n, s in shapes.items())
            what = "the network" if not res.ok else "the compiled input types"
            # a size the compiled type fixes and the network rejects: the network's finding
            # says what and where, and SG211's "compile with a symbol" would be wrong advice
            if not res.ok and mismatch is not None and "compiled for" in mismatch.message:
                mismatch = None
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
        return _plan_report(self._runner_for(key), key, self.graph)

    def __repr__(self) -> str:
        from shapegraph.render.text import layer_rows, render_table

        ins = ", ".join(f"{n}: {_show(t)}" for n, t in zip(
            self.input_names, self.input_types or [None] * self._n, strict=True))
        lines = [f"CompiledModel({ins})"]
        if self.resolution is not None:
            lines.append(render_table(layer_rows(self.resolution)))
        lines.append("parameters:")
        lines += [f"  {k}: {tuple(a.shape)}" for k, a in self.params.items()]
        for key, runner in self._runners.items():
            lines.append(_plan_report(runner, key, self.graph))
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        """The repr for notebooks: the inputs as a title, the layer table, the rest as text."""
        from shapegraph.render.html import html_block
        from shapegraph.render.text import layer_rows

        title, *rest = repr(self).split("\n")
        rows = layer_rows(self.resolution) if self.resolution is not None else []
        table_end = 2 + len(rows) if rows else 0  # the text table: header, rule, rows
        return html_block(title, "", rows, after="\n".join(rest[table_end:]))


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


def _plan_report(runner: Any, key: Sequence[tuple[int, ...]], graph: Graph) -> str:
    kib = 1024.0
    one = getattr(runner, "one", None)
    if one is not None:  # a SplitRunner
        key1 = [(1, *shape[1:]) for shape in key]
        return (f"plan for inputs {', '.join(map(str, key))}: the batch split, one call a "
                f"sample of the plan for inputs {', '.join(map(str, key1))} (a sample's "
                f"activations stay in cache):\n" + _plan_report(one, key1, graph))
    plan = runner.plan
    if plan is None:
        return (f"plan for inputs {', '.join(map(str, key))}: none (a value has no elements: "
                "the result is computed by the ops' numpy references, nothing is allocated)")
    steps = len(plan.lowered.steps)
    lines = [f"plan for inputs {', '.join(map(str, key))}: {steps} steps "
             f"{_code_report(runner.gen)}, activation arena "
             f"{plan.arena_bytes / kib:.1f} KiB (every value in its own buffer: "
             f"{plan.separate_size * 4 / kib:.1f} KiB), weights {plan.weight_bytes / kib:.1f} "
             f"KiB"]
    for i in runner.gen.refs:
        node = graph.nodes[plan.lowered.steps[i].node]
        lines.append(f"  not compiled: step {i} {node.prov.describe()}: numpy reference "
                     f"({plan.lowered.ref_reasons[node.id]})")
    for i, s in enumerate(plan.lowered.steps):
        if s.algo:
            lines.append(f"  step {i} {graph.nodes[s.node].prov.describe()}: {s.algo}")
    for v, st in sorted(plan.storage.items(), key=lambda kv: (kv[1].kind, kv[1].index)):
        if st.kind == "arena":
            within = f" (written in place in concat value {plan.inside[v][0]})" \
                if v in plan.inside else ""
            lines.append(f"  value {v} {plan.shapes[v]}: arena offset {st.index * 4} bytes, "
                         f"{st.size * 4} bytes{within}")
    return "\n".join(lines)


def _code_report(gen: Any) -> str:
    """How the steps run: ``in 2 compiled segments and 1 numpy reference step``."""
    if not gen.compiled:
        return "run step by step from Python (debug, or an eager call)"
    if gen.from_python:  # large steps: see codegen.STEP_MIN_MACS
        return "called one by one from Python (compiled kernels, large steps)"
    n, k = len(gen.segments), len(gen.refs)
    what = f"in {n} compiled segment{'s' if n != 1 else ''}"
    if k:
        what += f" and {k} numpy reference step{'s' if k != 1 else ''}"
    return what
