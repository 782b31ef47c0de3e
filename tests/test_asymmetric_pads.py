"""Asymmetric padding (ONNX ``pads = [begin..., end...]``, as AlexNet's last MaxPool's
``[0, 0, 1, 1]``): the ``pads_end`` attribute of conv and pool. Shape rules, references
against padding the input explicitly, compiled plans (the step runs its reference and the
memory plan says why) and ONNX Runtime."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from graphs import Net

from shapegraph.core.types import TensorType
from shapegraph.executor.model import CompiledModel
from shapegraph.infer.interpret import run_reference
from shapegraph.infer.propagate import propagate
from shapegraph.ops import get_op

RNG = np.random.default_rng(0)

# (op, attrs, input shape, output shape)
CASES: list[tuple[str, dict[str, Any], tuple[int, ...], tuple[int, ...]]] = [
    ("pool", {"kind": "max", "kernel": (3, 3), "strides": (2, 2), "pads_end": (1, 1)},
     (1, 2, 13, 13), (1, 2, 6, 6)),
    ("pool", {"kind": "avg", "kernel": (2, 3), "strides": (1, 2), "padding": (1, 0),
              "pads_end": (0, 2), "count_include_pad": False}, (2, 3, 5, 6), (2, 3, 5, 3)),
    ("pool", {"kind": "avg", "kernel": (3,), "padding": (0,), "pads_end": (2,)},
     (1, 2, 7), (1, 2, 3)),
    ("conv", {"channels": 4, "kernel": (3, 3), "padding": (0, 1), "pads_end": (2, 0)},
     (1, 3, 6, 6), (1, 4, 6, 5)),
    ("conv", {"channels": 2, "kernel": (2,), "strides": (2,), "pads_end": (1,)},
     (2, 2, 5), (2, 2, 3)),
    ("pool", {"kind": "avg", "kernel": (3, 3), "strides": (2, 2), "pads_end": (1, 1),
              "count_include_pad": True}, (1, 2, 13, 13), (1, 2, 6, 6)),
    # a window as wide as the input, but end padding makes two of them: not a global pool
    ("pool", {"kind": "max", "kernel": (3,), "strides": (1,), "pads_end": (1,)}, (1, 2, 3),
     (1, 2, 2)),
]
IDS = [f"{op}-{i}" for i, (op, *_) in enumerate(CASES)]


def _graph(op: str, attrs: dict[str, Any], rank: int) -> Any:
    n = Net()
    return n.build(n.layer("0", op, n.input("x", rank), **attrs))


@pytest.mark.parametrize(("op", "attrs", "shape", "out"), CASES, ids=IDS)
def test_shape_rule(op: str, attrs: dict[str, Any], shape: tuple[int, ...],
                    out: tuple[int, ...]) -> None:
    res = propagate(_graph(op, attrs, len(shape)), {"x": shape})
    assert res.ok and str(res.types[-1]) == str(TensorType(out))


@pytest.mark.parametrize(("op", "attrs", "shape", "out"), CASES, ids=IDS)
def test_reference_pads_each_side(op: str, attrs: dict[str, Any], shape: tuple[int, ...],
                                  out: tuple[int, ...]) -> None:
    """The same window over the input padded explicitly (zeros for conv, -inf for max
    pool); for an average, a sum over the padded input divided by the positions counted
    (the padding too with count_include_pad)."""
    rec = get_op(op)
    full = rec.complete(attrs)
    x = RNG.standard_normal(shape).astype(np.float32)
    pads = [(0, 0), (0, 0), *zip(full["padding"], full["pads_end"], strict=True)]
    nopad = {**full, "padding": (0,) * full["ndim"], "pads_end": (0,) * full["ndim"]}
    if op == "conv":
        w = RNG.standard_normal((attrs["channels"], shape[1], *attrs["kernel"])).astype(
            np.float32)
        (got,) = rec.reference([x], {"weight": w, "bias": np.zeros(attrs["channels"])}, full)
        (want,) = rec.reference([np.pad(x, pads)], {"weight": w,
                                                    "bias": np.zeros(attrs["channels"])}, nopad)
    elif full["kind"] == "max":
        (got,) = rec.reference([x], {}, full)
        (want,) = rec.reference([np.pad(x, pads, constant_values=-np.inf)], {}, nopad)
    else:
        (got,) = rec.reference([x], {}, full)
        sums = rec.reference([np.pad(x, pads)], {}, {**nopad, "kind": "avg"})[0]
        counted = 1.0 if full["count_include_pad"] else 0.0  # padding counted, or not
        ones = np.pad(np.ones_like(x), pads, constant_values=counted)
        counts = rec.reference([ones], {}, {**nopad, "kind": "avg"})[0]
        want = sums / counts
    assert got.shape == out
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(("op", "attrs", "shape", "out"), CASES, ids=IDS)
def test_compiled_runs_a_kernel_or_the_reference_and_says_why(op: str, attrs: dict[str, Any],
                                                  shape: tuple[int, ...],
                                                  out: tuple[int, ...]) -> None:
    g = _graph(op, attrs, len(shape))
    res = propagate(g, {"x": shape})
    params = {k: RNG.standard_normal([int(d) for d in res.param_dims[k]]).astype(np.float32)
              for k in g.params}
    model = CompiledModel(g, params, [TensorType(shape)])
    x = RNG.standard_normal(shape).astype(np.float32)
    np.testing.assert_allclose(model(x), run_reference(g, params, {"x": x})[0], rtol=1e-5,
                               atol=1e-5)
    a = g.nodes[0].attrs
    # the 2-D pool kernels clip windows to the input: end padding only sets the output
    # size, except in an average's divisor when padding counts
    if op == "pool" and (a["kind"] == "max" or not a["count_include_pad"]):
        assert "not compiled" not in model.memory_plan()
    else:
        assert "asymmetric padding" in model.memory_plan()


@pytest.mark.parametrize(("op", "attrs", "shape", "out"), CASES[:2] + CASES[3:4],
                         ids=[IDS[0], IDS[1], IDS[3]])
def test_onnx_runtime(op: str, attrs: dict[str, Any], shape: tuple[int, ...],
                      out: tuple[int, ...]) -> None:
    ort = pytest.importorskip("onnxruntime")
    from shapegraph.onnx import to_onnx

    g = _graph(op, attrs, len(shape))
    res = propagate(g, {"x": shape})
    params = {k: RNG.standard_normal([int(d) for d in res.param_dims[k]]).astype(np.float32)
              for k in g.params}
    x = RNG.standard_normal(shape).astype(np.float32)
    proto = to_onnx(g, {"x": TensorType(shape)}, params, types=dict(enumerate(res.types)))
    sess = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    (got,) = sess.run(None, {"x": x})
    np.testing.assert_allclose(got, run_reference(g, params, {"x": x})[0], rtol=1e-5,
                               atol=1e-5)
