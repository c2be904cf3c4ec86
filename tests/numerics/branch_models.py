"""A torch model whose layers have more than one order (``tests.graph.dags.two_branches`` in torch)."""

from torch import nn


class TwoBranches(nn.Module):
    """r = conv(x) feeds two branches that widen it to 16 channels and reduce it to one; the output is
    their sum. Layers in torch's order: r, a1, b1, a2, b2 (+ the add); finishing one branch before
    widening the other holds fewer bytes (r, a1, a2 rather than r, a1, b1)."""

    def __init__(self):
        super().__init__()
        self.r = nn.Conv2d(3, 4, 1)
        self.a1, self.b1 = nn.Conv2d(4, 16, 1), nn.Conv2d(4, 16, 1)
        self.a2, self.b2 = nn.Conv2d(16, 1, 1), nn.Conv2d(16, 1, 1)

    def forward(self, x):
        r = self.r(x)
        a, b = self.a1(r), self.b1(r)
        return self.a2(a) + self.b2(b)
