"""The benchmark workloads: the networks ``shapegraph bench`` runs, with their FLOP counts.

The benchmark harness (:mod:`~shapegraph.tools.bench`) times them; the peers that run
the same networks are in :mod:`~shapegraph.tools.peers`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["WORKLOADS", "Workload", "randomize_batchnorm"]


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


