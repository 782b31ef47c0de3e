"""The Gluon-style front end: ``Block``, ``Sequential`` and layers.

>>> from shapegraph import nn
>>> net = nn.Sequential()
>>> net.add(nn.Dense(256, activation="relu"), nn.Dense(10))
>>> net
Sequential(
  (0): Dense(? -> 256, Activation(relu))  [weight(256, ?)  bias(256,)]
  (1): Dense(? -> 10, linear)  [weight(10, ?)  bias(10,)]
)
"""

from shapegraph.frontend.block import Block, HybridBlock, HybridSequential, Sequential
from shapegraph.frontend.layers import (
    GELU,
    Activation,
    AvgPool1D,
    AvgPool2D,
    BatchNorm,
    Conv1D,
    Conv2D,
    Dense,
    Dropout,
    Embedding,
    Flatten,
    GlobalAvgPool1D,
    GlobalAvgPool2D,
    GlobalMaxPool1D,
    GlobalMaxPool2D,
    LayerNorm,
    MaxPool1D,
    MaxPool2D,
)
from shapegraph.frontend.root import UnusedLayerWarning

__all__ = [
    "GELU",
    "Activation",
    "AvgPool1D",
    "AvgPool2D",
    "BatchNorm",
    "Block",
    "Conv1D",
    "Conv2D",
    "Dense",
    "Dropout",
    "Embedding",
    "Flatten",
    "GlobalAvgPool1D",
    "GlobalAvgPool2D",
    "GlobalMaxPool1D",
    "GlobalMaxPool2D",
    "HybridBlock",
    "HybridSequential",
    "LayerNorm",
    "MaxPool1D",
    "MaxPool2D",
    "Sequential",
    "UnusedLayerWarning",
]
