# input: x=batch,10
# expect: SG202 at <root>
# says-not: feed an input of an axis 2
"""softmax over axis 2 of a rank-2 tensor."""

from shapegraph import nn, ops


class Probs(nn.Block):
    def __init__(self):
        super().__init__()
        self.logits = nn.Dense(5)

    def forward(self, x):
        return ops.softmax(self.logits(x), axis=2)


net = Probs()
