# input: x=batch,1,5,5
# expect: SG204 at 0
"""A 7x7 kernel over a 5x5 image without padding."""

from shapegraph import nn

net = nn.Sequential()
net.add(nn.Conv2D(8, kernel_size=7), nn.Flatten(), nn.Dense(10))
