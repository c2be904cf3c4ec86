"""Models for the numerics tests: the op kinds and forms the zoo does not exercise end to end."""

import torch
import torch.nn as nn
import torch.nn.functional as F


class Mixed(nn.Module):
    """Batch norms folded into a conv and a transposed conv (one without bias), an unfolded batch
    norm, a channels-last layer norm and softmax, pixel (un)shuffle, pooling with ceil mode,
    upsampling by scale and by size, a channel slice, scalar and reverse-scalar arithmetic,
    reductions, and a skip concatenation that waits across two resolutions."""

    def __init__(self, c: int = 8):
        super().__init__()
        self.stem = nn.Conv2d(3, c, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c)
        self.down = nn.Conv2d(4 * c, 2 * c, 1)
        self.mid = nn.Conv2d(2 * c, 2 * c, 3, padding=2, dilation=2, groups=2)
        self.ln = nn.LayerNorm(2 * c)
        self.up = nn.ConvTranspose2d(2 * c, c, 2, stride=2, bias=False)
        self.bn2 = nn.BatchNorm2d(c)
        self.bn3 = nn.BatchNorm2d(2 * c)
        self.head = nn.Conv2d(c + c + c // 2, 3, 1)

    def forward(self, x):
        s = F.hardswish(self.bn1(self.stem(x)))  # skip: waits while the network works at H/2 and H/4
        y = self.down(F.pixel_unshuffle(s, 2))  # H/2
        y = F.avg_pool2d(y, 3, stride=2, padding=1, count_include_pad=False)  # H/4
        m = F.max_pool2d(y, 3, stride=2, ceil_mode=True)  # H/8: 4 rows from 8 only with ceil mode
        y = F.leaky_relu(self.mid(y), 0.1) + F.interpolate(m, size=y.shape[-2:], mode="nearest")
        z = self.ln(y.permute(0, 2, 3, 1))
        z = torch.softmax(z, dim=-1).permute(0, 3, 1, 2) * 4.0
        y = self.bn3(y + z)
        y = F.interpolate(y, scale_factor=2.0, mode="bilinear", align_corners=False)  # H/2
        y = self.bn2(self.up(y))  # H
        a, b = y[:, : y.shape[1] // 2], y[:, y.shape[1] // 2:]
        g = torch.sigmoid(1.0 - a) / (b.abs() + 1.0)
        n = torch.linalg.vector_norm(g, dim=(2, 3), keepdim=True) + g.sum(dim=1, keepdim=True).clamp(-2.0, 2.0)
        t = F.interpolate(F.pixel_shuffle(torch.cat([g, g, g, g], 1), 2), size=s.shape[-2:], mode="nearest")
        return self.head(torch.cat([s, torch.cat([t, n.expand_as(g)], 1).tanh(), F.relu(y[:, :g.shape[1]])], 1))


class GlobalResponse(nn.Module):
    """A GRN-style gate (ConvNeXt V2): a global statistic of a map used on that same map, in one layer
    (global pooling, then element-wise ops that need its result on every row)."""

    def __init__(self, c: int = 16):
        super().__init__()
        self.a = nn.Conv2d(3, c, 3, padding=1)
        self.b = nn.Conv2d(c, 3, 3, padding=1)
        self.gamma = nn.Parameter(torch.full((1, c, 1, 1), 0.5))

    def forward(self, x):
        y = F.gelu(self.a(x))
        g = y.pow(2).mean((2, 3), keepdim=True).sqrt()
        y = self.gamma * (y * (g / (g.mean(1, keepdim=True) + 1e-6))) + y
        return self.b(y)
