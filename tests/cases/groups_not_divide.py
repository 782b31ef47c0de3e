# input: x=batch,6,16,16
# expect: SG209 at 0
# says-not: with dim 1 = 4*?
"""A grouped conv with groups=4 over 6 input channels: each group would need 1.5 channels."""

from shapegraph import nn

net = nn.Sequential()
net.add(nn.Conv2D(16, kernel_size=3, groups=4), nn.GlobalAvgPool2D(), nn.Dense(10))
