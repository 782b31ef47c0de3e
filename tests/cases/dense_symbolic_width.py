# input: x=batch,features
# expect: SG207 at 0
"""A Dense fed a symbolic feature width: its weight would be (64, features), but a
parameter must have one fixed shape."""

from shapegraph import nn

net = nn.Sequential()
net.add(nn.Dense(64, activation="relu"), nn.Dense(10))
