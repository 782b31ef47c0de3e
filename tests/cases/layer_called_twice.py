# input: x=batch,20
# expect: SG201 at proj
"""A layer with a wrong in_units called twice on the same input: one mistake, one
diagnostic."""

from shapegraph import nn


class Twice(nn.Block):
    def __init__(self):
        super().__init__()
        self.proj = nn.Dense(8, in_units=30)

    def forward(self, x):
        return self.proj(x) + self.proj(x)


net = Twice()
