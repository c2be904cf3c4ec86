"""NAFNet (width 32, SIDD configuration) and its skip-free and UNet-- variants.

Architecture (NAFNet, Chen et al. 2022; as used in Table 4 of the UNet-- paper):
intro 3x3 conv 3->32; four encoder levels of [2, 2, 4, 8] NAFBlocks at 32, 64, 128, 256
channels, each followed by a 2x2 stride-2 conv (c -> 2c); 12 middle NAFBlocks at 512
channels (H/16); four decoder stages, each an up-sampling (1x1 conv c -> 2c without bias,
PixelShuffle(2)), the skip addition and 2 NAFBlocks; ending 3x3 conv 32->3; global residual.
NAFBlock: LayerNorm2d, 1x1 c->2c, 3x3 depthwise 2c, SimpleGate, simplified channel attention
(global average pool + 1x1 c->c, multiply), 1x1 c->c, ``y = inp + x * beta``; LayerNorm2d,
1x1 c->2c, SimpleGate, 1x1 c->c, ``out = y + x * gamma``. LayerNorm2d is written op by op
(``hwsim.zoo.unetmm.LayerNorm2d``, eps 1e-6). Inputs must be multiples of 16 (no padding
logic).

Models (figures at 1x3x256x256; "MACs" = ``FlopCounterMode`` flops / 2, the ``macs`` of
``hwsim info``; "paper MACs" = conv MACs + one per output element per bias + the input
elements of average pooling, the module-hook convention of the paper's Table 4):

==================  ==========  ==============  ==============  =========================
model               params      MACs            paper MACs      waiting maps (8 bit)
==================  ==========  ==============  ==============  =========================
nafnet              29,159,715  16,045,035,520  16,228,611,712  E1..E4: 3.75 MiB
nafnet_noskip       29,159,715  16,045,035,520  16,228,611,712  none
nafnet_unetmm       29,895,181  17,032,794,112  17,228,166,784  256 ch x 32^2: 0.25 MiB
nafnet_unetmm_mid   29,833,549  16,982,462,464  17,177,835,136  64 ch x 64^2: 0.25 MiB
nafnet_unetmm_max   29,838,669  16,979,578,880  17,175,017,088  4 ch x 256^2: 0.25 MiB
==================  ==========  ==============  ==============  =========================

UNet-- variants (``hwsim.zoo.unetmm``; paper Sec. 3.3, 4, Fig. 2 and 3); the reduced maps
waiting before the fusion total at most the fused map (224 KiB, 224 KiB, 256 KiB):

* ``nafnet_unetmm`` (Fig. 3a, aggregation at H/8): E1..E4 reduced to 2, 4, 8, 32 channels
  (the paper's figures), unshuffled by 8, 4, 2, 1 -> 128 + 64 + 32 + 32 = 256 channels at
  H/8, fused by a 1x1 conv to 256 channels; IEM shuffles by 8, 4, 2, 1 -> headers at 4, 16,
  64, 256 channels, separable convs to 32, 64, 128, 256.
* ``nafnet_unetmm_mid`` (Fig. 3b, aggregation at H/4): same reduced widths 2, 4, 8, 32
  (32 divides by 2^2), E1 unshuffled by 4, E2 by 2, E3 as is, E4 shuffled by 2 ->
  32 + 16 + 8 + 8 = 64 channels at H/4, fused to 64 channels (the same 0.25 MiB as Fig. 3a).
  IEM: shuffle by 4, 2, identity, unshuffle by 2 -> the same header widths 4, 16, 64, 256.
* ``nafnet_unetmm_max`` (Fig. 3c, aggregation at H): reduced widths 2, 4, 16, 64 (E3, E4 are
  shuffled up by 4 and 8, so their widths must divide by 16 and 64; the smallest such
  widths are used) -> 2 + 1 + 1 + 1 = 5 channels at H, fused to 4 channels (0.25 MiB again);
  IEM: identity, unshuffle by 2, 4, 8 -> the same header widths 4, 16, 64, 256.

All three keep the fused map at 0.25 MiB (256 x 256 input, 8-bit), the paper's M_sc. In hwsim's
accounting (``hwsim info``) Fig. 3a's M_sc is exactly that 262,144 B; Fig. 3b and 3c show
524,288 B, because E4 (0.25 MiB at H/8) waits for the level-4 downsampling while the fusion conv
works at H/4 (or H): a short wait the paper's figure does not count.

Against Table 4 (NAFNet 16.23 G -> 17.52 G, +1.29 G; 29.16 M -> 29.98 M, +0.82 M) the Fig. 3a
model adds 0.9996 G paper MACs (-22.5 %) and 735,466 parameters (-10.3 %); of the
0.988 G conv MACs added, the IEM headers take 0.900 G (0.619 G in the 256-channel header at
H/8 alone) and MSIAM 0.088 G. The paper does not give the header internals, and the gap
lies within what its open choices span: the ConvNeXt V2 expansion (4 here, as published),
the separable conv's form (here a 3x3 depthwise at the header width then a 1x1 to the
output width; a depthwise with a channel multiplier to the output width followed by a
1x1 at the output width would add about 0.17 G and 12 k parameters), kernel sizes, biases,
and whatever its counter adds for GELU / LayerNorm / GRN (nothing here).

Ordering (the extracted op order is the accelerator's default schedule): each ``E_i`` is
reduced by MSIAM right after it is produced, before the level's downsampling conv; the fusion
runs right after ``E_4`` is reduced; each IEM header runs right after its decoder stage's
up-sampling, just before the add.

Weights are random (seeded; trained weights do not change memory behaviour). NAFBlock
beta/gamma and GRN gamma/beta are drawn at random (std 0.1) rather than the reference's
zeros, so that no branch is an identity and every op reaches the output.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from hwsim.zoo.unetmm import LayerNorm2d, UNetMMConfig

WIDTH = 32
ENC_BLOCKS = (2, 2, 4, 8)
MIDDLE_BLOCKS = 12
DEC_BLOCKS = (2, 2, 2, 2)
SEED = 0


class SimpleGate(nn.Module):
    """Split the channels in two halves and multiply them."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = x.chunk(2, dim=1)
        return a * b


class NAFBlock(nn.Module):
    """NAFNet's block: gated depthwise branch with channel attention, then gated FFN."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.norm1 = LayerNorm2d(c)
        self.conv1 = nn.Conv2d(c, 2 * c, 1)
        self.conv2 = nn.Conv2d(2 * c, 2 * c, 3, padding=1, groups=2 * c)
        self.sg = SimpleGate()
        self.sca = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(c, c, 1))
        self.conv3 = nn.Conv2d(c, c, 1)
        self.norm2 = LayerNorm2d(c)
        self.conv4 = nn.Conv2d(c, 2 * c, 1)
        self.conv5 = nn.Conv2d(c, c, 1)
        self.beta = nn.Parameter(0.1 * torch.randn(1, c, 1, 1))
        self.gamma = nn.Parameter(0.1 * torch.randn(1, c, 1, 1))

    def forward(self, inp: torch.Tensor) -> torch.Tensor:
        x = self.sg(self.conv2(self.conv1(self.norm1(inp))))
        x = self.conv3(x * self.sca(x))
        y = inp + x * self.beta
        x = self.conv5(self.sg(self.conv4(self.norm2(y))))
        return y + x * self.gamma


def _blocks(c: int, n: int) -> nn.Sequential:
    return nn.Sequential(*(NAFBlock(c) for _ in range(n)))


class NAFNet(nn.Module):
    """NAFNet U-Net; ``skips`` is ``"add"``, ``"none"`` or ``"unetmm"`` (needs ``unetmm``).

    The UNet-- modules are built after the backbone, so that a seeded build gives the same
    backbone weights whichever ``skips`` mode is chosen.
    """

    def __init__(
        self,
        skips: str = "add",
        unetmm: UNetMMConfig | None = None,
        width: int = WIDTH,
        enc_blocks: Sequence[int] = ENC_BLOCKS,
        middle_blocks: int = MIDDLE_BLOCKS,
        dec_blocks: Sequence[int] = DEC_BLOCKS,
    ) -> None:
        super().__init__()
        if skips not in ("add", "none", "unetmm"):
            raise ValueError(f"unknown skips mode {skips!r}")
        if (skips == "unetmm") != (unetmm is not None):
            raise ValueError("skips='unetmm' needs a UNetMMConfig, and only it takes one")
        self.skips = skips
        widths = [width * 2**i for i in range(len(enc_blocks))]
        self.intro = nn.Conv2d(3, width, 3, padding=1)
        self.encoders = nn.ModuleList(_blocks(c, n) for c, n in zip(widths, enc_blocks))
        self.downs = nn.ModuleList(nn.Conv2d(c, 2 * c, 2, stride=2) for c in widths)
        self.middle_blks = _blocks(2 * widths[-1], middle_blocks)
        dec_widths = widths[::-1]
        self.ups = nn.ModuleList(
            nn.Sequential(nn.Conv2d(2 * c, 4 * c, 1, bias=False), nn.PixelShuffle(2))
            for c in dec_widths
        )
        self.decoders = nn.ModuleList(_blocks(c, n) for c, n in zip(dec_widths, dec_blocks))
        self.ending = nn.Conv2d(width, 3, 3, padding=1)
        self.msiam, self.iem = unetmm.build(widths) if unetmm is not None else (None, None)

    def forward(self, inp: torch.Tensor) -> torch.Tensor:
        x = self.intro(inp)
        kept: list[torch.Tensor] = []
        fused = None
        last = len(self.encoders) - 1
        for i, (encoder, down) in enumerate(zip(self.encoders, self.downs)):
            x = encoder(x)
            if self.skips == "add":
                kept.append(x)
            elif self.skips == "unetmm":
                kept.append(self.msiam.reduce(i, x))
                if i == last:
                    fused = self.msiam.fuse(kept)
                    kept = []
            x = down(x)
        x = self.middle_blks(x)
        for j, (up, decoder) in enumerate(zip(self.ups, self.decoders)):
            level = last - j
            x = up(x)
            if self.skips == "add":
                x = x + kept[level]
            elif self.skips == "unetmm":
                x = x + self.iem.header(level, fused)
            x = decoder(x)
        return self.ending(x) + inp


def _unetmm(target: int, reduced: tuple[int, ...], fused_width: int) -> NAFNet:
    """NAFNet whose skips are replaced by UNet-- aggregating at encoder level ``target``."""
    return NAFNet("unetmm", UNetMMConfig(target, reduced, fused_width))


def _build(make) -> nn.Module:
    """Build with a fixed seed, without touching the caller's random state; eval mode."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(SEED)
        model = make()
    return model.eval()


def nafnet() -> nn.Module:
    """NAFNet width 32, SIDD configuration, skips added."""
    return _build(lambda: NAFNet("add"))


def nafnet_noskip() -> nn.Module:
    """NAFNet without the four encoder -> decoder skip additions."""
    return _build(lambda: NAFNet("none"))


def nafnet_unetmm() -> nn.Module:
    """NAFNet with UNet-- (Fig. 3a): fused map 256 ch at H/8."""
    return _build(lambda: _unetmm(3, (2, 4, 8, 32), 256))


def nafnet_unetmm_mid() -> nn.Module:
    """NAFNet with UNet-- (Fig. 3b): fused map 64 ch at H/4."""
    return _build(lambda: _unetmm(2, (2, 4, 8, 32), 64))


def nafnet_unetmm_max() -> nn.Module:
    """NAFNet with UNet-- (Fig. 3c): fused map 4 ch at H."""
    return _build(lambda: _unetmm(0, (2, 4, 16, 64), 4))
