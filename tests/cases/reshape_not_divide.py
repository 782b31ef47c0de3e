# input: x=batch,10
# expect: SG205 at <root>
"""Reshaping 10 features into (3, -1): 10 is not a multiple of 3."""

from shapegraph import nn


class Heads(nn.Block):
    def __init__(self):
        super().__init__()
        self.proj = nn.Dense(4)

    def forward(self, x):
        return self.proj(x.reshape((0, 3, -1)))


net = Heads()
