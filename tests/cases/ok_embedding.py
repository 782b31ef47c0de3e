# input: tokens=batch,seq
# expect: nothing
"""Token ids -> embeddings -> per-token classifier over a symbolic sequence length."""

from shapegraph import nn


class Tagger(nn.Block):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(1000, 64)
        self.norm = nn.LayerNorm(in_channels=64)
        self.proj = nn.Dense(32, flatten=False, activation="tanh")
        self.out = nn.Dense(5, flatten=False)

    def forward(self, tokens):
        return self.out(self.proj(self.norm(self.embed(tokens))))


net = Tagger()
