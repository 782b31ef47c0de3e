# input: x=batch,20
# input: z=batch,20
# expect: nothing
"""A Siamese pair: both branches share one Dense (Gluon 2 share_parameters) at the same
width, so the shared weight is (8, 20) for both."""

from shapegraph import nn


class Siamese(nn.Block):
    def __init__(self):
        super().__init__()
        self.a = nn.Dense(8, activation="relu")
        self.b = nn.Dense(8, activation="relu")
        self.b.share_parameters(self.a.collect_params())

    def forward(self, x, z):
        return self.a(x) - self.b(z)


net = Siamese()
