"""The model zoo: the networks of the UNet--, Lean U-Net and Select-Attend-Transfer papers.

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
}


def factory(name: str):
    """The zero-argument factory of zoo model ``name`` (imports its module, and torch)."""
    module_name, attr = MODELS[name].split(":")
    return getattr(importlib.import_module(module_name), attr)
