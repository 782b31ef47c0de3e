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

from shapegraph.frontend import activations as _activations
from shapegraph.frontend import layers as _layers
from shapegraph.frontend.activations import *  # noqa: F403  (activations.__all__)
from shapegraph.frontend.block import Block, HybridBlock, HybridSequential, Sequential
from shapegraph.frontend.layers import *  # noqa: F403  (the list is layers.__all__)
from shapegraph.frontend.root import UnusedLayerWarning

__all__ = ["Block", "HybridBlock", "HybridSequential", "Sequential", "UnusedLayerWarning"]
__all__ += _layers.__all__ + _activations.__all__
