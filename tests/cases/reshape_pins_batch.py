# input: x=N,256,6,6
# expect: SG212 at <root>
# says: the target pins N to 1
# says: the model only works for batch size N = 1
# says: 1: shape[0] of layer `<root>` reshape in forward
"""AlexNet's classifier written with a fixed batch of 1: the reshape target (1, 9216)
holds the elements of one image, so with a symbolic batch N the model only works for
N = 1 (an ONNX export with a constant Reshape target does the same)."""

from shapegraph import nn


class Head(nn.Block):
    def __init__(self):
        super().__init__()
        self.fc = nn.Dense(10)

    def forward(self, x):
        return self.fc(x.reshape((1, 9216)))


net = Head()
