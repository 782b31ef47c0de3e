# input: x=batch,20
# expect: SG201 at 1
"""The chapter's wrong width, with the input given: still one conflict, at layer 1."""

from shapegraph import nn

net = nn.Sequential()
net.add(nn.Dense(256, activation="relu"))
net.add(nn.Dense(10, in_units=300))
