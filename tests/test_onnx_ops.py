"""The ONNX ops the conformance run brought in, each end to end: the op records (shape
rules, numpy references against numpy written out independently, with hypothesis where
shapes vary), the import handlers (per-opset attributes and inputs, imported models run
compiled against numpy), and a clear diagnostic naming the node for bad input.

Comparisons and selection (Max, Min, Less, Greater, Where), CastLike, the reductions
(ReduceSum, ReduceMean, ReduceMax, ReduceMin)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import shapegraph as sg
from shapegraph.core.dims import Sym
from shapegraph.core.types import TensorType
from shapegraph.ops import get_op
from shapegraph.opset.base import Fail

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

B = Sym("batch")
RNG = np.random.default_rng(0)
FEW = settings(max_examples=25, deadline=None)


def rand(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape).astype(np.float32)


def model(nodes: list[Any], inputs: dict[str, tuple[Any, ...]], outputs: list[str],
          inits: dict[str, np.ndarray] | None = None, opset: int = 18,
          dtype: int = TensorProto.FLOAT, out_types: dict[str, int] | None = None) -> Any:
    """A small ONNX model: float32 graph inputs of the given shapes (a str is a dim_param),
    outputs of unknown shape (and type, unless given: ONNX Runtime needs it),
    initializers from arrays."""
    out_types = out_types or {}
    g = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info(k, dtype, list(s)) for k, s in inputs.items()],
        [helper.make_tensor_value_info(o, out_types.get(o, TensorProto.UNDEFINED), None)
         for o in outputs],
        [numpy_helper.from_array(v, k) for k, v in (inits or {}).items()])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])


def run(proto: Any, *arrays: np.ndarray, debug: bool = True) -> list[np.ndarray]:
    """Import, check (every output shape must be the one the run gives) and run."""
    m = sg.load_onnx(proto)
    report = sg.check(m, *arrays)
    assert report.ok, report.render("text")
    ys = sg.compile(m, *arrays, debug=debug)(*arrays)
    ys = list(ys) if isinstance(ys, tuple) else [ys]
    for v, y in zip(m.graph.outputs, ys, strict=True):
        t = report.resolution.type_of(v)
        assert t is not None and tuple(t.shape) == y.shape
    return ys


def diagnostics(proto: Any, *shapes: Any) -> list[tuple[str, str, str]]:
    report = sg.check(sg.load_onnx(proto), *shapes)
    return [(d.code, d.path, d.message) for d in report.diagnostics]


# broadcastable shapes for the elementwise ops
def _shapes(n: int) -> Any:
    return hnp.mutually_broadcastable_shapes(num_shapes=n, min_dims=0, max_dims=4, max_side=4)


# ----------------------------------------------------------------- comparisons and selection

BINARY = {"maximum": np.maximum, "minimum": np.minimum, "less": np.less,
          "greater": np.greater}


@FEW
@given(op=st.sampled_from(sorted(BINARY)), shapes=_shapes(2), seed=st.integers(0, 2**16))
def test_binary_reference_and_rule_are_numpy(op: str, shapes: Any, seed: int) -> None:
    r = np.random.default_rng(seed)
    a, b = (r.integers(-2, 3, s).astype(np.float32) for s in shapes.input_shapes)  # ties too
    (got,) = get_op(op).reference([a, b], {}, {})
    want = BINARY[op](a, b)
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_array_equal(got, want)
    out = get_op(op).shape_rule(tuple(TensorType(s) for s in shapes.input_shapes), {}, {})
    assert not isinstance(out, Fail)
    assert out.types[0].shape == shapes.result_shape
    assert out.types[0].dtype == ("bool" if op in ("less", "greater") else "float32")


@FEW
@given(shapes=_shapes(3), seed=st.integers(0, 2**16))
def test_where_reference_and_rule_are_numpy(shapes: Any, seed: int) -> None:
    r = np.random.default_rng(seed)
    m, a, b = shapes.input_shapes
    mask = r.random(m) < 0.5
    x, y = r.standard_normal(a).astype(np.float32), r.standard_normal(b).astype(np.float32)
    for given_mask in (mask, mask.astype(np.float32)):  # a mask read from a float buffer
        (got,) = get_op("where").reference([given_mask, x, y], {}, {})
        want = np.where(mask, x, y)
        assert got.dtype == np.float32 and got.shape == want.shape
        np.testing.assert_array_equal(got, want)
    out = get_op("where").shape_rule(tuple(TensorType(s) for s in shapes.input_shapes), {}, {})
    assert not isinstance(out, Fail) and out.types[0].shape == shapes.result_shape


def test_comparison_rules_keep_symbols_and_name_a_mismatch() -> None:
    out = get_op("less").shape_rule((TensorType((B, 5)), TensorType((5,))), {}, {})
    assert not isinstance(out, Fail) and str(out.types[0]) == "bool[batch,5]"
    bad = get_op("where").shape_rule(
        (TensorType((B, 4), "bool"), TensorType((B, 4)), TensorType((3,))), {}, {})
    assert isinstance(bad, Fail) and bad.code == "SG206" and "4 vs 3" in bad.message


@pytest.mark.parametrize("debug", [True, False])
def test_elu_written_with_less_and_where_runs_compiled(debug: bool) -> None:
    """The function body of Elu (opset 18): CastLike, Less, Exp, Sub, Mul, Where; the
    comparison and selection run as reference steps between compiled segments."""
    c = {k: np.array(v, np.float32) for k, v in (("alpha", 0.7), ("zero", 0.0), ("one", 1.0))}
    nodes = [helper.make_node("CastLike", [k, "x"], [f"{k}_c"]) for k in c]
    nodes += [helper.make_node("Less", ["x", "zero_c"], ["neg"]),
              helper.make_node("Exp", ["x"], ["e"]),
              helper.make_node("Sub", ["e", "one_c"], ["em1"]),
              helper.make_node("Mul", ["alpha_c", "em1"], ["scaled"]),
              helper.make_node("Where", ["neg", "scaled", "x"], ["y"])]
    x = rand(2, 3, 4)
    (y,) = run(model(nodes, {"x": (2, 3, 4)}, ["y"], c), x, debug=debug)
    np.testing.assert_allclose(y, np.where(x < 0, 0.7 * (np.exp(x) - 1), x), rtol=1e-5,
                               atol=1e-6)


@pytest.mark.parametrize(("op_type", "fn"), [("Max", np.maximum), ("Min", np.minimum)])
@pytest.mark.parametrize("n", [1, 2, 3])
def test_variadic_max_min_broadcast(op_type: str, fn: Any, n: int) -> None:
    shapes = [(2, 3, 4), (4,), (3, 1)][:n]
    names = [f"x{k}" for k in range(n)]
    arrays = [rand(*s) for s in shapes]
    (y,) = run(model([helper.make_node(op_type, names, ["y"])], dict(zip(names, shapes,
                                                                          strict=True)),
                     ["y"]), *arrays)
    want = arrays[0]
    for a in arrays[1:]:
        want = fn(want, a)
    np.testing.assert_array_equal(y, want)


@pytest.mark.parametrize(("op_type", "fn"), [("Less", np.less), ("Greater", np.greater)])
def test_a_comparison_output_is_its_mask_as_numbers(op_type: str, fn: Any) -> None:
    x, t = rand(3, 5), np.float32([0.1])
    (y,) = run(model([helper.make_node(op_type, ["x", "t"], ["y"])], {"x": (3, 5)}, ["y"],
                     {"t": t}), x)
    np.testing.assert_array_equal(y, fn(x, t).astype(np.float32))


def test_where_that_does_not_broadcast_names_the_node() -> None:
    nodes = [helper.make_node("Less", ["x", "z"], ["m"]),
             helper.make_node("Where", ["m", "x", "w"], ["y"], name="pick")]
    proto = model(nodes, {"x": ("N", 4), "w": (3,)}, ["y"], {"z": np.float32([0])})
    ((code, path, message),) = diagnostics(proto)
    assert (code, path) == ("SG206", "pick") and "cannot broadcast" in message


# ----------------------------------------------------------------------------- CastLike


def test_castlike_takes_the_type_of_its_second_input() -> None:
    nodes = [helper.make_node("Constant", [], ["c"], value_float=2.5),
             helper.make_node("CastLike", ["c", "x"], ["c32"]),
             helper.make_node("Mul", ["x", "c32"], ["y"])]
    x = rand(2, 3)
    m = sg.load_onnx(model(nodes, {"x": ("N", 3)}, ["y"]))
    report = sg.check(m)
    cast = next(n for n in m.graph.nodes if n.op == "cast")
    assert cast.attrs["to"] == "float32" and cast.prov.path == "CastLike_1"
    assert str(report.resolution.type_of(m.graph.outputs[0])) == "f32[N,3]"
    np.testing.assert_array_equal(m(x), x * np.float32(2.5))


def test_castlike_to_the_type_onnx_infers_for_a_computed_value() -> None:
    """The second input is a node's output: its element type comes from ONNX's own type
    inference (Shape gives int64)."""
    nodes = [helper.make_node("Shape", ["x"], ["s"]),
             helper.make_node("CastLike", ["f", "s"], ["fi"]),
             helper.make_node("Add", ["s", "fi"], ["y"])]
    m = sg.load_onnx(model(nodes, {"x": (2, 5)}, ["y"], {"f": np.float32([1.0, 2.0])}))
    cast = next(n for n in m.graph.nodes if n.op == "cast")
    assert cast.attrs["to"] == "int64"
    (y,) = run(model(nodes, {"x": (2, 5)}, ["y"], {"f": np.float32([1.0, 2.0])}), rand(2, 5))
    np.testing.assert_array_equal(y, [3, 7])


def test_castlike_whose_target_type_is_unknown_is_sg213() -> None:
    node = helper.make_node("CastLike", ["x", "nowhere"], ["y"], name="cl")
    ((code, path, message),) = diagnostics(model([node], {"x": (2,)}, ["y"]))
    assert (code, path) == ("SG213", "cl")
    assert "element type of its second input `nowhere` is not known" in message


# ----------------------------------------------------------------------------- reductions

REDUCE = {"ReduceSum": np.sum, "ReduceMean": np.mean, "ReduceMax": np.max,
          "ReduceMin": np.min}
# the opset from which the axes are an input
AXES_INPUT = {"ReduceSum": 13, "ReduceMean": 18, "ReduceMax": 18, "ReduceMin": 18}


def reduce_model(op_type: str, shape: tuple[Any, ...], axes: list[int] | None, keep: int,
                 opset: int, noop: int = 0) -> Any:
    attrs: dict[str, Any] = {"keepdims": keep}
    if noop:
        attrs["noop_with_empty_axes"] = noop
    inits = {}
    ins = ["x"]
    if axes is not None and opset >= AXES_INPUT[op_type]:
        inits["axes"] = np.array(axes, np.int64)
        ins.append("axes")
    elif axes is not None:
        attrs["axes"] = axes
    node = helper.make_node(op_type, ins, ["y"], name="red", **attrs)
    return model([node], {"x": shape}, ["y"], inits, opset)


@FEW
@given(op_type=st.sampled_from(sorted(REDUCE)), opset=st.sampled_from([11, 13, 18]),
       shape=hnp.array_shapes(min_dims=1, max_dims=4, max_side=4), keep=st.integers(0, 1),
       data=st.data())
def test_reductions_are_numpy_at_every_opset(op_type: str, opset: int, shape: tuple[int, ...],
                                             keep: int, data: st.DataObject) -> None:
    rank = len(shape)
    axes = data.draw(st.none() | st.lists(st.integers(-rank, rank - 1), min_size=1,
                                          max_size=rank, unique_by=lambda a: a % rank))
    x = rand(*shape)
    (y,) = run(reduce_model(op_type, shape, axes, keep, opset), x)
    want = REDUCE[op_type](x, axis=None if axes is None else tuple(axes), keepdims=bool(keep))
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("op_type", sorted(REDUCE))
def test_empty_axes_reduce_everything_or_nothing(op_type: str) -> None:
    x = rand(3, 2, 2)
    (every,) = run(reduce_model(op_type, (3, 2, 2), [], 1, 18), x)
    np.testing.assert_allclose(every, REDUCE[op_type](x, keepdims=True), rtol=1e-5,
                               atol=1e-6)
    (same,) = run(reduce_model(op_type, (3, 2, 2), [], 1, 18, noop=1), x)
    np.testing.assert_array_equal(same, x)


@pytest.mark.parametrize(("op_type", "fill"), [("ReduceMax", -np.inf), ("ReduceMin", np.inf),
                                               ("ReduceSum", 0.0)])
def test_a_reduction_over_nothing_is_onnx_s(op_type: str, fill: float) -> None:
    (y,) = run(reduce_model(op_type, (2, 0, 4), [1], 1, 18), np.zeros((2, 0, 4), np.float32))
    np.testing.assert_array_equal(y, np.full((2, 1, 4), fill, np.float32))


def test_reduction_keeps_symbolic_dims() -> None:
    m = sg.load_onnx(reduce_model("ReduceMax", ("N", 4, 5), [-1], 0, 18))
    assert str(sg.check(m).resolution.type_of(m.graph.outputs[0])) == "f32[N,4]"


def test_reduction_axis_out_of_range_names_the_node() -> None:
    ((code, path, message),) = diagnostics(reduce_model("ReduceSum", (3, 4), [2], 1, 13))
    assert (code, path) == ("SG202", "red") and "axis 2 is out of range" in message


def test_reduction_axes_computed_in_the_graph_is_sg213() -> None:
    node = helper.make_node("ReduceMax", ["x", "a"], ["y"], name="red")
    proto = model([node], {"x": (3, 4)}, ["y"], opset=18)
    proto.graph.input.append(helper.make_tensor_value_info("a", TensorProto.INT64, [1]))
    ((code, path, message),) = diagnostics(proto)
    assert (code, path) == ("SG213", "red") and "its axes (`a`) is computed" in message


def test_max_and_min_initial_is_only_their_identity() -> None:
    with pytest.raises(ValueError, match="must be -inf"):
        get_op("max").complete({"initial": 0.0})
    assert get_op("min").complete({"initial": float("inf")})["initial"] == np.inf
    (y,) = get_op("max").reference([np.zeros((2, 0), np.float32)], {},
                                   get_op("max").complete({"axis": (1,),
                                                           "initial": -np.inf}))
    assert y.tolist() == [-np.inf, -np.inf]


# ----------------------------------------------------------------------------- dilated pools


def naive_pool(x: np.ndarray, kind: str, k: tuple[int, ...], s: tuple[int, ...],
               d: tuple[int, ...], pb: tuple[int, ...], pe: tuple[int, ...], ceil: bool,
               include_pad: bool) -> np.ndarray:
    """ONNX MaxPool/AveragePool written out window by window: output size
    floor-or-ceil((n + pads - ((k-1)d + 1)) / s) + 1, in ceil mode without a last window
    that starts in the end padding; a window's elements are d apart."""
    outs = []
    for n, kk, ss, dd, p, q in zip(x.shape[2:], k, s, d, pb, pe, strict=True):
        span = n + p + q - ((kk - 1) * dd + 1)
        o = (-(-span // ss) if ceil else span // ss) + 1
        if ceil and (o - 1) * ss >= n + p:
            o -= 1
        outs.append(o)
    y = np.zeros((*x.shape[:2], *outs), np.float64)
    for idx in np.ndindex(*outs):
        vals, counted = [], 0
        for off in np.ndindex(*k):
            pos = [i * ss - p + o * dd for i, ss, p, o, dd in zip(idx, s, pb, off, d,
                                                                   strict=True)]
            inside = all(0 <= q < n for q, n in zip(pos, x.shape[2:], strict=True))
            in_pads = all(-p <= q < n + e for q, n, p, e in zip(pos, x.shape[2:], pb, pe,
                                                                strict=True))
            if inside:
                vals.append(x[(slice(None), slice(None), *pos)])
            counted += inside or (include_pad and in_pads)
        where = (slice(None), slice(None), *idx)
        if kind == "max":
            y[where] = np.max(vals, axis=0)
        else:
            y[where] = np.sum(vals, axis=0) / counted
    return y.astype(np.float32)


@st.composite
def dilated_pools(draw: Any) -> dict[str, Any]:
    nd = draw(st.integers(1, 2))
    k = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    d = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    pb = tuple(draw(st.integers(0, kk - 1)) for kk in k)  # ONNX: pads smaller than kernel
    pe = tuple(draw(st.integers(0, kk - 1)) for kk in k)
    sizes = tuple(draw(st.integers((kk - 1) * dd + 1, 9)) for kk, dd in zip(k, d, strict=True))
    return {"kind": draw(st.sampled_from(["max", "avg"])), "k": k, "d": d, "pb": pb, "pe": pe,
            "s": tuple(draw(st.integers(1, 3)) for _ in range(nd)), "sizes": sizes,
            "ceil": draw(st.booleans()), "include_pad": draw(st.booleans())}


def pool_node(c: dict[str, Any], name: str = "pool") -> Any:
    attrs: dict[str, Any] = {"kernel_shape": list(c["k"]), "strides": list(c["s"]),
                             "dilations": list(c["d"]), "pads": [*c["pb"], *c["pe"]],
                             "ceil_mode": int(c["ceil"])}
    if c["kind"] == "avg":
        attrs["count_include_pad"] = int(c["include_pad"])
    return helper.make_node("MaxPool" if c["kind"] == "max" else "AveragePool", ["x"], ["y"],
                            name=name, **attrs)


@FEW
@given(c=dilated_pools(), seed=st.integers(0, 2**16))
def test_dilated_pool_reference_and_import_are_onnx_s(c: dict[str, Any], seed: int) -> None:
    x = np.random.default_rng(seed).standard_normal((2, 3, *c["sizes"])).astype(np.float32)
    want = naive_pool(x, c["kind"], c["k"], c["s"], c["d"], c["pb"], c["pe"], c["ceil"],
                      c["include_pad"])
    (y,) = run(model([pool_node(c)], {"x": x.shape}, ["y"], opset=19), x)
    assert y.shape == want.shape
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-6)


def test_a_dilated_pool_runs_its_reference_between_compiled_steps() -> None:
    c = {"kind": "max", "k": (2, 2), "s": (1, 1), "d": (2, 2), "pb": (0, 0), "pe": (0, 0),
         "ceil": False, "include_pad": False}
    nodes = [helper.make_node("Relu", ["x"], ["r"]), pool_node(c),
             helper.make_node("Relu", ["y"], ["z"])]
    nodes[1].input[0] = "r"
    x = rand(1, 2, 6, 6)
    m = sg.load_onnx(model(nodes, {"x": x.shape}, ["z"], opset=19))
    compiled = sg.compile(m)
    want = naive_pool(np.maximum(x, 0), "max", c["k"], c["s"], c["d"], c["pb"], c["pe"],
                      False, False)
    np.testing.assert_allclose(compiled(x), want, rtol=1e-6, atol=1e-6)
    assert "dilated pooling (ONNX dilations)" in compiled.memory_plan()


def test_a_dilated_pool_whose_window_does_not_fit_names_the_node() -> None:
    c = {"kind": "max", "k": (3,), "s": (1,), "d": (3,), "pb": (0,), "pe": (0,),
         "ceil": False, "include_pad": False}
    ((code, path, message),) = diagnostics(model([pool_node(c, "p")], {"x": (1, 2, 6)}, ["y"]))
    assert (code, path) == ("SG204", "p") and "window 7 (kernel 3, dilation 3)" in message


def test_a_dilated_max_pool_exports_with_its_dilations() -> None:
    ort = pytest.importorskip("onnxruntime")
    c = {"kind": "max", "k": (2, 2), "s": (1, 2), "d": (2, 1), "pb": (1, 0), "pe": (1, 0),
         "ceil": False, "include_pad": False}
    x = rand(1, 2, 7, 6)
    m = sg.load_onnx(model([pool_node(c)], {"x": x.shape}, ["y"], opset=19))
    proto = sg.export_onnx(m, sg.Input("x", x.shape))
    (node,) = [n for n in proto.graph.node if n.op_type == "MaxPool"]
    assert [a.ints for a in node.attribute if a.name == "dilations"] == [[2, 1]]
    sess = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    (got,) = sess.run(None, {sess.get_inputs()[0].name: x})
    np.testing.assert_allclose(got, m(x), rtol=1e-6, atol=1e-6)


# ----------------------------------------------------------------------------- Flatten

N, C = Sym("N"), Sym("C")


@pytest.mark.parametrize(("dims", "axis", "want"), [
    ((N, 3, 4, 5), 1, "f32[N,60]"),
    ((N, 3, 4, 5), 2, "f32[3*N,20]"),
    ((N, C, 4, 5), -1, "f32[4*C*N,5]"),
    ((N, C, 4, 5), 0, "f32[1,20*C*N]"),
    ((N, C, 4, 5), 4, "f32[20*C*N,1]"),
    ((N, C, 4, 5), -4, "f32[1,20*C*N]"),
    ((7,), 1, "f32[7,1]"),
])
def test_flatten_rule_at_any_axis_keeps_symbols(dims: tuple[Any, ...], axis: int, want: str
                                                ) -> None:
    rec = get_op("flatten")
    out = rec.shape_rule((TensorType(dims),), {}, rec.complete({"axis": axis}))
    assert not isinstance(out, Fail) and str(out.types[0]) == want


@FEW
@given(shape=hnp.array_shapes(min_dims=0, max_dims=5, min_side=0, max_side=4), data=st.data())
def test_flatten_reference_and_rule_are_numpy(shape: tuple[int, ...], data: st.DataObject
                                              ) -> None:
    rank = len(shape)
    axis = data.draw(st.integers(-rank, rank))
    rec = get_op("flatten")
    attrs = rec.complete({"axis": axis})
    x = np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape)
    (y,) = rec.reference([x], {}, attrs)
    a = axis % rank if rank and axis < 0 else axis
    want = x.reshape(int(np.prod(shape[:a])), int(np.prod(shape[a:])))
    np.testing.assert_array_equal(y, want)
    out = rec.shape_rule((TensorType(shape),), {}, attrs)
    assert not isinstance(out, Fail) and out.types[0].shape == want.shape


@pytest.mark.parametrize("axis", [0, 1, 2, 3, 4, -1, -2, -4])
def test_flatten_imports_at_any_axis(axis: int) -> None:
    x = rand(2, 3, 4, 5)
    node = helper.make_node("Flatten", ["x"], ["y"], axis=axis)
    (y,) = run(model([node], {"x": x.shape}, ["y"], opset=13), x)
    a = axis % 4 if axis < 0 else axis
    np.testing.assert_array_equal(y, x.reshape(int(np.prod(x.shape[:a])), -1))


def test_flatten_axis_out_of_range_names_the_node() -> None:
    node = helper.make_node("Flatten", ["x"], ["y"], axis=5, name="flat")
    ((code, path, message),) = diagnostics(model([node], {"x": ("N", 3, 4, 5)}, ["y"]))
    assert (code, path) == ("SG202", "flat") and "axis 5 is out of range" in message


def test_flatten_at_an_axis_exports_it() -> None:
    ort = pytest.importorskip("onnxruntime")
    x = rand(2, 3, 4)
    m = sg.load_onnx(model([helper.make_node("Flatten", ["x"], ["y"], axis=2)],
                           {"x": ("N", 3, 4)}, ["y"], opset=13))
    proto = sg.export_onnx(m, sg.Input("x", ("N", 3, 4)))
    sess = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    (got,) = sess.run(None, {sess.get_inputs()[0].name: x})
    np.testing.assert_array_equal(got, x.reshape(6, 4))


# ----------------------------------------------------------------------------- Split


def onnx_parts(n: int, count: int, sizes: list[int] | None) -> list[tuple[int, int]]:
    """ONNX Split's bounds written out: the sizes, or parts of ceil(n / count), the last
    one what is left."""
    if sizes is None:
        chunk = -(-n // count)
        sizes = [max(0, min(chunk, n - i * chunk)) for i in range(count)]
    ends = np.cumsum(sizes).tolist()
    return [(e - s, e) for s, e in zip(sizes, ends, strict=True)]


def split_model(shape: tuple[Any, ...], axis: int, count: int, sizes: list[int] | None,
                opset: int, num_outputs: int | None = None, name: str = "sp") -> Any:
    outs = [f"y{i}" for i in range(count)]
    attrs: dict[str, Any] = {"axis": axis}
    inits, ins = {}, ["x"]
    if sizes is not None and opset < 13:
        attrs["split"] = sizes
    elif sizes is not None:
        inits["split"] = np.array(sizes, np.int64)
        ins.append("split")
    if num_outputs is not None:
        attrs["num_outputs"] = num_outputs
    node = helper.make_node("Split", ins, outs, name=name, **attrs)
    return model([node], {"x": shape}, outs, inits, opset)


@FEW
@given(shape=hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=9), data=st.data())
def test_split_parts_are_onnx_s(shape: tuple[int, ...], data: st.DataObject) -> None:
    rank = len(shape)
    axis = data.draw(st.integers(-rank, rank - 1))
    n = shape[axis]
    count = data.draw(st.integers(1, 5))
    cuts = data.draw(st.none() | st.lists(st.integers(0, n), min_size=count - 1,
                                          max_size=count - 1).map(sorted))
    sizes = None if cuts is None else np.diff([0, *cuts, n]).tolist()
    x = np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape)
    rec = get_op("split")
    for i, (start, end) in enumerate(onnx_parts(n, count, sizes)):
        attrs = rec.complete({"axis": axis, "index": i, "count": count,
                              "sizes": None if sizes is None else tuple(sizes)})
        (got,) = rec.reference([x], {}, attrs)
        np.testing.assert_array_equal(got, np.take(x, range(start, end), axis=axis))
        out = rec.shape_rule((TensorType(shape),), {}, attrs)
        assert not isinstance(out, Fail) and out.types[0].shape == got.shape


@pytest.mark.parametrize(("opset", "sizes", "num_outputs"), [
    (11, [1, 4, 2], None), (11, None, None), (13, [3, 0, 4], None), (13, None, None),
    (18, [2, 5], None), (18, None, 3), (18, None, 4)])
def test_split_imports_at_each_opset(opset: int, sizes: list[int] | None,
                                     num_outputs: int | None) -> None:
    count = num_outputs or (len(sizes) if sizes else 2)
    n = 7 if sizes or opset >= 18 else 8  # before 18 an equal split must divide
    x = rand(2, n, 3)
    ys = run(split_model(x.shape, 1, count, sizes, opset, num_outputs), x)
    assert len(ys) == count
    for y, (start, end) in zip(ys, onnx_parts(n, count, sizes), strict=True):
        np.testing.assert_array_equal(y, x[:, start:end])


def test_split_of_a_symbolic_dim_keeps_it_symbolic() -> None:
    m = sg.load_onnx(split_model(("N", 6), 0, 4, None, 18, 4))
    res = sg.check(m).resolution
    assert [str(res.type_of(v)) for v in m.graph.outputs] == [
        "f32[(N + 3)//4,6]", "f32[(N + 3)//4,6]", "f32[(N + 3)//4,6]",
        "f32[N - 3*((N + 3)//4),6]"]
    x = rand(10, 6)
    for y, (start, end) in zip(m(x), onnx_parts(10, 4, None), strict=True):
        np.testing.assert_array_equal(y, x[start:end])


def test_split_sizes_that_do_not_add_up_are_one_diagnostic_naming_the_node() -> None:
    ((code, path, message),) = diagnostics(split_model((2, 7), 1, 2, [2, 4], 13))
    assert path == "sp" and code == "SG201", message
    assert "7" in message and "6" in message


def test_split_with_a_size_per_output_missing_names_the_node() -> None:
    proto = split_model((2, 6), 1, 3, [2, 4], 13)
    ((code, path, message),) = diagnostics(proto)
    assert (code, path) == ("SG210", "sp") and "2 sizes [2, 4] for 3 outputs" in message


def test_split_before_opset_18_must_divide() -> None:
    ((code, path, message),) = diagnostics(split_model((2, 7), 1, 2, None, 13))
    assert (code, path) == ("SG210", "sp") and "does not split into 2 equal parts" in message


def test_split_num_outputs_that_is_not_the_outputs_is_sg213() -> None:
    ((code, path, message),) = diagnostics(split_model((2, 6), 1, 2, None, 18, 3))
    assert (code, path) == ("SG213", "sp") and "num_outputs=3 for 2 outputs" in message


def test_split_axis_out_of_range_names_the_node() -> None:
    ((code, path, message),) = diagnostics(split_model((2, 6), 2, 2, None, 18, 2))
    assert (code, path) == ("SG202", "sp") and "axis 2 is out of range" in message


def test_split_exports_as_slices() -> None:
    ort = pytest.importorskip("onnxruntime")
    x = rand(2, 7)
    m = sg.load_onnx(split_model(x.shape, 1, 3, None, 18, 3))
    proto = sg.export_onnx(m, sg.Input("x", x.shape))
    sess = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    got = sess.run(None, {sess.get_inputs()[0].name: x})
    for g, (start, end) in zip(got, onnx_parts(7, 3, None), strict=True):
        np.testing.assert_array_equal(g, x[:, start:end])


# ----------------------------------------------------------------------------- MaxPool indices


def argmax_model(c: dict[str, Any], shape: tuple[Any, ...], order: int) -> Any:
    node = pool_node({**c, "kind": "max"})
    node.output.append("i")
    node.attribute.append(helper.make_attribute("storage_order", order))
    return model([node], {"x": shape}, ["y", "i"], opset=19,
                 out_types={"y": TensorProto.FLOAT, "i": TensorProto.INT64})


@settings(max_examples=40, deadline=None)
@given(c=dilated_pools(), order=st.integers(0, 1), ties=st.booleans(), seed=st.integers(0, 99))
def test_maxpool_indices_are_onnx_s(c: dict[str, Any], order: int, ties: bool, seed: int
                                    ) -> None:
    """Against ONNX Runtime (ties: the first of equal values in the window wins)."""
    ort = pytest.importorskip("onnxruntime")
    r = np.random.default_rng(seed)
    shape = (2, 3, *c["sizes"])
    x = (r.integers(0, 3, shape) if ties else r.standard_normal(shape)).astype(np.float32)
    proto = argmax_model(c, shape, order)
    sess = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    want_y, want_i = sess.run(None, {"x": x})
    y, i = run(proto, x)
    np.testing.assert_array_equal(y, want_y)
    np.testing.assert_array_equal(i, want_i)
    (ref,) = get_op("pool_argmax").reference([x], {}, sg.load_onnx(proto).graph.nodes[0].attrs)
    assert ref.dtype == np.int64 and np.array_equal(ref, want_i)


def test_maxpool_indices_are_int64_and_keep_symbols() -> None:
    c = {"k": (2, 2), "s": (2, 2), "d": (1, 1), "pb": (0, 0), "pe": (0, 0), "ceil": False,
         "include_pad": False}
    m = sg.load_onnx(argmax_model(c, ("N", 3, 8, 8), 0))
    res = sg.check(m).resolution
    assert [str(res.type_of(v)) for v in m.graph.outputs] == ["f32[N,3,4,4]", "i64[N,3,4,4]"]
    assert [n.prov.path for n in m.graph.nodes] == ["pool", "pool"]


def test_maxpool_indices_export_as_a_maxpool_output() -> None:
    ort = pytest.importorskip("onnxruntime")
    c = {"k": (3, 2), "s": (2, 1), "d": (1, 2), "pb": (1, 0), "pe": (1, 1), "ceil": False,
         "include_pad": False}
    x = rand(1, 2, 7, 6)
    m = sg.load_onnx(argmax_model(c, x.shape, 1))
    proto = sg.export_onnx(m, sg.Input("x", x.shape))
    sess = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    got_y, got_i = sess.run(None, {sess.get_inputs()[0].name: x})
    y, i = m(x)
    np.testing.assert_array_equal(got_y, y)
    np.testing.assert_array_equal(got_i, i)


def test_maxpool_indices_past_float32_s_exact_integers_are_refused() -> None:
    c = {"k": (2, 2), "s": (2, 2), "d": (1, 1), "pb": (0, 0), "pe": (0, 0), "ceil": False,
         "include_pad": False}
    node = argmax_model(c, (1, 1, 4, 4), 0).graph.node[0]
    node.name = "mp"
    ok = model([node], {"x": ("N", 64, 512, 512)}, ["y", "i"])
    assert diagnostics(ok, (1, 64, 512, 512)) == []  # 2**24 elements: every index exact
    ((code, path, message),) = diagnostics(ok, (2, 64, 512, 512))
    assert (code, path) == ("SG210", "mp") and "not exact in the float32 buffers" in message


# ----------------------------------------------------------------------------- auto_pad SAME


@st.composite
def same_windows(draw: Any) -> dict[str, Any]:
    nd = draw(st.integers(1, 2))
    k = tuple(draw(st.integers(1, 4)) for _ in range(nd))
    return {"op": draw(st.sampled_from(["Conv", "MaxPool", "AveragePool"])), "k": k,
            "s": tuple(draw(st.integers(1, 3)) for _ in range(nd)),
            "d": (1,) * nd,  # ONNX Runtime has no dilated SAME (below: against the spec)
            "sizes": tuple(draw(st.integers(1, 9)) for _ in range(nd)),
            "auto": draw(st.sampled_from(["SAME_UPPER", "SAME_LOWER"])),
            "include_pad": draw(st.integers(0, 1)), "ceil": draw(st.integers(0, 1))}


def same_model(c: dict[str, Any], shape: tuple[Any, ...], w: np.ndarray | None = None) -> Any:
    attrs: dict[str, Any] = {"kernel_shape": list(c["k"]), "strides": list(c["s"]),
                             "auto_pad": c["auto"], "dilations": list(c["d"])}
    ins, inits = ["x"], {}
    if c["op"] == "Conv":
        assert w is not None
        ins.append("w")
        inits["w"] = w
    if c["op"] == "AveragePool":
        attrs["count_include_pad"] = c["include_pad"]
    if c["op"] != "Conv" and c.get("ceil"):  # SAME gives ceil(n / s) windows either way
        attrs["ceil_mode"] = 1
    node = helper.make_node(c["op"], ins, ["y"], name="win", **attrs)
    return model([node], {"x": shape}, ["y"], inits, opset=19,
                 out_types={"y": TensorProto.FLOAT})


@settings(max_examples=40, deadline=None)
@given(c=same_windows(), seed=st.integers(0, 99))
def test_auto_pad_same_with_strides_is_onnx_runtime_s(c: dict[str, Any], seed: int) -> None:
    ort = pytest.importorskip("onnxruntime")
    r = np.random.default_rng(seed)
    x = r.standard_normal((2, 3, *c["sizes"])).astype(np.float32)
    w = r.standard_normal((4, 3, *c["k"])).astype(np.float32)
    proto = same_model(c, x.shape, w)
    sess = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    short = any((-(-n // s) - 1) * s + k < n for n, s, k in zip(c["sizes"], c["s"], c["k"],
                                                                strict=True))
    if short and c["op"] != "Conv":  # a negative padding: refused (below)
        ((code, path, message),) = diagnostics(proto)
        assert (code, path) == ("SG210", "win") and "padding is negative" in message
        return
    (want,) = sess.run(None, {"x": x})
    (y,) = run(proto, x)
    assert y.shape[2:] == tuple(-(-n // s) for n, s in zip(c["sizes"], c["s"], strict=True))
    np.testing.assert_allclose(y, want, rtol=1e-4, atol=1e-5)


def test_auto_pad_same_keeps_symbolic_sizes_and_runs_its_reference() -> None:
    c = {"op": "MaxPool", "k": (3, 3), "s": (2, 2), "d": (1, 1), "auto": "SAME_LOWER",
         "include_pad": 0}
    m = sg.load_onnx(same_model(c, ("N", 3, "H", 10)))
    res = sg.check(m).resolution
    assert str(res.type_of(m.graph.outputs[0])) == "f32[N,3,(H + 1)//2,5]"
    x = rand(1, 3, 7, 10)
    compiled = sg.compile(m, x)
    assert "auto_pad SAME with strides" in compiled.memory_plan()
    assert compiled(x).shape == (1, 3, 4, 5)


def test_same_pads_put_the_odd_one_where_onnx_says() -> None:
    from shapegraph.opset.conv import same_pads

    a = {"kernel": (4,), "strides": (2,), "dilation": (1,)}
    assert same_pads({**a, "auto_pad": "SAME_UPPER"}, (7,)) == ((1,), (2,))
    assert same_pads({**a, "auto_pad": "SAME_LOWER"}, (7,)) == ((2,), (1,))
    assert same_pads({**a, "auto_pad": "SAME_UPPER"}, (8,)) == ((1,), (1,))


def test_auto_pad_same_exports_as_auto_pad() -> None:
    ort = pytest.importorskip("onnxruntime")
    c = {"op": "AveragePool", "k": (3,), "s": (2,), "d": (1,), "auto": "SAME_UPPER",
         "include_pad": 0}
    x = rand(1, 2, 8)
    m = sg.load_onnx(same_model(c, ("N", 2, 8)))
    proto = sg.export_onnx(m, sg.Input("x", ("N", 2, 8)))
    (node,) = [n for n in proto.graph.node if n.op_type == "AveragePool"]
    assert [a.s for a in node.attribute if a.name == "auto_pad"] == [b"SAME_UPPER"]
    sess = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    (got,) = sess.run(None, {sess.get_inputs()[0].name: x})
    np.testing.assert_allclose(got, m(x), rtol=1e-6, atol=1e-6)


@FEW
@given(kind=st.sampled_from(["max", "avg"]), k=st.integers(1, 4), s=st.integers(1, 3),
       d=st.integers(1, 3), n=st.integers(1, 12), upper=st.booleans(), include=st.booleans())
def test_dilated_auto_pad_same_is_the_spec_s(kind: str, k: int, s: int, d: int, n: int,
                                             upper: bool, include: bool) -> None:
    """ONNX: pad_shape = (ceil(n / s) - 1) * s + ((k - 1) * d + 1) - n, split in two with
    the odd one at the end (SAME_UPPER) or the beginning (SAME_LOWER)."""
    total = (-(-n // s) - 1) * s + (k - 1) * d + 1 - n
    assume(total >= 0)  # a negative padding is refused (above)
    small, big = total // 2, total - total // 2
    pb, pe = (small, big) if upper else (big, small)
    # a window of padding only (a dilated window stepping over a short input) has no
    # defined maximum (ONNX Runtime gives -FLT_MAX, the onnx reference 0): not tested
    assume(all(any(0 <= i * s - pb + o * d < n for o in range(k)) for i in range(-(-n // s))))
    c = {"op": "MaxPool" if kind == "max" else "AveragePool", "k": (k,), "s": (s,),
         "d": (d,), "auto": "SAME_UPPER" if upper else "SAME_LOWER",
         "include_pad": int(include)}
    x = rand(1, 2, n)
    (y,) = run(same_model(c, x.shape), x)
    want = naive_pool(x, kind, (k,), (s,), (d,), (pb,), (pe,), False, include)
    assert y.shape == want.shape == (1, 2, -(-n // s))
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-6)


def test_split_of_a_shape_vector_passes_symbolic_sizes_on() -> None:
    """Shape(x) split into (batch) and (c, h, w): the batch reshapes x to (batch, -1)."""
    nodes = [helper.make_node("Shape", ["x"], ["s"]),
             helper.make_node("Split", ["s", "sizes"], ["b", "rest"], axis=0),
             helper.make_node("Concat", ["b", "minus1"], ["target"], axis=0),
             helper.make_node("Reshape", ["x", "target"], ["y"])]
    proto = model(nodes, {"x": ("N", 3, 4, 5)}, ["y"],
                  {"sizes": np.array([1, 3], np.int64), "minus1": np.array([-1], np.int64)})
    m = sg.load_onnx(proto)
    assert str(sg.check(m).resolution.type_of(m.graph.outputs[0])) == "f32[N,60]"
    x = rand(2, 3, 4, 5)
    np.testing.assert_array_equal(m(x), x.reshape(2, 60))


# ----------------------------------------------------------------------------- Reshape allowzero


@pytest.mark.parametrize(("dims", "target", "allowzero", "want"), [
    ((0, 3, 4), (3, 4, 0), True, "f32[3,4,0]"),
    ((0, 3, 4), (3, 4, 0), False, "SG205"),   # 0 copies dim 2 (4): 48 elements, not 0
    ((N, 3, 4), (0, 12), False, "f32[N,12]"),
    ((N, 3, 4), (0, 12), True, "SG205"),      # a size of 0 holds none of 12*N elements
    ((2, 0), (0, -1), False, "f32[2,0]"),     # numpy's: 0 copies the 2, -1 is 0
    ((2, 0), (0, -1), True, "SG205"),         # ONNX: allowzero's 0 with -1 is undefined
])
def test_reshape_allowzero_reads_a_zero_as_a_size(dims: tuple[Any, ...],
                                                  target: tuple[int, ...], allowzero: bool,
                                                  want: str) -> None:
    rec = get_op("reshape")
    out = rec.shape_rule((TensorType(dims),), {},
                         rec.complete({"shape": target, "allowzero": allowzero}))
    if want.startswith("SG"):
        assert isinstance(out, Fail) and out.code == want, out
    else:
        assert not isinstance(out, Fail) and str(out.types[0]) == want


@pytest.mark.parametrize("static", [False, True])
def test_reshape_allowzero_imports(static: bool) -> None:
    x = np.zeros((0, 3, 4), np.float32)
    nodes = [helper.make_node("Reshape", ["d", "t"], ["r"], allowzero=1),
             helper.make_node("Add", ["x", "r"], ["y"])]
    inits = {"t": np.array([3, 4, 0], np.int64)}
    inputs: dict[str, tuple[Any, ...]] = {"x": (3, 4, 0)}
    if static:  # a constant reshaped when the file is read
        inits["d"] = x
    else:
        inputs["d"] = x.shape
    proto = model(nodes, inputs, ["y"], inits, opset=14)
    arrays = [np.zeros((3, 4, 0), np.float32)] + ([] if static else [x])
    (y,) = run(proto, *arrays)
    assert y.shape == (3, 4, 0)


@pytest.mark.parametrize(("op_type", "inputs", "takes"), [
    ("Less", ["x"], "Less takes 2"), ("Where", ["x", "x"], "Where takes 3"),
    ("CastLike", ["x"], "CastLike takes 2"), ("Max", [], "Max takes 1 or more")])
def test_a_node_with_the_wrong_number_of_inputs_is_sg213(op_type: str, inputs: list[str],
                                                         takes: str) -> None:
    node = helper.make_node(op_type, inputs, ["y"], name="bad")
    ((code, path, message),) = diagnostics(model([node], {"x": (2, 3)}, ["y"]))
    assert (code, path) == ("SG213", "bad") and takes in message
