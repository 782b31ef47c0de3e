"""Export a graph to ONNX (opset 17): with its weights for ONNX Runtime, or without them
(weights become graph inputs) for comparing shape inference.

Needs the optional ``onnx`` package (``pip install shapegraph[onnx]``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from shapegraph.core.dims import Dim, Hole, Sym, dim_str
from shapegraph.core.graph import Graph, Node
from shapegraph.core.types import TensorType
from shapegraph.onnx.weights import require_onnx
from shapegraph.opset.registry import get_op

__all__ = ["OPSET", "exportable", "to_onnx"]

OPSET = 17
_REDUCE = {"mean": "ReduceMean", "sum": "ReduceSum", "max": "ReduceMax", "min": "ReduceMin"}
_AXES_INPUT_SINCE = {"ReduceSum": 13}  # the opset whose Reduce* takes axes as an input (18)


def _dim_proto(d: Dim | None) -> int | str | None:
    if type(d) is int:
        return d
    if d is None or isinstance(d, Hole):
        return None
    return d.name if isinstance(d, Sym) else dim_str(d)


class _Exporter:
    def __init__(self, graph: Graph, params: Mapping[str, np.ndarray] | None,
                 param_shapes: Mapping[str, tuple[Dim, ...]]) -> None:
        self.param_shapes = param_shapes
        self.onnx = require_onnx("ONNX export")
        self.h = self.onnx.helper
        self.g = graph
        self.params = params
        self.nodes: list[Any] = []
        self.inits: list[Any] = []
        self.extra_inputs: list[Any] = []
        self.counter = 0
        self.done: set[str] = set()

    def name(self, v: int) -> str:
        val = self.g.values[v]
        return val.name if val.producer is None else f"v{v}"

    def fresh(self, hint: str) -> str:
        self.counter += 1
        return f"{hint}_{self.counter}"

    def const(self, array: np.ndarray, hint: str = "c") -> str:
        name = self.fresh(hint)
        self.inits.append(self.onnx.numpy_helper.from_array(np.asarray(array), name))
        return name

    def param(self, node: Node, role: str, transform: Any = None,
              shape: tuple[Dim, ...] | None = None) -> str:
        key = node.param_key(role)
        name = key if transform is None else f"{key}__{transform.__name__}"
        if name in self.done:
            return name
        self.done.add(name)
        if self.params is not None:
            arr = np.asarray(self.params[key], dtype=np.float32)
            arr = transform(arr) if transform is not None else arr
            self.inits.append(self.onnx.numpy_helper.from_array(arr, name))
        else:
            base = self.param_shapes.get(key) or self.g.params[key].shape
            dims = [_dim_proto(d) for d in (shape or base)]
            self.extra_inputs.append(self.h.make_tensor_value_info(
                name, self.onnx.TensorProto.FLOAT, dims))
        return name

    def add(self, op: str, ins: list[str], outs: list[str], **attrs: Any) -> None:
        self.nodes.append(self.h.make_node(op, ins, outs, **attrs))

    def node(self, n: Node, types: Mapping[int, TensorType]) -> None:
        """One shapegraph node as ONNX nodes: the op record's ONNX op type when it maps
        onto one node (its attributes are the schema's that name an ONNX attribute), else
        the op's rule in ``_RULES``."""
        x = [self.name(v) for v in n.inputs]
        y = [self.name(v) for v in n.outputs]
        rule = _RULES.get(n.op)
        if rule is not None:
            rule(self, n, x, y, types)
            return
        rec = get_op(n.op)
        if not rec.onnx:
            raise NotImplementedError(f"ONNX export of op {n.op!r} (layer "
                                      f"`{n.prov.display_path}`) is not supported")
        self.add(rec.onnx, x, y, **{a.onnx: _onnx_attr(n.attrs[a.name]) for a in rec.schema
                                    if a.onnx and n.attrs[a.name] is not None})

    def _dense(self, n: Node, x: list[str], y: list[str], types: Mapping[int, TensorType]
               ) -> None:
        t = types.get(n.inputs[0])
        rank = t.rank if t is not None else 2
        has_bias = "bias" in dict(n.params)
        if n.attrs["flatten"]:
            src = x[0]
            if rank != 2:
                src = self.fresh("flat")
                self.add("Flatten", x, [src], axis=1)
            ins = [src, self.param(n, "weight")]
            if has_bias:
                ins.append(self.param(n, "bias"))
            self.add("Gemm", ins, y, transB=1)
            return
        key = n.param_key("weight")
        wshape = self.param_shapes.get(key) or self.g.params[key].shape
        w = self.param(n, "weight", _transposed, tuple(reversed(wshape)))  # type: ignore[arg-type]
        if not has_bias:
            self.add("MatMul", [x[0], w], y)
            return
        mm = self.fresh("mm")
        self.add("MatMul", [x[0], w], [mm])
        self.add("Add", [mm, self.param(n, "bias")], y)

    def _conv(self, n: Node, x: list[str], y: list[str], types: Mapping[int, TensorType]
              ) -> None:
        a = n.attrs
        ins = [x[0], self.param(n, "weight")]
        if "bias" in dict(n.params):
            ins.append(self.param(n, "bias"))
        self.add("Conv", ins, y, kernel_shape=list(a["kernel"]), strides=list(a["strides"]),
                 dilations=list(a["dilation"]), group=a["groups"], **_padding(a))

    def _pool(self, n: Node, x: list[str], y: list[str], types: Mapping[int, TensorType]
              ) -> None:
        a = n.attrs
        if a["ceil_mode"] and not a["ceil_drop_last"]:
            _mxnet_ceil_window(n, types.get(n.inputs[0]))
        kw: dict[str, Any] = {"kernel_shape": list(a["kernel"]), "strides": list(a["strides"]),
                              "ceil_mode": int(a["ceil_mode"]), **_padding(a)}
        if a["kind"] == "avg":
            kw["count_include_pad"] = int(a["count_include_pad"])
        if any(d != 1 for d in a["dilation"]):  # MaxPool has dilations from opset 10,
            if a["kind"] == "avg" and OPSET < 19:  # AveragePool from 19
                raise NotImplementedError(
                    f"ONNX export of a dilated average pool (layer `{n.prov.display_path}`): "
                    f"AveragePool takes dilations from opset 19, the export writes {OPSET}")
            kw["dilations"] = list(a["dilation"])
        self.add("MaxPool" if a["kind"] == "max" else "AveragePool", x, y, **kw)

    def _reduce(self, n: Node, x: list[str], y: list[str], types: Mapping[int, TensorType]
                ) -> None:
        """Reduce*: axes are an input of ReduceSum from opset 13 and of the others from
        opset 18, an attribute before; no axes reduce everything."""
        axis = n.attrs["axis"]
        keep = int(n.attrs["keepdims"])
        op = _REDUCE[n.op]
        if axis is None:
            self.add(op, x, y, keepdims=keep)
            return
        axes = [int(axis)] if isinstance(axis, int) else [int(a) for a in axis]
        if not axes:  # numpy: reduce nothing (ONNX would reduce everything)
            self.add("Identity", x, y)
        elif _AXES_INPUT_SINCE.get(op, 18) <= OPSET:
            self.add(op, [x[0], self.const(np.array(axes, np.int64), "axes")], y,
                     keepdims=keep)
        else:
            self.add(op, x, y, axes=axes, keepdims=keep)

    def _batchnorm(self, n: Node, x: list[str], y: list[str],
                   types: Mapping[int, TensorType]) -> None:
        ins = [x[0]] + [self.param(n, r) for r in ("gamma", "beta", "running_mean",
                                                    "running_var")]
        self.add("BatchNormalization", ins, y, epsilon=n.attrs["epsilon"])

    def _layernorm(self, n: Node, x: list[str], y: list[str],
                   types: Mapping[int, TensorType]) -> None:
        self.add("LayerNormalization", [x[0], self.param(n, "gamma"), self.param(n, "beta")],
                 y, axis=n.attrs["axis"], epsilon=n.attrs["epsilon"])

    def _embedding(self, n: Node, x: list[str], y: list[str],
                   types: Mapping[int, TensorType]) -> None:
        idx = self.fresh("idx")
        self.add("Cast", x, [idx], to=self.onnx.TensorProto.INT64)
        self.add("Gather", [self.param(n, "weight"), idx], y, axis=0)

    def _silu(self, n: Node, x: list[str], y: list[str], types: Mapping[int, TensorType]
              ) -> None:
        src, sig = x[0], self.fresh("silu")
        if n.attrs["beta"] != 1.0:
            src = self.fresh("silu")
            self.add("Mul", [x[0], self.const(np.array(n.attrs["beta"], np.float32))], [src])
        self.add("Sigmoid", [src], [sig])
        self.add("Mul", [x[0], sig], y)

    def _prelu(self, n: Node, x: list[str], y: list[str], types: Mapping[int, TensorType]
               ) -> None:
        """ONNX broadcasts the slope from the last axis: (C,) becomes (C, 1, ..., 1)."""
        t = types.get(n.inputs[0])
        rank = t.rank if t is not None else 4
        shape = (-1,) + (1,) * (rank - 2)

        def per_channel(a: np.ndarray) -> np.ndarray:
            return a.reshape(shape)

        key = n.param_key("alpha")
        c = (self.param_shapes.get(key) or self.g.params[key].shape)[0]
        wshape = None if c is None else (c,) + (1,) * (rank - 2)
        self.add("PRelu", [x[0], self.param(n, "alpha", per_channel, wshape)], y)

    def _gelu(self, n: Node, x: list[str], y: list[str], types: Mapping[int, TensorType]
              ) -> None:
        half, one = self.const(np.array(0.5, np.float32)), self.const(np.array(1.0, np.float32))
        r2 = self.const(np.array(np.sqrt(2.0), np.float32))
        t1, t2, t3, t4 = (self.fresh("gelu") for _ in range(4))
        self.add("Div", [x[0], r2], [t1])
        self.add("Erf", [t1], [t2])
        self.add("Add", [t2, one], [t3])
        self.add("Mul", [x[0], t3], [t4])
        self.add("Mul", [t4, half], y)


_Rule = Callable[[_Exporter, Node, list[str], list[str], Mapping[int, TensorType]], None]


def _mxnet_ceil_window(n: Node, t: TensorType | None) -> None:
    """A Gluon pool in ceil mode keeps a last window that starts in the end padding; ONNX
    (and PyTorch) drop it. Export only what ONNX computes alike: refuse the other case
    rather than write a model whose output is smaller."""
    from shapegraph.opset.conv import window_out

    a = n.attrs
    if t is None:
        return
    for j in range(a["ndim"]):
        size = t.shape[2 + j]
        args = (size, a["kernel"][j], a["strides"][j], a["padding"][j], 1, True,
                a["pads_end"][j])
        if type(size) is int and window_out(*args) != window_out(*args, drop_last=True):
            raise NotImplementedError(
                f"ONNX export of layer {n.prov.describe()}: with ceil_mode its last window "
                f"along dim {2 + j} starts in the padding (input size {size}); MXNet keeps "
                "that window and ONNX drops it, so the exported model would compute a "
                "smaller output. Use padding or ceil_mode=False to export it")


def _padding(a: Mapping[str, Any]) -> dict[str, Any]:
    """A window op's padding: ``auto_pad`` SAME_* as it is (it follows the input size),
    else the explicit ``pads``."""
    if a["auto_pad"] != "NOTSET":
        return {"auto_pad": a["auto_pad"]}
    return {"pads": [*a["padding"], *a["pads_end"]]}


def _split_part(ex: _Exporter, n: Node, x: list[str], y: list[str],
                types: Mapping[int, TensorType]) -> None:
    """One part of a Split as a Slice of its bounds (equal parts need the axis size)."""
    a = n.attrs
    sizes = a["sizes"]
    if sizes is None:
        t = types.get(n.inputs[0])
        size = t.shape[a["axis"]] if t is not None else None
        if type(size) is not int:
            raise NotImplementedError(
                f"ONNX export of an equal split of a dim that is not a known size (layer "
                f"`{n.prov.display_path}`)")
        chunk = -(-size // a["count"])
        sizes = tuple(max(0, min(chunk, size - i * chunk)) for i in range(a["count"]))
    start = sum(sizes[:a["index"]])
    ex.add("Slice", [x[0], *(ex.const(np.array([v], np.int64), k) for k, v in (
        ("starts", start), ("ends", start + sizes[a["index"]]), ("axes", a["axis"])))], y)


def _pool_argmax(ex: _Exporter, n: Node, x: list[str], y: list[str],
                 types: Mapping[int, TensorType]) -> None:
    """MaxPool's indices: a MaxPool whose values output is left unused."""
    a = n.attrs
    kw: dict[str, Any] = {"kernel_shape": list(a["kernel"]), "strides": list(a["strides"]),
                          "dilations": list(a["dilation"]), "ceil_mode": int(a["ceil_mode"]),
                          "storage_order": a["storage_order"], **_padding(a)}
    if a["ceil_mode"] and not a["ceil_drop_last"]:
        _mxnet_ceil_window(n, types.get(n.inputs[0]))
    ex.add("MaxPool", x, [ex.fresh("unused_values"), y[0]], **kw)


def _onnx_attr(value: Any) -> Any:
    """An attribute value as onnx.helper takes it (lists, not tuples)."""
    return list(value) if isinstance(value, tuple) else value


# the ops that are more than one ONNX node, or carry attributes; the others map through
# their record's ``onnx`` op type
_RULES: dict[str, _Rule] = {
    "dense": _Exporter._dense, "conv": _Exporter._conv, "pool": _Exporter._pool,
    "global_pool": lambda ex, n, x, y, t: ex.add(
        "GlobalMaxPool" if n.attrs["kind"] == "max" else "GlobalAveragePool", x, y),
    **{op: _Exporter._reduce for op in _REDUCE},
    "square": lambda ex, n, x, y, t: ex.add("Mul", [x[0], x[0]], y),
    "flatten": lambda ex, n, x, y, t: ex.add("Flatten", x, y, axis=n.attrs["axis"]),
    "reshape": lambda ex, n, x, y, t: ex.add("Reshape", x if len(x) == 2 else [
        x[0], ex.const(np.array(n.attrs["shape"], np.int64), "shape")], y,
        **({"allowzero": 1} if n.attrs["allowzero"] else {})),
    "transpose": lambda ex, n, x, y, t: ex.add(
        "Transpose", x, y, **({"perm": list(n.attrs["axes"])} if n.attrs["axes"] else {})),
    "gelu": _Exporter._gelu, "batchnorm": _Exporter._batchnorm,
    "silu": _Exporter._silu, "prelu": _Exporter._prelu,
    "clip": lambda ex, n, x, y, t: ex.add("Clip", [x[0], *(
        ex.const(np.array(n.attrs[k], np.float32), k) for k in ("min", "max"))], y),
    "layernorm": _Exporter._layernorm, "embedding": _Exporter._embedding,
    "param": lambda ex, n, x, y, t: ex.add("Identity", [ex.param(n, "value")], y),
    "unsqueeze": lambda ex, n, x, y, t: ex.add(
        "Unsqueeze", [x[0], ex.const(np.array(n.attrs["axes"], np.int64), "axes")], y),
    "squeeze": lambda ex, n, x, y, t: ex.add("Squeeze", [x[0], *(
        [ex.const(np.array(n.attrs["axes"], np.int64), "axes")] if n.attrs["axes"]
        is not None else [])], y),
    "slice": lambda ex, n, x, y, t: ex.add("Slice", [x[0], *(
        ex.const(np.array(n.attrs[k], np.int64), k) for k in ("starts", "ends", "axes", "steps")
        if n.attrs[k] is not None)], y),
    "cast": lambda ex, n, x, y, t: ex.add(
        "Cast", x, y, to=ex.h.np_dtype_to_tensor_dtype(np.dtype(n.attrs["to"]))),
    "constant_of_shape": lambda ex, n, x, y, t: ex.add(
        "ConstantOfShape", x, y, value=ex.h.make_tensor(
            "value", ex.onnx.TensorProto.FLOAT, [1], [float(n.attrs["value"].reshape(-1)[0])])),
    "constant": lambda ex, n, x, y, t: ex.add(
        "Identity", [ex.const(n.attrs["value"], "const")], y),
    "split": _split_part, "pool_argmax": _pool_argmax,
}


def exportable(op: str) -> bool:
    """Whether ONNX export knows ``op`` (a rule here, or the record's ONNX op type)."""
    return op in _RULES or bool(get_op(op).onnx)


def _transposed(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a.T)


def to_onnx(
    graph: Graph,
    input_types: Mapping[str, TensorType],
    params: Mapping[str, np.ndarray] | None = None,
    types: Mapping[int, TensorType | None] | None = None,
    param_shapes: Mapping[str, tuple[Dim, ...]] | None = None,
    name: str = "shapegraph",
) -> Any:
    """An ``onnx.ModelProto`` of ``graph``.

    ``params`` (arrays by key) become initializers; without them the weights are graph
    inputs shaped by ``param_shapes`` (for instance a Resolution's ``param_dims``).
    ``types`` (value id -> type) gives the outputs their declared shapes.
    """
    ex = _Exporter(graph, params, param_shapes or {})
    known: dict[int, TensorType] = {gi.value: input_types[gi.name] for gi in graph.inputs}
    known.update({k: v for k, v in (types or {}).items() if v is not None})
    for n in graph.nodes:
        ex.node(n, known)
    h, tp = ex.h, ex.onnx.TensorProto
    inputs = [h.make_tensor_value_info(gi.name, tp.FLOAT,
                                       [_dim_proto(d) for d in input_types[gi.name].shape])
              for gi in graph.inputs]
    outputs = []
    for v in graph.outputs:
        t = known.get(v)
        shape = [_dim_proto(d) for d in t.shape] if t is not None else None
        elem = h.np_dtype_to_tensor_dtype(np.dtype(t.dtype)) if t is not None else tp.FLOAT
        outputs.append(h.make_tensor_value_info(ex.name(v), elem, shape))
    g = h.make_graph(ex.nodes, name, inputs + ex.extra_inputs, outputs, ex.inits)
    model = h.make_model(g, opset_imports=[h.make_opsetid("", OPSET)],
                         producer_name="shapegraph")
    model.ir_version = min(model.ir_version, 8)
    return model
