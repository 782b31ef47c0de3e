# input: x=batch,3,height,width
# expect: nothing
"""Images of any size: convolutions keep height and width symbolic and global pooling
removes them before the classifier, so no parameter depends on a symbol."""

from shapegraph import nn

net = nn.Sequential()
net.add(nn.Conv2D(32, kernel_size=3, padding=1, activation="relu"),
        nn.Conv2D(64, kernel_size=3, strides=2, padding=1, activation="relu"),
        nn.BatchNorm(),
        nn.GlobalAvgPool2D(),
        nn.Dense(10))
