# input: x=batch,1,height,width
# expect: SG203 at 2
# says-not: - 32*(height//2) - 32*(width//2) + 64
"""Images of any size fed to a Dense with a fixed in_units=400: the features it sees,
16*(height//2 - 2)*(width//2 - 2), are 400 only for some image sizes."""

from shapegraph import nn

net = nn.Sequential()
net.add(nn.Conv2D(16, kernel_size=5, in_channels=1),
        nn.MaxPool2D(pool_size=2, strides=2),
        nn.Dense(10, in_units=400))
