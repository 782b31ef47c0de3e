# expect: SG102 at <root>
"""Two inputs meet in an elementwise op first, so nothing fixes their ranks without data
(and ranks are only tried for a single input): the declarations cannot be checked."""

from shapegraph import nn


class Sum(nn.Block):
    def __init__(self):
        super().__init__()
        self.out = nn.Dense(10, in_units=20)

    def forward(self, x, y):
        return self.out(x + y)


net = Sum()
