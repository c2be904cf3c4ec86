"""Models with several inputs and constructor arguments (issue 13), for tests/extract/test_inputs.py."""

import torch.nn as nn


class Two(nn.Module):
    """An image ``x`` (3 channels) and a mask (1 channel); ``scale`` is a non-tensor argument
    fixed at extraction (its default), ``t`` an optional per-sample shift (a timestep-like input)."""

    def __init__(self, width=4, depth=1, mode="add"):
        super().__init__()
        self.body = nn.Sequential(*[nn.Conv2d(3 if i == 0 else width, width, 3, padding=1) for i in range(depth)])
        self.gate = nn.Conv2d(1, width, 1)
        self.mode = mode

    def forward(self, x, mask, scale: float = 2.0, t=None):
        y = self.body(x) + self.gate(mask) * scale
        if t is not None:
            y = y + t.view(-1, 1, 1, 1)
        return y if self.mode == "add" else y.relu()
