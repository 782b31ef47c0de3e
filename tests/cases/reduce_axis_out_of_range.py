# input: x=batch,10
# expect: SG202 at <root>
# says: mean: axis 2 is out of range for f32[batch,5] (rank 2)
# says: use an axis from -2 to 1
"""A mean over axis 2 of a rank-2 tensor (the Dense output)."""

from shapegraph import nn


class Pooled(nn.Block):
    def __init__(self):
        super().__init__()
        self.hidden = nn.Dense(5)

    def forward(self, x):
        return self.hidden(x).mean(axis=2)


net = Pooled()
