# input: x=batch,channels,32,32
# expect: SG207 at 0
"""A conv fed a symbolic number of channels: its weight would be (16, channels, 3, 3)."""

from shapegraph import nn

net = nn.Sequential()
net.add(nn.Conv2D(16, kernel_size=3, activation="relu"), nn.GlobalAvgPool2D(), nn.Dense(10))
