"""UNet-- building blocks: MSIAM and IEM (UNet-- paper, Sec. 3.3 and 4, Fig. 2 and 3).

UNet-- replaces the skip connections of a U-Net by two modules:

* **MSIAM** (multi-scale information aggregation): each encoder output ``E_i`` is reduced
  in channels by a point-wise (1x1) convolution, resized to one common resolution by a
  pixel unshuffle (finer levels) or a pixel shuffle (coarser levels), and the resized maps
  are concatenated and mixed by a point-wise convolution into one small *fused* map. Only
  the fused map waits for the decoder.
* **IEM** (information enhancement): for decoder stage ``i`` the fused map is resized back
  to the resolution of ``E_i`` (pixel shuffle / unshuffle) and an *enhancement header*
  (a ConvNeXt V2 block at the resized width, then a separable convolution to the width of
  ``E_i``) produces the map that the decoder adds in place of ``E_i``.

API (stable; ``hwsim.zoo.nafnet`` and ``hwsim.zoo.kbnet`` build on it). Levels are
indexed from 0 (the finest encoder output, ``E_1`` of the paper):

* ``resizes_to(target, n_levels)`` -> signed resize factors of each level to level
  ``target``; ``resizes_from(target, n_levels)`` -> from level ``target`` back to each level.
  A factor ``r > 1`` is a pixel unshuffle by ``r`` (resolution / r, channels * r^2),
  ``r < -1`` a pixel shuffle by ``-r`` (resolution * -r, channels / r^2), ``1`` identity.
* ``MSIAM(enc_widths, reduced_widths, resizes, fused_width)``:
  ``.reduce(i, e_i)`` reduces and resizes one level (call it as soon as ``E_i`` exists,
  before the level's downsampling, so the full-width ``E_i`` dies at once);
  ``.fuse([r_0, ..., r_n])`` concatenates the reduced maps and mixes them (call it right
  after the last ``reduce``); ``.fused_width``; ``.concat_width``.
* ``IEM(fused_width, out_widths, resizes)``: ``.header(i, fused)`` is the enhanced map that
  replaces ``E_i`` (``i`` is the encoder level, so the deepest decoder stage asks for
  ``i = n_levels - 1`` first); call it right after that stage's upsampling, just before
  the add, never earlier; ``.header_widths``.
* ``UNetMMConfig(target, reduced_widths, fused_width).build(enc_widths)`` -> ``(MSIAM, IEM)``
  for a fused map at encoder level ``target`` (resizes from ``resizes_to`` / ``resizes_from``,
  IEM output widths = ``enc_widths``). Build it after the backbone so that the backbone's
  seeded weights do not depend on whether UNet-- is attached.
* ``ConvNeXtV2Block(dim)``, ``GRN(dim)``, ``LayerNorm2d(dim)``, ``SeparableConv(cin, cout)``.

Choices (the paper leaves them open):

* Channels-first throughout: the ConvNeXt V2 point-wise layers are 1x1 convolutions (same
  parameters and MACs as the reference's ``nn.Linear`` on a channels-last tensor, without
  the two permutes), and its LayerNorm over channels is the hand-written ``LayerNorm2d``
  (eps 1e-6), as in NAFNet.
* ConvNeXt V2 block as published: 7x7 depthwise conv (bias), LayerNorm, 1x1 expansion x4
  (bias), GELU, GRN, 1x1 projection (bias), residual; no layer scale, no drop path.
* GRN is written with ``mean`` instead of ``torch.norm``: the L2 norm over H x W is
  ``sqrt(mean(x^2) * H * W)``, exactly the reference's value.
* Separable convolution = 3x3 depthwise conv at the input width (bias) followed by a 1x1
  convolution to the output width (bias).
* All reducing / fusing 1x1 convolutions have a bias.
* GRN's gamma/beta are drawn at random (std 0.1) instead of the reference's zeros, so
  that the untrained block is not an identity and every op reaches the output (the
  numerics check then exercises them).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn


class LayerNorm2d(nn.Module):
    """LayerNorm over the channel dim of an NCHW tensor, written out op by op."""

    def __init__(self, channels: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(1, channels, 1, 1))
        self.bias = nn.Parameter(torch.zeros(1, channels, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mu = x.mean(dim=1, keepdim=True)
        centred = x - mu
        var = centred.pow(2).mean(dim=1, keepdim=True)
        normed = centred / (var + self.eps).sqrt()
        return normed * self.weight + self.bias


class GRN(nn.Module):
    """Global response normalisation (ConvNeXt V2), channels-first."""

    def __init__(self, channels: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.eps = eps
        self.gamma = nn.Parameter(0.1 * torch.randn(1, channels, 1, 1))
        self.beta = nn.Parameter(0.1 * torch.randn(1, channels, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pixels = x.shape[-2] * x.shape[-1]
        gx = (x.pow(2).mean(dim=(2, 3), keepdim=True) * pixels).sqrt()
        nx = gx / (gx.mean(dim=1, keepdim=True) + self.eps)
        return self.gamma * (x * nx) + self.beta + x


class ConvNeXtV2Block(nn.Module):
    """dw 7x7 -> LayerNorm -> 1x1 (x expansion) -> GELU -> GRN -> 1x1 -> + input."""

    def __init__(self, dim: int, expansion: int = 4) -> None:
        super().__init__()
        hidden = dim * expansion
        self.dwconv = nn.Conv2d(dim, dim, 7, padding=3, groups=dim)
        self.norm = LayerNorm2d(dim)
        self.pwconv1 = nn.Conv2d(dim, hidden, 1)
        self.act = nn.GELU()
        self.grn = GRN(hidden)
        self.pwconv2 = nn.Conv2d(hidden, dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.norm(self.dwconv(x))
        y = self.grn(self.act(self.pwconv1(y)))
        return x + self.pwconv2(y)


class SeparableConv(nn.Module):
    """3x3 depthwise conv at the input width, then a 1x1 conv to the output width."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.depthwise = nn.Conv2d(cin, cin, 3, padding=1, groups=cin)
        self.pointwise = nn.Conv2d(cin, cout, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.depthwise(x))


def resizes_to(target: int, n_levels: int) -> tuple[int, ...]:
    """Signed factors that bring each level (resolution halving per level) to ``target``."""
    return tuple(_factor(2 ** (target - i)) for i in range(n_levels))


def resizes_from(target: int, n_levels: int) -> tuple[int, ...]:
    """Signed factors that bring level ``target`` back to each level."""
    return tuple(_factor(2 ** (i - target)) for i in range(n_levels))


def _factor(ratio: float) -> int:
    """``ratio`` = input resolution / output resolution -> signed resize factor."""
    return int(ratio) if ratio >= 1 else -int(round(1 / ratio))


def resized_width(channels: int, factor: int) -> int:
    """Channels after a resize by ``factor`` (signed convention); raises if not divisible."""
    if factor >= 1:
        return channels * factor * factor
    r2 = factor * factor
    if channels % r2:
        raise ValueError(f"{channels} channels cannot be pixel-shuffled by {-factor}")
    return channels // r2


def resize_module(factor: int) -> nn.Module:
    """The module that resizes by ``factor`` (signed convention)."""
    if factor > 1:
        return nn.PixelUnshuffle(factor)
    if factor < -1:
        return nn.PixelShuffle(-factor)
    if factor == 1:
        return nn.Identity()
    raise ValueError(f"bad resize factor {factor}")


class MSIAM(nn.Module):
    """Reduce each encoder output, resize it to one resolution, concatenate, mix by 1x1."""

    def __init__(
        self,
        enc_widths: Sequence[int],
        reduced_widths: Sequence[int],
        resizes: Sequence[int],
        fused_width: int,
    ) -> None:
        super().__init__()
        if not len(enc_widths) == len(reduced_widths) == len(resizes):
            raise ValueError("enc_widths, reduced_widths and resizes differ in length")
        self.reducers = nn.ModuleList(
            nn.Sequential(nn.Conv2d(c, r, 1), resize_module(f))
            for c, r, f in zip(enc_widths, reduced_widths, resizes)
        )
        self.concat_width = sum(resized_width(r, f) for r, f in zip(reduced_widths, resizes))
        self.fused_width = fused_width
        self.fusion = nn.Conv2d(self.concat_width, fused_width, 1)

    def reduce(self, i: int, e_i: torch.Tensor) -> torch.Tensor:
        """Level ``i``'s encoder output, reduced and resized to the common resolution."""
        return self.reducers[i](e_i)

    def fuse(self, reduced: Sequence[torch.Tensor]) -> torch.Tensor:
        """Concatenate the reduced maps (level order) and mix them: the fused map."""
        return self.fusion(torch.cat(list(reduced), dim=1))

    def forward(self, encs: Sequence[torch.Tensor]) -> torch.Tensor:
        return self.fuse([self.reduce(i, e) for i, e in enumerate(encs)])


class IEM(nn.Module):
    """One enhancement header per level: resize, ConvNeXt V2 block, separable conv."""

    def __init__(
        self,
        fused_width: int,
        out_widths: Sequence[int],
        resizes: Sequence[int],
        expansion: int = 4,
    ) -> None:
        super().__init__()
        if len(out_widths) != len(resizes):
            raise ValueError("out_widths and resizes differ in length")
        self.header_widths = tuple(resized_width(fused_width, f) for f in resizes)
        self.headers = nn.ModuleList(
            nn.Sequential(
                resize_module(f),
                ConvNeXtV2Block(w, expansion),
                SeparableConv(w, out),
            )
            for f, w, out in zip(resizes, self.header_widths, out_widths)
        )

    def header(self, i: int, fused: torch.Tensor) -> torch.Tensor:
        """The enhanced map that replaces encoder output ``i`` in the decoder."""
        return self.headers[i](fused)


@dataclass(frozen=True)
class UNetMMConfig:
    """Where UNet-- aggregates (``target`` level, 0 = finest) and how wide its maps are."""

    target: int
    reduced_widths: tuple[int, ...]
    fused_width: int
    expansion: int = 4

    def build(self, enc_widths: Sequence[int]) -> tuple[MSIAM, IEM]:
        """MSIAM and IEM for encoder outputs of ``enc_widths`` (resolution halving per level)."""
        n = len(enc_widths)
        msiam = MSIAM(enc_widths, self.reduced_widths, resizes_to(self.target, n), self.fused_width)
        iem = IEM(self.fused_width, enc_widths, resizes_from(self.target, n), self.expansion)
        return msiam, iem
