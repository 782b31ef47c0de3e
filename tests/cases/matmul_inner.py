# input: q=batch,8,16
# input: k=batch,8,32
# expect: SG201 at <root>
"""Attention scores q @ k.T with mismatched head sizes: (8, 16) @ (32, 8)."""

from shapegraph import nn, ops


class Scores(nn.Block):
    def forward(self, q, k):
        return ops.softmax(ops.matmul(q, k.transpose(0, 2, 1)), axis=-1)


net = Scores()
