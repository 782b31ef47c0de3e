# input: x=batch,3,4
# input: y=batch,5
# expect: SG206 at <root>
# says: 4 vs 5
"""(batch, 3, 4) * (batch, 5): the last axes are 4 and 5, neither equal nor 1."""

from shapegraph import nn


class Scale(nn.Block):
    def forward(self, x, y):
        return x * y


net = Scale()
