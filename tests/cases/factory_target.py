# target: build
# input: x=batch,1,28,28
# expect: SG201 at 2
"""The target is a function returning the network; the network's third layer expects
a flattened 28x28 image (784) but gets 8 * 26 * 26 features."""

from shapegraph import nn


def build():
    net = nn.Sequential()
    net.add(nn.Conv2D(8, kernel_size=3, activation="relu"),
            nn.Flatten(),
            nn.Dense(10, in_units=784))
    return net
