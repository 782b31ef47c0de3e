# input: x=batch,3,64,64
# expect: SG201 at classifier.0
# says: input features = 2048, but weight in_units = 25088
# says: 64: dim 2 of input `x` (given as f32[batch,3,64,64])
"""A VGG-style network fed 64x64 images: its classifier was written for 224x224
(in_units=512*7*7 = 25088), but five 2x2 pools leave 2x2, i.e. 512*2*2 = 2048 features."""

from shapegraph import nn


def stage(channels, convs):
    s = nn.Sequential()
    for _ in range(convs):
        s.add(nn.Conv2D(channels, kernel_size=3, padding=1, activation="relu"))
    s.add(nn.MaxPool2D(pool_size=2, strides=2))
    return s


class VGG(nn.Block):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential()
        for channels, convs in [(64, 1), (128, 1), (256, 2), (512, 2), (512, 2)]:
            self.features.add(stage(channels, convs))
        self.classifier = nn.Sequential()
        self.classifier.add(nn.Dense(4096, in_units=512 * 7 * 7, activation="relu"),
                            nn.Dropout(0.5),
                            nn.Dense(4096, activation="relu"),
                            nn.Dropout(0.5),
                            nn.Dense(1000))

    def forward(self, x):
        return self.classifier(self.features(x))


net = VGG()
