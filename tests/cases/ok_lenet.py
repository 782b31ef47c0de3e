# input: x=batch,1,28,28
# expect: nothing
"""LeNet on 28x28 images: 16 * 5 * 5 = 400 features reach the first Dense."""

from shapegraph import nn

net = nn.Sequential()
net.add(nn.Conv2D(6, kernel_size=5, padding=2, activation="relu"),
        nn.MaxPool2D(pool_size=2, strides=2),
        nn.Conv2D(16, kernel_size=5, activation="relu"),
        nn.MaxPool2D(pool_size=2, strides=2),
        nn.Dense(120, in_units=400, activation="relu"),
        nn.Dense(84, activation="relu"),
        nn.Dense(10))
