# input: x=batch,seq,64
# expect: nothing
"""Splitting 64 features into 4 heads of 16 with reshape (0 copies a dim, -1 infers one),
and merging them back."""

from shapegraph import nn


class Heads(nn.Block):
    def __init__(self):
        super().__init__()
        self.proj = nn.Dense(64, flatten=False, in_units=64)

    def forward(self, x):
        h = self.proj(x).reshape((0, 0, 4, -1)).transpose(0, 2, 1, 3)
        return h.transpose(0, 2, 1, 3).reshape((0, 0, -1))


net = Heads()
