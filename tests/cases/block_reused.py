# input: x=batch,20
# input: z=batch,30
# expect: SG208 at proj
# says-not: between layer `proj` and layer `proj`
"""One block called on two inputs of different widths: its weight is shared by the
two calls, so they must have the same width."""

from shapegraph import nn


class Pair(nn.Block):
    def __init__(self):
        super().__init__()
        self.proj = nn.Dense(8)

    def forward(self, x, z):
        return self.proj(x) * self.proj(z)


net = Pair()
