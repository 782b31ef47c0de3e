"""One output of ONNX Split: ``split`` is part ``index`` of a tensor cut along ``axis`` into
``count`` parts, of the given ``sizes`` or (without sizes) equal parts of ceil(n / count),
the last one the rest (ONNX from opset 18; before 18 the parts must be equal, ``even``).
The importer makes one node per output of the ONNX node, each with the node's name.

Part 0 carries the checks of the whole split, so a Split whose sizes do not add up to the
axis is one diagnostic, not one per output: the sizes must add up to the axis (an
equality: a symbolic axis is pinned by them), there must be one size per output, and an
even split must divide the axis.

>>> from shapegraph.core.dims import Sym
>>> from shapegraph.core.types import TensorType
>>> x = TensorType((Sym("N"), 7))
>>> [str(SPLIT.shape_rule((x,), {}, SPLIT.complete({"axis": 1, "index": i, "count": 4}))
...      .types[0]) for i in range(4)]
['f32[N,2]', 'f32[N,2]', 'f32[N,2]', 'f32[N,1]']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from shapegraph.core.dims import Dim, ceildiv, holes, mul, sub
from shapegraph.core.types import TensorType
from shapegraph.opset.base import (
    Attr,
    Attrs,
    Derived,
    Eq,
    Fail,
    FromAttr,
    OpDef,
    Out,
    RuleResult,
    Src,
    inp,
    non_negative,
    positive,
)
from shapegraph.opset.common import axis_fail, norm_axis
from shapegraph.opset.registry import register
from shapegraph.opset.values import FromValue, Val, fold

__all__ = ["SPLIT"]

SG_CONFIG = "SG210"

_Ins = tuple[TensorType, ...]
_Vals = tuple[Val | None, ...]


def _check(x: TensorType, axis: int, attrs: Attrs) -> Fail | None:
    """The checks of the whole split that are not equalities (part 0 makes them)."""
    sizes, count = attrs["sizes"], attrs["count"]
    n = x.shape[axis]
    if sizes is not None and len(sizes) != count:
        return Fail(SG_CONFIG, f"split: {len(sizes)} sizes {list(sizes)} for {count} outputs",
                    "give one size per output")
    if sizes is None and attrs["even"] and type(n) is int and n % count:
        return Fail(SG_CONFIG, f"split: dim {axis} of {x} (size {n}) does not split into "
                    f"{count} equal parts", "give the sizes of the parts, or split a dim "
                    f"that is a multiple of {count}", ((f"input dim {axis}", n, inp(0, axis)),))
    return None


def _part(n: Dim, attrs: Attrs) -> tuple[Dim, str]:
    """The size of part ``index`` of an axis of size ``n``, and how it was computed."""
    sizes, count, i = attrs["sizes"], attrs["count"], attrs["index"]
    if sizes is not None:  # (too few sizes: part 0 reports it, the part is empty meanwhile)
        return (sizes[i] if i < len(sizes) else 0), f"split sizes[{i}]"
    chunk = ceildiv(n, count)
    if type(n) is int:
        return max(0, min(chunk, n - i * chunk)), f"part {i} of {n} cut into {count}"
    if i < count - 1:
        return chunk, f"ceil(n / {count})"
    return sub(n, mul(count - 1, chunk)), f"the rest after {count - 1} parts of ceil(n / {count})"


def _split_rule(ins: _Ins, params: Mapping[str, tuple[Dim, ...]], attrs: Attrs
                ) -> RuleResult:
    x = ins[0]
    axis = norm_axis(attrs["axis"], x.rank)
    if axis is None:
        return axis_fail("split", x, attrs["axis"])
    eqs: tuple[Eq, ...] = ()
    if attrs["index"] == 0:
        bad = _check(x, axis, attrs)
        if bad is not None:
            return bad
        if attrs["sizes"] is not None:
            total = sum(attrs["sizes"])
            eqs = (Eq(x.shape[axis], inp(0, axis), total, FromAttr("sizes"),
                      f"input dim {axis}", f"the split sizes {list(attrs['sizes'])} added"),)
    size, how = _part(x.shape[axis], attrs)
    dims = list(x.shape)
    dims[axis] = size
    srcs: list[Src] = [inp(0, j) for j in range(x.rank)]
    srcs[axis] = Derived(how, (inp(0, axis),)) if attrs["sizes"] is None else FromAttr("sizes")
    return Out((TensorType(tuple(dims), x.dtype),), (tuple(srcs),), eqs,
               bool(holes(x.shape[axis])))


def _bounds(n: int, attrs: Attrs) -> tuple[int, int]:
    """Where part ``index`` starts and ends along an axis of ``n``."""
    sizes, i = attrs["sizes"], attrs["index"]
    if sizes is not None:
        start = sum(sizes[:i])
        return start, start + (sizes[i] if i < len(sizes) else 0)
    chunk = -(-n // attrs["count"])
    start = min(i * chunk, n)
    return start, min(start + chunk, n)


def _split_ref(ins: Sequence[np.ndarray], params: Mapping[str, np.ndarray], attrs: Attrs
               ) -> tuple[np.ndarray, ...]:
    x = ins[0]
    axis = attrs["axis"] % x.ndim
    start, end = _bounds(x.shape[axis], attrs)
    index = [slice(None)] * x.ndim
    index[axis] = slice(start, end)
    return (x[tuple(index)],)


def _split_values(ins: _Ins, vals: _Vals, attrs: Attrs) -> _Vals:
    """A split shape vector passes its elements on (symbolic ones too)."""
    v = vals[0]
    if v is None:
        return (None,)
    if v.is_concrete or len(v.shape) != 1:
        return (fold(lambda a: _split_ref([a], {}, attrs)[0], vals),)
    start, end = _bounds(v.size, attrs)
    ks = range(start, end)
    return (Val((len(ks),), tuple(v.elems[k] for k in ks), tuple(FromValue(0, k) for k in ks),
                v.dtype),)


def _index_fits(a: Mapping[str, int]) -> str:
    index, count = a["index"], a["count"]
    return "" if index < count else f"index={index} is not below count={count}"


SPLIT = register(OpDef(
    "split", _split_rule, _split_ref, value_rule=_split_values, out_rank=lambda r, a: r[0],
    doc="ONNX Split, one output: part `index` of `count` along `axis` (sizes, or equal "
        "parts of ceil(n / count) with the rest last)",
    no_kernel="a part of an ONNX Split: numpy slicing runs between compiled segments",
    # (by default part 0 of 1: the whole tensor)
    schema=(Attr("axis", "int", 0), Attr("index", "int", 0, check=non_negative),
            Attr("count", "int", 1, check=positive),
            Attr("sizes", "ints", None, optional=True, check=non_negative),
            # before opset 18 a split without sizes must cut the axis into equal parts
            Attr("even", "bool", False)),
    attrs_check=_index_fits))
