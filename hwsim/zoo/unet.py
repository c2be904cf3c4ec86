"""U-Net, Lean U-Net (LUnet) and U-Net with Select-Attend-Transfer (SAT) skips.

All three share one skeleton, :class:`UNet`, parametrised by the channel width of each
of its five resolution levels and by the kind of skip connection.

Skeleton (input ``N x in_channels x H x W``, ``H`` and ``W`` divisible by 16)
---------------------------------------------------------------------------
* Encoder level ``i = 1..4`` (resolution ``H / 2^(i-1)``): two 3x3 convolutions, each
  followed by ReLU, producing ``E_i``; then a 2x2 max pool (stride 2).
* Bottleneck (level 5, ``H / 16``): two 3x3 conv + ReLU.
* Decoder level ``i = 4..1``: a 2x2 stride-2 ``ConvTranspose2d`` from the width of level
  ``i + 1`` to the width of level ``i`` (the up-convolution), ``cat([skip_i, up], dim=1)``,
  then two 3x3 conv + ReLU.
* Head: a 1x1 convolution to ``num_classes`` channels, no activation (a softmax belongs
  to the loss, not the network).

Choices shared by every model here:

* Convolutions are PADDED (``padding=1``), so every encoder output has the size of the
  decoder features it is joined with: no cropping (the 2015 paper uses unpadded convs
  and crops the skips; padded convs are what every current implementation uses, and
  they keep the skip tensors exactly ``C_i x H_i x W_i``).
* Every convolution has a bias; there is no batch norm (the original has none).
* ``in_channels = 3`` (the zoo feeds ``1 x 3 x 256 x 256``); ``num_classes = 2``, the
  two-class output of the 2015 paper (cell / background).

Models
------
* :func:`unet`: the classic U-Net (Ronneberger et al., 2015), widths 64, 128, 256, 512,
  1024; each up-convolution halves the channel count; the full encoder output ``E_i``
  is the skip. 31,031,810 parameters.
* :func:`lunet`: Lean U-Net (Hassler et al.): the same skeleton with ONE constant width
  ``C`` at all five levels (channels are not doubled as resolution halves), so the
  up-convolutions are ``C -> C`` and the decoder's first conv takes ``2C`` channels.
  :class:`LeanUNet` takes ``channels=C``; the factory uses ``C = 64`` (the first level
  is then identical to U-Net's): 842,946 parameters, 36.8x fewer than :func:`unet`
  (the paper's headline is "over 30 times fewer"). Its skips are ``C`` channels at
  every level, ``C * (H*W) * (1 + 1/4 + 1/16 + 1/64)`` elements.
* :func:`unet_sat`: :func:`unet` with Select-Attend-Transfer skips (Taghanaki et al.).
  Each skip is replaced by a :class:`SelectAttendTransfer` block on ``E_i`` (``C``
  channels) that produces ONE channel:

  1. select: ``s = E_i * w``, ``w`` a learned per-channel weight vector
     (``1 x C x 1 x 1``; trained with a sparsity penalty, channels whose weight is near
     zero are dropped; at inference it is a channel-wise multiply);
  2. aggregate: ``a = conv1x1_{C->1}(s)``, the selected channels summed into one map;
  3. attend: ``g = sigmoid(conv1x1_{C->1}(s))``, a spatial attention map;
  4. transfer: ``t = a * g`` (``1 x H_i x W_i``), the only tensor kept for the decoder,
     where ``cat([t, up], dim=1)`` feeds a first decoder conv with ``up_channels + 1``
     inputs (513, 257, 129, 65 from level 4 down to level 1).

  A block costs ``3C + 2`` parameters; the model has 27,909,898 (10.1 % fewer than
  U-Net: the four first decoder convolutions lose ``C - 1`` input channels each).

Order is the memory schedule
----------------------------
The op order of ``forward`` is the accelerator's default schedule, so it is written
the way a memory-conscious accelerator would run it: each encoder level computes
``E_i``, then (in ``unet_sat``) its SAT block immediately, and only then the max pool,
so ``E_i`` dies at its own resolution and only the single-channel map waits across the
deeper levels; each up-convolution is followed at once by its concatenation and the
decoder convolutions. With 1 byte per element, at ``1 x 3 x 256 x 256`` the skip tensors
waiting for the decoder hold 7,864,320 elements in ``unet``, ``64 x 87,040`` =
5,570,560 in ``lunet`` and 87,040 in ``unet_sat``.

Convolution MACs at ``1 x 3 x 256 x 256`` (as ``FlopCounterMode`` counts them, flops / 2):
``unet`` 48,171,581,440, ``lunet`` 14,124,318,720, ``unet_sat`` 38,594,412,544.

Every model exports with ``torch.export.export`` (no data-dependent control flow): the
ops are conv2d, relu, max_pool2d, conv_transpose2d, cat and, for SAT, mul and sigmoid.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

UNET_WIDTHS = (64, 128, 256, 512, 1024)
LUNET_CHANNELS = 64
IN_CHANNELS = 3
NUM_CLASSES = 2
SEED = 0


class DoubleConv(nn.Module):
    """Two 3x3 padded convolutions, each followed by ReLU."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1)
        self.conv2 = nn.Conv2d(out_channels, out_channels, kernel_size=3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.conv2(F.relu(self.conv1(x))))


class SelectAttendTransfer(nn.Module):
    """A SAT skip: ``C`` channels in, one channel out (see the module docstring).

    select ``s = x * w`` (learned per-channel weights), aggregate
    ``a = conv1x1(s)`` to one channel, attend ``g = sigmoid(conv1x1(s))``, transfer
    ``a * g``. Parameters: ``C`` (select) + ``2 (C + 1)`` (two 1x1 convs).
    """

    def __init__(self, channels: int):
        super().__init__()
        self.select = nn.Parameter(torch.empty(1, channels, 1, 1))
        self.aggregate = nn.Conv2d(channels, 1, kernel_size=1)
        self.attend = nn.Conv2d(channels, 1, kernel_size=1)
        nn.init.uniform_(self.select, 0.0, 1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        selected = x * self.select
        attention = torch.sigmoid(self.attend(selected))
        return self.aggregate(selected) * attention


class UNet(nn.Module):
    """The U-Net skeleton of the module docstring.

    ``widths`` are the channel counts of the five levels (four encoder levels and the
    bottleneck); ``sat_skips`` replaces each concatenated encoder output by the
    single-channel output of a :class:`SelectAttendTransfer` block.
    """

    def __init__(
        self,
        widths: tuple[int, ...] = UNET_WIDTHS,
        in_channels: int = IN_CHANNELS,
        num_classes: int = NUM_CLASSES,
        sat_skips: bool = False,
    ):
        super().__init__()
        if len(widths) != 5:
            raise ValueError(f"U-Net needs 5 level widths, got {len(widths)}")
        self.widths = tuple(widths)
        self.sat_skips = sat_skips
        levels = len(widths) - 1
        cins = (in_channels,) + self.widths[:levels]
        self.encoders = nn.ModuleList(DoubleConv(cins[i], widths[i]) for i in range(levels))
        self.pool = nn.MaxPool2d(kernel_size=2, stride=2)
        self.bottleneck = DoubleConv(widths[levels - 1], widths[levels])
        self.sats = nn.ModuleList(
            SelectAttendTransfer(widths[i]) for i in range(levels) if sat_skips
        )
        self.ups = nn.ModuleList(
            nn.ConvTranspose2d(widths[i + 1], widths[i], kernel_size=2, stride=2)
            for i in range(levels)
        )
        skip_channels = [1 if sat_skips else widths[i] for i in range(levels)]
        self.decoders = nn.ModuleList(
            DoubleConv(skip_channels[i] + widths[i], widths[i]) for i in range(levels)
        )
        self.head = nn.Conv2d(widths[0], num_classes, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for level, encoder in enumerate(self.encoders):
            features = encoder(x)  # E_{level+1}
            # The SAT block runs before the pool, so E_i dies at its own resolution.
            skips.append(self.sats[level](features) if self.sat_skips else features)
            x = self.pool(features)
        x = self.bottleneck(x)
        for level in reversed(range(len(self.decoders))):
            up = self.ups[level](x)
            x = self.decoders[level](torch.cat([skips[level], up], dim=1))
        return self.head(x)


class LeanUNet(UNet):
    """Lean U-Net: the U-Net skeleton with ``channels`` at every one of the 5 levels."""

    def __init__(
        self,
        channels: int = LUNET_CHANNELS,
        in_channels: int = IN_CHANNELS,
        num_classes: int = NUM_CLASSES,
    ):
        super().__init__((channels,) * 5, in_channels=in_channels, num_classes=num_classes)
        self.channels = channels


def unet() -> nn.Module:
    """Classic U-Net (64..1024 channels, concatenated skips), 3 in, 2 classes, eval mode."""
    torch.manual_seed(SEED)
    return UNet().eval()


def lunet() -> nn.Module:
    """Lean U-Net with C = 64 channels at every level (36.8x fewer params than U-Net)."""
    torch.manual_seed(SEED)
    return LeanUNet(channels=LUNET_CHANNELS).eval()


def unet_sat() -> nn.Module:
    """U-Net whose four skips are single-channel Select-Attend-Transfer maps."""
    torch.manual_seed(SEED)
    return UNet(sat_skips=True).eval()
