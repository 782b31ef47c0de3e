# input: x=batch,784
# expect: SG202 at 0
"""A Conv2D fed flat vectors: (batch, 784) instead of (batch, 1, 28, 28)."""

from shapegraph import nn

net = nn.Sequential()
net.add(nn.Conv2D(6, kernel_size=5, activation="relu"), nn.MaxPool2D(), nn.Dense(10))
