# input: x=batch,20
# expect: SG201 at 0
"""Consistent declarations that the data contradicts: 20 features, in_units=30."""

from shapegraph import nn

net = nn.Sequential()
net.add(nn.Dense(256, in_units=30, activation="relu"))
net.add(nn.Dense(10))
