# input: x=batch,10
# input: y=32,10
# expect: SG203 at <root>
# says: which does not hold for every value of `batch`
"""Two inputs joined along axis 1: x has a symbolic batch, y a batch of exactly 32.
Concatenating along the features needs the batch dims equal for every batch size."""

from shapegraph import nn, ops


class Join(nn.Block):
    def __init__(self):
        super().__init__()
        self.out = nn.Dense(4)

    def forward(self, x, y):
        return self.out(ops.concat(x, y, dim=1))


net = Join()
