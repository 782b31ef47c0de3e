"""Import an ONNX model onto the op records: ``load_onnx(path_or_proto) -> OnnxModel``.

Each ONNX node becomes one or a few nodes of the graph, built through
:func:`~shapegraph.opset.build.add_layer` like a traced network's, with per-opset
semantics (Softmax's 2-D coercion before opset 13, Unsqueeze's axes as an attribute before
13 and an input after, Clip's bounds, Slice's inputs from 10...). Weights known when the
file is read (initializers, ``Constant`` nodes, ``ConstantOfShape`` of a constant shape)
become parameters with the shape the file gives them, so a convolution whose weight does
not fit its input is a conflict with the weight's origin named; their values are only
made when the model runs (a ``ConstantOfShape`` weight of VGG's 400 MB is never filled to
check it). A node whose op (or configuration) is not supported is one SG213 diagnostic;
its outputs are unknown and the rest of the graph is still checked.

Provenance: a node's layer path is its ONNX ``name`` (or ``<op type>_<index>`` when it
has none), its kind the op type, its location the file.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from math import prod
from typing import Any

import numpy as np

from shapegraph.core.graph import Graph, GraphBuilder, ParamSpec, Provenance
from shapegraph.core.types import TensorType
from shapegraph.onnx.handlers import HANDLERS, SAME_RANK, SUPPORTED
from shapegraph.onnx.weights import SMALL, OnnxError, Unsupported, Weight, require_onnx
from shapegraph.opset.build import add_layer

__all__ = ["SUPPORTED", "OnnxError", "OnnxModel", "Weight", "load_onnx"]

# the newest default-domain opset whose semantics this importer knows: from 22 to 25 the
# supported ops only gained element types (bfloat16, float8, int4...; Cast its round_mode
# for float8e8m0), so their float32 semantics are opset 21's
MAX_OPSET = 25


@dataclass
class OnnxModel:
    """An imported model: the graph, its weights (made on demand), the graph inputs'
    declared types, the file and opset. ``sg.check``, ``sg.compile`` and calling it with
    arrays work as for a network written with ``shapegraph.nn``."""

    graph: Graph
    weights: dict[str, Weight]
    input_types: dict[str, TensorType]
    source: str
    opset: int
    output_names: tuple[str, ...]
    # the compiled model a call runs (a plan per input shape), made at the first call
    _runner: Any = field(default=None, init=False, repr=False)

    def params(self) -> dict[str, np.ndarray]:
        """Every parameter's values (float32), made now."""
        return {k: np.asarray(self.weights[k].array(), dtype=np.float32)
                for k in self.graph.params}

    def types_for(self, inputs: Sequence[Any]) -> dict[str, TensorType]:
        """The input types to check or compile for: the declared ones, or for each given
        input (an ``sg.Input``, a shape, or a sample array) that one instead."""
        from shapegraph.infer.propagate import as_input_type

        names = list(self.input_types)
        if len(inputs) > len(names):
            raise TypeError(f"{os.path.basename(self.source)} takes {len(names)} input(s) "
                            f"({', '.join(names)}), got {len(inputs)}")
        out = dict(self.input_types)
        for name, given in zip(names, inputs, strict=False):
            declared = self.input_types[name]
            spec = getattr(given, "shape", given)
            dtype = getattr(given, "dtype", declared.dtype)
            if hasattr(given, "name") and isinstance(given.name, str) and given.name != name:
                raise TypeError(f"input `{given.name}` is not an input of "
                                f"{os.path.basename(self.source)} ({', '.join(names)})")
            out[name] = as_input_type(tuple(spec), declared.rank, name, str(np.dtype(dtype)))
        return out

    def __call__(self, *arrays: Any) -> Any:
        """Run the model (compiled once per input shape, as a network's call)."""
        if self._runner is None:
            from shapegraph.executor.model import CompiledModel

            self._runner = CompiledModel(self.graph, self.params())
        return self._runner(*arrays)

    def __repr__(self) -> str:
        ins = ", ".join(f"{n}: {t}" for n, t in self.input_types.items())
        return (f"OnnxModel({os.path.basename(self.source)}, opset {self.opset}, "
                f"{len(self.graph.nodes)} nodes, inputs {ins})")


def load_onnx(source: str | os.PathLike[str] | Any) -> OnnxModel:
    """Read an ONNX model (a path or a ``ModelProto``) onto shapegraph's op records."""
    onnx = require_onnx("ONNX import")
    if isinstance(source, onnx.ModelProto):
        return _Importer(source, "<ModelProto>").run()
    path = os.fspath(source)
    if os.path.isdir(path):
        raise OnnxError(f"{path}: is a directory, not an ONNX file")
    if not os.path.exists(path):
        raise OnnxError(f"{path}: no such file")
    try:
        model = onnx.load(path)
    except Exception as e:  # protobuf's DecodeError and friends: not a model
        raise OnnxError(f"{path}: not an ONNX model ({type(e).__name__}: "
                        f"{str(e).splitlines()[0] if str(e) else 'unreadable'})") from None
    if not model.graph.node and not model.graph.input:
        raise OnnxError(f"{path}: not an ONNX model (no graph)")
    return _Importer(model, path).run()


# --------------------------------------------------------------------------- the importer


class _Importer:
    def __init__(self, model: Any, path: str) -> None:
        self.onnx = require_onnx("ONNX import")
        self.model, self.path = model, path
        self.file = os.path.basename(path) if path != "<ModelProto>" else None
        self.opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")),
                          1)
        if self.opset > MAX_OPSET:
            raise OnnxError(f"{path}: opset {self.opset} is newer than this importer knows "
                            f"(up to {MAX_OPSET})")
        self.b = GraphBuilder()
        self.values: dict[str, int] = {}  # ONNX tensor name -> value id
        self.ranks: dict[str, int | None] = {}
        self.static: dict[str, Weight] = {}  # tensors known when the file is read
        self.weights: dict[str, Weight] = {}  # parameter key -> weight
        self.input_types: dict[str, TensorType] = {}

    # -- reading ------------------------------------------------------------------------
    def run(self) -> OnnxModel:
        g = self.model.graph
        for init in g.initializer:
            self.static[init.name] = self._initializer(init)
        for vi in g.input:
            if vi.name not in self.static:  # old exporters list initializers as inputs
                self._graph_input(vi)
        for k, node in enumerate(g.node):
            self._node(k, node)
        outs = []
        for o in g.output:
            outs.append(self.tensor(o.name, Provenance(o.name, "output", self.file)))
        graph = self.b.build(outs)
        return OnnxModel(graph, self.weights, self.input_types, self.path, self.opset,
                         tuple(o.name for o in g.output))

    def _initializer(self, init: Any) -> Weight:
        shape = tuple(int(d) for d in init.dims)
        nh = self.onnx.numpy_helper

        def make() -> np.ndarray:
            return np.asarray(nh.to_array(init))

        small = make() if prod(shape) <= SMALL else None
        return Weight(shape, f"initializer `{init.name}`", make, small)

    def _graph_input(self, vi: Any) -> None:
        t = vi.type.tensor_type
        if not t.HasField("shape"):
            raise OnnxError(f"{self.path}: graph input `{vi.name}` has no shape; give it "
                            f"with --input {vi.name}=DIMS")
        dims: list[int | str | None] = []
        for d in t.shape.dim:
            if d.HasField("dim_value"):
                dims.append(int(d.dim_value))
            elif d.HasField("dim_param") and d.dim_param:
                dims.append(d.dim_param)
            else:
                dims.append(None)
        dtype = str(self.onnx.helper.tensor_dtype_to_np_dtype(t.elem_type)) if t.elem_type \
            else "float32"
        from shapegraph.infer.propagate import as_input_type

        self.input_types[vi.name] = as_input_type(dims, len(dims), vi.name, dtype)
        self.values[vi.name] = self.b.add_input(vi.name, len(dims), dtype)
        self.ranks[vi.name] = len(dims)

    def _node(self, k: int, node: Any) -> None:
        name = node.name or f"{node.op_type}_{k}"
        prov = Provenance(name, node.op_type, self.file, None, node.op_type)
        handler = HANDLERS.get(node.op_type) if node.domain in ("", "ai.onnx") else None
        try:
            if handler is None:
                raise Unsupported("", "")
            self._check_arity(node)
            outs = handler(self, node, prov)
        except Unsupported as e:
            outs = self._unsupported(node, prov, e)
        for o, v in zip(node.output, outs, strict=False):
            if o and v is not None:
                self.values[o] = v

    def _check_arity(self, node: Any) -> None:
        """The node has as many inputs and outputs as its op's ONNX schema allows at this
        opset (a malformed file is one diagnostic at the node, not a traceback)."""
        try:
            schema = self.onnx.defs.get_schema(node.op_type, self.opset, node.domain)
        except Exception:  # no schema known to the onnx package: the handler decides
            return
        for what, n, lo, hi in (("inputs", len(node.input), schema.min_input,
                                 schema.max_input),
                                ("outputs", len(node.output), schema.min_output,
                                 schema.max_output)):
            if not lo <= n <= hi:
                takes = f"{lo}" if lo == hi else f"{lo} to {hi}" if hi < 2**31 - 1 \
                    else f"{lo} or more"
                raise Unsupported(f"{n} {what if n != 1 else what[:-1]}: {node.op_type} "
                                  f"takes {takes}",
                                  "fix the exporter that wrote the file")

    def _unsupported(self, node: Any, prov: Provenance, e: Unsupported) -> list[int | None]:
        ins = [self.values[i] for i in node.input if i in self.values]
        rank = self.ranks.get(node.input[0]) if node.input and node.op_type in SAME_RANK \
            else None
        attrs = {"op_type": node.op_type if not node.domain else f"{node.domain}.{node.op_type}",
                 "opset": self.opset, "reason": e.reason, "help": e.help, "rank": rank}
        outs = self.b.add_node("unsupported", ins, attrs, prov, (), len(node.output))
        for o in node.output:
            self.ranks[o] = rank
        return list(outs)

    # -- helpers for handlers --------------------------------------------------------------
    def attrs(self, node: Any) -> dict[str, Any]:
        h = self.onnx.helper
        return {a.name: h.get_attribute_value(a) for a in node.attribute}

    def tensor(self, name: str, prov: Provenance) -> int:
        """The value of ONNX tensor ``name``, made a node when it is a known weight (a
        constant node when small, so its values fold; a parameter when large)."""
        if name in self.values:
            return self.values[name]
        w = self.static.get(name)
        if w is None:
            raise Unsupported(f"its input `{name}` is produced by no node and no initializer")
        cprov = Provenance(name, "Constant", self.file, None, w.origin)
        if w.small is not None and (w.small.dtype.kind in "iub" or w.small.size <= 8):
            # shape vectors, indices, scalars and a few floats (Resize scales): their
            # values propagate (the value lattice); a float vector (a channel scale, 32 or
            # 64 of them in a small layer) is a weight like any other, so that propagation
            # does not compute its products element by element
            (v,) = add_layer(self.b, "constant", [], {"value": w.small}, cprov)
        else:
            key = self.param(name, w, cprov)
            (v,) = add_layer(self.b, "param", [], {"shape": w.shape}, cprov, {"value": key})
        self.values[name] = v
        self.ranks[name] = len(w.shape)
        return v

    def param(self, key: str, w: Weight, owner: Provenance) -> str:
        """Declare the weight ``w`` as parameter ``key``, every dim noted with its origin."""
        if key not in self.weights:
            self.weights[key] = w
            notes = tuple(f"dim {j} of {w.origin}" for j in range(len(w.shape)))
            self.b.add_param(ParamSpec(key, w.shape, owner, notes, ("",) * len(w.shape)))
        return key

    def known(self, name: str) -> Weight | None:
        """The weight behind ``name`` when it is known when the file is read."""
        return self.static.get(name) if name and name not in self.values else None

    def ints(self, name: str, what: str) -> list[int]:
        """The values of a small constant int tensor (axes, pads, a shape...)."""
        w = self.known(name)
        if w is None or w.small is None:
            raise Unsupported(f"its {what} (`{name}`) is computed in the graph; shapegraph "
                               "needs it as a constant")
        return [int(v) for v in w.small.reshape(-1)]

    def rank(self, name: str) -> int | None:
        return self.ranks.get(name)

    def layer(self, op: str, ins: Sequence[int], attrs: dict[str, Any], prov: Provenance,
              params: dict[str, str] | None = None) -> int:
        (v,) = add_layer(self.b, op, list(ins), attrs, prov, params)
        return v
