# expect: SG102 at <root>
# says-not: axis 2 is out of range
"""Dense(flatten=False) keeps its input's rank: without data, a softmax over axis 2 after
it is not an error (the input may well be rank 3); the check needs the input's shape."""

from shapegraph import nn, ops


class PerToken(nn.Block):
    def __init__(self):
        super().__init__()
        self.proj = nn.Dense(5, flatten=False)

    def forward(self, x):
        return ops.softmax(self.proj(x), axis=2)


net = PerToken()
