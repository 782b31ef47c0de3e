# expect: SG101 at proj
# says-not: axis 2 is out of range
"""Dense(flatten=False) keeps its input's rank: without data, a softmax over axis 2 after
it is not an error (the input may well be rank 3). Every rank that fits (3 and up) gives
the same verdict, so the declarations are checked; only in_units stays unknown."""

from shapegraph import nn, ops


class PerToken(nn.Block):
    def __init__(self):
        super().__init__()
        self.proj = nn.Dense(5, flatten=False)

    def forward(self, x):
        return ops.softmax(self.proj(x), axis=2)


net = PerToken()
