"""hwsim: what a network's data does to an accelerator's on-chip memory."""

__version__ = "0.1.0"
