"""The benchmark workloads: the networks ``shapegraph bench`` runs, and their FLOP counts.

Two kinds: networks written with ``shapegraph.nn`` (``WORKLOADS``: two MLPs, LeNet, three
ResNet basic blocks) and the nine CNNs the onnx package ships (``ONNX_WORKLOADS``,
``onnx/backend/test/data/light``), imported with ``sg.load_onnx`` after their constant
weights are replaced by random ones (:func:`random_weights`; ONNX Runtime runs the same
proto). The benchmark harness (:mod:`~shapegraph.tools.bench`) times them; the peers that
run the same networks are in :mod:`~shapegraph.tools.peers`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["ONNX_WORKLOADS", "WORKLOADS", "OnnxWorkload", "Workload", "graph_flops",
           "light_model_path", "matches", "random_weights", "randomize_batchnorm",
           "symbolic_batch"]


@dataclass(frozen=True)
class Workload:
    name: str
    batches: tuple[int, ...]
    input_shape: tuple[int, ...]  # without the batch
    build: Callable[[], Any]
    flops_per_sample: int


def _mlp(widths: tuple[int, ...]) -> Callable[[], Any]:
    def build() -> Any:
        from shapegraph import nn

        net = nn.Sequential()
        for k, w in enumerate(widths[1:]):
            last = k == len(widths) - 2
            net.add(nn.Dense(w, activation=None if last else "relu"))
        return net

    return build


def _lenet() -> Any:
    from shapegraph import nn

    net = nn.Sequential()
    net.add(nn.Conv2D(6, kernel_size=5, padding=2, activation="relu"),
            nn.MaxPool2D(pool_size=2, strides=2),
            nn.Conv2D(16, kernel_size=5, activation="relu"),
            nn.MaxPool2D(pool_size=2, strides=2),
            nn.Dense(120, activation="relu"), nn.Dense(84, activation="relu"), nn.Dense(10))
    return net


def _resnet() -> Any:
    from shapegraph import nn, ops

    class BasicBlock(nn.Block):
        def __init__(self) -> None:
            super().__init__()
            self.conv1 = nn.Conv2D(16, 3, padding=1, use_bias=False)
            self.bn1 = nn.BatchNorm()
            self.conv2 = nn.Conv2D(16, 3, padding=1, use_bias=False)
            self.bn2 = nn.BatchNorm()

        def forward(self, x: Any) -> Any:
            h = ops.relu(self.bn1(self.conv1(x)))
            return ops.relu(self.bn2(self.conv2(h)) + x)

    net = nn.Sequential()
    net.add(BasicBlock(), BasicBlock(), BasicBlock())
    return net


def _mlp_flops(widths: tuple[int, ...]) -> int:
    return sum(2 * a * b for a, b in itertools.pairwise(widths))


WORKLOADS = (
    Workload("MLP 20-256-10", (1, 2, 64, 1024), (20,), _mlp((20, 256, 10)),
             _mlp_flops((20, 256, 10))),
    Workload("MLP 784-1024-1024-10", (1, 64, 1024), (784,), _mlp((784, 1024, 1024, 10)),
             _mlp_flops((784, 1024, 1024, 10))),
    Workload("LeNet", (1, 64), (1, 28, 28), _lenet,
             2 * (6 * 25 * 28 * 28 + 16 * 6 * 25 * 10 * 10 + 400 * 120 + 120 * 84 + 84 * 10)),
    Workload("ResNet 3 blocks 16ch 32x32", (1, 32), (16, 32, 32), _resnet,
             6 * 2 * 16 * 16 * 9 * 32 * 32),
)



def randomize_batchnorm(net: Any) -> None:
    """Running statistics and affine parameters away from the identity (so that a wrong
    batchnorm fold shows in the numbers)."""
    rng = np.random.default_rng(1)
    for key, p in net.collect_params().items():
        if key.endswith(("running_mean", "beta")):
            p.set_data(rng.normal(0, 0.1, p.shape))
        elif key.endswith(("running_var", "gamma")):
            p.set_data(rng.uniform(0.8, 1.2, p.shape))




# --------------------------------------------------------------------- the ONNX light models


@dataclass(frozen=True)
class OnnxWorkload:
    """One of the onnx package's light models: ``light_{stem}.onnx``, run at ``batches``
    (a batch other than the declared one only where the model's batch can be symbolic)."""

    name: str
    stem: str
    batches: tuple[int, ...] = (1, 8)

    def path(self) -> str:
        return light_model_path(self.stem)


ONNX_WORKLOADS = (
    OnnxWorkload("AlexNet", "bvlc_alexnet"),
    OnnxWorkload("DenseNet-121", "densenet121"),
    OnnxWorkload("Inception v1", "inception_v1"),
    OnnxWorkload("Inception v2", "inception_v2"),
    OnnxWorkload("ResNet-50", "resnet50"),
    OnnxWorkload("ShuffleNet", "shufflenet"),
    OnnxWorkload("SqueezeNet", "squeezenet"),
    OnnxWorkload("VGG-19", "vgg19"),
    OnnxWorkload("ZFNet-512", "zfnet512"),
)


def light_model_path(stem: str) -> str:
    """The file of one of the onnx package's light models (``stem`` such as ``resnet50``)."""
    import os

    import onnx

    return os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "light",
                        f"light_{stem}.onnx")


def random_weights(proto: Any, seed: int = 1) -> Any:
    """``proto`` (an ONNX ``ModelProto``, changed in place and returned) with every
    ``ConstantOfShape`` weight replaced by a random initializer: scaled by the fan-in, and
    1-D ones (such as variances) in [0.5, 1.5]. The light models ship their weights as
    constants (every weight 0 or 1), which would make any output right."""
    from onnx import numpy_helper

    shapes = {i.name: numpy_helper.to_array(i) for i in proto.graph.initializer}
    rng = np.random.default_rng(seed)
    keep = []
    for node in proto.graph.node:
        if node.op_type == "ConstantOfShape" and node.input[0] in shapes:
            shape = tuple(int(d) for d in shapes[node.input[0]])
            if len(shape) == 1:
                arr = rng.uniform(0.5, 1.5, shape).astype(np.float32)
            else:
                arr = rng.standard_normal(shape, dtype=np.float32)
                arr *= np.float32(1 / np.sqrt(np.prod(shape[1:])))
            proto.graph.initializer.append(numpy_helper.from_array(arr, node.output[0]))
        else:
            keep.append(node)
    del proto.graph.node[:]
    proto.graph.node.extend(keep)
    used = {i for node in keep for i in node.input} | {o.name for o in proto.graph.output}
    inits = [i for i in proto.graph.initializer if i.name in used or i.name not in shapes]
    dropped = {i.name for i in proto.graph.initializer} - {i.name for i in inits}
    ins = [vi for vi in proto.graph.input if vi.name not in dropped]
    del proto.graph.initializer[:]
    proto.graph.initializer.extend(inits)  # the shapes the weights were made from: unused
    del proto.graph.input[:]
    proto.graph.input.extend(ins)
    return proto


def symbolic_batch(proto: Any, symbol: str = "N") -> Any:
    """A copy of ``proto`` whose data inputs (those that are not initializers) have the
    first dim ``symbol``."""
    out = type(proto)()
    out.CopyFrom(proto)
    inits = {i.name for i in out.graph.initializer}
    for vi in out.graph.input:
        if vi.name not in inits:
            dim = vi.type.tensor_type.shape.dim[0]
            dim.ClearField("dim_value")
            dim.dim_param = symbol
    return out


def graph_flops(graph: Any, resolution: Any) -> int:
    """Floating-point operations (a multiply-add is 2) of ``graph`` for the concrete shapes
    in ``resolution`` (what ``CompiledModel.resolve`` returns), counted by each op record's
    ``macs`` rule (:mod:`shapegraph.infer.cost`): convolutions, dense layers and matrix
    products. Everything else (pooling, activations, batchnorm) is not counted, as in the
    usual GFLOP figures of these networks."""
    from shapegraph.infer.cost import node_macs

    total = 0
    for node in graph.nodes:
        m = node_macs(node, resolution)
        if not isinstance(m, int):
            raise ValueError(f"node {node.id} ({node.op}) has no concrete cost ({m})")
        total += 2 * m
    return total


def _norm(s: str) -> str:
    return "".join(c for c in s.lower() if c.isalnum())


def matches(name: str, patterns: Sequence[str], names: Sequence[str] = ()) -> bool:
    """Whether workload ``name`` matches one of ``patterns``, compared without case, spaces
    or punctuation (``resnet50`` matches "ResNet-50"): a pattern that is the whole of one of
    ``names`` (all the workloads' names) picks that one only (``lenet`` is LeNet, not
    ShuffleNet), any other picks every name it is a substring of (``mlp``, ``resnet``)."""
    whole = {_norm(n) for n in names}
    for p in map(_norm, patterns):
        if p and (_norm(name) == p if p in whole else p in _norm(name)):
            return True
    return False
