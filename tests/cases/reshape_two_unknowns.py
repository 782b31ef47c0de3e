# input: x=batch,8,16
# expect: SG210 at <root>
"""A reshape target with two -1: which one gets which size is undecidable."""

from shapegraph import nn


class Split(nn.Block):
    def forward(self, x):
        return x.reshape((0, -1, -1))


net = Split()
