"""Running plans: validation in Python, then one call into compiled code.

A :class:`Runner` is one plan ready to run. Every input is checked before compiled code
runs (the plan is looked up by the exact input shapes, and a new shape gets its own plan
only after propagation has accepted it), so nothing a caller passes can make a kernel read
or write out of bounds.

Threads: each thread gets its own activation arena (allocated on its first call), so one
compiled model may be called from several threads at once; weights are shared read-only.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from shapegraph.core.dims import as_int
from shapegraph.core.graph import Graph
from shapegraph.executor.codegen import Generated, generate, large_steps
from shapegraph.executor.governor import ThreadGovernor
from shapegraph.executor.lower import lower
from shapegraph.executor.plan import Plan, aligned, plan_memory
from shapegraph.executor.warm import precompile
from shapegraph.infer.cost import node_macs
from shapegraph.infer.interpret import run_reference
from shapegraph.infer.propagate import Resolution
from shapegraph.opset.registry import get_op

__all__ = ["EmptyRunner", "Runner", "build_runner"]


class Runner:
    """A plan and its generated code; ``run(arrays)`` returns fresh output arrays."""

    def __init__(self, plan: Plan, gen: Generated, index_checks: list[tuple[int, int, str]]
                 ) -> None:
        self.plan = plan
        self.gen = gen
        self.fn = gen.run
        self.ints = gen.ints
        self.weights = plan.weights
        self.out_shapes = [tuple(s) for s in plan.output_shapes]
        self.arena_size = max(plan.arena_size, 1)
        self.index_checks = index_checks  # (input k, rows, layer path) for embeddings
        self._local = threading.local()
        from shapegraph.executor.blas import single_threaded_blas
        from shapegraph.executor.jit import numba

        self._numba: Any = numba
        self._single_threaded_blas = single_threaded_blas
        # a plan with parallel kernels (numba's threads: the generated convolutions, and
        # the GEMM ones that also call BLAS from those threads) keeps BLAS on one thread
        # while it runs, so that two pools never fight for the cores (LeNet-64 next to a
        # busy process: 5.9x slower with both); other plans (MLPs) leave BLAS's threads
        # alone, a dense layer's sgemm then uses them
        self.blas_in_threads = any(
            st.source is not None or any(a.kind == "threads" for a in st.args)
            for st in plan.lowered.steps)
        # such a plan runs on one thread while the machine is busy (governor.py)
        self._governors: dict[int, ThreadGovernor] = {}
        self._entry: Any = None  # run1's way past numba's dispatcher (``_entry_point``)
        self._warmed = False  # the first call's compile was shared out (warm.py)
        # run1 calls the compiled code itself: no indices to check, no threads, one output
        self._short = not index_checks and not self.blas_in_threads and \
            len(self.out_shapes) == 1

    def arena(self) -> np.ndarray:
        a: np.ndarray | None = getattr(self._local, "arena", None)
        if a is None:
            a = aligned(self.arena_size)
            self._local.arena = a
            _parallel_setup()
        return a

    def run1(self, x: np.ndarray, plain: bool = False) -> np.ndarray | tuple[np.ndarray, ...]:
        """``run([x])`` for a model of one input, as the model returns it (its one output,
        or a tuple): the short path of a small model's call. ``plain``: the caller checked
        that ``x`` is aligned and writeable (then the compiled code is called directly,
        ``_entry_point``)."""
        if not self._short or _SERIAL[0] is not False:
            outs = self.run([x])
            return outs[0] if len(outs) == 1 else tuple(outs)
        if not self._warmed:
            self.warm([x])
        a = getattr(self._local, "arena", None)
        out = np.empty(self.out_shapes[0], np.float32)
        if plain and self._entry is not None:
            self._entry(self.weights, a if a is not None else self.arena(), 0, self.ints, x,
                        out)
            return out
        self.fn(self.weights, a if a is not None else self.arena(), 0, self.ints, x, out)
        if plain and self._entry is None:
            self._entry = _entry_point(self.fn)
        return out

    @property
    def warmed(self) -> bool:
        """Whether the first call's compile is done (``warm``)."""
        return self._warmed

    def warm(self, arrays: Sequence[np.ndarray]) -> None:
        """Before the first call on inputs like ``arrays``: compile what it would, shared
        out over helper processes when that is much (``warm.precompile``). (A malformed
        ``SHAPEGRAPH_COMPILE_WORKERS`` raises here, on every call until it is mended.)"""
        outs = [np.empty(s, np.float32) for s in self.out_shapes]
        precompile(self.gen.functions, self.weights, self.arena(),
                   self._numba.get_num_threads(), self.ints, [*arrays, *outs])
        self._warmed = True

    def run(self, arrays: Sequence[np.ndarray]) -> list[np.ndarray]:
        outs = [np.empty(s, np.float32) for s in self.out_shapes]
        self.run_into(arrays, outs)
        return outs

    def run_into(self, arrays: Sequence[np.ndarray], outs: list[np.ndarray]) -> None:
        """``run``, writing the outputs into ``outs`` (C-contiguous float32 arrays of the
        plan's output shapes: a batch split's rows, ``split.SplitRunner``)."""
        for k, rows, path in self.index_checks:
            _check_indices(arrays[k], rows, path)
        if not self._warmed:
            self.warm(arrays)
        if not self.blas_in_threads:  # nothing to set up: a small model's call stays short
            self._call(0, arrays, outs)
            return
        threads = self._numba.get_num_threads()
        with self._single_threaded_blas():
            if threads < 2:
                self._call(threads, arrays, outs)
                return
            gov = self._governors.get(threads)
            if gov is None:
                gov = self._governors[threads] = ThreadGovernor()
            start = time.perf_counter()
            if gov.parallel(start):
                self._call(threads, arrays, outs)
                gov.record(True, start, time.perf_counter())
                return
            self._numba.set_num_threads(1)  # (numba's setting is per calling thread)
            try:
                self._call(1, arrays, outs)
            finally:
                self._numba.set_num_threads(threads)
            gov.record(False, start, time.perf_counter())

    def _call(self, threads: int, arrays: Sequence[np.ndarray], outs: list[np.ndarray]
              ) -> None:
        if _SERIAL[0] is None:
            with _LOCK:
                self.fn(self.weights, self.arena(), threads, self.ints, *arrays, *outs)
            _SERIAL[0] = _needs_serializing()
        elif _SERIAL[0]:
            with _LOCK:
                self.fn(self.weights, self.arena(), threads, self.ints, *arrays, *outs)
        else:
            self.fn(self.weights, self.arena(), threads, self.ints, *arrays, *outs)


def _entry_point(fn: Any) -> Any:
    """The compiled code behind ``fn`` (a numba dispatcher) for the signature run1's
    arguments have (an aligned, writeable, C-contiguous float32 input and the plan's own
    arrays), called without the dispatcher's type lookup (0.18 µs of the seed MLP's 2.3).
    None when ``fn`` is not a dispatcher (a chain of segments and reference steps) or has
    not compiled that signature; run1 then calls ``fn``. run1 checks the input's flags
    before each call, and the plan's key its dtype and shape."""
    for sig in getattr(fn, "signatures", None) or ():
        x = sig[4]
        if (getattr(x, "layout", "") == "C" and getattr(x, "mutable", False)
                and getattr(x, "aligned", False) and str(getattr(x, "dtype", "")) == "float32"):
            return fn.overloads[sig].entry_point
    return None


_LOCK = threading.Lock()
_THREAD = threading.local()


def _parallel_setup() -> None:
    """Once per thread: parallel kernels hand out one iteration at a time (numba's chunk
    size is thread-local; with larger chunks a kernel could run at one-thread speed)."""
    if not getattr(_THREAD, "ready", False):
        from shapegraph.executor.jit import numba

        numba.set_parallel_chunksize(1)
        _THREAD.ready = True
_SERIAL: list[bool | None] = [None]  # decided after the first call: is the layer thread-safe?


def _needs_serializing() -> bool:
    """numba's workqueue layer aborts on parallel regions from two threads at once."""
    from shapegraph.executor.jit import numba

    try:
        return bool(numba.threading_layer() == "workqueue")  # type: ignore[attr-defined]
    except ValueError:  # no parallel region has run yet: stay careful
        return True


def _check_indices(a: np.ndarray, rows: int, path: str) -> None:
    if a.size and (a.min() < 0 or a.max() >= rows or not np.all(a == np.floor(a))):
        raise IndexError(f"layer {path}: indices must be whole numbers in "
                         f"[0, {rows}), got values from {a.min()} to {a.max()}")


def _index_checks(graph: Graph, plan: Plan, params: dict[str, np.ndarray]
                  ) -> list[tuple[int, int, str]]:
    """(graph input, rows, the layer as messages name it) for each graph input an op reads
    as row indices into its weight (an embedding: its record's ``index_inputs``), checked
    before every call."""
    out = []
    for n in graph.nodes:
        if not get_op(n.op).index_inputs or "weight" not in dict(n.params):
            continue
        rows = params[n.param_key("weight")].shape[0]
        for k in get_op(n.op).index_inputs:
            st = plan.storage.get(plan.base(n.inputs[k]))
            if st is not None and st.kind == "input":
                out.append((st.index, rows, n.prov.describe()))
    return out


class EmptyRunner:
    """For input shapes under which some value has no elements (a batch of 0): there is
    nothing to compute, and kernels are not written for empty extents, so the graph runs
    through the ops' numpy references, which give the empty (or reduced-over-nothing)
    results numpy gives. ``plan`` is None: nothing is allocated."""

    plan = None

    def __init__(self, graph: Graph, params: dict[str, np.ndarray]) -> None:
        self.graph, self.params = graph, params

    def run1(self, x: np.ndarray, plain: bool = False) -> np.ndarray | tuple[np.ndarray, ...]:
        outs = self.run([x])
        return outs[0] if len(outs) == 1 else tuple(outs)

    def run(self, arrays: Sequence[np.ndarray]) -> list[np.ndarray]:
        feeds = dict(zip(self.graph.input_names, arrays, strict=True))
        outs = run_reference(self.graph, self.params, feeds)
        return [np.ascontiguousarray(o, dtype=np.float32) for o in outs]


def build_runner(graph: Graph, res: Resolution, params: dict[str, np.ndarray],
                 compiled: bool = True, previous: Plan | None = None) -> Runner | EmptyRunner:
    """Lower, plan and generate code for one concrete resolution of ``graph``; ``previous``
    is a plan already built for another input shape (its packed weights are shared when
    equal)."""
    types = {v: t for v, t in enumerate(res.types) if t is not None}
    if any(0 in t.shape for t in types.values()):
        return EmptyRunner(graph, params)
    consts = {v: val.to_array() for v, val in res.vals.items() if val.is_concrete}
    reuse = previous.lowered.weights if previous is not None else ()
    lowered = lower(graph, types, params, specialize=compiled, consts=consts, reuse=reuse)
    plan = plan_memory(graph, types, lowered, previous)
    macs = sum(as_int(m) for n in graph.nodes if (m := node_macs(n, res)) is not None)
    gen = generate(plan, graph, params, debug=not compiled, from_python=large_steps(plan, macs))
    return Runner(plan, gen, _index_checks(graph, plan, params))
