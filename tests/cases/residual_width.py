# input: x=batch,20
# expect: SG206 at <root>
"""A residual connection around a body that changes the width: 16 + 20."""

from shapegraph import nn


class Residual(nn.Block):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential()
        self.body.add(nn.Dense(16, activation="relu"), nn.Dense(16))

    def forward(self, x):
        return self.body(x) + x


net = Residual()
