"""MSCAN-tiny matting U-Net (UNet-- paper, Sec. 4.4, Table 7) and its skip-free and UNet-- forms.

The paper's matting experiment puts SegNeXt's MSCAN-tiny (Guo et al. 2022) in the encoder of a
U-Net and reports, per model, M_sc / MACs / params: 2.56 MB / 1.57 G / 3.95 M; without skips
0 / 1.55 G / 3.95 M; with UNet-- 0.14 MB / 1.71 G / 4.23 M, a 94.5 % skip-memory saving. It gives
neither the decoder, nor the matting head, nor the input size. Everything below that the paper
leaves open is a stated choice.

Encoder: MSCAN-tiny as published (re-implemented from the architecture; public reference
``Visual-Attention-Network/SegNeXt``, ``mmseg/models/backbones/mscan.py``, read, not copied):

* embed dims 32, 64, 160, 256; depths 3, 3, 5, 2; MLP ratios 8, 8, 4, 4; stage i works at H/2^(i+2).
* stem (stage 1's patch embedding, to H/4): 3x3 stride-2 conv 3 -> 16, BN, GELU, 3x3 stride-2
  conv 16 -> 32, BN. Stages 2-4: overlapping patch embedding, a 3x3 stride-2 conv (pad 1) + BN.
* block: ``x = x + s1 * attn(BN(x))``, ``x = x + s2 * mlp(BN(x))`` with per-channel layer scales
  s1, s2 (init 1e-2, as the reference); attn = 1x1 conv, GELU, multi-scale convolutional
  attention, 1x1 conv, plus its own input; the attention: ``a = dw5x5(u)``, then three depthwise
  strip pairs on ``a`` (1x7 then 7x1, 1x11 then 11x1, 1x21 then 21x1), ``a + b7 + b11 + b21``, a
  1x1 conv, multiplied with ``u``; mlp = 1x1 conv (x ratio), 3x3 depthwise conv, GELU, 1x1 conv.
  Every conv has a bias.
* each stage ends with a LayerNorm over channels (eps 1e-5), E_i is its output.

Choices (the paper's open points, and deviations that change no count):

* **Decoder** (the paper's Table 7 leaves 3.95 M - 3.90 M of the encoder = about 46 k parameters
  for decoder and head, and the same count with and without skips, so the skips are added, as in
  its NAFNet): E4 (256 ch, H/32) is the decoder's input; for level l = 3, 2, 1 a 1x1 conv from the
  deeper width to E_l's width (256 -> 160, 160 -> 64, 64 -> 32, run at the coarse resolution, the
  cheaper side), a x2 bilinear upsampling (align_corners False), the skip E_l added, then a 3x3
  depthwise conv and GELU. Skips are E1..E3; E4 is consumed at once, so it is no skip tensor.
  Decoder and head hold 56,097 parameters, 10 k (0.25 % of the model) over that budget.
* **Matting head**: a 1x1 conv 32 -> 1 at H/4, x4 bilinear upsampling to H, sigmoid: the alpha
  matte (1 x H x W).
* **UNet--** (Fig. 3a, aggregation at the coarsest encoder resolution, H/32, as the paper's NAFNet
  and KBNet): MSIAM reduces E1..E4 (32, 64, 160, 256 ch) by 1x1 convs to 2, 4, 8, 32 channels (the
  paper's NAFNet figures), pixel-unshuffles them by 8, 4, 2, 1 to H/32 (128 + 64 + 32 + 32 = 256
  ch) and fuses them by a 1x1 conv to 256 channels (E4's width): the one map that waits. IEM
  builds headers for the three skip levels only (pixel shuffle by 8, 4, 2 -> ConvNeXt V2 blocks at
  4, 16, 64 ch -> separable convs to 32, 64, 160 ch), each added where E_l was. E4 needs no header:
  it is not a skip; MSIAM still aggregates it (its semantic content reaches the fused map).
  UNet-- adds 128,522 parameters, not the paper's 0.28 M; a fourth header, for E4, would add
  609,280 more (a ConvNeXt V2 block and a separable conv at 256 ch: 4.70 M in all, +11 %), so
  a four-header reading fits no better.
* Stage-end LayerNorm written channels-first (``hwsim.zoo.unetmm.LayerNorm2d``, eps 1e-5): the
  reference's flatten / transpose / nn.LayerNorm / permute, without the two layout permutes, as an
  NHWC deployment runs it. Same parameters, same values.
* Batch norms: after a conv (stem, patch embeddings) ``hwsim extract`` folds them into it, as
  deployment compilers do; the block norms come before a 1x1 conv and stay ``batch_norm`` ops
  (element-wise, fused into the residual add's layer). A converter could fold the MLP's norm into
  its first 1x1 conv (exact: no padding); the attention's cannot go, its output is also the
  attention's shortcut. hwsim folds neither, so its vector ops carry 13 per-channel
  scale-and-shifts a compiled model would not. Every BN's statistics and affine parameters are
  drawn at random (seeded), so that folding and the numerics check are exercised.
* The attention's three strip branches are accumulated as each finishes (``a + b7``, ``+ b11``,
  ``+ b21``: the reference's summation order), so only one branch is live at a time.
* No dropout / drop path (inference). Input H, W must be multiples of 32.

Input size. No one size reproduces Table 7's three columns (sizes are multiples of 32): with
E1..E3 as skips (3.625 H^2 bytes at 8 bits) 2.56 MiB needs H = 864 (2.581 MiB), where the
paper-convention MACs are 13.55 G, while 1.57 G needs H = 288 (1.506 G; M_sc 0.287 MiB). The
committed graphs are at 864x864 (the M_sc reading: hwsim is about memory);
``experiments/paper_tables.py`` prints both readings side by side. The saving does not depend on
the size: 256 x (H/32)^2 against 3.625 H^2 bytes, 93.10 % (paper 94.5 %).

Figures (parameters as torch counts them, BN statistics excluded; MACs in the paper's convention,
as module hooks count them; ``hwsim info`` adds the inputs of GRN's global mean, 13.833 G at 864):

==================  =========  ===========  ===========
model               params     MACs @ 288   MACs @ 864
==================  =========  ===========  ===========
mscan_tiny          3,959,681  1.506 G      13.555 G
mscan_tiny_noskip   3,959,681  1.506 G      13.555 G
mscan_tiny_unetmm   4,088,203  1.537 G      13.831 G
==================  =========  ===========  ===========

The encoder is 3,903,584 of them (the paper: 3.95 M in all). ``hwsim info`` counts 3,965,025: it
drops the 1,056 BN parameters folded into convs and counts the running mean and variance (6,400)
of the block BNs it keeps. Against the paper: params +0.2 % and -3.4 %. UNet-- adds 128,522
parameters and 0.03 G MACs at 288 where the paper adds 0.28 M and 0.14 G (its header design is not
given; on NAFNet the same modules come within 10 % of the parameters and 23 % of the MACs that its
Table 4 adds). The skip-free form costs the same MACs, where the paper has 0.02 G less (an addition
is no MAC in any counter convention; the paper's decoder must differ there).

Ordering (the extracted op order is the default schedule): each E_i is reduced by MSIAM right after
it is produced, before the next patch embedding; the fusion right after E4's reduction; each IEM
header right after its level's upsampling, just before the add.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from hwsim.zoo.unetmm import IEM, MSIAM, LayerNorm2d, resizes_from, resizes_to

EMBED_DIMS = (32, 64, 160, 256)
DEPTHS = (3, 3, 5, 2)
MLP_RATIOS = (8, 8, 4, 4)
STRIPS = (7, 11, 21)
LAYER_SCALE = 1e-2
STAGE_NORM_EPS = 1e-5
MM_REDUCED = (2, 4, 8, 32)
MM_FUSED = 256
SKIP_LEVELS = 3  # E1..E3 wait for the decoder; E4 is its input
SEED = 0


class StripAttention(nn.Module):
    """Multi-scale convolutional attention: dw 5x5, three depthwise strip pairs, sum, 1x1, times input."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.local = nn.Conv2d(dim, dim, 5, padding=2, groups=dim)
        self.strips = nn.ModuleList(
            nn.Sequential(
                nn.Conv2d(dim, dim, (1, k), padding=(0, k // 2), groups=dim),
                nn.Conv2d(dim, dim, (k, 1), padding=(k // 2, 0), groups=dim),
            )
            for k in STRIPS
        )
        self.mix = nn.Conv2d(dim, dim, 1)

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        a = self.local(u)
        acc = a
        for strip in self.strips:
            acc = acc + strip(a)
        return self.mix(acc) * u


class SpatialAttention(nn.Module):
    """1x1 conv, GELU, strip attention, 1x1 conv, plus the input."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.proj_in = nn.Conv2d(dim, dim, 1)
        self.gating = StripAttention(dim)
        self.proj_out = nn.Conv2d(dim, dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj_out(self.gating(F.gelu(self.proj_in(x)))) + x


class Mlp(nn.Module):
    """1x1 expansion, 3x3 depthwise conv, GELU, 1x1 projection."""

    def __init__(self, dim: int, ratio: int) -> None:
        super().__init__()
        hidden = dim * ratio
        self.fc1 = nn.Conv2d(dim, hidden, 1)
        self.dwconv = nn.Conv2d(hidden, hidden, 3, padding=1, groups=hidden)
        self.fc2 = nn.Conv2d(hidden, dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.dwconv(self.fc1(x))))


class Block(nn.Module):
    """MSCAN block: BN, attention, layer scale, residual; BN, MLP, layer scale, residual."""

    def __init__(self, dim: int, ratio: int) -> None:
        super().__init__()
        self.norm1 = nn.BatchNorm2d(dim)
        self.attn = SpatialAttention(dim)
        self.norm2 = nn.BatchNorm2d(dim)
        self.mlp = Mlp(dim, ratio)
        self.scale1 = nn.Parameter(torch.full((1, dim, 1, 1), LAYER_SCALE))
        self.scale2 = nn.Parameter(torch.full((1, dim, 1, 1), LAYER_SCALE))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.scale1 * self.attn(self.norm1(x))
        return x + self.scale2 * self.mlp(self.norm2(x))


def _embedding(stage: int, cin: int, cout: int) -> nn.Sequential:
    """Stage 1: the two-conv stem to H/4; later stages: a 3x3 stride-2 conv + BN."""
    if stage == 0:
        return nn.Sequential(
            nn.Conv2d(cin, cout // 2, 3, stride=2, padding=1), nn.BatchNorm2d(cout // 2), nn.GELU(),
            nn.Conv2d(cout // 2, cout, 3, stride=2, padding=1), nn.BatchNorm2d(cout),
        )
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride=2, padding=1), nn.BatchNorm2d(cout))


class Stage(nn.Module):
    """Patch embedding, MSCAN blocks, channel LayerNorm: one encoder output E_i."""

    def __init__(self, stage: int, cin: int, cout: int, depth: int, ratio: int) -> None:
        super().__init__()
        self.embed = _embedding(stage, cin, cout)
        self.blocks = nn.Sequential(*(Block(cout, ratio) for _ in range(depth)))
        self.norm = LayerNorm2d(cout, eps=STAGE_NORM_EPS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.blocks(self.embed(x)))


def _randomise_batch_norms(module: nn.Module) -> None:
    """Non-trivial BN statistics and affine parameters, so that no BN is an identity."""
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.copy_(1 + 0.1 * torch.randn_like(m.weight))
                m.bias.copy_(0.1 * torch.randn_like(m.bias))
                m.running_mean.copy_(0.1 * torch.randn_like(m.running_mean))
                m.running_var.copy_(torch.empty_like(m.running_var).uniform_(0.5, 1.5))


def _up(x: torch.Tensor, factor: int) -> torch.Tensor:
    return F.interpolate(x, scale_factor=factor, mode="bilinear", align_corners=False)


class MSCANMatting(nn.Module):
    """MSCAN-tiny encoder, light additive U-Net decoder, alpha head; ``skips``: add, none or unetmm."""

    def __init__(self, skips: str = "add") -> None:
        super().__init__()
        if skips not in ("add", "none", "unetmm"):
            raise ValueError(f"unknown skips mode {skips!r}")
        self.skips = skips
        cins = (3,) + EMBED_DIMS[:-1]
        self.stages = nn.ModuleList(
            Stage(i, cin, c, d, r) for i, (cin, c, d, r) in enumerate(zip(cins, EMBED_DIMS, DEPTHS, MLP_RATIOS))
        )
        _randomise_batch_norms(self.stages)
        levels = range(SKIP_LEVELS - 1, -1, -1)  # decoder levels, deepest first: 2, 1, 0
        self.projs = nn.ModuleList(nn.Conv2d(EMBED_DIMS[lv + 1], EMBED_DIMS[lv], 1) for lv in levels)
        self.refines = nn.ModuleList(
            nn.Conv2d(EMBED_DIMS[lv], EMBED_DIMS[lv], 3, padding=1, groups=EMBED_DIMS[lv]) for lv in levels
        )
        self.head = nn.Conv2d(EMBED_DIMS[0], 1, 1)
        self.msiam = self.iem = None
        if skips == "unetmm":  # built last, so the backbone's seeded weights are the same in every form
            n = len(EMBED_DIMS)
            self.msiam = MSIAM(EMBED_DIMS, MM_REDUCED, resizes_to(n - 1, n), MM_FUSED)
            self.iem = IEM(MM_FUSED, EMBED_DIMS[:SKIP_LEVELS], resizes_from(n - 1, n)[:SKIP_LEVELS])

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        x, kept, reduced, fused = img, [], [], None
        for i, stage in enumerate(self.stages):
            x = stage(x)
            if self.skips == "add" and i < SKIP_LEVELS:
                kept.append(x)
            elif self.skips == "unetmm":
                reduced.append(self.msiam.reduce(i, x))
                if i == len(self.stages) - 1:
                    fused = self.msiam.fuse(reduced)
        for j, (proj, refine) in enumerate(zip(self.projs, self.refines)):
            level = SKIP_LEVELS - 1 - j
            x = _up(proj(x), 2)
            if self.skips == "add":
                x = x + kept[level]
            elif self.skips == "unetmm":
                x = x + self.iem.header(level, fused)
            x = F.gelu(refine(x))
        return torch.sigmoid(_up(self.head(x), 4))


def _build(skips: str) -> nn.Module:
    """Build with a fixed seed, without touching the caller's random state; eval mode."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(SEED)
        model = MSCANMatting(skips)
    return model.eval()


def mscan_tiny() -> nn.Module:
    """MSCAN-tiny matting U-Net, E1..E3 added in the decoder."""
    return _build("add")


def mscan_tiny_noskip() -> nn.Module:
    """The same network without the three encoder -> decoder additions."""
    return _build("none")


def mscan_tiny_unetmm() -> nn.Module:
    """With UNet--: one 256-channel fused map at H/32 waits instead of E1..E3."""
    return _build("unetmm")
