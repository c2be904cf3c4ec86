"""U-Nets of the libraries people build with: segmentation_models_pytorch, timm and diffusers.

A user names them like any other module function, with literal arguments (see
``hwsim.extract.resolve``)::

    hwsim extract 'hwsim.zoo.libraries:smp_unet(encoder="resnet18")' --input 1x3x256x256
    hwsim extract hwsim.zoo.libraries:smp_unetpp --input 1x3x256x256
    hwsim extract hwsim.zoo.libraries:smp_unet_convnext --input 1x3x256x256
    hwsim extract hwsim.zoo.libraries:diffusers_unet2d --input sample=1x3x64x64,timestep=1

The library classes themselves can be named too (``'segmentation_models_pytorch:Unet(
encoder_name="resnet18", encoder_weights=None)'``); these wrappers only fix what a study of the
architecture needs: **random initialisation, nothing downloaded** (``encoder_weights=None``,
timm's ``pretrained=False``, diffusers built from a configuration, never ``from_pretrained``),
and for diffusers a forward that takes the timestep as a second tensor and returns the
predicted sample as a plain tensor.

Each needs its library (the ``hwsim[libs]`` extra); it is imported when the model is built, so
importing this module imports nothing heavy. Versions checked: segmentation-models-pytorch 0.6.0,
timm 1.0.29, diffusers 0.42.1 (docs/library_unets.md has their figures at 256x256).

Skip tensors of these U-Nets (what the decoder concatenates, by the architecture):

- smp ``Unet`` with a ResNet encoder of depth 5: the encoder's features at strides 2, 4, 8, 16
  (64, 64, 128, 256 channels for ResNet-18) wait for the decoder; the stride-32 feature is the
  decoder's input, consumed at once.
- smp ``UnetPlusPlus``: the same four features, plus the nested decoder nodes X(i, j) that a
  later node of the same row concatenates (UNet++'s dense skips).
- timm ConvNeXt in smp (``tu-convnext_*``): ConvNeXt has no stride-2 stage (its stem is a
  4x4 stride-4 patchify), so smp gives it a zero-channel stride-2 feature: only the features
  at strides 4, 8, 16 are skips.
- diffusers ``UNet2DModel``: every resnet/attention output of a down block and every
  downsampler output is pushed on a stack and concatenated, in reverse, by the up blocks.
"""

from __future__ import annotations

import importlib.util
import sys


def import_torchvision() -> None:
    """Import torchvision if it is installed, making its pure-Python part usable where its C++ ops cannot load.

    timm and segmentation_models_pytorch import torchvision (FrozenBatchNorm2d, the ResNet
    classes), and neither model uses its C++ ops. On x86_64 Linux, PyPI's torchvision wheel is
    linked against the CUDA build of torch; beside the CPU build its ``_C`` library fails to
    load, and torchvision's import then stops at ``register_fake("torchvision::nms")``
    ("operator torchvision::nms does not exist"). Where that happens, the schemas of the two
    ops it registers unconditionally (``nms``, ``qnms``; the others are guarded by
    ``_has_ops()``) are declared, without a kernel, and the import is repeated: calling them
    still fails, as it would with any torchvision lacking its C++ ops. Nothing changes where
    torchvision imports cleanly or is not installed (diffusers imports it only if present).
    """
    if importlib.util.find_spec("torchvision") is None:
        return
    try:
        import torchvision  # noqa: F401
        return
    except RuntimeError as exc:
        if "torchvision::nms" not in str(exc):
            raise
    import torch

    for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
        del sys.modules[name]
    for op in ("nms", "qnms"):
        try:
            torch.library.define(f"torchvision::{op}", "(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
        except RuntimeError:  # declared already (a second call)
            pass
    import torchvision  # noqa: F401,F811


def _smp():
    import_torchvision()
    import segmentation_models_pytorch as smp

    return smp


def smp_unet(encoder: str = "resnet18", classes: int = 1, in_channels: int = 3, decoder_attention_type=None):
    """segmentation_models_pytorch ``Unet`` with ``encoder`` (default ResNet-18), random weights.

    Decoder channels are smp's default (256, 128, 64, 32, 16); ``decoder_attention_type="scse"``
    adds smp's concurrent spatial and channel squeeze-excitation to every decoder block.
    """
    smp = _smp()
    return smp.Unet(encoder_name=encoder, encoder_weights=None, in_channels=in_channels, classes=classes,
                    decoder_attention_type=decoder_attention_type).eval()


def smp_unetpp(encoder: str = "resnet18", classes: int = 1, in_channels: int = 3):
    """segmentation_models_pytorch ``UnetPlusPlus`` with ``encoder`` (default ResNet-18), random weights."""
    smp = _smp()
    return smp.UnetPlusPlus(encoder_name=encoder, encoder_weights=None, in_channels=in_channels,
                            classes=classes).eval()


def smp_unet_convnext(encoder: str = "tu-convnext_atto", classes: int = 1, in_channels: int = 3):
    """segmentation_models_pytorch ``Unet`` on a timm ConvNeXt encoder (``tu-`` names go to timm's
    ``features_only`` models; default ConvNeXt-atto, 3.4 M encoder parameters), random weights."""
    return smp_unet(encoder=encoder, classes=classes, in_channels=in_channels)


def diffusers_unet2d(sample_size: int = 64, channels: int = 3, block_out_channels=(32, 64, 64, 128),
                     layers_per_block: int = 1, norm_num_groups: int = 8, attention_head_dim: int = 32,
                     attention: bool = True):
    """diffusers ``UNet2DModel`` in a small configuration, random weights; forward(sample, timestep).

    One ``DownBlock2D`` per entry of ``block_out_channels`` (each halving the map but the last),
    the deepest an ``AttnDownBlock2D`` when ``attention``, as DDPM-style U-Nets keep
    self-attention at the coarsest resolutions (where its L x L scores stay small); the mirror on
    the way up, a mid block with attention; GroupNorm with ``norm_num_groups`` groups and SiLU
    throughout, the sinusoidal timestep embedding added to every resnet block. ``timestep`` is a
    second input of shape (batch,) or (1,): ``--input sample=1x3x64x64,timestep=1``.
    """
    import torch.nn as nn

    import_torchvision()
    from diffusers import UNet2DModel

    n = len(block_out_channels)
    deepest = "AttnDownBlock2D" if attention else "DownBlock2D"
    down = tuple(deepest if i == n - 1 else "DownBlock2D" for i in range(n))
    up = tuple(b.replace("Down", "Up") for b in reversed(down))
    unet = UNet2DModel(sample_size=sample_size, in_channels=channels, out_channels=channels,
                       block_out_channels=tuple(block_out_channels), layers_per_block=layers_per_block,
                       down_block_types=down, up_block_types=up, norm_num_groups=norm_num_groups,
                       attention_head_dim=attention_head_dim, add_attention=attention)

    class DiffusersUNet2D(nn.Module):
        """The UNet2DModel as ``forward(sample, timestep) -> predicted sample`` (a tensor)."""

        def __init__(self, inner):
            super().__init__()
            self.unet = inner

        def forward(self, sample, timestep):
            return self.unet(sample, timestep, return_dict=False)[0]

    return DiffusersUNet2D(unet).eval()
