# input: x=batch,3,32,32
# expect: nothing
"""An inception-style module: three branches keep 32x32 and are joined along channels
(8 + 16 + 8 = 32), which the following conv declares."""

from shapegraph import nn, ops


class Inception(nn.Block):
    def __init__(self):
        super().__init__()
        self.b1 = nn.Conv2D(8, kernel_size=1)
        self.b3 = nn.Conv2D(16, kernel_size=3, padding=1)
        self.b5 = nn.Sequential()
        self.b5.add(nn.MaxPool2D(pool_size=3, strides=1, padding=1), nn.Conv2D(8, kernel_size=1))
        self.mix = nn.Conv2D(16, kernel_size=1, in_channels=32)

    def forward(self, x):
        return self.mix(ops.concat(self.b1(x), self.b3(x), self.b5(x), dim=1))


net = Inception()
