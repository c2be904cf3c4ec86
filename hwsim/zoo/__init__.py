"""The model zoo: the networks of the UNet--, Lean U-Net and Select-Attend-Transfer papers.

Every model is extracted at 1x3x256x256 for the committed graphs, except where ``INPUT_SHAPES``
says otherwise (the MSCAN-tiny matting models: see ``hwsim.zoo.mscan``).

Each entry maps a zoo name to ``"module:factory"``; the factory takes no arguments and
returns an ``nn.Module`` in eval mode. Modules are imported only when a model is built, so
importing this registry never imports torch.

Every forward pass is written in the order a memory-conscious accelerator would run it:
the extracted op order is the default schedule (see each module's docstring).
"""

from __future__ import annotations

import importlib

MODELS: dict[str, str] = {
    "unet": "hwsim.zoo.unet:unet",
    "lunet": "hwsim.zoo.unet:lunet",
    "unet_sat": "hwsim.zoo.unet:unet_sat",
    "nafnet": "hwsim.zoo.nafnet:nafnet",
    "nafnet_noskip": "hwsim.zoo.nafnet:nafnet_noskip",
    "nafnet_unetmm": "hwsim.zoo.nafnet:nafnet_unetmm",
    "nafnet_unetmm_mid": "hwsim.zoo.nafnet:nafnet_unetmm_mid",
    "nafnet_unetmm_max": "hwsim.zoo.nafnet:nafnet_unetmm_max",
    "kbnet": "hwsim.zoo.kbnet:kbnet",
    "kbnet_unetmm": "hwsim.zoo.kbnet:kbnet_unetmm",
    "mscan_tiny": "hwsim.zoo.mscan:mscan_tiny",
    "mscan_tiny_noskip": "hwsim.zoo.mscan:mscan_tiny_noskip",
    "mscan_tiny_unetmm": "hwsim.zoo.mscan:mscan_tiny_unetmm",
}

# Input of the committed graph (``graphs/NAME.json``) where it is not 1x3x256x256: the MSCAN-tiny
# matting models at the size that reproduces the paper's skip memory (``hwsim.zoo.mscan``).
INPUT_SHAPES: dict[str, tuple[int, int, int, int]] = {
    "mscan_tiny": (1, 3, 864, 864),
    "mscan_tiny_noskip": (1, 3, 864, 864),
    "mscan_tiny_unetmm": (1, 3, 864, 864),
}
DEFAULT_INPUT_SHAPE = (1, 3, 256, 256)


def committed_shape(name: str) -> tuple[int, int, int, int]:
    """The input shape of zoo model ``name``'s committed graph."""
    return INPUT_SHAPES.get(name, DEFAULT_INPUT_SHAPE)


def factory(name: str):
    """The zero-argument factory of zoo model ``name`` (imports its module, and torch)."""
    module_name, attr = MODELS[name].split(":")
    return getattr(importlib.import_module(module_name), attr)
