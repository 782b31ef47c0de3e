# input: x=batch,20
# expect: SG302 at <root>
# says-not: = : forward at
"""forward branches on a tensor's value: the branch depends on data, so one trace cannot
describe the network."""

from shapegraph import nn


class Gate(nn.Block):
    def __init__(self):
        super().__init__()
        self.score = nn.Dense(1)
        self.small = nn.Dense(10)
        self.large = nn.Dense(10)

    def forward(self, x):
        if self.score(x):
            return self.large(x)
        return self.small(x)


net = Gate()
