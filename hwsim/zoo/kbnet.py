"""KBNet (Zhang et al. 2023, "KBNet: Kernel Basis Network for Image Restoration"), SIDD configuration.

Architecture (a 4-level U-Net, NAFNet-shaped):

- intro 3x3 conv 3 -> 64; encoder stages of 2, 2, 4, 8 blocks at widths 64, 128, 256, 512, each followed by a
  2x2 stride-2 conv (c -> 2c, with bias); 12 middle blocks at width 1024 (H/16); decoder stages of 2 blocks each,
  each preceded by a bias-free 1x1 conv (c -> 2c) and pixel shuffle x2 (-> c/2); the skip is fused by
  **addition** (decoder input = upsampled + E_i); ending 3x3 conv 64 -> 3 plus the input image.
- Block (the reference's ``KBBlock_s`` with ``lightweight=True``, DW expand 2, FFN expand 1.5, 32 kernel bases,
  3x3 kernels, 4 channels per group):
  ``n = LN(x)``; ``s = conv1x1(avgpool(n))`` (channel attention); ``att = gate(dw3x3(n) -> min(c,32) ch)``
  -> 1x1 -> 32, times a per-basis scale, plus a 1x1 conv of ``n`` to 32; ``u = dw3x3(conv1x1(n))``;
  ``x1 = dw3x3(conv1x1(n))``; ``y = x + conv1x1((KBA(u, att) * ga + u) * x1 * s) * beta``;
  out = ``y + conv1x1(gate(conv1x1(LN(y)) -> 1.5c)) * gamma`` (the gate halves the channels: 0.75c).
- KBA (kernel-basis attention): each pixel mixes 32 learned grouped 3x3 kernels (``w``: 32 x (c * 4 * 9)) and
  biases (``b``: 32 x c) with its 32 attention coefficients, then applies the resulting kernel to its own 3x3
  neighbourhood: ``unfold`` -> ``att @ w`` (per-pixel kernels) -> batched ``kernels @ patches`` -> ``+ att @ b``.
  Those matmuls are 48.6 G MACs at 256x256 (FlopCounterMode counts them; the paper's 58.19 G does not).
  Their intermediates are large: the unfolded patches are 9c x HW and the per-pixel kernels 36c x HW elements
  (at level 1, 256x256: 2304 x 65536 = 151 M, 144 MiB at 8 bits, 19x all four skips together).

Reference facts used (read from the public ``zhangyi-3/KBNet`` repository, re-implemented here):
``Denoising/Options/sidd.yml`` selects ``KBNet_s`` with ``lightweight: true`` and ``ffn_scale: 1.5``, default
width 64, middle 12, encoder 2,2,4,8, decoder 2,2,2,2. (``KBNet_l`` is the Restormer-shaped model of the
deraining / defocus configurations; SIDD does not use it.) Parameter counts confirm it: 104,925,251 convolution
parameters (paper: 104.93 M) and 128,403,395 in all (DESIGN.md: 128.40 M).

``kbnet_unetmm`` is KBNet with UNet-- (paper Sec. 3.3 / 4), scaled for width 64: MSIAM reduces E1..E4
(64, 128, 256, 512 ch) by 1/16, 1/16, 1/16, 1/8 to 4, 8, 16, 64 ch, pixel-unshuffles E1..E3 by 8, 4, 2 to H/8
(256 + 128 + 64 + 64 = 512 ch) and fuses them with a 1x1 conv: one 512 x H/8 x W/8 map (0.5 MiB at 8 bits for
256x256) replaces the four skips. IEM pixel-shuffles it by 8, 4, 2, 1 and runs a ConvNeXt V2 block and a
separable-conv header per decoder stage; the header output is added where E_i was. MSIAM/IEM come from
``hwsim.zoo.unetmm``. Figures at 1x3x256x256 (paper convention = conv MACs + one per bias output + average-pool
inputs; FlopCounterMode = conv MACs without bias + the KBA matmuls):

- ``kbnet``: 104,925,251 conv params, 58.192 G paper MACs (paper 58.19 G), 106.42 G FlopCounterMode MACs.
- ``kbnet_unetmm``: 107,807,751 conv params (+2.75 %; paper 108.12 M, +3.0 %), 62.045 G paper MACs (+6.6 %;
  paper 63.11 G, +8.4 %), 110.25 G FlopCounterMode MACs. The shortfall (0.31 M, 1.07 G) is in the shared
  MSIAM/IEM, not here: the same modules at NAFNet's width 32 add 0.735 M / 1.00 G against the paper's
  0.82 M / 1.29 G, a gap 3.7x smaller, as a width-proportional structural difference would give.

Choices (deviations from the reference, none changes a count):

- Forward order is the memory schedule: in a block, the consumers of ``n`` run from small to large outputs
  (pool, attention, ``u``, then ``x1`` last, so ``x1`` is not live while ``u`` is computed); in KBA the unfold
  runs first, then the per-pixel kernels, their product, then the bias. In ``kbnet_unetmm`` each E_i is
  reduced right after it is produced (before its downsampling), the fusion runs right after E4 is reduced, and
  each IEM header runs right after its stage's upsampling, just before the addition.
- No input padding / output cropping: H and W must be multiples of 16 (the reference pads to 16 and crops,
  which is the identity then).
- LayerNorm2d (eps 1e-6) is the op-by-op one of ``hwsim.zoo.unetmm`` (channel mean, variance, sqrt, divide),
  shared with NAFNet; the reference uses a custom autograd op with the same forward.
- KBA is plain tensor ops instead of the reference's custom autograd function (same forward arithmetic).
- Kernel bases are initialised uniform in +-1/sqrt(4*9) (per-kernel fan-in), biases in +-1/sqrt(32): random
  weights only; no checkpoint is loaded.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from hwsim.zoo.unetmm import LayerNorm2d, UNetMMConfig

WIDTH = 64
ENC_BLOCKS = (2, 2, 4, 8)
MIDDLE_BLOCKS = 12
DEC_BLOCKS = (2, 2, 2, 2)
FFN_EXPAND = 1.5
N_BASES = 32
KERNEL = 3
GROUP_CHANNELS = 4
MM_REDUCED = (4, 8, 16, 64)  # UNet--: E1..E4 reduced by 1/16, 1/16, 1/16, 1/8
MM_FUSED = 512  # UNet--: fused-map channels at H/8 (the concatenation's width, 256 + 128 + 64 + 64)


def gate(x):
    """SimpleGate: the two channel halves multiplied."""
    a, b = x.chunk(2, dim=1)
    return a * b


def kernel_basis_attention(x, att, bases, biases, kernel: int, groups: int):
    """Apply to each pixel of ``x`` (B, C, H, W) the grouped kernel mixed from ``bases`` by ``att``.

    ``att``: (B, N, H, W) coefficients; ``bases``: (1, N, C * C/groups * k*k); ``biases``: (1, N, C).
    """
    bsz, chans, height, width = x.shape
    pixels, per_group, taps = height * width, chans // groups, kernel * kernel
    coeff = att.reshape(bsz, att.shape[1], pixels).transpose(1, 2)  # (B, HW, N)
    patches = F.unfold(x, kernel_size=kernel, padding=kernel // 2)  # (B, C*k*k, HW)
    patches = patches.reshape(bsz, groups, per_group * taps, pixels).permute(0, 3, 1, 2)
    kernels = torch.matmul(coeff, bases)  # (B, HW, C * C/groups * k*k): one grouped kernel per pixel
    kernels = kernels.reshape(bsz, pixels, groups, per_group, per_group * taps)
    out = torch.matmul(kernels, patches.unsqueeze(-1)).reshape(bsz, pixels, chans)
    out = out + torch.matmul(coeff, biases)
    return out.transpose(1, 2).reshape(bsz, chans, height, width)


def _conv(cin: int, cout: int, k: int = 1, groups: int = 1, bias: bool = True) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, k, padding=k // 2, groups=groups, bias=bias)


class KBBlock(nn.Module):
    """The light KBNet block (reference ``KBBlock_s``, ``lightweight=True``) of width ``c``."""

    def __init__(self, c: int, ffn_expand: float = FFN_EXPAND):
        super().__init__()
        ffn = int(ffn_expand * c)
        inter = min(c, 32)
        self.groups = c // GROUP_CHANNELS
        self.norm1, self.norm2 = LayerNorm2d(c), LayerNorm2d(c)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.sca = _conv(c, c)
        self.att_dw = _conv(c, inter, KERNEL, groups=inter)
        self.att_pw = _conv(inter // 2, N_BASES)
        self.att_lin = _conv(c, N_BASES)
        self.att_scale = nn.Parameter(torch.full((1, N_BASES, 1, 1), 1e-2))
        self.uf_pw, self.uf_dw = _conv(c, c), _conv(c, c, KERNEL, groups=c)
        self.x1_pw, self.x1_dw = _conv(c, c), _conv(c, c, KERNEL, groups=c)
        fan = GROUP_CHANNELS * KERNEL * KERNEL
        bases = torch.empty(1, N_BASES, c * fan).uniform_(-1 / math.sqrt(fan), 1 / math.sqrt(fan))
        self.bases = nn.Parameter(bases)
        bound = 1 / math.sqrt(N_BASES)
        self.biases = nn.Parameter(torch.empty(1, N_BASES, c).uniform_(-bound, bound))
        self.kba_scale = nn.Parameter(torch.full((1, c, 1, 1), 1e-2))
        self.proj = _conv(c, c)
        self.beta = nn.Parameter(torch.full((1, c, 1, 1), 1e-2))
        self.ffn_in, self.ffn_out = _conv(c, ffn), _conv(ffn // 2, c)
        self.gamma = nn.Parameter(torch.full((1, c, 1, 1), 1e-2))

    def forward(self, inp):
        n = self.norm1(inp)
        sca = self.sca(self.pool(n))
        att = self.att_pw(gate(self.att_dw(n))) * self.att_scale + self.att_lin(n)
        uf = self.uf_dw(self.uf_pw(n))
        x1 = self.x1_dw(self.x1_pw(n))
        kba = kernel_basis_attention(uf, att, self.bases, self.biases, KERNEL, self.groups)
        x = (kba * self.kba_scale + uf) * x1 * sca
        y = inp + self.proj(x) * self.beta
        x = self.ffn_out(gate(self.ffn_in(self.norm2(y))))
        return y + x * self.gamma


def _stage(c: int, blocks: int) -> nn.Sequential:
    return nn.Sequential(*[KBBlock(c) for _ in range(blocks)])


class KBNet(nn.Module):
    """KBNet U-Net; ``forward`` runs the encoder, middle and decoder with additive skips."""

    def __init__(self, width: int = WIDTH, img_channels: int = 3, enc_blocks: tuple[int, ...] = ENC_BLOCKS,
                 middle_blocks: int = MIDDLE_BLOCKS, dec_blocks: tuple[int, ...] = DEC_BLOCKS):
        """The SIDD configuration by default; other block counts make smaller test models."""
        super().__init__()
        self.intro = _conv(img_channels, width, 3)
        self.encoders, self.downs = nn.ModuleList(), nn.ModuleList()
        self.ups, self.decoders = nn.ModuleList(), nn.ModuleList()
        c = width
        for blocks in enc_blocks:
            self.encoders.append(_stage(c, blocks))
            self.downs.append(nn.Conv2d(c, 2 * c, 2, stride=2))
            c *= 2
        self.middle = _stage(c, middle_blocks)
        for blocks in dec_blocks:
            self.ups.append(nn.Sequential(_conv(c, 2 * c, bias=False), nn.PixelShuffle(2)))
            c //= 2
            self.decoders.append(_stage(c, blocks))
        self.ending = _conv(width, img_channels, 3)

    def forward(self, inp):
        x = self.intro(inp)
        skips = []
        for encoder, down in zip(self.encoders, self.downs):
            x = encoder(x)
            skips.append(x)
            x = down(x)
        x = self.middle(x)
        for up, decoder, skip in zip(self.ups, self.decoders, reversed(skips)):
            x = decoder(up(x) + skip)
        return self.ending(x) + inp


class KBNetUNetMM(KBNet):
    """KBNet whose four skips are replaced by UNet--'s MSIAM (one fused map at H/8) and IEM headers."""

    def __init__(self, width: int = WIDTH, img_channels: int = 3, enc_blocks: tuple[int, ...] = ENC_BLOCKS,
                 middle_blocks: int = MIDDLE_BLOCKS, dec_blocks: tuple[int, ...] = DEC_BLOCKS):
        super().__init__(width, img_channels, enc_blocks, middle_blocks, dec_blocks)
        levels = len(enc_blocks)
        config = UNetMMConfig(levels - 1, MM_REDUCED, MM_FUSED)  # aggregate at the coarsest skip, H/8
        self.msiam, self.iem = config.build(tuple(width * 2**i for i in range(levels)))

    def forward(self, inp):
        x = self.intro(inp)
        reduced = []
        for level, (encoder, down) in enumerate(zip(self.encoders, self.downs)):
            x = encoder(x)
            reduced.append(self.msiam.reduce(level, x))
            if level == len(self.encoders) - 1:
                fused = self.msiam.fuse(reduced)
            x = down(x)
        x = self.middle(x)
        for stage, (up, decoder) in enumerate(zip(self.ups, self.decoders)):
            x = up(x)
            x = decoder(x + self.iem.header(len(self.decoders) - 1 - stage, fused))
        return self.ending(x) + inp


def kbnet() -> nn.Module:
    """KBNet, SIDD configuration (width 64, light blocks, FFN 1.5), in eval mode."""
    torch.manual_seed(0)
    return KBNet().eval()


def kbnet_unetmm() -> nn.Module:
    """KBNet (SIDD configuration) with UNet--: 512-channel fused map at H/8, in eval mode."""
    torch.manual_seed(0)
    return KBNetUNetMM().eval()
