# input: x=batch,4,128
# expect: nothing
"""A 1-D convolutional model over 4-channel sequences of length 128."""

from shapegraph import nn

net = nn.Sequential()
net.add(nn.Conv1D(16, kernel_size=5, padding=2, activation="relu"),
        nn.MaxPool1D(pool_size=2),
        nn.Conv1D(32, kernel_size=3, strides=2, activation="relu"),
        nn.AvgPool1D(pool_size=3, strides=3),
        nn.Flatten(),
        nn.Dense(8))
