# input: x=batch,20
# expect: nothing
"""The chapter's network: every width is inferred from the input."""

from shapegraph import nn

net = nn.Sequential()
net.add(nn.Dense(256, activation="relu"))
net.add(nn.Dense(10))
