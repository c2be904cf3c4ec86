"""The accelerator spec: frozen dataclasses loaded from a YAML file with units in values."""

from hwsim.spec.load import load_spec, spec_from_dict, spec_to_dict, with_overrides
from hwsim.spec.model import (
    AcceleratorSpec, ArraySpec, ComputeSpec, DatatypeSpec, DramSpec, EnergySpec, PolicySpec,
    SramSpec,
)

__all__ = [
    "AcceleratorSpec", "ArraySpec", "ComputeSpec", "DatatypeSpec", "DramSpec", "EnergySpec",
    "PolicySpec", "SramSpec", "load_spec", "spec_from_dict", "spec_to_dict", "with_overrides",
]
