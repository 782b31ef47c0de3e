"""A generated network of 1,000 layers (Dense + activation pairs), for `shapegraph check`."""

from shapegraph import nn


def build() -> nn.Sequential:
    net = nn.Sequential()
    for k in range(500):
        net.add(nn.Dense(64, activation="relu" if k % 2 else "tanh"))
        net.add(nn.Dropout(0.1))
    return net
