# input: x=batch,1,28,28
# expect: SG201 at 0
"""A conv declares in_channels=3 (RGB) but is fed grayscale images."""

from shapegraph import nn

net = nn.Sequential()
net.add(nn.Conv2D(16, kernel_size=3, in_channels=3, activation="relu"))
net.add(nn.Conv2D(32, kernel_size=3))
