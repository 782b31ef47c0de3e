# expect: SG102 at <root>
"""forward starts with an elementwise op, so nothing fixes the input's rank without data:
the declarations alone cannot be checked."""

from shapegraph import nn, ops


class Scaled(nn.Block):
    def __init__(self):
        super().__init__()
        self.out = nn.Dense(10, in_units=20)

    def forward(self, x):
        return self.out(ops.relu(x * 2.0))


net = Scaled()
