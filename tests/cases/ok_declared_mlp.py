# expect: nothing
"""Every width declared: the declarations alone determine every parameter."""

from shapegraph import nn

net = nn.Sequential()
net.add(nn.Dense(256, in_units=20, activation="relu"))
net.add(nn.Dense(10, in_units=256))
