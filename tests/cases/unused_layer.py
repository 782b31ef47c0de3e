# input: x=batch,20
# expect: SG301 at aux
# expect: SG301 at dropout
# says-not: (Dropout(p = 0.5)) is never used by forward; its parameters stay uninitialized
"""Layers declared but never called by forward: warnings, not errors. `aux` has
parameters (they stay uninitialized); `dropout` has none."""

from shapegraph import nn


class MLP(nn.Block):
    def __init__(self):
        super().__init__()
        self.hidden = nn.Dense(64, activation="relu")
        self.dropout = nn.Dropout(0.5)
        self.aux = nn.Dense(3)
        self.out = nn.Dense(10)

    def forward(self, x):
        return self.out(self.hidden(x))


net = MLP()
