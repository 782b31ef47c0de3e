# input: x=batch,1,28,28
# expect: SG201 at 1
# says: Flatten()
"""A conv output fed to Dense(flatten=False): the dense sees the last axis (26), not the
16*26*26 = 10816 features its in_units promises. A Flatten() is missing."""

from shapegraph import nn

net = nn.Sequential()
net.add(nn.Conv2D(16, kernel_size=3, activation="relu"))
net.add(nn.Dense(10, flatten=False, in_units=16 * 26 * 26))
