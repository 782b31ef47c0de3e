"""Models for tests/test_help_lines.py: one mistake each, whose help must name the fix.

Their diagnostics are compared with golden files that show these lines, so edit this
file only at its end (or update the golden files).
"""

from __future__ import annotations

from shapegraph import nn, ops


class Inception(nn.Block):
    """A 5x5 branch without padding next to a 1x1 one: 28x28 against 32x32."""

    def __init__(self) -> None:
        super().__init__()
        self.p1 = nn.Conv2D(8, kernel_size=1)
        self.p3_2 = nn.Conv2D(8, kernel_size=5)

    def forward(self, x):  # type: ignore[no-untyped-def]
        return ops.concat(self.p1(x), self.p3_2(x), dim=1)


class Residual(nn.Block):
    """A body that doubles the channels and halves the size, added to its input."""

    def __init__(self) -> None:
        super().__init__()
        self.c1 = nn.Conv2D(32, kernel_size=3, strides=2, padding=1)
        self.c2 = nn.Conv2D(32, kernel_size=3, padding=1)

    def forward(self, x):  # type: ignore[no-untyped-def]
        return self.c2(self.c1(x)) + x


def small_cnn() -> nn.Sequential:
    """Three conv/pool stages: an image needs at least 32x32."""
    net = nn.Sequential()
    for channels in (8, 16, 32):
        net.add(nn.Conv2D(channels, kernel_size=5, padding=2, activation="relu"))
        net.add(nn.MaxPool2D(2), nn.MaxPool2D(2) if channels == 32 else nn.Activation("relu"))
    net.add(nn.Flatten(), nn.Dense(10))
    return net


class WrongAxis(nn.Block):
    """8 and 16 channels joined along the height instead of the channels."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Conv2D(8, kernel_size=3, padding=1)
        self.b = nn.Conv2D(16, kernel_size=3, padding=1)

    def forward(self, x):  # type: ignore[no-untyped-def]
        return ops.concat(self.a(x), self.b(x), dim=2)


def nchw_net() -> nn.Sequential:
    """An NCHW network that declares its 3 input channels."""
    net = nn.Sequential()
    net.add(nn.Conv2D(16, kernel_size=3, in_channels=3), nn.BatchNorm(),
            nn.Conv2D(32, kernel_size=3))
    return net


def embedding_dense() -> nn.Sequential:
    """A Dense meant for each token's 32 features, left with flatten=True."""
    net = nn.Sequential()
    net.add(nn.Embedding(1000, 32), nn.Dense(10, in_units=32))
    return net


def one_line() -> nn.Sequential:
    """Two layers on one source line: the caret goes under the argument."""
    net = nn.Sequential()
    net.add(nn.Dense(256), nn.Dense(10, in_units=300))
    return net


def vgg11() -> nn.Sequential:
    """VGG-11's convolutions and pools: five halvings."""
    net = nn.Sequential()
    for n, c in [(1, 64), (1, 128), (2, 256), (2, 512), (2, 512)]:
        for _ in range(n):
            net.add(nn.Conv2D(c, kernel_size=3, padding=1, activation="relu"))
        net.add(nn.MaxPool2D(2))
    net.add(nn.Flatten(), nn.Dense(4096, activation="relu"), nn.Dense(10))
    return net


def mlp() -> nn.Sequential:
    net = nn.Sequential()
    net.add(nn.Dense(16, activation="relu"), nn.Dense(4))
    return net


def deep_convs(n: int = 9) -> nn.Sequential:
    """``n`` unpadded 3x3 convolutions: each takes 2 off, a long chain of origins."""
    net = nn.Sequential()
    for _ in range(n):
        net.add(nn.Conv2D(4, kernel_size=3))
    return net


def nchw_first_kernel_5() -> nn.Sequential:
    """An NCHW network whose first 5x5 kernel does not fit a channels-last width of 3."""
    net = nn.Sequential()
    net.add(nn.Conv2D(6, kernel_size=5, in_channels=3), nn.MaxPool2D(2))
    return net
