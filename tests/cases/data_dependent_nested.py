# input: x=batch,20
# expect: SG302 at body.1
"""The data-dependent branch is inside a nested block (`body.1`): the diagnostic names
that block, not the root."""

from shapegraph import nn


class Clip(nn.Block):
    def forward(self, x):
        while x > 1.0:
            x = x / 2.0
        return x


class Net(nn.Block):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential()
        self.body.add(nn.Dense(16), Clip(), nn.Dense(4))

    def forward(self, x):
        return self.body(x)


net = Net()
