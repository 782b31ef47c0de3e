"""The seed chapter's network, for `shapegraph check` timing."""

from shapegraph import nn

net = nn.Sequential()
net.add(nn.Dense(256, activation="relu"))
net.add(nn.Dense(10))
