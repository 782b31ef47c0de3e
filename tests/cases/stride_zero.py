# input: x=batch,3,8,8
# expect: SG204 at 3
"""Stride-2 downsampling four times: 8 -> 4 -> 2 -> 1, and the fourth pool has nothing
left to pool (its output size would be 0)."""

from shapegraph import nn

net = nn.Sequential()
for _ in range(4):
    net.add(nn.MaxPool2D(pool_size=2, strides=2))
net.add(nn.Flatten(), nn.Dense(10))
