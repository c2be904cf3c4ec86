"""One small model per op of issue 13 (a conv before and after, so the op sits inside a real
layer sequence), each run on a 1x4x16x16 input by tests/extract/test_ops.py."""

import torch
import torch.nn as nn
import torch.nn.functional as F


class _Wrap(nn.Module):
    """conv -> the op under test -> (its output, or a conv of it)."""

    channels = 4

    def __init__(self):
        super().__init__()
        self.head = nn.Conv2d(4, 4, 3, padding=1)

    def forward(self, x):
        return self.op(self.head(x))


class GroupNormNet(_Wrap):
    def __init__(self):
        super().__init__()
        self.norm = nn.GroupNorm(2, 4)
        self.tail = nn.Conv2d(4, 4, 3, padding=1)

    def op(self, x):
        return self.tail(F.silu(self.norm(x)))


class GroupNormPlain(_Wrap):
    def op(self, x):
        return F.group_norm(x, 1)


class InstanceNormNet(_Wrap):
    def __init__(self):
        super().__init__()
        self.norm = nn.InstanceNorm2d(4, affine=True)

    def op(self, x):
        return self.norm(x)


class InstanceNormRunning(_Wrap):
    def __init__(self):
        super().__init__()
        self.norm = nn.InstanceNorm2d(4, affine=True, track_running_stats=True)

    def op(self, x):
        return self.norm(x) * 2


class LeakyReLUNet(_Wrap):
    def op(self, x):
        return F.leaky_relu(x, 0.1)


class PReLUNet(_Wrap):
    def __init__(self):
        super().__init__()
        self.act = nn.PReLU(4)
        self.one = nn.PReLU()

    def op(self, x):
        return self.one(self.act(x))


class MishNet(_Wrap):
    def op(self, x):
        return F.mish(x)


class SoftplusNet(_Wrap):
    def op(self, x):
        return F.softplus(x, beta=2.0, threshold=1.0)


class _Pad(_Wrap):
    mode = "constant"

    def op(self, x):
        return F.pad(x, (1, 2, 3, 0), mode=self.mode, **({"value": 0.5} if self.mode == "constant" else {}))


class PadConstant(_Pad):
    mode = "constant"


class PadReflect(_Pad):
    mode = "reflect"


class PadReplicate(_Pad):
    mode = "replicate"


class PadCircular(_Pad):
    mode = "circular"


class PadCrop(_Wrap):
    def op(self, x):
        return F.pad(x, (-1, 2, 0, -3))


class ConvPaddingModes(nn.Module):
    def __init__(self):
        super().__init__()
        self.convs = nn.Sequential(*[nn.Conv2d(4, 4, 3, padding=1, padding_mode=m)
                                     for m in ("reflect", "replicate", "circular", "zeros")])

    def forward(self, x):
        return self.convs(x)


class Bicubic(_Wrap):
    def op(self, x):
        return F.interpolate(x, scale_factor=2, mode="bicubic") + F.interpolate(x, size=(32, 32), mode="bicubic",
                                                                               align_corners=True)


class SDPA(_Wrap):
    def op(self, x):
        n, c, h, w = x.shape
        t = x.flatten(2).transpose(1, 2).reshape(n, h * w, 2, 2).transpose(1, 2)  # (N, heads, HW, 2)
        return F.scaled_dot_product_attention(t, t * 0.5, t).transpose(1, 2).reshape(n, h, w, c).permute(0, 3, 1, 2)


class SDPAMasked(_Wrap):
    def op(self, x):
        q = x.flatten(2)  # (N, C, HW): C tokens of HW features
        mask = q[:, :, :4] > -0.3  # (N, 4, 4): a data-dependent boolean mask (the diagonal always kept)
        mask = torch.logical_or(mask, torch.eye(4, dtype=torch.bool))
        return F.scaled_dot_product_attention(q, q, q, attn_mask=mask) + \
            F.scaled_dot_product_attention(q, q * 2, q, attn_mask=q[:, :, 4:8] * 0.1, scale=0.3)


class MHABatchFirst(_Wrap):
    def __init__(self):
        super().__init__()
        self.attn = nn.MultiheadAttention(4, 2, batch_first=True)

    def op(self, x):
        t = x.flatten(2).transpose(1, 2)
        return self.attn(t, t, t, need_weights=False)[0]


class MHASequenceFirst(_Wrap):
    def __init__(self):
        super().__init__()
        self.attn = nn.MultiheadAttention(4, 2)

    def op(self, x):
        t = x.flatten(2).permute(2, 0, 1)  # (HW, N, C)
        return self.attn(t, t, t)[0]


class EinsumContract(_Wrap):
    def op(self, x):
        attn = torch.einsum("nchw,ncij->nhwij", x[:, :, :4, :4], x[:, :, :2, :2])
        return torch.einsum("nchw->nhwc", x) + attn.sum()


class EinsumChannels(_Wrap):
    def op(self, x):
        return torch.einsum("nchw,nchw->nhw", x, x) + torch.einsum("bc,bchw->bhw", x.mean((2, 3)), x)


class EinsumOuter(_Wrap):
    def op(self, x):
        return torch.einsum("nc,nd->ncd", x.mean((2, 3)), x.amax((2, 3)))


class Roll(_Wrap):
    def op(self, x):
        return torch.roll(x, (1, -2), (2, 3))


class Conv1d(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Conv1d(4, 6, 3, padding=1)
        self.b = nn.Conv1d(6, 6, 5, stride=2, dilation=2, groups=3, padding=4, padding_mode="reflect")
        self.c = nn.Conv1d(6, 4, 1, bias=False, padding="same")

    def forward(self, x):
        return self.c(F.relu(self.b(self.a(x.flatten(2)))))


class Stack(_Wrap):
    def op(self, x):
        return torch.stack([x, x * 2, x.sigmoid()], 1).sum(1)


class WhereCompare(_Wrap):
    def op(self, x):
        y = torch.where(x > 0.1, x, x * 0.5) + torch.where(x <= -0.2, 1.0, x)
        return y + (x >= 0).float() - (x != x.mean()).to(x.dtype) + torch.logical_not(x < 0).float()


class AMax(_Wrap):
    def op(self, x):
        return x.amax(1, keepdim=True) * x + x.amax((2, 3), keepdim=True) + x.max(dim=3)[0].unsqueeze(3) \
            - x.amin(1, keepdim=True)


class Flip(_Wrap):
    def op(self, x):
        return x.flip(3) + x.flip((2, 3))


class Indexing(_Wrap):
    def op(self, x):
        return torch.cat([x[:, 1:2], x[:, [0, 3]], x[:, 2, None]], 1), x[:, :, ::2, 1::3]


class Select(_Wrap):
    def op(self, x):
        return x[:, 1] * x[0, 2]


class AdaptiveMaxPool(_Wrap):
    def op(self, x):
        return F.adaptive_max_pool2d(x, 3), F.adaptive_max_pool2d(x, 1)


class Created(_Wrap):
    def op(self, x):
        ramp = torch.arange(16, dtype=x.dtype) / 16
        return x * ramp + torch.ones(1, 4, 1, 1) + torch.full((16,), 0.5) - torch.zeros_like(x)


class SinCos(_Wrap):
    """A sinusoidal embedding, as diffusers' get_timestep_embedding: sin and cos of scaled inputs."""

    def op(self, x):
        return torch.cat([torch.sin(x * 3.0), torch.cos(x)], dim=1)


class EmptyConcat(_Wrap):
    """smp's stand-in feature of encoders without a stride-2 stage: a zero-channel torch.empty,
    concatenated (it adds nothing)."""

    def op(self, x):
        return torch.cat([x, torch.empty(1, 0, 16, 16)], dim=1) + torch.cat([torch.zeros(1, 0, 16, 16), x], dim=1)


class EmptyRead(_Wrap):
    def op(self, x):
        return x + torch.empty(1, 0, 16, 16).sum()


class EinsumEllipsis(_Wrap):
    def op(self, x):
        t = x.flatten(2)  # (N, C, HW)
        return torch.einsum("...ij,...kj->...ik", t, t) + torch.einsum("bij,bjk", t[:, :, :4], t[:, :4, :4])
