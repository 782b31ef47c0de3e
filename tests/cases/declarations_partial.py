# expect: SG101 at 0
"""Declarations only: the last layer's width is declared, so 1.weight is known, but
nothing says how wide the input is, so 0.weight dim 1 stays unknown (a note)."""

from shapegraph import nn

net = nn.Sequential()
net.add(nn.Dense(256, activation="relu"), nn.Dense(10, in_units=256))
