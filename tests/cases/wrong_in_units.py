# expect: SG201 at 1
# expect: SG101 at 0
# says: set in_units=256 on layer `1`
"""The chapter's wrong width, found from the declarations alone (no input given)."""

from shapegraph import nn

net = nn.Sequential()
net.add(nn.Dense(256, activation="relu"))
net.add(nn.Dense(10, in_units=300))
