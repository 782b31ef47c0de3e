# input: x=batch,1,5,5
# expect: SG204 at 0
# expect: SG201 at 3
"""Two independent conflicts, the second downstream of the first: the 7x7 kernel does
not fit the 5x5 image, and, whatever the conv produces, Dense(64) feeds a Dense declaring
in_units=32. The declarations alone reveal the second; the first must not hide it."""

from shapegraph import nn

net = nn.Sequential()
net.add(nn.Conv2D(8, kernel_size=7), nn.Flatten(), nn.Dense(64, activation="relu"),
        nn.Dense(10, in_units=32))
