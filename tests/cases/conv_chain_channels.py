# input: x=batch,3,32,32
# expect: SG201 at 2
"""conv -> conv where the second declares in_channels=8 but receives 16 channels.
ONNX's checker misses this kind of mismatch between two convolutions."""

from shapegraph import nn

net = nn.Sequential()
net.add(nn.Conv2D(16, kernel_size=3, padding=1, in_channels=3),
        nn.Activation("relu"),
        nn.Conv2D(32, kernel_size=3, padding=1, in_channels=8))
