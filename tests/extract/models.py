"""Models written for the extraction tests."""

import torch
import torch.nn as nn
import torch.nn.functional as F


def _block(cin, cout):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU(), nn.Conv2d(cout, cout, 3, padding=1), nn.ReLU())


class PlainUNet(nn.Module):
    """Two levels, max pooling, nearest upsampling, concatenated skips."""

    def __init__(self, c=8):
        super().__init__()
        self.e1, self.e2, self.mid = _block(3, c), _block(c, 2 * c), _block(2 * c, 4 * c)
        self.d2, self.d1 = _block(4 * c + 2 * c, 2 * c), _block(2 * c + c, c)
        self.head = nn.Conv2d(c, 3, 1)

    def forward(self, x):
        e1 = self.e1(x)
        e2 = self.e2(F.max_pool2d(e1, 2))
        m = self.mid(F.max_pool2d(e2, 2))
        d2 = self.d2(torch.cat([F.interpolate(m, scale_factor=2.0, mode="nearest"), e2], 1))
        d1 = self.d1(torch.cat([F.interpolate(d2, scale_factor=2.0, mode="nearest"), e1], 1))
        return self.head(d1)


class TransposedBilinear(nn.Module):
    """Strided conv down, transposed conv up, bilinear resize, a linear over channels, a matmul."""

    def __init__(self):
        super().__init__()
        self.down = nn.Conv2d(3, 16, 3, stride=2, padding=1)
        self.up = nn.ConvTranspose2d(16, 8, 4, stride=2, padding=1)
        self.proj = nn.Linear(8, 8)
        self.out = nn.Conv2d(8, 3, 3, padding=2, dilation=2)

    def forward(self, x):
        y = torch.sigmoid(self.down(x))
        y = self.up(y)
        y = F.interpolate(y, scale_factor=0.5, mode="bilinear", align_corners=False)
        y = F.interpolate(y, size=x.shape[-2:], mode="bilinear", align_corners=True)
        z = self.proj(y.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        flat = z.flatten(2)
        gram = torch.matmul(flat, flat.transpose(1, 2))  # (1, 8, 8)
        z = z * torch.tanh(gram.mean(-1)).view(1, 8, 1, 1)
        return self.out(F.gelu(z))


class GroupedDepthwise(nn.Module):
    """Grouped and depthwise convs, batch norm to fold, a channel-attention residual, avg pooling, chunk."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 16, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(16)
        self.grouped = nn.Conv2d(16, 32, 3, padding=1, groups=4)
        self.dw = nn.Conv2d(32, 32, 5, padding=2, groups=32)
        self.fc = nn.Conv2d(16, 16, 1)
        self.tail = nn.Conv2d(16, 3, 1)

    def forward(self, x):
        s = torch.relu(self.bn(self.stem(x)))
        y = self.dw(self.grouped(s))
        a, b = y.chunk(2, dim=1)
        y = a * b
        y = y * torch.sigmoid(self.fc(F.adaptive_avg_pool2d(y, 1))) + s
        y = F.avg_pool2d(y, 2)
        return self.tail(y)


class Unsupported(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(3, 3, 1)
        self.b = nn.Conv2d(3, 3, 1)

    def forward(self, x):
        y = torch.cumsum(self.a(x), dim=1)
        return torch.sort(self.b(y), dim=3)[0]  # (flip was refused too until issue 13)


def broken():
    raise RuntimeError("this factory is broken")


class CumSum(nn.Module):
    """``torch.cumsum`` along the width: no accelerator op (hwsim maps none), a host op with ``--fallback host``."""

    def forward(self, x):
        return torch.cumsum(x, dim=3)


class CumUNet(nn.Module):
    """A two-level U-Net whose bottleneck ends in a cumulative sum (module ``bottleneck.1``).

    At 1x3x64x64: e1 4x64x64 (the skip), e2 8x32x32, the cumsum's input and output 8x32x32
    (8192 elements each), decoder at 64x64."""

    def __init__(self):
        super().__init__()
        self.enc1 = nn.Conv2d(3, 4, 3, padding=1)
        self.enc2 = nn.Conv2d(4, 8, 3, padding=1)
        self.bottleneck = nn.Sequential(nn.Conv2d(8, 8, 3, padding=1), CumSum())
        self.dec = nn.Conv2d(12, 3, 3, padding=1)

    def forward(self, x):
        e1 = torch.relu(self.enc1(x))
        e2 = torch.relu(self.enc2(F.max_pool2d(e1, 2)))
        b = self.bottleneck(e2)
        return self.dec(torch.cat([e1, F.interpolate(b, scale_factor=2.0, mode="nearest")], 1))


class Baddbmm(nn.Module):
    """``torch.baddbmm`` (no converter: a host op), whose flops ``FlopCounterMode`` knows."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 1)
        self.w = nn.Parameter(torch.randn(1, 64, 64))

    def forward(self, x):
        a = self.conv(x).flatten(2)  # 1 x 4 x 64
        return torch.baddbmm(a, a, self.w).view(1, 4, 8, 8)
