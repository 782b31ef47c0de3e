"""What happens when a block is the root: initialize(), and the call with arrays.

``initialize()`` traces ``forward`` without data (an input's rank is fixed by the first
layer that needs one, or else every rank is tried), propagates what the declarations
determine, raises if they conflict, and then creates every parameter whose shape is
known. A call with arrays traces once per input rank, propagates once per input shape,
creates the deferred parameters (all or nothing) and runs. Every failure happens before
anything changes.
"""

from __future__ import annotations

import inspect
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from shapegraph.core.diagnostics import Diagnostic, Related, warn_user
from shapegraph.core.graph import Graph, ParamSpec, Provenance
from shapegraph.executor.model import CompiledModel, as_input
from shapegraph.frontend.init import create
from shapegraph.frontend.lifecycle import Pending, initialize_params, materialize
from shapegraph.frontend.limits import check_network_bytes
from shapegraph.frontend.params import (
    Parameter,
    ParameterDict,
    UninitializedParameterError,
    params_version,
    structure_version,
)
from shapegraph.frontend.trace import SymbolicTensor, TraceError, Tracer, tracing
from shapegraph.infer.propagate import Resolution, propagate
from shapegraph.opset.build import float_consumer
from shapegraph.render.errors import ShapeError

if TYPE_CHECKING:
    from shapegraph.frontend.block import Block

__all__ = ["Trial", "UnusedLayerWarning", "best_trial", "call_root", "check_initialized",
           "initialize", "rank_independent", "static_trials", "trace", "unused_layers"]


class UnusedLayerWarning(UserWarning):
    """A layer declared in the network is never used by ``forward`` (code SG301)."""


@dataclass
class RootState:
    """Per-root caches: traces by input ranks, resolutions by input shapes."""

    version: int
    traces: dict[tuple[int, ...], Graph] = field(default_factory=dict)
    models: dict[tuple[tuple[int, str], ...], tuple[int, CompiledModel]] = field(
        default_factory=dict)
    runs: dict[tuple[tuple[int, ...], ...], Resolution] = field(default_factory=dict)
    unused: list[Diagnostic] = field(default_factory=list)
    warned: bool = False


def state(block: Block) -> RootState:
    st: RootState | None = getattr(block, "_rt", None)
    if st is None or st.version != structure_version():
        st = RootState(structure_version())
        object.__setattr__(block, "_rt", st)
    return st


def input_names(block: Block, n: int | None) -> list[str]:
    """Names for the graph inputs: the parameter names of ``forward`` (``x``, ``data``),
    or of Gluon 1's ``hybrid_forward`` after ``F`` and without the block's parameters."""
    cls = type(block)  # Gluon 1: hybrid_forward written, forward inherited from Block
    gluon1 = (cls.forward.__qualname__ == "Block.forward"
              and cls.hybrid_forward.__qualname__ != "Block.hybrid_forward")
    sig = inspect.signature(block.hybrid_forward if gluon1 else block.forward)
    names = [p.name for p in sig.parameters.values()
             if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if gluon1:
        names = [n for n in names[1:] if n not in block._reg_params]
    if n is None:
        return names
    if len(names) >= n:
        return names[:n]
    return names + [f"x{i}" for i in range(len(names), n)]


def param_specs(params: ParameterDict) -> dict[str, ParamSpec]:
    """The graph's view of the parameters: current shapes and where each size came from."""
    out = {}
    for key, p in params.items():
        owner = p.owner.provenance() if p.owner is not None else Provenance(key, "Parameter")
        dim_owners = tuple(b.provenance() if b is not None else None for b in p.dim_owners)
        out[key] = ParamSpec(key, p.shape, owner, tuple(p.notes), p.declare, p.dtype,
                             dim_owners)
    return out


def trace(block: Block, ranks: Sequence[int | None], static: bool = False
          ) -> tuple[Graph, Tracer, ParameterDict]:
    """Trace ``block.forward`` on symbolic inputs of ``ranks`` (None: unknown rank)."""
    params = block.collect_params()
    tr = Tracer({id(p): k for k, p in params.items()}, param_specs(params), static)
    tr.paths = {id(b): path for path, b in block.walk()}
    names = input_names(block, len(ranks))
    ins = [tr.input(name, rank) for name, rank in zip(names, ranks, strict=True)]
    with tracing(tr), tr.scope("", type(block).__name__, id(block)):
        out = block.forward(*ins)
    outs = list(out) if isinstance(out, tuple | list) else [out]
    for o in outs:
        if not isinstance(o, SymbolicTensor):
            raise TraceError(f"{type(block).__name__}.forward must return tensors (or a tuple "
                             f"of them), got {type(o).__name__}")
    return tr.finish(outs), tr, params


# --------------------------------------------------------------------------- initialize


def initialize(block: Block, init: Any, force_reinit: bool) -> None:
    initializer = create(init, "initialize(init=...)")
    params = block.collect_params()
    try:
        known = static_shapes(block)  # nothing changed
    except ShapeError as e:
        object.__setattr__(block, "_init_error", e)  # the first forward says why
        raise
    object.__setattr__(block, "_init_error", None)
    check_network_bytes([p for p in params.values()
                         if not p.constant and (force_reinit or not p.is_initialized)],
                        {i: shape for i, (_, shape, _) in known.items()})
    inferred = _in_layer_order(params, known)
    initialize_params(list(params.values()), initializer, force_reinit, inferred)
    ref = weakref.ref(block)
    for p in params.values():
        p._on_set_data = lambda p, shape, ref=ref: _check_set_data(ref(), p, shape)


def _in_layer_order(params: ParameterDict, inferred: dict[int, Pending]) -> dict[int, Pending]:
    """The inferred parameters to create at initialize(): those before the first one whose
    shape is still unknown, so that inferred parameters reach the initializer in layer
    order. (Parameters whose shape is declared outright are always created at once, like
    Gluon's biases.)"""
    keep: dict[int, Pending] = {}
    for p in params.values():
        if p.known:
            continue
        if id(p) not in inferred:
            break
        keep[id(p)] = inferred[id(p)]
    return keep


# ranks tried for a single input whose rank no layer decides (a flattening dense first)
_TRIAL_RANKS = range(1, 7)


def static_shapes(block: Block, override: dict[str, tuple[int, ...]] | None = None
                  ) -> dict[int, Pending]:
    """Parameter shapes the declarations alone determine (no data); ShapeError when the
    declarations conflict.

    An input's rank is fixed by the first layer that needs one (a Conv2D needs 4). When
    no layer decides it, each rank is tried: a parameter shape counts as determined only
    if every rank that fits gives the same one, and the declarations conflict only if
    every rank finds the same conflict (a rank that meets only rank errors is not the
    input's). Whatever cannot be decided waits for data; a valid network is never
    refused for a guessed rank."""
    params = block.collect_params()
    return _agreed([t.res for t in static_trials(block, override)], params)


@dataclass(frozen=True)
class Trial:
    """One static trace (inputs of unknown or tried ranks) and its propagation."""

    graph: Graph
    tracer: Tracer
    params: ParameterDict
    res: Resolution


def static_trials(block: Block, override: dict[str, tuple[int, ...]] | None = None
                  ) -> list[Trial]:
    """The static traces worth propagating: one when the layers decide every input's
    rank, else one per rank of ``_TRIAL_RANKS`` that traces (single-input networks)."""
    n = len(input_names(block, None))
    trials: list[list[int | None]] = [[None] * n]
    if n == 1:
        trials += [[r] for r in _TRIAL_RANKS]
    out: list[Trial] = []
    for ranks in trials:
        try:
            graph, tr, params = trace(block, ranks, static=True)
        except Exception:
            continue  # and the first call raises whatever it raises, where the user expects it
        specs = _specs_with(params, override)
        graph = graph.with_params({k: specs[k] for k in graph.params})
        out.append(Trial(graph, tr, params, propagate(graph, {})))
        if ranks == [None] * n:
            break  # the layers decided every rank: one trace says everything
    return out


def _plausible(res: Resolution) -> bool:
    """The tried rank may be the input's: the layers accept it (problems other than rank
    errors do not rule the rank out, they are the network's own)."""
    return res.ok or any(d.code != "SG202" for d in res.errors)


def rank_independent(trials: Sequence[Trial]) -> bool:
    """Every plausible tried rank finds the same errors and warnings (codes, at the same
    layers): the verdict on the declarations does not depend on the input's rank."""
    seen = {frozenset((d.code, d.path) for d in t.res.diagnostics if d.severity != "note")
            for t in trials if _plausible(t.res)}
    return len(seen) <= 1


def best_trial(trials: Sequence[Trial]) -> Trial | None:
    """The trial to show when checking without inputs: the first that fits, else the
    first plausible one."""
    for fits in (lambda t: t.res.ok, lambda t: _plausible(t.res)):
        for t in trials:
            if fits(t):
                return t
    return trials[0] if trials else None


def _agreed(outcomes: list[Resolution], params: ParameterDict) -> dict[int, Pending]:
    """What every fitting outcome agrees on; a conflict found by every plausible outcome
    raises."""
    fitting = [res for res in outcomes if res.ok]
    if not fitting:
        common = _common_errors([res for res in outcomes if _plausible(res)])
        if common:
            raise ShapeError(common, headline="the declared dimensions conflict (found at "
                             "initialize(), before any data)")
        return {}
    agreed = _newly_known(fitting[0], params)
    for res in fitting[1:]:
        other = _newly_known(res, params)
        agreed = {k: v for k, v in agreed.items() if k in other and other[k][1] == v[1]}
    return agreed


def _common_errors(outcomes: list[Resolution]) -> list[Diagnostic]:
    """The diagnostics (by code and message) that every outcome reports."""
    if not outcomes:
        return []
    keys = [{(d.code, d.message) for d in res.errors} for res in outcomes]
    common = set.intersection(*keys)
    return [d for d in outcomes[0].errors if (d.code, d.message) in common]


def _specs_with(params: ParameterDict, override: dict[str, tuple[int, ...]] | None
                ) -> dict[str, ParamSpec]:
    specs = param_specs(params)
    for key, shape in (override or {}).items():
        s = specs[key]
        specs[key] = ParamSpec(key, shape, s.owner, s.notes, s.declare, s.dtype,
                               s.dim_owners)
    return specs


def _newly_known(res: Resolution, params: ParameterDict) -> dict[int, Pending]:
    out: dict[int, Pending] = {}
    for key in res.graph.params:
        p = params[key]
        if p.known or not res.param_known(key):
            continue
        shape = tuple(int(d) for d in res.param_shape(key))  # type: ignore[arg-type]
        notes = [_inferred_note(res, p, key, j) if d is None else None
                 for j, d in enumerate(p.shape)]
        out[id(p)] = (p, shape, notes)
    return out


def _inferred_note(res: Resolution, p: Parameter, key: str, j: int) -> str:
    r: Related = res.explain_param(key, j)
    while r.parts:
        r = r.parts[0]
    what = p.declare[j] or f"dim {j}"
    return f"{what}={res.param_shape(key)[j]}, inferred from {r.text}"


def _check_set_data(block: Block | None, p: Parameter, shape: tuple[int, ...]) -> None:
    """Raise ShapeError when ``p`` with ``shape`` contradicts the network's declarations
    or any input shape it has already run with."""
    if block is None:
        return
    params = block.collect_params()
    key = next((k for k, q in params.items() if q is p), None)
    if key is None:
        return
    static_shapes(block, {key: shape})
    for (_, graph), shapes in _cached_runs(block):
        specs = _specs_with(params, {key: shape})
        if key not in graph.params:
            continue
        names = [gi.name for gi in graph.inputs]
        res = propagate(graph.with_params({k: specs[k] for k in graph.params}),
                        dict(zip(names, shapes, strict=True)))
        if not res.ok:
            raise ShapeError(res.errors, headline=f"set_data({shape}) on '{key}' conflicts "
                             "with the network")


def _cached_runs(block: Block) -> list[tuple[tuple[tuple[int, ...], Graph],
                                              tuple[tuple[int, ...], ...]]]:
    st = state(block)
    out = []
    for shapes in st.runs:
        sig = tuple(len(s) for s in shapes)
        if sig in st.traces:
            out.append(((sig, st.traces[sig]), shapes))
    return out


# --------------------------------------------------------------------------- the call


def index_dtypes(graph: Graph, arrays: Sequence[np.ndarray]) -> tuple[str, ...]:
    """Per input: int64 where an integer array feeds only embeddings (token ids stay
    integers), float32 otherwise."""
    return tuple("int64" if a.dtype.kind in "biu" and float_consumer(graph, gi.value) is None
                 else "float32" for gi, a in zip(graph.inputs, arrays, strict=True))


def bind_inputs(block: Block, args: Sequence[Any], kwargs: dict[str, Any]) -> list[Any]:
    """The inputs in ``forward``'s order, from positional and keyword arguments
    (``net(x=..., y=...)``); a TypeError names what is unknown, missing or given twice."""
    if not kwargs:
        return list(args)
    names = input_names(block, None)
    where = f"{type(block).__name__}.forward({', '.join(names)})"
    twice = [n for n in names[:len(args)] if n in kwargs]
    unknown = sorted(set(kwargs) - set(names))
    if twice or unknown:
        what = (f"input `{twice[0]}` given twice (by position and by name)" if twice else
                f"unknown input {', '.join(f'`{u}`' for u in unknown)}")
        raise TypeError(f"{what}: {where}")
    rest = names[len(args):]
    missing = [n for n in rest if n not in kwargs]
    if missing and any(n in kwargs for n in rest[rest.index(missing[0]):]):
        raise TypeError(f"input `{missing[0]}` is missing: {where}")
    return [*args, *(kwargs[n] for n in rest if n in kwargs)]


def call_root(block: Block, args: Sequence[Any], kwargs: dict[str, Any] | None = None) -> Any:
    """``block(*arrays, **named)``: trace (once per rank), propagate (once per shape),
    create the deferred parameters, run."""
    args = bind_inputs(block, args, kwargs or {})
    names = input_names(block, len(args))
    given = [np.asarray(a) if isinstance(a, list | tuple) else a for a in args]
    arrays = [as_input(a, n, "int64" if getattr(a, "dtype", None) is not None and
                       a.dtype.kind in "iu" else "float32")
              for a, n in zip(given, names, strict=True)]
    st = state(block)
    graph = _graph_for(block, st, tuple(a.ndim for a in arrays))
    graph = graph.with_input_dtypes(index_dtypes(graph, arrays))
    shapes = tuple(a.shape for a in arrays)
    if shapes not in st.runs:
        params = block.collect_params()
        check_initialized(block, [params[k] for k in graph.params])
        st.runs[shapes] = _prepare(graph, params, dict(zip(names, shapes, strict=True)))
    return _model(block, st, graph)(*arrays)


def _model(block: Block, st: RootState, graph: Graph) -> CompiledModel:
    """The executor for this traced graph, rebuilt when any parameter changed. Plans run
    step by step (each kernel compiled once, whatever the network); after
    ``net.hybridize()`` each plan is one compiled function, as with ``sg.compile``."""
    ranks = tuple((gi.rank, gi.dtype) for gi in graph.inputs)
    version = params_version()
    cached = st.models.get(ranks)
    if cached is not None and cached[0] == version:
        return cached[1]
    params = block.collect_params()
    specs = param_specs(params)
    graph = graph.with_params({k: specs[k] for k in graph.params})
    values = {k: params[k].data() for k in graph.params}
    model = CompiledModel(graph, values, compiled=bool(getattr(block, "_hybridized", False)))
    st.models[ranks] = (version, model)
    return model


def _graph_for(block: Block, st: RootState, ranks: tuple[int, ...]) -> Graph:
    graph = st.traces.get(ranks)
    if graph is None:
        graph, tr, params = trace(block, list(ranks))
        st.traces[ranks] = graph
        if not st.warned:
            st.warned = True
            _report_unused(block, tr, graph, params, st)
    return graph


def check_initialized(block: Block, used: list[Parameter]) -> None:
    """Raise when initialize() was never called for a parameter the forward uses; after
    an initialize() that failed, say so with its diagnostics."""
    missing = [p for p in used if not p._initialize_called]
    if not missing:
        return
    failed: ShapeError | None = getattr(block, "_init_error", None)
    if failed is not None:
        raise ShapeError(failed.diagnostics, headline="initialize() failed, so the network "
                         "has no parameters yet: its declared dimensions conflict (fix "
                         "them and call initialize() again)")
    raise UninitializedParameterError(
        f"Parameter '{missing[0].name}' has not been initialized. Call initialize() on the "
        f"network (net.initialize()) before the first forward")


def _prepare(graph: Graph, params: ParameterDict, shapes: dict[str, tuple[int, ...]]
             ) -> Resolution:
    """Propagate for concrete input shapes and create the deferred parameters."""
    specs = param_specs(params)
    res = propagate(graph.with_params({k: specs[k] for k in graph.params}), shapes)
    if not res.ok:
        given = ", ".join(f"{n} {s}" for n, s in shapes.items())
        raise ShapeError(res.errors, headline=f"the input shapes ({given}) do not fit the "
                         "network; nothing was changed")
    todo = list(_newly_known(res, params).values())
    materialize(todo, None)
    return res


def unused_layers(block: Block, tr: Tracer) -> list[tuple[str, Block]]:
    """The outermost blocks below ``block`` that the trace never called (nor anything
    inside them)."""
    reported: list[tuple[str, Block]] = []
    for path, b in block.walk():
        if b is block or id(b) in tr.called:
            continue
        if any(path.startswith(r + ".") for r, _ in reported):
            continue
        if any(id(d) in tr.called for _, d in b.walk()):
            continue
        reported.append((path, b))
    return reported


def unused_diagnostic(path: str, block: Block) -> Diagnostic:
    """SG301 for a layer ``forward`` never uses."""
    prov = block.provenance()
    has_params = any(b._reg_params for _, b in block.walk())
    tail = "; its parameters stay uninitialized" if has_params else ""
    return Diagnostic.make(
        "SG301", f"layer `{path}` ({block.describe()}) is never used by forward{tail}",
        path=path, location=prov.location,
        layer=block.describe(), help="call it in forward, or remove it from the network")


def _report_unused(block: Block, tr: Tracer, graph: Graph, params: ParameterDict,
                   st: RootState) -> None:
    used_params = set(graph.params)
    for path, b in unused_layers(block, tr):
        owned = [k for k in params if k.startswith(path + ".") and k not in used_params]
        for k in owned:
            params[k]._unused_reason = f"layer `{path}` ({b.describe()}) is never used by forward"
        d = unused_diagnostic(path, b)
        st.unused.append(d)
        warn_user(UnusedLayerWarning(f"SG301: {d.message}"))
