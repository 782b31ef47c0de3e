# input: x=batch,20
# input: z=batch,30
# expect: SG208 at b
"""Gluon 2 sharing (share_parameters): one weight used at widths 20 and 30."""

from shapegraph import nn


class Tied(nn.Block):
    def __init__(self):
        super().__init__()
        self.a = nn.Dense(8)
        self.b = nn.Dense(8)
        self.b.share_parameters(self.a.collect_params())

    def forward(self, x, z):
        return self.a(x) + self.b(z)


net = Tied()
