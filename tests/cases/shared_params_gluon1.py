# input: x=batch,20
# input: z=batch,30
# expect: SG208 at b
# says: stop sharing it between layer `a` and layer `b`
"""Gluon 1 sharing (params=other.params): one weight used at widths 20 and 30."""

from shapegraph import nn


class Tied(nn.Block):
    def __init__(self):
        super().__init__()
        self.a = nn.Dense(8)
        self.b = nn.Dense(8, params=self.a.params)

    def forward(self, x, z):
        return self.a(x) + self.b(z)


net = Tied()
