"""Help lines that name the real fix: general rules over the records that conflict.

Each finder looks at one kind of finding (two inputs of a join that disagree, a broadcast
of a body against its shortcut, a flatten product against a declared width, a window
larger than its input) and, when the cause is clear from the graph, says exactly what to
change. A finder returns None when it is not sure; the generic help stays then. None of
them looks at layer names: they read the attributes a window op has (``kernel``,
``padding``, ``strides``), the join's ``axis``, and the graph's edges.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from shapegraph.core.dims import Dim, dim_str
from shapegraph.core.graph import Node
from shapegraph.core.types import TensorType
from shapegraph.opset.base import Derived, FromInput, GivenInput
from shapegraph.opset.conv import window_out

if TYPE_CHECKING:
    from shapegraph.infer.propagate import Resolution

__all__ = [
    "axis_fix",
    "flatten_fix",
    "given_origin",
    "min_input_fix",
    "nhwc_note",
    "padding_fix",
    "shortcut_fix",
    "window_step",
]

# (graph input name, dim) -> a size to try -> whether the failure is gone
Retry = Callable[[dict[tuple[str, int], int]], bool]
_MAX_SIZE = 1 << 14


def window_step(res: Resolution, v: int, j: int) -> tuple[Node, int] | None:
    """The sliding-window node (a conv, a pool) that made dim ``j`` of value ``v``, going
    back through layers that pass the dim on unchanged, and the spatial axis it is."""
    g = res.graph
    while True:
        producer = g.values[v].producer
        srcs = res.srcs[v]
        if producer is None or srcs is None or j >= len(srcs):
            return None
        src, node = srcs[j], g.nodes[producer]
        if isinstance(src, FromInput):
            v, j = node.inputs[src.i], src.j
            continue
        if (isinstance(src, Derived) and "kernel" in node.attrs and "padding" in node.attrs
                and j >= 2):
            return node, j - 2
        return None


def padding_fix(res: Resolution, v: int, axes: Sequence[int], target: Dim) -> str | None:
    """"add padding=2 to layer `p3_2` (kernel 5)" when value ``v`` comes out of a window
    op that makes it smaller than ``target`` along ``axes``, and a padding fixes all."""
    if type(target) is not int:
        return None
    found = [window_step(res, v, j) for j in axes]
    if any(f is None for f in found) or len({id(f[0]) for f in found if f}) != 1:
        return None
    node = found[0][0]  # type: ignore[index]
    a_s = [f[1] for f in found if f]
    x = res.types[node.inputs[0]]
    if x is None:
        return None
    at = node.attrs
    pads = {_pad_for(x.shape[2 + a], at["kernel"][a], at["strides"][a], at["padding"][a],
                     at["dilation"][a] if "dilation" in at else 1, target) for a in a_s}
    if len(pads) != 1 or None in pads:
        return None
    (pad,) = pads
    kernel = at["kernel"][a_s[0]]
    verb = "add" if not any(at["padding"]) else "set"
    prep = "to" if verb == "add" else "on"
    return f"{verb} padding={pad} {prep} layer `{node.prov.display_path}` (kernel {kernel})"


def _pad_for(n: Dim, k: int, s: int, p: int, d: int, target: int) -> int | None:
    if type(n) is not int:
        return None
    for pad in range(p + 1, p + d * (k - 1) + 1):
        if window_out(n, k, s, pad, d) == target:
            return pad
    return None


def axis_fix(node: Node, shapes: Sequence[TensorType]) -> str | None:
    """"did you mean dim=1?" for a join along one axis whose inputs agree on every axis but
    another one: joining along that one would work."""
    axis = node.attrs.get("axis")
    if not isinstance(axis, int) or len(shapes) < 2 or len({t.rank for t in shapes}) != 1:
        return None
    rank = shapes[0].rank
    axis %= rank
    differ = {j for t in shapes[1:] for j in range(rank)
              if not _same(t.shape[j], shapes[0].shape[j])}
    if len(differ) != 1 or axis in differ:
        return None
    (other,) = differ
    return (f"did you mean dim={other}? The inputs agree on every axis but {other}, and "
            f"joining along dim={axis} needs them to agree on dim {other}")


def _same(a: Dim, b: Dim) -> bool:
    return a is b or (type(a) is int and a == b)


def shortcut_fix(res: Resolution, node: Node) -> str | None:
    """"add a 1x1 Conv2D(32, strides=2) on the shortcut" for an elementwise join of a body
    and a shortcut (an input of the body) that differ in channels and/or size by a
    whole stride."""
    if len(node.inputs) != 2:
        return None
    types = [res.types[v] for v in node.inputs]
    if any(t is None or t.rank < 2 for t in types) or types[0].rank != types[1].rank:  # type: ignore[union-attr]
        return None
    for body, short in ((0, 1), (1, 0)):
        if _reaches(res, node.inputs[body], node.inputs[short]):
            return _projection(types[body], types[short])  # type: ignore[arg-type]
    return None


def _projection(body: TensorType, short: TensorType) -> str | None:
    dims = body.shape[1:], short.shape[1:]
    if not all(type(d) is int for d in (*dims[0], *dims[1])):
        return None
    c, strides = body.shape[1], set()
    if body.rank == 2:  # (batch, features): a Dense projection
        return (f"make the body end with {short.shape[1]} features like the shortcut "
                f"({short}), or add a Dense({c}) on the shortcut to match the body ({body})"
                if c != short.shape[1] else None)
    for b, s in zip(body.shape[2:], short.shape[2:], strict=True):
        if s % b and s != b:  # type: ignore[operator]
            return None
        strides.add(-(-s // b))  # type: ignore[operator]
    if len(strides) != 1:
        return None
    (st,) = strides
    nd = body.rank - 2
    stride = f", strides={st}" if st != 1 else ""
    return (f"add a 1x1 Conv{nd}D({c}{stride}) on the shortcut ({short}) to match the "
            f"body ({body})")


def _reaches(res: Resolution, start: int, target: int) -> bool:
    """Whether value ``target`` is upstream of value ``start``."""
    g, seen, todo = res.graph, set(), [start]
    while todo:
        v = todo.pop()
        if v == target:
            return True
        producer = g.values[v].producer
        if v in seen or producer is None:
            continue
        seen.add(v)
        todo.extend(g.nodes[producer].inputs)
    return False


def flatten_fix(x: TensorType | None, declared: Dim) -> str | None:
    """"use flatten=False" for a Dense with flatten=True on a (batch, seq, features) tensor
    whose declared or expected width is the last axis."""
    if x is None or x.rank < 3 or not _same(x.shape[-1], declared):
        return None
    return (f"use flatten=False: flatten=True makes {x} one vector per sample; "
            f"flatten=False maps its last axis ({dim_str(x.shape[-1])}) at every position")


def nhwc_note(t: TensorType | None) -> str | None:
    """"this looks like NHWC" for a 4-d input whose last axis is a likely channel count
    and whose second is not."""
    if t is None or t.rank != 4 or not all(type(d) is int for d in t.shape[1:]):
        return None
    h, w, c = t.shape[1], t.shape[2], t.shape[3]
    if c not in (1, 2, 3, 4) or h <= 4 or w <= 4:  # type: ignore[operator]
        return None
    b = dim_str(t.shape[0])
    return (f"this looks like NHWC ({t}); shapegraph expects NCHW: feed ({b}, {c}, {h}, {w}), "
            "e.g. x.transpose(0, 3, 1, 2)")


def given_origin(res: Resolution, v: int, j: int) -> tuple[str, int] | None:
    """(input name, dim) of the graph input dim that dim ``j`` of ``v`` is computed from,
    following a chain of single-input steps (windows, pass-throughs)."""
    g = res.graph
    while True:
        producer, srcs = g.values[v].producer, res.srcs[v]
        if srcs is None or j >= len(srcs):
            return None
        src = srcs[j]
        if producer is None:
            return (src.name, src.j) if isinstance(src, GivenInput) else None
        node = g.nodes[producer]
        if isinstance(src, Derived) and len(src.parts) == 1:
            src = src.parts[0]
        if not isinstance(src, FromInput):
            return None
        v, j = node.inputs[src.i], src.j


def min_input_fix(res: Resolution, node: Node, j: int, retry: Retry) -> str | None:
    """"input `x` needs at least 32x32" for a window larger than its input: the smallest
    size of the input's spatial dims (the one traced, and its square siblings) for which
    the failure is gone, found by propagating again (feasibility grows with the size)."""
    origin = given_origin(res, node.inputs[0], j)
    if origin is None:
        return None
    name, dim = origin
    t = res.raw_inputs.get(name)
    sizes = {k: d for k, d in enumerate(t.shape) if type(d) is int} if t else {}
    if dim not in sizes:
        return None
    given = sizes[dim]
    # a spatial dim: the other spatial dims as small as it grow with it (a square image)
    dims = [k for k, d in sizes.items() if k >= 2 and d <= given] if dim >= 2 else [dim]

    def ok(n: int) -> bool:
        return retry({(name, k): max(n, sizes[k]) for k in dims})

    hi = max(2 * given, 2)
    while not ok(hi):
        hi *= 2
        if hi > _MAX_SIZE:
            return None
    lo = given  # fails
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if ok(mid) else (mid, hi)
    need = "x".join(str(max(hi, sizes[k])) for k in dims)
    now = "x".join(str(sizes[k]) for k in dims)
    which = f"dim {dims[0]} " if len(dims) == 1 else ""
    return f"input `{name}` needs at least {need} ({which}given {now})"
