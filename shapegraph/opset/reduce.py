"""Reductions: mean, sum, max, min over ``axis`` (an int, a tuple of ints, or None for all
axes), with numpy's ``keepdims``.

>>> from shapegraph.core.dims import Sym
>>> from shapegraph.core.types import TensorType
>>> x = TensorType((Sym("batch"), 20))
>>> str(MEAN.shape_rule((x,), {}, {"axis": (1,), "keepdims": True}).types[0])
'f32[batch,1]'
>>> str(MEAN.shape_rule((x,), {}, {"axis": None, "keepdims": False}).types[0])
'f32[]'
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from shapegraph.core.dims import Dim
from shapegraph.core.types import TensorType
from shapegraph.opset.base import (
    Attr,
    Attrs,
    Fail,
    FromAttr,
    Lowering,
    OpDef,
    Out,
    RuleResult,
    Src,
    inp,
)
from shapegraph.opset.common import axis_fail, norm_axis
from shapegraph.opset.registry import register

__all__ = ["MAX", "MEAN", "MIN", "REDUCE_CODES", "REDUCTIONS", "SUM", "reduce_attrs",
           "reduced_axes"]

SG_CONFIG = "SG210"

_Fn = Callable[..., Any]
REDUCTIONS: dict[str, _Fn] = {"mean": np.mean, "sum": np.sum, "max": np.max, "min": np.min}


def reduce_attrs(op: str, axis: object, keepdims: object) -> dict[str, Any]:
    """The attributes of a reduction call, checked: ``axis`` becomes None (all axes) or a
    tuple of ints. A wrong type is a TypeError naming the call (a bug in ``forward``, not
    a shape problem).

    >>> reduce_attrs("sum", 1, True)
    {'axis': (1,), 'keepdims': True}
    """
    where = f"{op}(axis={axis!r})"
    if axis is None:
        axes: tuple[int, ...] | None = None
    elif _is_int(axis):
        axes = (int(axis),)  # type: ignore[call-overload]
    elif isinstance(axis, tuple | list) and all(_is_int(a) for a in axis):
        axes = tuple(int(a) for a in axis)
    else:
        raise TypeError(f"{where}: axis must be an int, a tuple of ints, or None for all axes")
    if not (isinstance(keepdims, bool | np.bool_) or (_is_int(keepdims) and keepdims in (0, 1))):
        raise TypeError(f"{op}(keepdims={keepdims!r}): keepdims must be True or False")
    return {"axis": axes, "keepdims": bool(keepdims)}


def _is_int(a: object) -> bool:
    return isinstance(a, int | np.integer) and not isinstance(a, bool)


def reduced_axes(axis: object, rank: int) -> tuple[int, ...] | str:
    """The sorted non-negative axes that ``axis`` (an attribute value) reduces in a tensor
    of ``rank``, or the reason it cannot (out of range, repeated, not ints)."""
    if axis is None:
        return tuple(range(rank))
    raw = (axis,) if _is_int(axis) else axis
    if not isinstance(raw, tuple | list) or not all(_is_int(a) for a in raw):
        return "type"
    norm = [norm_axis(int(a), rank) for a in raw]
    if None in norm:
        return "range"
    if len(set(norm)) != len(norm):
        return "repeat"
    return tuple(sorted(a for a in norm if a is not None))


def _reduce_rule(op: str) -> Callable[..., RuleResult]:
    def rule(ins: tuple[TensorType, ...], params: Mapping[str, Any], attrs: Attrs
             ) -> RuleResult:
        x = ins[0]
        axis = attrs["axis"]
        axes = reduced_axes(axis, x.rank)
        if isinstance(axes, str):
            return _axes_fail(op, x, axis, axes)
        empty = [j for j in axes if x.shape[j] == 0]
        if op in ("max", "min") and empty and attrs.get("initial") is None:
            return Fail(SG_CONFIG, f"{op}: axis {empty[0]} of {x} is empty, and an empty "
                        f"{op} has no value", "reduce over axes of size at least 1",
                        ((f"input dim {empty[0]}", 0, inp(0, empty[0])),))
        keep = attrs["keepdims"]
        dims: list[Dim] = []
        srcs: list[Src] = []
        for j, d in enumerate(x.shape):
            if j not in axes:
                dims.append(d)
                srcs.append(inp(0, j))
            elif keep:
                dims.append(1)
                srcs.append(FromAttr("keepdims"))
        out = TensorType(tuple(dims), x.dtype)
        return Out((out,), (tuple(srcs),))

    return rule


def _axes_fail(op: str, x: TensorType, axis: object, why: str) -> Fail:
    if why == "range":
        given: Sequence[int] = (axis,) if _is_int(axis) else axis  # type: ignore[assignment]
        bad = [a for a in given if norm_axis(int(a), x.rank) is None]
        return axis_fail(op, x, bad[0] if len(bad) == 1 else tuple(bad))
    if why == "repeat":
        return Fail(SG_CONFIG, f"{op}: axis={axis!r} names the same axis of {x} twice",
                    "give each axis once")
    return Fail(SG_CONFIG, f"{op}: axis={axis!r} is not an int, a tuple of ints or None",
                "pass an int, a tuple of ints, or None for all axes")


def _out_rank(ranks: tuple[int, ...], attrs: Attrs) -> int | None:
    """The output rank even when the axes are bad (so later conflicts still show)."""
    if attrs["keepdims"]:
        return ranks[0]
    axis = attrs["axis"]
    if axis is None:
        return 0
    n = 1 if _is_int(axis) else len(set(axis))
    return max(ranks[0] - n, 0)


def _reduce_ref(fn: _Fn) -> Callable[..., tuple[np.ndarray, ...]]:
    def ref(
        ins: Sequence[np.ndarray], params: Mapping[str, np.ndarray], attrs: Attrs
    ) -> tuple[np.ndarray, ...]:
        x = ins[0]
        axis = attrs["axis"]
        axis = tuple(axis) if isinstance(axis, list) else axis
        # max/min: numpy's ``initial`` is the value of an empty reduction (ONNX's -inf/inf);
        # sum and mean have no such attribute (nor have attributes made by hand)
        initial = attrs.get("initial")
        extra = {} if initial is None else {"initial": initial}
        y = fn(x, axis=axis, keepdims=attrs["keepdims"], **extra)
        return (np.asarray(y, dtype=x.dtype),)  # numpy gives a scalar for a 0-d result

    return ref


# the compiled kernels' codes (executor/kernels.py reads them from here)
REDUCE_CODES = {"sum": 0, "mean": 1, "max": 2, "min": 3}


# max and min: the value of a reduction over nothing (numpy's ``initial``; ONNX's -inf
# for ReduceMax and inf for ReduceMin); None: an empty max/min is a diagnostic. It never
# changes a reduction over values (the initial is the operation's identity there).
_INITIAL = {"max": -np.inf, "min": np.inf}


def _initial_check(op: str) -> Callable[[Any], str]:
    def check(v: Any) -> str:
        return "" if v == _INITIAL[op] else f"must be {_INITIAL[op]} (the identity of {op})"
    return check


def _register(op: str) -> OpDef:
    # lazy_rank None: without keepdims the output's rank depends on the input's, so a
    # static trace cannot pass an unknown rank on through a reduction
    initial = (Attr("initial", "float", None, optional=True, check=_initial_check(op)),) \
        if op in _INITIAL else ()
    return register(OpDef(op, _reduce_rule(op), _reduce_ref(REDUCTIONS[op]),
                          out_rank=_out_rank,
                          doc=f"{op} over attrs['axis'] (None: all axes), numpy's keepdims",
                          lowering=Lowering("reduce", REDUCE_CODES[op]),
                          # axis: an int, a tuple of ints or None (all axes); the shape
                          # rule reports a bad one as a diagnostic
                          schema=(Attr("axis", "any", None), Attr("keepdims", "bool", False),
                                  *initial)))


MEAN = _register("mean")
SUM = _register("sum")
MAX = _register("max")
MIN = _register("min")
