"""N-d convolution, max/avg pooling and the global pools (NCW / NCHW / NCDHW layouts).

Output sizes follow Gluon: ``floor((H + 2p - d(k-1) - 1) / s) + 1`` for convolution and
floor mode pooling, ``ceil`` instead of ``floor`` for ``ceil_mode`` pooling.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from shapegraph.core.dims import Dim, as_int, ceildiv, dim_str, floordiv, holes, mul, product
from shapegraph.core.types import TensorType
from shapegraph.opset.base import (
    Attr,
    Attrs,
    Derived,
    Eq,
    Fail,
    FromParam,
    Lowering,
    OpDef,
    Out,
    ParamDecl,
    RuleResult,
    Src,
    inp,
    non_negative,
    positive,
    with_bias,
)
from shapegraph.opset.common import rank_fail
from shapegraph.opset.registry import register

SG_NONPOSITIVE = "SG204"
SG_CONFIG = "SG210"


def window_out(size: Dim, k: int, s: int, p: int, d: int = 1, ceil: bool = False,
               p_end: int | None = None, drop_last: bool = False) -> Dim:
    """Output length of a sliding window over ``size`` padded by ``p`` before and ``p_end``
    (default ``p``) after (works on ints and symbols). ``drop_last``: in ceil mode, a last
    window that would start in the end padding (past the input) is dropped, as ONNX and
    PyTorch do (MXNet keeps it); decided for a known size, a symbolic one keeps the formula.

    >>> window_out(2, 1, 2, 0, ceil=True), window_out(2, 1, 2, 0, ceil=True, drop_last=True)
    (2, 1)
    """
    span = size + p + (p if p_end is None else p_end) - d * (k - 1) - 1
    out = (ceildiv(span, s) if ceil else floordiv(span, s)) + 1
    if (drop_last and ceil and type(out) is int and type(size) is int and out > 1
            and (out - 1) * s >= size + p):
        return out - 1
    return out


def _spatial_rank(attrs: Attrs) -> int:
    return int(attrs["ndim"]) + 2


def window_formula(k: int, s: int, p: int, d: int = 1, ceil: bool = False,
                   p_end: int | None = None) -> str:
    """The output-size formula in terms of the input size ``in``, simplified for reading.

    >>> window_formula(5, 1, 0), window_formula(2, 2, 0), window_formula(3, 2, 1, ceil=True)
    ('in - 4', '(in - 2)//2 + 1', 'ceil((in - 1)/2) + 1')
    """
    c = p + (p if p_end is None else p_end) - d * (k - 1) - 1
    if s == 1:
        return "in" if c + 1 == 0 else f"in {'+' if c + 1 > 0 else '-'} {abs(c + 1)}"
    num = "in" if c == 0 else f"in {'+' if c > 0 else '-'} {abs(c)}"
    return f"ceil(({num})/{s}) + 1" if ceil else f"({num})//{s} + 1"


def same_pads(attrs: Attrs, sizes: Sequence[int]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """ONNX ``auto_pad`` SAME_UPPER / SAME_LOWER: the padding before and after each spatial
    dim of ``sizes`` that gives ceil(n / s) outputs, an odd one extra at the end (UPPER) or
    at the beginning (LOWER).

    >>> same_pads({"kernel": (3,), "strides": (2,), "dilation": (1,),
    ...            "auto_pad": "SAME_UPPER"}, (6,))
    ((0,), (1,))
    """
    ds = attrs["dilation"] if "dilation" in attrs else (1,) * len(sizes)
    begin, end = [], []
    for n, k, s, d in zip(sizes, attrs["kernel"], attrs["strides"], ds, strict=True):
        total = max((-(-n // s) - 1) * s + d * (k - 1) + 1 - n, 0)
        small, big = total // 2, total - total // 2
        begin.append(small if attrs["auto_pad"] == "SAME_UPPER" else big)
        end.append(big if attrs["auto_pad"] == "SAME_UPPER" else small)
    return tuple(begin), tuple(end)


def _same(attrs: Attrs) -> bool:
    # attributes made by hand (tests, older callers) may leave auto_pad out
    return "auto_pad" in attrs and attrs["auto_pad"] != "NOTSET"


def explicit_pads(attrs: Attrs, sizes: Sequence[int]) -> Attrs:
    """``attrs`` with ``auto_pad``'s padding made explicit for an input of spatial
    ``sizes`` (the references run on it); other attributes as they are."""
    if not _same(attrs):
        return attrs
    begin, end = same_pads(attrs, sizes)
    # these pads give exactly ceil(n / s) windows: ceil mode has nothing to add
    floor = {"ceil_mode": False} if "ceil_mode" in attrs else {}
    return {**attrs, "padding": begin, "pads_end": end, "auto_pad": "NOTSET", **floor}


def _window_dims(
    x: TensorType, nd: int, attrs: Attrs, what: str, ceil: bool = False, drop: bool = False
) -> tuple[list[Dim], list[Src], bool] | Fail:
    """Output sizes of a sliding window, their sources, and whether a size still depends on
    an unknown (the rule must run again once it is known: a width that turns out smaller
    than the window is SG204 then, never a negative size)."""
    ks, ss, ps, pe = attrs["kernel"], attrs["strides"], attrs["padding"], attrs["pads_end"]
    # attributes made by hand (tests, older callers) may leave out a pool's dilation
    ds = attrs["dilation"] if "dilation" in attrs else (1,) * nd
    dims: list[Dim] = []
    srcs: list[Src] = []
    same = _same(attrs)
    for a in range(nd):
        j = 2 + a
        size = x.shape[j]
        if same:  # the padding follows the size: ceil(n / s) outputs, for any n
            out, formula = ceildiv(size, ss[a]), f"ceil(in/{ss[a]}) ({attrs['auto_pad']})"
            dims.append(out)
            srcs.append(Derived(f"{what} output size along dim {j} = {formula}", (inp(0, j),)))
            if type(out) is int and out <= 0:
                return Fail(SG_NONPOSITIVE, f"{what}: output size 0 along dim {j}: the input "
                            "is empty", f"feed an input with dim {j} of at least 1",
                            ((f"input dim {j}", size, inp(0, j)),))
            continue
        out = window_out(size, ks[a], ss[a], ps[a], ds[a], ceil, pe[a], drop)
        formula = window_formula(ks[a], ss[a], ps[a], ds[a], ceil, pe[a])
        eff = ds[a] * (ks[a] - 1) + 1
        padded = ("" if ps[a] == pe[a] == 0 else f" padded by {ps[a]} on each side"
                  if ps[a] == pe[a] else f" padded by {ps[a]} before and {pe[a]} after")
        window = f"window {eff}" + (f" (kernel {ks[a]}, dilation {ds[a]})" if ds[a] != 1 else "")
        # the window must fit in the padded input (in ceil mode too, as in MXNet: there
        # ceil((n + 2p - k) / s) + 1 can be 1 for a window that does not fit)
        if (type(out) is int and out <= 0) or (type(size) is int
                                               and eff > size + ps[a] + pe[a]):
            return Fail(
                SG_NONPOSITIVE,
                f"{what}: output size {dim_str(out)} along dim {j}: {window} is larger "
                f"than the input size {dim_str(size)}{padded}",
                f"feed a larger input, or use a smaller kernel / more padding for dim {j}",
                ((f"input dim {j}", size, inp(0, j)),),
            )
        dims.append(out)
        srcs.append(Derived(f"{what} output size along dim {j} = {formula}", (inp(0, j),)))
    return dims, srcs, any(holes(d) for d in dims)


# --------------------------------------------------------------------------- convolution


def _conv_params(attrs: Attrs) -> tuple[ParamDecl, ...]:
    ch, groups, kernel = attrs["channels"], attrs["groups"], attrs["kernel"]
    in_ch = attrs["in_channels"]
    per_group = in_ch // groups if in_ch else None
    note_in = (f"in_channels={in_ch} declared" + (f" / groups={groups}" if groups > 1 else "")
               if in_ch else "")
    weight = ParamDecl(
        "weight",
        (ch, per_group, *kernel),
        (f"channels={ch}", note_in, *(f"kernel_size={k}" for k in kernel)),
        ("", "in_channels", *("" for _ in kernel)),
    )
    return with_bias(attrs, weight, ch, f"channels={ch}")


def _conv_rule(
    ins: tuple[TensorType, ...], params: Mapping[str, tuple[Dim, ...]], attrs: Attrs
) -> RuleResult:
    x, nd = ins[0], attrs["ndim"]
    name = f"Conv{nd}D"
    if x.rank != nd + 2:
        layout = ("(batch, channels, width)", "(batch, channels, height, width)",
                  "(batch, channels, depth, height, width)")[nd - 1]
        return rank_fail(name, x, f"rank {nd + 2} {layout}")
    groups = attrs["groups"]
    # the weight is a parameter, or (ONNX Conv(X, W)) a value of the graph: an initializer,
    # a ConstantOfShape, a computation
    w = params["weight"] if len(ins) == 1 else ins[1].shape
    w_src = _weight_src if len(ins) == 1 else _weight_input_src
    if len(ins) > 1 and len(w) != nd + 2:
        return rank_fail(f"{name} weight", ins[1], f"rank {nd + 2} (out, in, *kernel)")
    if attrs["channels"] % groups:
        return Fail(SG_CONFIG, f"{name}: channels={attrs['channels']} is not divisible by "
                    f"groups={groups}", "make channels a multiple of groups")
    rhs: Dim = mul(groups, w[1])
    rhs_src: Src = w_src(1)
    if groups > 1:
        rhs_src = Derived(f"groups={groups} x weight in-channels per group", (rhs_src,))
    eqs = [Eq(x.shape[1], inp(0, 1), rhs, rhs_src, "input channels", "in_channels")]
    win = _window_dims(x, nd, attrs, name)
    if isinstance(win, Fail):  # the channels are checked all the same
        return replace(win, eqs=(*win.eqs, *eqs))
    dims, srcs, pending = win
    if len(ins) > 2:
        eqs.append(Eq(ins[2].shape[0], inp(2, 0), w[0], w_src(0), "bias size", "channels"))
    out = TensorType((x.shape[0], w[0], *dims), x.dtype)
    return Out((out,), ((inp(0, 0), w_src(0), *srcs),), tuple(eqs), pending)


def _weight_src(j: int) -> Src:
    return FromParam("weight", j)


def _weight_input_src(j: int) -> Src:
    return inp(1, j)


def conv_reference(x: np.ndarray, w: np.ndarray, attrs: Attrs) -> np.ndarray:
    """Direct N-d convolution in numpy: one einsum per kernel offset and group."""
    attrs = explicit_pads(attrs, x.shape[2:])
    nd = attrs["ndim"]
    ks, ss, ps, pe = attrs["kernel"], attrs["strides"], attrs["padding"], attrs["pads_end"]
    ds, groups = attrs["dilation"], attrs["groups"]
    xp = np.pad(x, [(0, 0), (0, 0), *zip(ps, pe, strict=True)])
    outs = [as_int(window_out(x.shape[2 + a], ks[a], ss[a], ps[a], ds[a], False, pe[a]))
            for a in range(nd)]
    y = np.zeros((x.shape[0], w.shape[0], *outs), dtype=np.float64)
    cin, cout = w.shape[1], w.shape[0] // groups
    for offset in np.ndindex(*ks):
        sl = tuple(slice(o * d, o * d + s * (n - 1) + 1, s)
                   for o, d, s, n in zip(offset, ds, ss, outs, strict=True))
        patch = xp[(slice(None), slice(None), *sl)]
        for g in range(groups):
            wg = w[(slice(g * cout, (g + 1) * cout), slice(None), *offset)]
            pg = patch[:, g * cin:(g + 1) * cin]
            y[:, g * cout:(g + 1) * cout] += np.einsum("nc...,oc->no...", pg, wg)
    return y.astype(x.dtype)


def _conv_ref(
    ins: Sequence[np.ndarray], params: Mapping[str, np.ndarray], attrs: Attrs
) -> tuple[np.ndarray, ...]:
    w = params["weight"] if len(ins) == 1 else ins[1]
    y = conv_reference(ins[0], w, attrs)
    bias = params.get("bias") if len(ins) < 3 else ins[2]
    if bias is not None:
        y += bias.reshape((-1,) + (1,) * attrs["ndim"])
    return (y,)


def _window_attrs(attrs: Attrs) -> str:
    """The window attributes have one entry per spatial dim."""
    nd = attrs["ndim"]
    for name in ("kernel", "strides", "padding", "pads_end", "dilation"):
        if name in attrs and len(attrs[name]) != nd:
            return f"`{name}`={attrs[name]} has {len(attrs[name])} entries for ndim={nd}"
    return ""


def _each(value: int) -> Callable[[Mapping[str, Any]], tuple[int, ...]]:
    """A default of ``value`` along each spatial dim."""
    return lambda a: (value,) * a["ndim"]


def _window_schema(*, strides_default_kernel: bool = False) -> tuple[Attr, ...]:
    strides = (Attr("strides", "ints", check=positive, default_from=lambda a: a["kernel"])
               if strides_default_kernel else
               Attr("strides", "ints", check=positive, default_from=_each(1)))
    return (Attr("kernel", "ints", check=positive),
            Attr("ndim", "int", choices=(1, 2, 3), default_from=lambda a: len(a["kernel"])),
            strides,
            Attr("padding", "ints", check=non_negative, default_from=_each(0)),
            # the padding after the input along each dim, when it differs from the padding
            # before (ONNX pads [begin..., end...]); ``padding`` is the padding before
            Attr("pads_end", "ints", check=non_negative, default_from=lambda a: a["padding"]),
            # ONNX auto_pad SAME_*: the padding follows the input size (ceil(n / s) outputs)
            # and ``padding``/``pads_end`` are not used; see same_pads
            Attr("auto_pad", "str", "NOTSET", choices=("NOTSET", "SAME_UPPER", "SAME_LOWER")))


def _conv_macs(ins: Sequence[TensorType], outs: Sequence[TensorType],
               params: Mapping[str, tuple[Dim, ...]], attrs: Attrs) -> Dim:
    """Each output element: (in_channels / groups) x kernel multiply-adds (the weight is
    (channels, in_channels/groups, *kernel)); strides and padding are in the output size."""
    w = params["weight"] if "weight" in params else ins[1].shape
    return product((*outs[0].shape, *w[1:]))


CONV = register(OpDef(
    "conv", _conv_rule, _conv_ref, _conv_params, (1, 3), lazy_rank=_spatial_rank,
    out_rank=lambda r, a: _spatial_rank(a),
    doc="N-d convolution (ndim 1, 2 or 3), weight (channels, in_channels/groups, *kernel)",
    lowering=Lowering("conv"), macs=_conv_macs,
    schema=(Attr("channels", "int", check=positive), *_window_schema(),
            Attr("dilation", "ints", check=positive, default_from=_each(1)),
            Attr("groups", "int", 1, check=positive),
            Attr("use_bias", "bool", True),
            Attr("in_channels", "int", None, optional=True, check=positive)),
    attrs_check=_window_attrs))


# --------------------------------------------------------------------------- pooling


def _pool_rule(
    ins: tuple[TensorType, ...], params: Mapping[str, tuple[Dim, ...]], attrs: Attrs
) -> RuleResult:
    x, nd = ins[0], attrs["ndim"]
    name = f"{attrs['kind'].capitalize()}Pool{nd}D"
    if x.rank != nd + 2:
        return rank_fail(name, x, f"rank {nd + 2} (batch, channels, spatial...)")
    win = _window_dims(x, nd, attrs, name, attrs["ceil_mode"], attrs["ceil_drop_last"])
    if isinstance(win, Fail):
        return win
    short = _same_window_short(x, attrs, name) if _same(attrs) else None
    if short is not None:
        return short
    dims, srcs, pending = win
    out = TensorType((x.shape[0], x.shape[1], *dims), x.dtype)
    return Out((out,), ((inp(0, 0), inp(0, 1), *srcs),), (), pending)


def _same_window_short(x: TensorType, attrs: Attrs, name: str) -> Fail | None:
    """A pool with auto_pad SAME whose windows, strides apart, cover less than the input:
    ONNX's padding is then negative, and runtimes differ (ONNX Runtime crops an average
    pool's input, refuses a max pool; the onnx reference fails), so it is refused.
    (A convolution pads nothing then, as the onnx reference and ONNX Runtime agree.)"""
    ds = attrs["dilation"] if "dilation" in attrs else (1,) * attrs["ndim"]
    for a, (k, s, d) in enumerate(zip(attrs["kernel"], attrs["strides"], ds, strict=True)):
        n = x.shape[2 + a]
        if type(n) is int and (-(-n // s) - 1) * s + d * (k - 1) + 1 < n:
            return Fail(SG_CONFIG, f"{name}: auto_pad={attrs['auto_pad']} with stride {s} "
                        f"and a window of {d * (k - 1) + 1} along dim {2 + a} of size {n}: "
                        "the windows skip input values and ONNX's padding is negative, "
                        "which runtimes read differently",
                        "use a window at least as large as the stride, or explicit pads",
                        ((f"input dim {2 + a}", n, inp(0, 2 + a)),))
    return None


def pool_reference(x: np.ndarray, attrs: Attrs) -> np.ndarray:
    """Max/avg pooling in numpy (MXNet semantics, including ceil mode and padding; ONNX's
    ``dilations``: window element ``o`` of a window starting at ``i`` is ``i + o*d``)."""
    attrs = explicit_pads(attrs, x.shape[2:])
    nd, kind = attrs["ndim"], attrs["kind"]
    ks, ss, ps, pe = attrs["kernel"], attrs["strides"], attrs["padding"], attrs["pads_end"]
    ds = attrs["dilation"] if "dilation" in attrs else (1,) * nd
    ceil, drop = attrs["ceil_mode"], attrs["ceil_drop_last"]
    outs = [as_int(window_out(x.shape[2 + a], ks[a], ss[a], ps[a], ds[a], ceil, pe[a], drop))
            for a in range(nd)]
    # ceil mode: the padding the last window reaches past the end padding
    extra = [max(0, (o - 1) * s + d * (k - 1) + 1 - (n + p + q))
             for o, s, k, d, n, p, q in zip(outs, ss, ks, ds, x.shape[2:], ps, pe, strict=True)]
    pad = [(0, 0), (0, 0), *((p, q + e) for p, q, e in zip(ps, pe, extra, strict=True))]
    fill = -np.inf if kind == "max" else 0.0
    xp = np.pad(x.astype(np.float64), pad, constant_values=fill)
    inside = np.pad(np.ones(x.shape[2:]), pad[2:], constant_values=0.0)
    padded = np.pad(np.ones(x.shape[2:]), list(zip(ps, pe, strict=True)), constant_values=1.0)
    padded = np.pad(padded, [(0, e) for e in extra], constant_values=0.0)
    acc = np.full((*x.shape[:2], *outs), fill)
    count = np.zeros(outs)
    counted = padded if attrs["count_include_pad"] else inside
    for offset in np.ndindex(*ks):
        sl = tuple(slice(o * d, o * d + s * (n - 1) + 1, s)
                   for o, d, s, n in zip(offset, ds, ss, outs, strict=True))
        patch = xp[(slice(None), slice(None), *sl)]
        acc = np.maximum(acc, patch) if kind == "max" else acc + patch
        count += counted[sl]
    if kind == "avg":
        acc = acc / np.maximum(count, 1.0)
    return acc.astype(x.dtype)


def _pool_ref(
    ins: Sequence[np.ndarray], params: Mapping[str, np.ndarray], attrs: Attrs
) -> tuple[np.ndarray, ...]:
    return (pool_reference(ins[0], attrs),)


POOL = register(OpDef(
    "pool", _pool_rule, _pool_ref, arity=(1, 1), lazy_rank=_spatial_rank,
    out_rank=lambda r, a: _spatial_rank(a),
    doc="max/avg pooling over the spatial dims (ndim 1, 2 or 3); strides default to kernel",
    lowering=Lowering("pool"),
    schema=(Attr("kind", "str", choices=("max", "avg")),
            *_window_schema(strides_default_kernel=True),
            # ONNX's dilations (the window's elements d apart); Gluon's layers have none
            Attr("dilation", "ints", check=positive, default_from=_each(1)),
            Attr("ceil_mode", "bool", False), Attr("count_include_pad", "bool", True),
            # ceil mode's last window when it would start in the end padding: MXNet (and
            # so Gluon's layers) keep it, ONNX and PyTorch drop it
            Attr("ceil_drop_last", "bool", False)),
    attrs_check=_window_attrs))


# --------------------------------------------------------------------------- argmax of max pooling


def _argmax_rule(
    ins: tuple[TensorType, ...], params: Mapping[str, tuple[Dim, ...]], attrs: Attrs
) -> RuleResult:
    out = _pool_rule(ins, params, {**attrs, "kind": "max"})
    if isinstance(out, Fail):
        return out
    total = product(ins[0].shape)
    if type(total) is int and total > _EXACT:
        return Fail(SG_CONFIG, f"MaxPool indices: {ins[0]} holds {total} elements, and an index "
                    f"above {_EXACT} (2**24) is not exact in the float32 buffers the executor "
                    "keeps every value in", "use MaxPool's indices on a smaller input, or "
                    "split the batch")
    return out._replace(types=(TensorType(out.types[0].shape, "int64"),))


# the executor keeps every value in float32 buffers: whole numbers are exact up to 2**24
_EXACT = 2**24


def pool_argmax_reference(x: np.ndarray, attrs: Attrs) -> np.ndarray:
    """ONNX MaxPool's indices: where each window's maximum is, as an index into the
    flattened input, (n, c) counted row-major and the spatial position row-major
    (``storage_order`` 0) or column-major (1); padding is never chosen, and of equal
    values the first in the window (row-major) is."""
    attrs = explicit_pads(attrs, x.shape[2:])
    nd = attrs["ndim"]
    ks, ss, ps, pe = attrs["kernel"], attrs["strides"], attrs["padding"], attrs["pads_end"]
    ds, spatial = attrs["dilation"], x.shape[2:]
    outs = [as_int(window_out(spatial[a], ks[a], ss[a], ps[a], ds[a], attrs["ceil_mode"],
                              pe[a], attrs["ceil_drop_last"])) for a in range(nd)]
    order = range(nd) if attrs["storage_order"] else reversed(range(nd))
    strides, acc_stride = [0] * nd, 1
    for a in order:  # the element stride of each spatial axis in the flattening
        strides[a], acc_stride = acc_stride, acc_stride * spatial[a]
    best = np.zeros((*x.shape[:2], *outs), x.dtype)
    index = np.full(best.shape, -1, np.int64)
    seen = np.zeros(outs, bool)
    for offset in np.ndindex(*ks):
        pos = [np.arange(o) * s - p + k * d
               for o, s, p, k, d in zip(outs, ss, ps, offset, ds, strict=True)]
        mask = np.ones(outs, bool)
        for q, n, axis in zip(pos, spatial, _axes_grid(nd), strict=True):
            mask &= ((q >= 0) & (q < n)).reshape(axis)
        grid = [np.clip(q, 0, n - 1).reshape(axis)
                for q, n, axis in zip(pos, spatial, _axes_grid(nd), strict=True)]
        patch = x[(slice(None), slice(None), *grid)]
        better = mask & (~seen | (patch > best))  # the first of equal values stays
        flat = np.zeros(outs, np.int64)
        for g, st in zip(grid, strides, strict=True):
            flat += g * st
        best = np.where(better, patch, best)
        index = np.where(better, flat, index)
        seen |= mask
    planes = np.arange(x.shape[0] * x.shape[1]).reshape(x.shape[0], x.shape[1], *(1,) * nd)
    return np.asarray(index + planes * int(np.prod(spatial)), dtype=np.int64)


def _axes_grid(nd: int) -> list[tuple[int, ...]]:
    """The shapes that lay a vector along each of ``nd`` axes (an open grid)."""
    return [tuple(-1 if j == a else 1 for j in range(nd)) for a in range(nd)]


def _argmax_ref(
    ins: Sequence[np.ndarray], params: Mapping[str, np.ndarray], attrs: Attrs
) -> tuple[np.ndarray, ...]:
    return (pool_argmax_reference(ins[0], attrs),)


POOL_ARGMAX = register(OpDef(
    "pool_argmax", _argmax_rule, _argmax_ref, arity=(1, 1), lazy_rank=_spatial_rank,
    out_rank=lambda r, a: _spatial_rank(a),
    doc="ONNX MaxPool's second output: the flattened input index of each window's maximum "
        "(int64; storage_order 0 row-major, 1 column-major)",
    no_kernel="MaxPool's argmax indices: its numpy reference runs between compiled segments",
    schema=(*_window_schema(strides_default_kernel=True),
            Attr("dilation", "ints", check=positive, default_from=_each(1)),
            Attr("ceil_mode", "bool", False), Attr("ceil_drop_last", "bool", True),
            Attr("storage_order", "int", 0, choices=(0, 1))),
    attrs_check=_window_attrs))


def _global_rule(
    ins: tuple[TensorType, ...], params: Mapping[str, tuple[Dim, ...]], attrs: Attrs
) -> RuleResult:
    x, nd = ins[0], attrs["ndim"]
    if x.rank != nd + 2:
        name = f"Global{attrs['kind'].capitalize()}Pool{nd}D"
        return rank_fail(name, x, f"rank {nd + 2} (batch, channels, spatial...)")
    empty = [j for j in range(2, x.rank) if x.shape[j] == 0]
    if attrs["kind"] == "max" and empty:  # the max of nothing does not exist
        name = f"GlobalMaxPool{nd}D"
        return Fail(SG_CONFIG, f"{name}: dim {empty[0]} of {x} is empty, and the maximum of "
                    "no values does not exist", "feed an input whose spatial dims are not 0",
                    ((f"input dim {empty[0]}", 0, inp(0, empty[0])),))
    one = Derived("global pooling (size 1)", ())
    out = TensorType((x.shape[0], x.shape[1], *(1,) * nd), x.dtype)
    return Out((out,), ((inp(0, 0), inp(0, 1), *(one,) * nd),))


def _global_ref(
    ins: Sequence[np.ndarray], params: Mapping[str, np.ndarray], attrs: Attrs
) -> tuple[np.ndarray, ...]:
    x = ins[0]
    axes = tuple(range(2, x.ndim))
    f = np.max if attrs["kind"] == "max" else np.mean
    return (f(x, axis=axes, keepdims=True).astype(x.dtype),)


GLOBAL_POOL = register(OpDef(
    "global_pool", _global_rule, _global_ref, arity=(1, 1), lazy_rank=_spatial_rank,
    out_rank=lambda r, a: _spatial_rank(a),
    doc="max/avg over all spatial dims, kept as size 1",
    lowering=Lowering("global_pool"),
    schema=(Attr("kind", "str", choices=("max", "avg")),
            Attr("ndim", "int", choices=(1, 2, 3)))))
