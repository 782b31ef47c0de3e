# input: x=batch,3,32,32
# expect: nothing
"""ResNet basic blocks with BatchNorm and residual adds, one of them downsampling with a
1x1 projection on the shortcut."""

from shapegraph import nn, ops


class BasicBlock(nn.Block):
    def __init__(self, channels, strides=1, project=False):
        super().__init__()
        self.conv1 = nn.Conv2D(channels, kernel_size=3, strides=strides, padding=1,
                               use_bias=False)
        self.bn1 = nn.BatchNorm()
        self.conv2 = nn.Conv2D(channels, kernel_size=3, padding=1, use_bias=False)
        self.bn2 = nn.BatchNorm()
        self.project = None
        if project:
            self.project = nn.Sequential()
            self.project.add(nn.Conv2D(channels, kernel_size=1, strides=strides,
                                       use_bias=False), nn.BatchNorm())

    def forward(self, x):
        y = ops.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        shortcut = x if self.project is None else self.project(x)
        return ops.relu(y + shortcut)


class ResNet(nn.Block):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential()
        self.stem.add(nn.Conv2D(16, kernel_size=3, padding=1, in_channels=3),
                      nn.BatchNorm(in_channels=16), nn.Activation("relu"))
        self.stages = nn.Sequential()
        self.stages.add(BasicBlock(16), BasicBlock(32, strides=2, project=True))
        self.pool = nn.GlobalAvgPool2D()
        self.fc = nn.Dense(10, in_units=32)

    def forward(self, x):
        return self.fc(self.pool(self.stages(self.stem(x))))


net = ResNet()
