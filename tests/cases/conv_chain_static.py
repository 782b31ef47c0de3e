# expect: SG201 at 1
"""conv -> conv with mismatched channels, found from the declarations alone (no input):
the first conv makes 16 channels, the second declares in_channels=8."""

from shapegraph import nn

net = nn.Sequential()
net.add(nn.Conv2D(16, kernel_size=3, in_channels=3, activation="relu"),
        nn.Conv2D(32, kernel_size=3, in_channels=8))
