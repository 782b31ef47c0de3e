# input: x=batch,5
# expect: SG301 at encoder.spare
"""A whole sub-network inside a used block is never called: one warning for the
outermost unused block (`encoder.spare`), none for the layers inside it."""

from shapegraph import nn


class Encoder(nn.Block):
    def __init__(self):
        super().__init__()
        self.used = nn.Dense(8)
        self.spare = nn.Sequential()
        self.spare.add(nn.Dense(4), nn.Dense(2))

    def forward(self, x):
        return self.used(x)


class Net(nn.Block):
    def __init__(self):
        super().__init__()
        self.encoder = Encoder()
        self.head = nn.Dense(3)

    def forward(self, x):
        return self.head(self.encoder(x))


net = Net()
