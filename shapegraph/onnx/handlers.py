"""The ONNX op handlers of the importer: one function per op type, each building its node(s)
on the op records through the importer's helpers, with the op's per-opset semantics.
``HANDLERS`` maps an op type to its handler; an op type missing here is SG213."""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence
from math import prod
from typing import TYPE_CHECKING, Any

import numpy as np

from shapegraph.core.graph import Provenance
from shapegraph.onnx.weights import SMALL, Unsupported, Weight
from shapegraph.opset.registry import get_op

if TYPE_CHECKING:  # the importer calls the handlers (importer.py imports this module)
    from shapegraph.onnx.importer import _Importer

__all__ = ["HANDLERS", "SAME_RANK", "SUPPORTED"]

_Handler = Callable[["_Importer", Any, Provenance], list[int | None]]

SAME_RANK = {"Relu", "Sigmoid", "Tanh", "LeakyRelu", "Elu", "Selu", "HardSigmoid", "Softplus",
              "Softsign", "Exp", "Log", "Sqrt", "Abs", "Clip", "Softmax", "LogSoftmax",
              "Dropout", "Identity", "LRN", "BatchNormalization", "Conv", "MaxPool",
              "AveragePool", "GlobalAveragePool", "GlobalMaxPool", "Cast", "Resize",
              "Upsample", "InstanceNormalization", "Pad", "Erf", "Neg", "Reciprocal"}


def _out(imp: _Importer, node: Any, v: int, rank: int | None) -> list[int | None]:
    imp.ranks[node.output[0]] = rank
    return [v]


def _unary(op: str) -> _Handler:
    """A one-input op whose ONNX attributes are the ones its record's schema names
    (``Attr.onnx``): the same mapping the exporter writes."""
    names = {a.onnx: a.name for a in get_op(op).schema if a.onnx}

    def handle(imp: _Importer, node: Any, prov: Provenance) -> list[int | None]:
        a = imp.attrs(node)
        attrs = {ours: a[theirs] for theirs, ours in names.items() if theirs in a}
        x = imp.tensor(node.input[0], prov)
        return _out(imp, node, imp.layer(op, [x], attrs, prov), imp.rank(node.input[0]))
    return handle


def _inputs(node: Any, least: int, most: int | None = None) -> list[str]:
    """The node's inputs, when there are as many as its op takes (else SG213)."""
    ins = list(node.input)
    if len(ins) < least or (most is not None and len(ins) > most):
        takes = f"{least}" if most == least else f"{least} or more" if most is None \
            else f"{least} to {most}"
        raise Unsupported(f"{len(ins)} inputs: {node.op_type} takes {takes}")
    return ins


def _binary(op: str, variadic: bool = False) -> _Handler:
    """Elementwise ops of two inputs; ``variadic`` (Sum, Max, Min): one or more."""
    def handle(imp: _Importer, node: Any, prov: Provenance) -> list[int | None]:
        ins = _inputs(node, 1, None) if variadic else _inputs(node, 2, 2)
        v = imp.tensor(ins[0], prov)
        for other in ins[1:]:  # Sum takes any number of inputs
            v = imp.layer(op, [v, imp.tensor(other, prov)], {}, prov)
        ranks = [imp.rank(i) for i in ins]
        return _out(imp, node, v, None if None in ranks else max(r for r in ranks if r is not None))
    return handle


def _window_attrs(imp: _Importer, node: Any, nd: int, kernel: Sequence[int]) -> dict[str, Any]:
    """kernel, strides, padding (before), pads_end from ONNX's attributes and auto_pad."""
    a = imp.attrs(node)
    strides = tuple(a.get("strides", [1] * nd))
    dil = tuple(a.get("dilations", [1] * nd))
    auto = a.get("auto_pad", b"NOTSET")
    auto = auto.decode() if isinstance(auto, bytes) else str(auto)
    if auto in ("SAME_UPPER", "SAME_LOWER") and any(s != 1 for s in strides):
        # the padding follows the input size: the records resolve it (ceil(n / s) outputs)
        return {"kernel": tuple(kernel), "ndim": nd, "strides": strides, "dilation": dil,
                "auto_pad": auto}
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        total = [d * (k - 1) for d, k in zip(dil, kernel, strict=True)]
        small = [t // 2 for t in total]
        big = [t - t // 2 for t in total]
        begin, end = (small, big) if auto == "SAME_UPPER" else (big, small)
    elif auto == "VALID":
        begin, end = [0] * nd, [0] * nd
    else:
        pads = list(a.get("pads", [0] * (2 * nd)))
        begin, end = pads[:nd], pads[nd:]
    return {"kernel": tuple(kernel), "ndim": nd, "strides": strides, "padding": tuple(begin),
            "pads_end": tuple(end), "dilation": dil}


def _conv(imp: _Importer, node: Any, prov: Provenance) -> list[int | None]:
    x = imp.tensor(node.input[0], prov)
    w = imp.known(node.input[1])
    a = imp.attrs(node)
    group = int(a.get("group", 1))
    if w is None:
        raise Unsupported("its weight is computed in the graph; shapegraph imports a Conv "
                           "whose weight is an initializer, a Constant or a ConstantOfShape")
    nd = len(w.shape) - 2
    if nd not in (1, 2, 3):
        raise Unsupported(f"a {nd}-D convolution (weight {list(w.shape)})")
    kernel = a.get("kernel_shape", list(w.shape[2:]))
    attrs = _window_attrs(imp, node, nd, kernel)
    attrs.update(channels=w.shape[0], groups=group)
    params = {"weight": imp.param(node.input[1], w, prov)}
    bias = imp.known(node.input[2]) if len(node.input) > 2 and node.input[2] else None
    if len(node.input) > 2 and node.input[2] and bias is None:
        raise Unsupported("its bias is computed in the graph")
    if bias is not None:
        params["bias"] = imp.param(node.input[2], bias, prov)
    attrs["use_bias"] = bias is not None
    return _out(imp, node, imp.layer("conv", [x], attrs, prov, params), nd + 2)


def _pool(kind: str) -> _Handler:
    def handle(imp: _Importer, node: Any, prov: Provenance) -> list[int | None]:
        a = imp.attrs(node)
        kernel = list(a["kernel_shape"])
        nd = len(kernel)
        attrs = _window_attrs(imp, node, nd, kernel)
        attrs.update(ceil_mode=bool(a.get("ceil_mode", 0)), ceil_drop_last=True)
        x = imp.tensor(node.input[0], prov)
        outs: list[int | None] = [None, None]
        if len(node.output) > 1 and node.output[1]:  # MaxPool's argmax indices
            order = int(a.get("storage_order", 0))
            outs[1] = imp.layer("pool_argmax", [x], {**attrs, "storage_order": order}, prov)
            imp.ranks[node.output[1]] = nd + 2
        if kind == "avg":
            attrs["count_include_pad"] = bool(a.get("count_include_pad", 0))
        outs[0] = imp.layer("pool", [x], {**attrs, "kind": kind}, prov)
        imp.ranks[node.output[0]] = nd + 2
        return outs
    return handle


def _global_pool(kind: str) -> _Handler:
    def handle(imp: _Importer, node: Any, prov: Provenance) -> list[int | None]:
        r = imp.rank(node.input[0])
        if r is None or r < 3:
            raise Unsupported("the rank of its input is not known")
        x = imp.tensor(node.input[0], prov)
        return _out(imp, node, imp.layer("global_pool", [x], {"kind": kind, "ndim": r - 2},
                                         prov), r)
    return handle


def _derived(imp: _Importer, key: str, w: Weight, fn: Callable[[np.ndarray], np.ndarray],
             shape: tuple[int, ...], what: str) -> Weight:
    """A weight computed from another when the model runs (a transpose, a scale)."""
    made = Weight(shape, f"{w.origin} ({what})", lambda: fn(w.array()))
    imp.static.setdefault(key, made)
    return imp.static[key]


def _gemm(imp: _Importer, node: Any, prov: Provenance) -> list[int | None]:
    a = imp.attrs(node)
    b = imp.known(node.input[1])
    if b is None or len(b.shape) != 2:
        raise Unsupported("its B is computed in the graph; shapegraph imports a Gemm whose "
                           "B is a constant matrix")
    alpha, beta = float(a.get("alpha", 1.0)), float(a.get("beta", 1.0))
    name = node.input[1]
    if not a.get("transB", 0):
        b = _derived(imp, f"{name}^T", b, lambda m: np.ascontiguousarray(m.T),
                     (b.shape[1], b.shape[0]), "transposed: transB=0")
        name = f"{name}^T"
    if alpha != 1.0:
        b = _derived(imp, f"{name}*{alpha}", b, lambda m: m * np.float32(alpha), b.shape,
                     f"times alpha={alpha}")
        name = f"{name}*{alpha}"
    units, in_units = b.shape
    params = {"weight": imp.param(name, b, prov)}
    matrix_c, c = None, None
    if len(node.input) > 2 and node.input[2]:
        c = imp.known(node.input[2])
        if c is None:
            raise Unsupported("its C is computed in the graph")
        if prod(c.shape) not in (1, units) or (len(c.shape) == 2 and c.shape[0] != 1):
            matrix_c = _gemm_matrix_c(imp, node.input[2], c, beta)
            c = None
    if c is not None:
        cname = f"{node.input[2]}[{units}]" + (f"*{beta}" if beta != 1.0 else "")
        c = _derived(imp, cname, c, lambda v: np.broadcast_to(
            v.reshape(-1) * np.float32(beta), (units,)).copy(), (units,),
            "as a bias vector" + (f", times beta={beta}" if beta != 1.0 else ""))
        params["bias"] = imp.param(cname, c, prov)
    x = imp.tensor(node.input[0], prov)
    if a.get("transA", 0):
        x = imp.layer("transpose", [x], {"axes": (1, 0)}, prov)
    attrs = {"units": units, "in_units": in_units, "flatten": False,
             "use_bias": "bias" in params}
    y = imp.layer("dense", [x], attrs, prov, params)
    if matrix_c is not None:  # a C that is not one bias per output: broadcast and added
        y = imp.layer("add", [y, imp.tensor(matrix_c, prov)], {}, prov)
    return _out(imp, node, y, 2)


def _gemm_matrix_c(imp: _Importer, name: str, c: Weight, beta: float) -> str:
    """The name of ``beta * C`` as a weight, for a C added after the product."""
    if beta == 1.0:
        return name
    scaled = f"{name}*{beta}"
    _derived(imp, scaled, c, lambda v: v * np.float32(beta), c.shape, f"times beta={beta}")
    return scaled


def _matmul(imp: _Importer, node: Any, prov: Provenance) -> list[int | None]:
    b = imp.known(node.input[1])
    x = imp.tensor(node.input[0], prov)
    ra = imp.rank(node.input[0])
    if b is not None and len(b.shape) == 2:
        w = _derived(imp, f"{node.input[1]}^T", b, lambda m: np.ascontiguousarray(m.T),
                     (b.shape[1], b.shape[0]), "transposed")
        attrs = {"units": w.shape[0], "in_units": w.shape[1], "flatten": False,
                 "use_bias": False}
        key = imp.param(f"{node.input[1]}^T", w, prov)
        return _out(imp, node, imp.layer("dense", [x], attrs, prov, {"weight": key}), ra)
    y = imp.layer("matmul", [x, imp.tensor(node.input[1], prov)], {}, prov)
    rb = imp.rank(node.input[1])
    return _out(imp, node, y, None if ra is None or rb is None else max(ra, rb))


def _batchnorm(imp: _Importer, node: Any, prov: Provenance) -> list[int | None]:
    if len(node.output) > 1 and any(node.output[1:]):
        raise Unsupported("training mode (its running statistics outputs)")
    roles = ("gamma", "beta", "running_mean", "running_var")
    params = {}
    for role, name in zip(roles, node.input[1:5], strict=True):
        w = imp.known(name)
        if w is None:
            raise Unsupported(f"its {role} (`{name}`) is computed in the graph")
        params[role] = imp.param(name, w, prov)
    eps = float(imp.attrs(node).get("epsilon", 1e-5))
    x = imp.tensor(node.input[0], prov)
    return _out(imp, node, imp.layer("batchnorm", [x], {"epsilon": eps}, prov, params),
                imp.rank(node.input[0]))


def _softmax(op: str) -> _Handler:
    def handle(imp: _Importer, node: Any, prov: Provenance) -> list[int | None]:
        r = imp.rank(node.input[0])
        x = imp.tensor(node.input[0], prov)
        axis = int(imp.attrs(node).get("axis", 1 if imp.opset < 13 else -1))
        if imp.opset >= 13 or (r is not None and axis % r == r - 1):
            return _out(imp, node, imp.layer(op, [x], {"axis": axis}, prov), r)
        if axis != 1 or r is None:
            raise Unsupported(f"axis={axis} before opset 13 (a 2-D coercion at that axis)")
        # before opset 13 the input is read as 2-D (batch, rest) and normalized over rest
        flat = imp.layer("flatten", [x], {}, prov)
        y = imp.layer(op, [flat], {"axis": -1}, prov)
        shape = imp.layer("shape", [x], {}, prov)
        return _out(imp, node, imp.layer("reshape", [y, shape], {}, prov), r)
    return handle


def _reshape(imp: _Importer, node: Any, prov: Provenance) -> list[int | None]:
    # allowzero (opset 14): a 0 in the target is a size of 0, not a copy of the input's
    allowzero = bool(imp.attrs(node).get("allowzero", 0))
    data, target = imp.known(node.input[0]), imp.known(node.input[1])
    if data is not None and target is not None and target.small is not None:
        return _static_reshape(imp, node, prov, data, [int(v) for v in target.small],
                               allowzero)
    x = imp.tensor(node.input[0], prov)
    t = imp.tensor(node.input[1], prov)
    tw = imp.known(node.input[1]) or imp.static.get(node.input[1])
    r = tw.shape[0] if tw is not None and len(tw.shape) == 1 else None
    return _out(imp, node, imp.layer("reshape", [x, t], {"allowzero": allowzero}, prov), r)


def _static_reshape(imp: _Importer, node: Any, prov: Provenance, w: Weight,
                    target: list[int], allowzero: bool) -> list[int | None]:
    """A reshaped weight (a classifier's weight reshaped before its Gemm) is a weight too."""
    dims = [w.shape[j] if t == 0 and j < len(w.shape) and not allowzero else t
            for j, t in enumerate(target)]
    if dims.count(-1) == 1:
        known = prod(d for d in dims if d != -1)
        dims[dims.index(-1)] = prod(w.shape) // known if known else 0
    shape = tuple(dims)
    if prod(shape) != prod(w.shape) or min(shape, default=0) < 0:
        raise Unsupported(f"its constant input of shape {list(w.shape)} cannot be reshaped "
                           f"to {target}")
    imp.static[node.output[0]] = Weight(shape, f"{w.origin} reshaped by Reshape `{prov.path}`",
                                        lambda: w.array().reshape(shape),
                                        None if w.small is None else w.small.reshape(shape))
    return [None]


def _flatten(imp: _Importer, node: Any, prov: Provenance) -> list[int | None]:
    axis = int(imp.attrs(node).get("axis", 1))
    x = imp.tensor(node.input[0], prov)
    return _out(imp, node, imp.layer("flatten", [x], {"axis": axis}, prov), 2)


def _axes(imp: _Importer, node: Any, required: bool) -> list[int] | None:
    """Unsqueeze/Squeeze axes: an attribute before opset 13, an input after."""
    if imp.opset < 13:
        a = imp.attrs(node).get("axes")
        return None if a is None else [int(v) for v in a]
    if len(node.input) > 1 and node.input[1]:
        return imp.ints(node.input[1], "axes")
    if required:
        raise Unsupported("no axes")
    return None


def _unsqueeze(imp: _Importer, node: Any, prov: Provenance) -> list[int | None]:
    axes = _axes(imp, node, True)
    assert axes is not None
    x = imp.tensor(node.input[0], prov)
    r = imp.rank(node.input[0])
    return _out(imp, node, imp.layer("unsqueeze", [x], {"axes": tuple(axes)}, prov),
                None if r is None else r + len(axes))


def _squeeze(imp: _Importer, node: Any, prov: Provenance) -> list[int | None]:
    axes = _axes(imp, node, False)
    x = imp.tensor(node.input[0], prov)
    r = imp.rank(node.input[0])
    attrs = {"axes": None if axes is None else tuple(axes)}
    return _out(imp, node, imp.layer("squeeze", [x], attrs, prov),
                None if r is None or axes is None else r - len(axes))


def _concat(imp: _Importer, node: Any, prov: Provenance) -> list[int | None]:
    ins = [imp.tensor(i, prov) for i in node.input]
    axis = int(imp.attrs(node)["axis"])
    return _out(imp, node, imp.layer("concat", ins, {"axis": axis}, prov),
                imp.rank(node.input[0]))


def _transpose(imp: _Importer, node: Any, prov: Provenance) -> list[int | None]:
    perm = imp.attrs(node).get("perm")
    x = imp.tensor(node.input[0], prov)
    attrs = {"axes": None if perm is None else tuple(int(p) for p in perm)}
    return _out(imp, node, imp.layer("transpose", [x], attrs, prov), imp.rank(node.input[0]))


def _dropout(imp: _Importer, node: Any, prov: Provenance) -> list[int | None]:
    if len(node.output) > 1 and node.output[1]:
        # the mask output: all true at inference; used by nothing in exported models
        users = [n for n in imp.model.graph.node if node.output[1] in n.input]
        outputs = [o.name for o in imp.model.graph.output]
        if users or node.output[1] in outputs:
            raise Unsupported("its mask output is used")
    ratio = float(imp.attrs(node).get("ratio", 0.5))
    x = imp.tensor(node.input[0], prov)
    return _out(imp, node, imp.layer("dropout", [x], {"rate": ratio}, prov),
                imp.rank(node.input[0]))


def _identity(imp: _Importer, node: Any, prov: Provenance) -> list[int | None]:
    x = imp.tensor(node.input[0], prov)
    return _out(imp, node, imp.layer("dropout", [x], {"rate": 0.0}, prov),
                imp.rank(node.input[0]))


def _constant(imp: _Importer, node: Any, prov: Provenance) -> list[int | None]:
    a = imp.attrs(node)
    nh = imp.onnx.numpy_helper
    if "value" in a:
        arr = np.asarray(nh.to_array(a["value"]))
    elif "value_float" in a or "value_int" in a:
        arr = np.asarray(a.get("value_float", a.get("value_int")))
    elif "value_floats" in a or "value_ints" in a:
        arr = np.asarray(a.get("value_floats", a.get("value_ints")))
    else:
        raise Unsupported(f"a Constant with {', '.join(a) or 'no value'}")
    shape = tuple(int(d) for d in arr.shape)
    imp.static[node.output[0]] = Weight(shape, f"Constant `{prov.path}`", lambda: arr,
                                        arr if arr.size <= SMALL else None)
    return [None]


def _constant_of_shape(imp: _Importer, node: Any, prov: Provenance) -> list[int | None]:
    a = imp.attrs(node)
    value = (np.asarray(imp.onnx.numpy_helper.to_array(a["value"])).reshape(-1)
             if "value" in a else np.zeros(1, np.float32))
    shape_w = imp.known(node.input[0])
    if shape_w is not None and shape_w.small is not None:
        shape = tuple(int(d) for d in shape_w.small.reshape(-1))
        fill = value[0]

        def make() -> np.ndarray:
            return np.full(shape, fill, dtype=value.dtype)

        small = make() if prod(shape) <= SMALL else None
        imp.static[node.output[0]] = Weight(
            shape, f"ConstantOfShape `{prov.path}` of {shape_w.origin}", make, small)
        return [None]
    s = imp.tensor(node.input[0], prov)
    return _out(imp, node, imp.layer("constant_of_shape", [s], {"value": value}, prov), None)


def _shape(imp: _Importer, node: Any, prov: Provenance) -> list[int | None]:
    a = imp.attrs(node)
    attrs: dict[str, Any] = {k: int(a[k]) for k in ("start", "end") if k in a}
    x = imp.tensor(node.input[0], prov)
    return _out(imp, node, imp.layer("shape", [x], attrs, prov), 1)


def _gather(imp: _Importer, node: Any, prov: Provenance) -> list[int | None]:
    axis = int(imp.attrs(node).get("axis", 0))
    data, idx = imp.tensor(node.input[0], prov), imp.tensor(node.input[1], prov)
    r0, r1 = imp.rank(node.input[0]), imp.rank(node.input[1])
    return _out(imp, node, imp.layer("gather", [data, idx], {"axis": axis}, prov),
                None if r0 is None or r1 is None else r0 + r1 - 1)


def _cast(imp: _Importer, node: Any, prov: Provenance) -> list[int | None]:
    to = imp.onnx.helper.tensor_dtype_to_np_dtype(int(imp.attrs(node)["to"]))
    x = imp.tensor(node.input[0], prov)
    return _out(imp, node, imp.layer("cast", [x], {"to": str(to)}, prov),
                imp.rank(node.input[0]))


def _slice(imp: _Importer, node: Any, prov: Provenance) -> list[int | None]:
    if imp.opset < 10:
        a = imp.attrs(node)
        spec: dict[str, Any] = {k: tuple(int(v) for v in a[k]) for k in ("starts", "ends", "axes")
                                if k in a}
    else:
        names = ("starts", "ends", "axes", "steps")
        spec = {k: tuple(imp.ints(i, k)) for k, i in zip(names, node.input[1:], strict=False)
                if i}
    x = imp.tensor(node.input[0], prov)
    return _out(imp, node, imp.layer("slice", [x], spec, prov), imp.rank(node.input[0]))


def _clip(imp: _Importer, node: Any, prov: Provenance) -> list[int | None]:
    attrs: dict[str, Any] = {}
    if imp.opset < 11:
        a = imp.attrs(node)
        attrs.update({k: float(a[k]) for k in ("min", "max") if k in a})
    else:
        for k, name in zip(("min", "max"), node.input[1:], strict=False):
            if name:
                w = imp.known(name)
                if w is None or w.small is None:
                    raise Unsupported(f"its {k} bound is computed in the graph")
                attrs[k] = float(w.small.reshape(-1)[0])
    if "min" in attrs and "max" in attrs and attrs["min"] > attrs["max"]:
        attrs["min"] = attrs["max"]  # ONNX: min above max sets every value to max
    x = imp.tensor(node.input[0], prov)
    return _out(imp, node, imp.layer("clip", [x], attrs, prov), imp.rank(node.input[0]))


def _where(imp: _Importer, node: Any, prov: Provenance) -> list[int | None]:
    ins = [imp.tensor(i, prov) for i in _inputs(node, 3, 3)]
    ranks = [imp.rank(i) for i in node.input]
    return _out(imp, node, imp.layer("where", ins, {}, prov),
                None if None in ranks else max(r for r in ranks if r is not None))


_ONNX_DTYPES: weakref.WeakKeyDictionary[Any, dict[str, int]] = weakref.WeakKeyDictionary()


def _dtype_of(imp: _Importer, name: str) -> str | None:
    """The numpy dtype name of ONNX tensor ``name`` when the file says it: a graph input's
    declared type, a constant's values, else ONNX's own type inference over the model."""
    if name in imp.input_types:
        return imp.input_types[name].dtype
    w = imp.known(name)
    if w is not None and w.small is not None:
        return str(w.small.dtype)
    if imp not in _ONNX_DTYPES:  # once per import
        try:
            inferred = imp.onnx.shape_inference.infer_shapes(imp.model)
        except Exception:  # an ill-formed model: its types are not known
            inferred = imp.model
        g = inferred.graph
        _ONNX_DTYPES[imp] = {
            vi.name: vi.type.tensor_type.elem_type
            for vi in [*g.input, *g.value_info, *g.output] if vi.type.tensor_type.elem_type}
        _ONNX_DTYPES[imp].update({t.name: t.data_type for t in g.initializer})
    elem = _ONNX_DTYPES[imp].get(name)
    return None if elem is None else str(imp.onnx.helper.tensor_dtype_to_np_dtype(elem))


def _cast_like(imp: _Importer, node: Any, prov: Provenance) -> list[int | None]:
    """CastLike(x, like): Cast to the element type of ``like``, read from the file."""
    to = _dtype_of(imp, _inputs(node, 2, 2)[1])
    if to is None:
        raise Unsupported(f"the element type of its second input `{node.input[1]}` is not "
                           "known from the file", "give the value a type (value_info), or "
                           "use Cast")
    x = imp.tensor(node.input[0], prov)
    return _out(imp, node, imp.layer("cast", [x], {"to": to}, prov), imp.rank(node.input[0]))


# ONNX Reduce* -> the reduction op, and the opset from which its axes are an input
_REDUCE = {"ReduceSum": ("sum", 13), "ReduceMean": ("mean", 18), "ReduceMax": ("max", 18),
           "ReduceMin": ("min", 18)}
# ONNX: a max or min over no values is -inf or inf (numpy's ``initial``)
_REDUCE_EMPTY = {"max": -np.inf, "min": np.inf}


def _reduce(imp: _Importer, node: Any, prov: Provenance) -> list[int | None]:
    op, axes_input_since = _REDUCE[node.op_type]
    a = imp.attrs(node)
    if imp.opset >= axes_input_since:
        given = len(node.input) > 1 and bool(node.input[1])
        axes = imp.ints(node.input[1], "axes") if given else []
    else:
        axes = [int(v) for v in a.get("axes", [])]
    keep = bool(a.get("keepdims", 1))
    # no axes: every axis, or none at all (the identity) with noop_with_empty_axes
    axis: tuple[int, ...] | None = tuple(axes) if axes or a.get("noop_with_empty_axes", 0) \
        else None
    attrs: dict[str, Any] = {"axis": axis, "keepdims": keep}
    if op in _REDUCE_EMPTY:
        attrs["initial"] = _REDUCE_EMPTY[op]
    r = imp.rank(node.input[0])
    x = imp.tensor(node.input[0], prov)
    out_rank = r if keep or r is None else (0 if axis is None else r - len(set(axis)))
    return _out(imp, node, imp.layer(op, [x], attrs, prov), out_rank)


def _split(imp: _Importer, node: Any, prov: Provenance) -> list[int | None]:
    """One ``split`` node per output, each named after the ONNX node: sizes from the
    ``split`` attribute (before opset 13) or input (from 13), else equal parts (from opset
    18 ``num_outputs`` of them, the last one smaller when the axis does not divide)."""
    a = imp.attrs(node)
    count = len(node.output)
    if imp.opset < 13:
        sizes = [int(v) for v in a["split"]] if "split" in a else None
    elif len(node.input) > 1 and node.input[1]:
        sizes = imp.ints(node.input[1], "split")
    else:
        sizes = None
    if imp.opset >= 18 and "num_outputs" in a and int(a["num_outputs"]) != count:
        raise Unsupported(f"num_outputs={a['num_outputs']} for {count} outputs",
                          "give the node one output per part")
    attrs: dict[str, Any] = {"axis": int(a.get("axis", 0)), "count": count,
                             "sizes": None if sizes is None else tuple(sizes),
                             "even": imp.opset < 18}
    x = imp.tensor(node.input[0], prov)
    outs: list[int | None] = []
    for i, name in enumerate(node.output):
        outs.append(imp.layer("split", [x], {**attrs, "index": i}, prov) if name else None)
        imp.ranks[name] = imp.rank(node.input[0])
    return outs


def _prelu(imp: _Importer, node: Any, prov: Provenance) -> list[int | None]:
    slope = imp.known(node.input[1])
    r = imp.rank(node.input[0])
    if slope is None or r is None or r < 2:
        raise Unsupported("its slope is computed in the graph, or its input's rank is unknown")
    c = prod(slope.shape)
    per_channel = (1,) * (len(slope.shape) - 1) if len(slope.shape) > 1 else ()
    if c != 1 and (slope.shape[1:] != per_channel or len(slope.shape) != r - 1):
        # any other slope broadcasts as ONNX says: relu(x) + slope * min(x, 0)
        x = imp.tensor(node.input[0], prov)
        pos = imp.layer("relu", [x], {}, prov)
        neg = imp.layer("clip", [x], {"max": 0.0}, prov)
        scaled = imp.layer("mul", [neg, imp.tensor(node.input[1], prov)], {}, prov)
        return _out(imp, node, imp.layer("add", [pos, scaled], {}, prov), r)
    alpha = _derived(imp, f"{node.input[1]}[{c}]", slope, lambda a: a.reshape(-1), (c,),
                     "as one slope per channel")
    key = imp.param(f"{node.input[1]}[{c}]", alpha, prov)
    x = imp.tensor(node.input[0], prov)
    return _out(imp, node, imp.layer("prelu", [x], {"in_channels": c}, prov, {"alpha": key}), r)


HANDLERS: dict[str, _Handler] = {
    "Conv": _conv, "MaxPool": _pool("max"), "AveragePool": _pool("avg"),
    "GlobalAveragePool": _global_pool("avg"), "GlobalMaxPool": _global_pool("max"),
    "Gemm": _gemm, "MatMul": _matmul, "BatchNormalization": _batchnorm,
    "LRN": _unary("lrn"),
    "Relu": _unary("relu"), "Sigmoid": _unary("sigmoid"), "Tanh": _unary("tanh"),
    "Softplus": _unary("softrelu"), "Softsign": _unary("softsign"), "Exp": _unary("exp"),
    "Log": _unary("log"), "Sqrt": _unary("sqrt"), "Abs": _unary("abs"),
    "LeakyRelu": _unary("leaky_relu"),
    "Elu": _unary("elu"),
    "Selu": _unary("selu"),
    "HardSigmoid": _unary("hard_sigmoid"),
    "Clip": _clip, "PRelu": _prelu,
    "Softmax": _softmax("softmax"), "LogSoftmax": _softmax("log_softmax"),
    "Add": _binary("add"), "Sub": _binary("sub"), "Mul": _binary("mul"),
    "Div": _binary("div"), "Sum": _binary("add", variadic=True),
    "Concat": _concat, "Flatten": _flatten, "Reshape": _reshape, "Transpose": _transpose,
    "Unsqueeze": _unsqueeze, "Squeeze": _squeeze, "Dropout": _dropout, "Identity": _identity,
    "Constant": _constant, "ConstantOfShape": _constant_of_shape, "Shape": _shape,
    "Gather": _gather, "Cast": _cast, "Slice": _slice, "CastLike": _cast_like,
    "Max": _binary("maximum", variadic=True), "Min": _binary("minimum", variadic=True),
    "Less": _binary("less"),
    "Greater": _binary("greater"), "Where": _where, "Split": _split,
    **{op_type: _reduce for op_type in _REDUCE},
}
SUPPORTED = tuple(sorted(HANDLERS))
