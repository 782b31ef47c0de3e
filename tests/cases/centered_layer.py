# input: x=batch,20
# expect: nothing
"""D2L's CenteredLayer after a Dense: X - X.mean() broadcasts a 0-d mean."""

from shapegraph import nn


class CenteredLayer(nn.Block):
    def forward(self, X):
        return X - X.mean()


net = nn.Sequential()
net.add(nn.Dense(128), CenteredLayer())
