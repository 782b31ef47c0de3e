# input: x=batch,8,16
# expect: SG210 at <root>
"""transpose(0, 2, 2) names axis 2 twice: an invalid configuration (the rank, 3, is right)."""

from shapegraph import nn


class Swap(nn.Block):
    def forward(self, x):
        return x.transpose(0, 2, 2)


net = Swap()
