# input: x=batch,seq,32
# expect: nothing
"""Single-head self-attention over a symbolic sequence length: (seq, 32) @ (32, seq)."""

from shapegraph import nn, ops


class SelfAttention(nn.Block):
    def __init__(self, width=32):
        super().__init__()
        self.q = nn.Dense(width, flatten=False)
        self.k = nn.Dense(width, flatten=False)
        self.v = nn.Dense(width, flatten=False)
        self.out = nn.Dense(width, flatten=False, in_units=width)
        self.scale = 1.0 / width ** 0.5

    def forward(self, x):
        scores = ops.matmul(self.q(x), self.k(x).transpose(0, 2, 1)) * self.scale
        return self.out(ops.matmul(ops.softmax(scores, axis=-1), self.v(x))) + x


net = SelfAttention()
