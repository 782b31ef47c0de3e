"""Shape rules agree with the numpy references, and the references agree with ONNX Runtime.

For random layer configurations and input shapes: propagate a one-node graph, allocate
random parameters of the resolved shapes, run the op's numpy reference, and check the
output shape is the rule's. Where onnxruntime is installed the same node exported to ONNX
must compute the same numbers (an independent check of the references).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from graphs import Net, conv_attrs, pool_attrs
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from shapegraph.infer.propagate import propagate
from shapegraph.opset.registry import get_op

RNG = np.random.default_rng(0)


def run_one(op: str, attrs: dict[str, Any], *shapes: tuple[int, ...], hyp: bool = True
            ) -> tuple[Any, list[np.ndarray], dict[str, np.ndarray], tuple[np.ndarray, ...]]:
    n = Net()
    ins = [n.input(f"x{i}", len(s)) for i, s in enumerate(shapes)]
    y = n.layer("0", op, *ins, **attrs)
    g = n.build(y)
    res = propagate(g, {f"x{i}": s for i, s in enumerate(shapes)})
    if hyp:
        assume(res.ok)
    assert res.ok
    arrays = [RNG.standard_normal(s).astype(np.float32) for s in shapes]
    params = {role: RNG.standard_normal(res.param_shape(key)).astype(np.float32)  # type: ignore[arg-type]
              for role, key in g.nodes[0].params}
    if op == "batchnorm":
        params["running_var"] = np.abs(params["running_var"]) + 0.5
    out = get_op(op).reference(arrays, params, g.nodes[0].attrs)
    t = res.type_of(y)
    assert t is not None and out[0].shape == t.shape, (op, attrs, shapes, out[0].shape, t)
    return g, arrays, {key: params[role] for role, key in g.nodes[0].params}, out


def ort_check(g: Any, arrays: list[np.ndarray], params: dict[str, np.ndarray],
              expected: np.ndarray, atol: float = 1e-4) -> None:
    ort = pytest.importorskip("onnxruntime")
    from shapegraph.core.types import TensorType
    from shapegraph.onnx import to_onnx

    types = {gi.name: TensorType(a.shape) for gi, a in zip(g.inputs, arrays, strict=True)}
    model = to_onnx(g, types, params)  # type: ignore[arg-type]
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    got = sess.run(None, {gi.name: a for gi, a in zip(g.inputs, arrays, strict=True)})[0]
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=atol)


small = st.integers(1, 9)
SETTINGS = settings(max_examples=25, deadline=None,
                    suppress_health_check=[HealthCheck.filter_too_much])


@SETTINGS
@given(st.integers(1, 3), st.integers(1, 4), st.integers(1, 3), st.integers(1, 3),
       st.integers(0, 2), st.integers(1, 2), st.sampled_from([1, 2]), st.integers(3, 12),
       st.booleans())
def test_conv2d(n: int, cpg: int, k: int, s: int, p: int, d: int, g: int, hw: int,
                bias: bool) -> None:
    attrs = conv_attrs(2 * g, k, s, p, d, g) | {"use_bias": bias}
    graph, arrays, params, out = run_one("conv", attrs, (n, cpg * g, hw, hw + 1))
    ort_check(graph, arrays, params, out[0])


@SETTINGS
@given(st.integers(1, 3), small, st.integers(1, 4), st.integers(1, 3), st.integers(0, 1),
       st.integers(4, 16))
def test_conv1d(n: int, c: int, k: int, s: int, p: int, w: int) -> None:
    graph, arrays, params, out = run_one("conv", conv_attrs(3, k, s, p, nd=1), (n, c, w))
    ort_check(graph, arrays, params, out[0])


@SETTINGS
@given(st.integers(1, 3), st.integers(1, 4), st.integers(1, 3), st.integers(1, 3),
       st.integers(0, 1), st.sampled_from(["max", "avg"]), st.booleans(), st.integers(3, 11))
def test_pool2d(n: int, c: int, k: int, s: int, p: int, kind: str, ceil: bool, hw: int) -> None:
    assume(p <= k // 2)
    attrs = pool_attrs(k, s, p, kind, ceil=ceil)
    graph, arrays, params, out = run_one("pool", attrs, (n, c, hw, hw + 2))
    if not ceil:  # ONNX Runtime clips ceil-mode windows differently from MXNet
        ort_check(graph, arrays, params, out[0])


@SETTINGS
@given(st.integers(1, 3), st.lists(small, min_size=1, max_size=3), small, st.booleans(),
       st.booleans())
def test_dense(n: int, rest: list[int], units: int, flatten: bool, bias: bool) -> None:
    graph, arrays, params, out = run_one(
        "dense", {"units": units, "flatten": flatten, "use_bias": bias}, (n, *rest))
    ort_check(graph, arrays, params, out[0])


@SETTINGS
@given(st.lists(small, min_size=1, max_size=4), st.data())
def test_broadcasting_binary(shape: list[int], data: st.DataObject) -> None:
    other = [data.draw(st.sampled_from([d, 1])) for d in shape]
    other = other[data.draw(st.integers(0, len(other) - 1)):]
    op = data.draw(st.sampled_from(["add", "sub", "mul", "div"]))
    graph, arrays, params, out = run_one(op, {}, tuple(shape), tuple(other))
    np.testing.assert_allclose(out[0], get_op(op).reference(arrays, {}, {})[0])
    ort_check(graph, arrays, params, out[0])


@SETTINGS
@given(st.lists(small, min_size=2, max_size=4),
       st.sampled_from(["relu", "sigmoid", "tanh", "softrelu", "softsign", "gelu", "softmax",
                        "log_softmax", "dropout", "flatten", "transpose"]))
def test_unary(shape: list[int], op: str) -> None:
    graph, arrays, params, out = run_one(op, {}, tuple(shape))
    ort_check(graph, arrays, params, out[0], atol=1e-5)


@SETTINGS
@given(st.lists(small, min_size=2, max_size=4), st.data())
def test_reshape(shape: list[int], data: st.DataObject) -> None:
    total = int(np.prod(shape))
    a = data.draw(st.sampled_from([d for d in range(1, total + 1) if total % d == 0]))
    spec = data.draw(st.sampled_from([(a, -1), (-1, a), (0, -1), (a, total // a)]))
    graph, arrays, params, out = run_one("reshape", {"shape": spec}, tuple(shape))
    ort_check(graph, arrays, params, out[0])


@SETTINGS
@given(st.lists(small, min_size=2, max_size=4), st.integers(1, 3), st.data())
def test_concat(shape: list[int], k: int, data: st.DataObject) -> None:
    axis = data.draw(st.integers(0, len(shape) - 1))
    shapes = []
    for _ in range(k):
        s = list(shape)
        s[axis] = data.draw(small)
        shapes.append(tuple(s))
    graph, arrays, params, out = run_one("concat", {"axis": axis}, *shapes)
    ort_check(graph, arrays, params, out[0])


@SETTINGS
@given(st.integers(1, 3), small, st.integers(1, 5))
def test_norms_and_global_pools(n: int, c: int, hw: int) -> None:
    for op, attrs in (("batchnorm", {}), ("layernorm", {}),
                      ("global_pool", {"kind": "avg", "ndim": 2}),
                      ("global_pool", {"kind": "max", "ndim": 2})):
        graph, arrays, params, out = run_one(op, attrs, (n, c, hw, hw))
        ort_check(graph, arrays, params, out[0], atol=1e-3)


def test_embedding() -> None:
    n = Net()
    x = n.input("x", 2)
    y = n.layer("0", "embedding", x, input_dim=10, output_dim=4)
    g = n.build(y)
    res = propagate(g, {"x": (2, 3)})
    assert res.ok and str(res.type_of(y)) == "f32[2,3,4]"
    w = RNG.standard_normal((10, 4)).astype(np.float32)
    idx = np.array([[0, 1, 9], [3, 3, 2]], dtype=np.float32)
    (out,) = get_op("embedding").reference([idx], {"weight": w}, g.nodes[0].attrs)
    np.testing.assert_array_equal(out, w[idx.astype(int)])
    ort_check(g, [idx], {"0.weight": w}, out)
    with pytest.raises(IndexError, match="out of range"):
        get_op("embedding").reference([idx + 1], {"weight": w}, g.nodes[0].attrs)


def test_matmul_batch_broadcast() -> None:
    graph, arrays, params, out = run_one("matmul", {}, (2, 1, 3, 4), (5, 4, 6), hyp=False)
    assert out[0].shape == (2, 5, 3, 6)
    ort_check(graph, arrays, params, out[0])
