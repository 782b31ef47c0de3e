# input: x=batch,8,7,7
# expect: nothing
"""Ceil-mode pooling: a 7x7 map pooled 2x2/2 gives 4x4 (not 3x3), so the Dense sees
8 * 4 * 4 = 128 features."""

from shapegraph import nn

net = nn.Sequential()
net.add(nn.MaxPool2D(pool_size=2, strides=2, ceil_mode=True),
        nn.Dense(10, in_units=128))
