"""Tracing: run a Block's ``forward`` on symbolic tensors and record a :class:`Graph`.

Inside ``forward`` the tensors are :class:`SymbolicTensor` s. They support ``+ - * / @``,
``.reshape``, ``.flatten``, ``.T`` and the functions in :mod:`shapegraph.ops`; every
operation becomes a node whose provenance is the current layer path and the user's source
line. Shapes are not known while tracing (one trace serves every batch size), so
``x.shape`` and Python control flow on tensor values raise :class:`TraceError` with the
reason and a way out.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from shapegraph.core.graph import Graph, GraphBuilder, ParamSpec, Provenance
from shapegraph.opset.build import add_layer, complete_attrs
from shapegraph.opset.registry import get_op

__all__ = ["CannotTraceStatically", "SymbolicTensor", "TraceError", "Tracer", "current",
           "user_site"]

Lazy = tuple[int, int]  # (unknown-rank input value, rank offset from it)
_PKG_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # shapegraph/
_state = threading.local()


class TraceError(TypeError):
    """Something in ``forward`` cannot be traced (data-dependent control flow, ``.shape``)."""


class CannotTraceStatically(Exception):
    """Raised inside a static (no-data) trace when an input's rank cannot be decided."""


def user_site() -> tuple[str | None, int | None]:
    """(file, line) of the innermost frame outside the shapegraph package."""
    frame = sys._getframe(1)
    while frame is not None:
        path = os.path.abspath(frame.f_code.co_filename)
        if not (path.startswith(_PKG_DIR + os.sep) and path.endswith(".py")):
            return _short(path), frame.f_lineno
        frame = frame.f_back  # type: ignore[assignment]
    return None, None


def _short(path: str) -> str:
    try:
        rel = os.path.relpath(path)
    except ValueError:  # pragma: no cover - another drive on Windows
        return path
    return path if rel.startswith("..") else rel


def current() -> Tracer | None:
    """The tracer of this thread, when a trace is running."""
    return getattr(_state, "tracer", None)


class SymbolicTensor:
    """A value in a trace: what ``forward`` sees instead of an array."""

    __slots__ = ("_lazy", "_tracer", "_value")
    __array_priority__ = 1000  # so that ``ndarray + t`` defers to us

    def __init__(self, tracer: Tracer, value: int, lazy: Lazy | None = None) -> None:
        self._tracer = tracer
        self._value = value
        # (the unknown-rank graph input this tensor derives from, this tensor's rank minus
        # that input's), in a static trace
        self._lazy = lazy

    # -- arithmetic -------------------------------------------------------------------
    def __add__(self, other: Any) -> SymbolicTensor:
        return self._tracer.binary("add", self, other)

    def __radd__(self, other: Any) -> SymbolicTensor:
        return self._tracer.binary("add", other, self)

    def __sub__(self, other: Any) -> SymbolicTensor:
        return self._tracer.binary("sub", self, other)

    def __rsub__(self, other: Any) -> SymbolicTensor:
        return self._tracer.binary("sub", other, self)

    def __mul__(self, other: Any) -> SymbolicTensor:
        return self._tracer.binary("mul", self, other)

    def __rmul__(self, other: Any) -> SymbolicTensor:
        return self._tracer.binary("mul", other, self)

    def __truediv__(self, other: Any) -> SymbolicTensor:
        return self._tracer.binary("div", self, other)

    def __rtruediv__(self, other: Any) -> SymbolicTensor:
        return self._tracer.binary("div", other, self)

    def __matmul__(self, other: Any) -> SymbolicTensor:
        return self._tracer.binary("matmul", self, other)

    def __rmatmul__(self, other: Any) -> SymbolicTensor:
        return self._tracer.binary("matmul", other, self)

    def __neg__(self) -> SymbolicTensor:
        return self._tracer.binary("mul", self, -1.0)

    # -- shape methods ----------------------------------------------------------------
    def reshape(self, *shape: int | Sequence[int]) -> SymbolicTensor:
        """Reshape; ``0`` copies the input's dim at that position, ``-1`` is inferred."""
        first = shape[0] if shape else ()
        target = first if len(shape) == 1 and not isinstance(first, int) else shape
        return self._tracer.op("reshape", [self], {"shape": tuple(int(s) for s in target)})  # type: ignore[arg-type]

    def flatten(self) -> SymbolicTensor:
        return self._tracer.op("flatten", [self], {})

    def transpose(self, *axes: int) -> SymbolicTensor:
        return self._tracer.op("transpose", [self], {"axes": tuple(axes) or None})

    @property
    def T(self) -> SymbolicTensor:
        return self.transpose()

    # -- math methods (numpy's and MXNet NDArray's names) ------------------------------
    def mean(self, axis: int | Sequence[int] | None = None, keepdims: bool = False
             ) -> SymbolicTensor:
        """Mean over ``axis`` (an int, a tuple of ints, or None: all axes)."""
        return self._reduce("mean", axis, keepdims)

    def sum(self, axis: int | Sequence[int] | None = None, keepdims: bool = False
            ) -> SymbolicTensor:
        """Sum over ``axis`` (an int, a tuple of ints, or None: all axes)."""
        return self._reduce("sum", axis, keepdims)

    def max(self, axis: int | Sequence[int] | None = None, keepdims: bool = False
            ) -> SymbolicTensor:
        """Maximum over ``axis`` (an int, a tuple of ints, or None: all axes)."""
        return self._reduce("max", axis, keepdims)

    def min(self, axis: int | Sequence[int] | None = None, keepdims: bool = False
            ) -> SymbolicTensor:
        """Minimum over ``axis`` (an int, a tuple of ints, or None: all axes)."""
        return self._reduce("min", axis, keepdims)

    def _reduce(self, op: str, axis: int | Sequence[int] | None, keepdims: bool
                ) -> SymbolicTensor:
        from shapegraph.opset.reduce import reduce_attrs  # (local: methods-only change)

        return self._tracer.op(op, [self], reduce_attrs(op, axis, keepdims))

    def exp(self) -> SymbolicTensor:
        return self._tracer.op("exp", [self], {})

    def log(self) -> SymbolicTensor:
        return self._tracer.op("log", [self], {})

    def sqrt(self) -> SymbolicTensor:
        return self._tracer.op("sqrt", [self], {})

    def abs(self) -> SymbolicTensor:
        return self._tracer.op("abs", [self], {})

    def square(self) -> SymbolicTensor:
        return self._tracer.op("square", [self], {})

    # -- what cannot be traced --------------------------------------------------------
    @property
    def shape(self) -> Any:
        raise TraceError(
            "x.shape is not available inside forward: one trace serves every input shape, "
            "so sizes are symbolic here. Use reshape with 0 (copy a dim) and -1 (infer one), "
            "e.g. x.reshape(0, -1), or declare sizes on the layers")

    def __bool__(self) -> bool:
        raise TraceError(
            "Python control flow on a tensor's value (if/while/and/or on a tensor) cannot be "
            "traced: the branch would depend on data that does not exist yet. Compute both "
            "branches with tensor operations instead")

    def __len__(self) -> int:
        raise TraceError("len() of a tensor inside forward depends on its shape, which is "
                         "symbolic while tracing")

    def __iter__(self) -> Iterator[Any]:
        raise TraceError("iterating over a tensor inside forward depends on its shape, which "
                         "is symbolic while tracing")

    def __array__(self, *args: Any, **kw: Any) -> np.ndarray:
        raise TraceError("a numpy function was applied to a symbolic tensor inside forward; "
                         "use shapegraph.ops functions (relu, concat, ...) or operators")

    def _compare(self, other: Any) -> bool:
        raise TraceError(
            "comparing tensors inside forward (<, >, <=, >=) gives data-dependent values, and "
            "branching on them cannot be traced; compute both branches with tensor operations")

    __lt__ = __le__ = __gt__ = __ge__ = _compare

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(
            f"symbolic tensors inside forward have no attribute {name!r}: they support "
            "+ - * / @, reshape, flatten, transpose, T, mean, sum, max, min (axis=, "
            "keepdims=), exp, log, sqrt, abs, square and the functions in shapegraph.ops")

    def __float__(self) -> float:
        raise TraceError("float() of a tensor inside forward depends on data")

    def __int__(self) -> int:
        raise TraceError("int() of a tensor inside forward depends on data")

    def __index__(self) -> int:
        raise TraceError("a tensor cannot be used as an index inside forward")

    def __repr__(self) -> str:
        return f"SymbolicTensor(value {self._value})"


class Tracer:
    """Records nodes while ``forward`` runs; one per trace."""

    def __init__(self, param_keys: Mapping[int, str], param_specs: Mapping[str, ParamSpec],
                 static: bool = False) -> None:
        self.b = GraphBuilder()
        self.param_keys = param_keys  # id(Parameter) -> structured key
        self.param_specs = param_specs
        self.static = static
        self.path: list[str] = [""]
        self.kind: list[str] = ["Block"]
        self.called: set[int] = set()  # ids of blocks called during the trace
        self.paths: dict[int, str] = {}  # id(block) -> layer path, set by the root
        self.constants = 0
        self.param_values: dict[str, SymbolicTensor] = {}  # key -> its ``param`` node

    # -- inputs and outputs -----------------------------------------------------------
    def input(self, name: str, rank: int | None, dtype: str = "float32") -> SymbolicTensor:
        vid = self.b.add_input(name, rank if rank is not None else -1, dtype)
        return SymbolicTensor(self, vid, lazy=(vid, 0) if rank is None else None)

    def finish(self, outputs: Sequence[SymbolicTensor]) -> Graph:
        graph = self.b.build([o._value for o in outputs])
        for gi in graph.inputs:
            if gi.rank < 0:
                raise CannotTraceStatically(f"the rank of input `{gi.name}` is never fixed")
        return graph

    # -- emitting nodes -----------------------------------------------------------------
    @contextmanager
    def scope(self, path: str, kind: str, block_id: int) -> Iterator[None]:
        self.path.append(path)
        self.kind.append(kind)
        self.called.add(block_id)
        try:
            yield
        except Exception as e:
            if not hasattr(e, "shapegraph_path"):  # the innermost block whose forward failed
                with contextlib.suppress(AttributeError):  # exceptions with __slots__
                    e.shapegraph_path = path  # type: ignore[attr-defined]
            raise
        finally:
            self.path.pop()
            self.kind.pop()

    def layer(self, op: str, inputs: Sequence[SymbolicTensor], attrs: Mapping[str, Any],
              params: Mapping[str, Any], prov: Provenance) -> SymbolicTensor:
        """A node for a layer: ``params`` maps role -> Parameter of that layer."""
        roles = {role: self.param_keys[id(p)] for role, p in params.items()}
        for key in roles.values():
            self.b.add_param(self.param_specs[key])
        attrs = complete_attrs(op, attrs, prov)
        lazy = self._fix_ranks(op, attrs, inputs)
        outs = add_layer(self.b, op, [t._value for t in inputs], attrs, prov, roles,
                         completed=True)
        return SymbolicTensor(self, outs[0], lazy)

    def op(self, op: str, inputs: Sequence[SymbolicTensor], attrs: Mapping[str, Any],
           what: str | None = None) -> SymbolicTensor:
        """A parameter-free node emitted from ``forward`` code (or from a layer)."""
        file, line = user_site()
        path = self.path[-1]
        attrs = complete_attrs(op, attrs, Provenance(path, self.kind[-1], file, line))
        # the detail is the call as forward made it: ``clip(min=0.0, max=6.0) in forward``
        prov = Provenance(path, self.kind[-1], file, line,
                          what or f"{get_op(op).describe(attrs)} in forward")
        lazy = self._fix_ranks(op, attrs, inputs)
        (out,) = self.b.add_node(op, [t._value for t in inputs], attrs, prov)
        return SymbolicTensor(self, out, lazy)

    def param_value(self, p: Any) -> SymbolicTensor | None:
        """A parameter of the network used as a tensor in ``forward`` (one node per
        parameter and trace); None when ``p`` is not one of this network's parameters."""
        key = self.param_keys.get(id(p))
        if key is None:
            return None
        if key not in self.param_values:
            spec = self.param_specs[key]
            self.b.add_param(spec)
            prov = Provenance(self.path[-1], self.kind[-1], *user_site(),
                              f"parameter `{key}` used in forward")
            (out,) = add_layer(self.b, "param", [], {"shape": spec.shape}, prov, {"value": key})
            self.param_values[key] = SymbolicTensor(self, out)
        return self.param_values[key]

    def binary(self, op: str, a: Any, b: Any) -> SymbolicTensor:
        return self.op(op, [self.tensor(a), self.tensor(b)], {})

    def tensor(self, value: Any) -> SymbolicTensor:
        """``value`` as a tensor of this trace: constants become ``constant`` nodes."""
        if isinstance(value, SymbolicTensor):
            if value._tracer is not self:
                raise TraceError("a tensor from another trace was used in this one")
            return value
        if isinstance(value, bool) or not isinstance(value, int | float | np.ndarray | np.number):
            raise TraceError(f"cannot use {type(value).__name__} as a tensor in forward")
        arr = np.asarray(value, dtype=np.float32)
        self.constants += 1
        return self.op("constant", [], {"value": arr}, what="constant")

    def _fix_ranks(self, op: str, attrs: Mapping[str, Any],
                   inputs: Sequence[SymbolicTensor]) -> Lazy | None:
        """In a static trace, fix the rank of an unknown-rank input at its first consumer
        that needs one; ops whose output rank follows from their input's pass the unknown
        rank on. Whatever cannot be decided raises CannotTraceStatically: the declarations
        alone then determine nothing, and everything waits for data (never a guess that
        could refuse a valid network)."""
        lazy = [t for t in inputs if t._lazy is not None]
        if not lazy:
            return None
        vid, delta = lazy[0]._lazy  # type: ignore[misc]
        rec = get_op(op)
        need = rec.lazy_rank(attrs) if rec.lazy_rank is not None else None
        fixed = self.b.input_rank(vid)
        if fixed >= 0:  # fixed meanwhile by another consumer
            if need is not None and not rec.any_rank and need != fixed + delta:
                raise CannotTraceStatically(f"{op} needs rank {need}, not {fixed + delta}")
            return None
        if rec.lazy_rank is None or len(inputs) != 1:
            raise CannotTraceStatically(f"{op} needs the input's rank")
        if need is None:  # the output's rank follows from the input's
            out = rec.out_rank((16,), attrs)
            if out is None:
                raise CannotTraceStatically(f"{op}: output rank unknown")
            return (vid, delta + out - 16)
        if rec.any_rank:
            raise CannotTraceStatically(f"{op} takes any rank and cannot decide one")
        if need - delta < 1:
            raise CannotTraceStatically(f"{op} needs rank {need}")
        self.b.set_input_rank(vid, need - delta)
        return None


@contextmanager
def tracing(tracer: Tracer) -> Iterator[Tracer]:
    """Make ``tracer`` the current tracer of this thread while the block runs."""
    previous = current()
    _state.tracer = tracer
    try:
        yield tracer
    finally:
        _state.tracer = previous
