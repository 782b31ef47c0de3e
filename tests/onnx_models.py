"""ONNX models the tests build with onnx.helper the way ``torch.onnx.export`` writes them:
weights as initializers, opset 17 by default, BatchNormalization after each Conv, Clip
with its bounds as inputs (ReLU6), Flatten + Gemm as the classifier."""

from __future__ import annotations

from typing import Any

import numpy as np
from onnx import TensorProto, helper, numpy_helper


class _Builder:
    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.inits: list[Any] = []
        self.nodes: list[Any] = []

    def init(self, name: str, arr: Any) -> str:
        self.inits.append(numpy_helper.from_array(np.asarray(arr), name))
        return name

    def node(self, op: str, ins: list[str], name: str, **attrs: Any) -> str:
        self.nodes.append(helper.make_node(op, ins, [name], name=name, **attrs))
        return name

    def conv(self, x: str, cin: int, cout: int, k: int, name: str, stride: int = 1,
             group: int = 1) -> str:
        fan_in = cin // group * k * k
        w = self.rng.standard_normal((cout, cin // group, k, k)) / np.sqrt(fan_in)
        b = self.rng.standard_normal(cout) * 0.1
        ins = [x, self.init(f"{name}.w", w.astype(np.float32)),
               self.init(f"{name}.b", b.astype(np.float32))]
        return self.node("Conv", ins, name, kernel_shape=[k, k], strides=[stride] * 2,
                         pads=[k // 2] * 4, group=group)

    def bn(self, x: str, c: int, name: str) -> str:
        stats = {"s": self.rng.uniform(0.5, 1.5, c), "b": self.rng.standard_normal(c) * 0.1,
                 "m": self.rng.standard_normal(c) * 0.1, "v": self.rng.uniform(0.5, 1.5, c)}
        ins = [x, *(self.init(f"{name}.{k}", v.astype(np.float32)) for k, v in stats.items())]
        return self.node("BatchNormalization", ins, name, epsilon=1e-5)

    def relu6(self, x: str, name: str) -> str:
        lo = self.init(f"{name}.lo", np.float32(0.0))
        hi = self.init(f"{name}.hi", np.float32(6.0))
        return self.node("Clip", [x, lo, hi], name)


def mobilenet_like(opset: int = 17, batch: int | str = "N") -> Any:
    """A MobileNet-v2 stem and inverted residual block (1x1 expand, 3x3 depthwise, 1x1
    project, residual add), global pooling and a classifier, on (batch, 3, 32, 32)."""
    b = _Builder(0)
    x = b.relu6(b.bn(b.conv("input", 3, 16, 3, "stem", stride=2), 16, "stem.bn"), "stem.act")
    h = b.relu6(b.bn(b.conv(x, 16, 64, 1, "exp"), 64, "exp.bn"), "exp.act")
    h = b.relu6(b.bn(b.conv(h, 64, 64, 3, "dw", group=64), 64, "dw.bn"), "dw.act")
    h = b.bn(b.conv(h, 64, 16, 1, "proj"), 16, "proj.bn")
    flat = b.node("Flatten", [b.node("GlobalAveragePool", [b.node("Add", [x, h], "res")],
                                     "gap")], "flat", axis=1)
    w = (b.rng.standard_normal((10, 16)) / 4).astype(np.float32)
    bias = (b.rng.standard_normal(10) * 0.1).astype(np.float32)
    b.node("Gemm", [flat, b.init("fc.w", w), b.init("fc.b", bias)], "logits", transB=1)
    graph = helper.make_graph(
        b.nodes, "mobilenet",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [batch, 3, 32, 32])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [batch, 10])], b.inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
