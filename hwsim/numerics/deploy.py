"""Quantisation as deployed: how the check chooses every tensor's storage format.

* **Weights**: symmetric, per output channel for convolutions and linear layers by default
  (``weights="per-channel"``), or one scale per tensor (``"per-tensor"``); every other
  parameter (norm scales ...) per tensor, at the spec's ``weight_bits``
  (:func:`hwsim.numerics.memory.weight_store`). Arm Vela, TFLite and TensorRT quantise
  convolution weights per output channel; per-tensor is the older TFLite scheme.
* **Activations**: one scale per tensor (and a zero point when ``activations="asymmetric"``),
  at ``activation_bits``, from a **calibration set**: each tensor's range is the min and max
  it takes over the calibration inputs' float runs (TFLite's post-training calibration takes
  the same min/max). A value outside the calibrated range clips, as it would on the device.
  By default the calibration set is the checked input itself (a best case: no value clips).
* **Shared formats**: a concatenation and its inputs, and a slice and its input, share one
  format (the union of their ranges), as TFLite requires of concatenation and Vela of an
  in-place concatenation: writing the pieces at their places *is* writing the concatenation,
  with no requantisation. So the quantised network does not depend on whether the schedule
  concatenates in place or by copy.

* **Biases** (of convolutions, transposed convolutions and linear layers, folded batch norms
  included) at the spec's ``bias_bits``, 32 by default, as TFLite int8 and Ethos-U store them;
  the plan's weight images count them at the same width.

Not modelled: the per-channel requantisation record (Vela: a 32-bit scale and 6-bit shift
beside each 40-bit bias, 10 bytes per output channel); the check requantises in float.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping

import numpy as np

from hwsim.graph.analysis import layer_io
from hwsim.graph.ir import Graph
from hwsim.numerics.quantize import Codec, calibrated_range, check_bits

WEIGHT_SCHEMES = ("per-channel", "per-tensor")
ACTIVATION_SCHEMES = ("symmetric", "asymmetric")


@dataclass(frozen=True)
class Quantisation:
    """How the check quantises: the weight and activation schemes, and the calibration set."""

    weights: str = "per-channel"  # one of WEIGHT_SCHEMES
    activations: str = "symmetric"  # one of ACTIVATION_SCHEMES
    calibration: str = "the checked input"  # what the ranges were taken from (for the report)

    def __post_init__(self):
        if self.weights not in WEIGHT_SCHEMES:
            raise ValueError(f"weights {self.weights!r}: one of {', '.join(WEIGHT_SCHEMES)}")
        if self.activations not in ACTIVATION_SCHEMES:
            raise ValueError(f"activations {self.activations!r}: one of {', '.join(ACTIVATION_SCHEMES)}")

    def to_dict(self) -> dict:
        return {"weights": self.weights, "activations": self.activations, "calibration": self.calibration}


def stored_tensors(graph: Graph) -> set[str]:
    """Tensors with a storage format: the network inputs and every activation root."""
    needed = {graph.root(i) for i in graph.inputs}
    needed.update(t.name for t in graph.tensors if t.kind == "activation" and t.view_of is None)
    return needed


def shared_groups(graph: Graph) -> dict[str, str]:
    """Activation root -> the representative of its shared-format group (concatenations with their
    inputs, slices with their input; union-find)."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.get(x, x) != x:
            parent[x] = parent.get(parent[x], parent[x])
            x = parent[x]
        return x

    for op in graph.ops:
        if op.kind not in ("concat", "slice"):
            continue
        out = find(graph.root(op.outputs[0]))
        for i in op.inputs:
            r = graph.root(i)
            if graph.tensor[r].kind == "param":
                continue
            a = find(r)
            if a != out:
                parent[a] = out
    return {t: find(t) for t in stored_tensors(graph)}


def value_ranges(runs: Iterable[Mapping[str, np.ndarray]], names: Iterable[str]) -> dict[str, tuple[float, float]]:
    """(min, max) of each tensor of ``names`` over the float runs ``runs`` (dicts name -> value);
    tensors no run holds are left out."""
    names = list(names)
    lo: dict[str, float] = {}
    hi: dict[str, float] = {}
    for values in runs:
        for n in names:
            v = values.get(n)
            if v is None or not np.size(v):
                continue
            a, b = float(np.min(v)), float(np.max(v))
            lo[n], hi[n] = min(lo.get(n, a), a), max(hi.get(n, b), b)
    return {n: (lo[n], hi[n]) for n in lo}


def codecs_from_ranges(graph: Graph, ranges: Mapping[str, tuple[float, float]], bits: int,
                      asymmetric: bool = False) -> dict[str, Codec]:
    """A codec for every stored tensor from its calibrated range (groups of :func:`shared_groups`
    take the union of their members' ranges). Raises KeyError naming a tensor a layer writes
    that has no range."""
    check_bits(bits)
    needed = stored_tensors(graph)
    written = {w for io in layer_io(graph) for w in io.writes} | {graph.root(i) for i in graph.inputs}
    lost = sorted(n for n in needed if n not in ranges and n in written)
    if lost:
        raise KeyError(f"the torch reference has no value for {len(lost)} tensor(s) the graph writes: "
                       f"{', '.join(lost[:5])}{' ...' if len(lost) > 5 else ''}")
    group = shared_groups(graph)
    merged: dict[str, tuple[float, float]] = {}
    for n in needed:
        if n in ranges:
            g, (a, b) = group[n], ranges[n]
            lo, hi = merged.get(g, (a, b))
            merged[g] = (min(lo, a), max(hi, b))
    return {n: calibrated_range(bits, *merged[group[n]], asymmetric=asymmetric)
            for n in needed if group[n] in merged}
