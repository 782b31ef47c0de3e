# input: x=batch,3,4
# expect: SG205 at <root>
"""Reshaping 3*4 = 12 features per sample to 7, without -1."""

from shapegraph import nn


class Squash(nn.Block):
    def forward(self, x):
        return x.reshape((0, 7))


net = Squash()
