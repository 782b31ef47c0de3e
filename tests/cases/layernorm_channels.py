# input: x=batch,seq,32
# expect: SG201 at 1
"""A LayerNorm declares in_channels=32 (the model width) after a projection to 64."""

from shapegraph import nn

net = nn.Sequential()
net.add(nn.Dense(64, flatten=False, in_units=32), nn.LayerNorm(in_channels=32))
