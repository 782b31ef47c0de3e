# target: make_vgg
# input: x=batch,3,224,224
# expect: nothing
"""A factory target: a small VGG-style network fed the 224x224 images it was written for
(five 2x2 pools: 224 -> 7, and 64 * 7 * 7 = 3136 features)."""

from shapegraph import nn


def make_vgg():
    net = nn.Sequential()
    for channels in (8, 16, 32, 64, 64):
        net.add(nn.Conv2D(channels, kernel_size=3, padding=1, activation="relu"),
                nn.MaxPool2D(pool_size=2, strides=2))
    net.add(nn.Dense(128, in_units=64 * 7 * 7, activation="relu"),
            nn.Dropout(0.5),
            nn.Dense(10))
    return net
