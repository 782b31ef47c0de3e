# input: x=batch,3,32,32
# expect: SG201 at features.0
# expect: SG201 at head.1
"""Two independent mistakes in one model, both reported: the first conv expects 1 input
channel (grayscale) and the head's second Dense expects 128 features instead of 64."""

from shapegraph import nn


class Net(nn.Block):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential()
        self.features.add(nn.Conv2D(16, kernel_size=3, padding=1, in_channels=1),
                          nn.GlobalAvgPool2D())
        self.head = nn.Sequential()
        self.head.add(nn.Dense(64, in_units=16, activation="relu"),
                      nn.Dense(10, in_units=128))

    def forward(self, x):
        return self.head(self.features(x))


net = Net()
