# input: x=batch,seq,32
# expect: SG201 at encoder.1.ffn.0
"""A conflict deep inside nested blocks: the second encoder layer's feed-forward network
declares in_units=64, but the model width is 32."""

from shapegraph import nn


class EncoderLayer(nn.Block):
    def __init__(self, width, ffn_in):
        super().__init__()
        self.norm = nn.LayerNorm()
        self.ffn = nn.Sequential()
        self.ffn.add(nn.Dense(4 * width, flatten=False, in_units=ffn_in, activation="relu"),
                     nn.Dense(width, flatten=False))

    def forward(self, x):
        return x + self.ffn(self.norm(x))


class Encoder(nn.Block):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential()
        self.encoder.add(EncoderLayer(32, 32), EncoderLayer(32, 64))
        self.head = nn.Dense(2, flatten=False)

    def forward(self, x):
        return self.head(self.encoder(x))


net = Encoder()
