# expect: SG209 at 1
"""Declarations alone: a conv with 16 output channels feeds a Dense declaring
in_units=100. Whatever the image size, the Dense sees 16*H*W features, a multiple of 16,
and 100 is not one."""

from shapegraph import nn

net = nn.Sequential()
net.add(nn.Conv2D(16, kernel_size=3, in_channels=3), nn.Dense(10, in_units=100))
