# expect: nothing
"""forward starts with an elementwise op, so nothing fixes the input's rank without data;
every rank that fits (2 and up: the dense flattens) gives the same verdict, so the
declarations are checked all the same."""

from shapegraph import nn, ops


class Scaled(nn.Block):
    def __init__(self):
        super().__init__()
        self.out = nn.Dense(10, in_units=20)

    def forward(self, x):
        return self.out(ops.relu(x * 2.0))


net = Scaled()
