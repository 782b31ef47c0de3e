# input: x=batch,3,32,32
# expect: SG201 at 1
"""A BatchNorm declares in_channels=32 after a conv with 16 channels."""

from shapegraph import nn

net = nn.Sequential()
net.add(nn.Conv2D(16, kernel_size=3, padding=1),
        nn.BatchNorm(in_channels=32),
        nn.Activation("relu"))
