# input: x=batch,3,32,32
# expect: SG201 at <root>
# says: differ in dim 2 (32 vs 30) and dim 3 (32 vs 30)
# says: add padding=1 to layer `right` (kernel 3)
"""Two branches concatenated along the channels: one keeps 32x32 (padding=1), the other
shrinks to 30x30 (no padding), so dims 2 and 3 disagree: one mistake, one diagnostic."""

from shapegraph import nn, ops


class TwoBranch(nn.Block):
    def __init__(self):
        super().__init__()
        self.left = nn.Conv2D(8, kernel_size=3, padding=1)
        self.right = nn.Conv2D(8, kernel_size=3)

    def forward(self, x):
        return ops.concat(self.left(x), self.right(x), dim=1)


net = TwoBranch()
