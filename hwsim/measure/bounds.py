"""Roofline lower bounds on latency, computed from the same plan the simulator runs.

As LLMCompass pairs a roofline estimate with its simulation, hwsim bounds every run from
below, without any timing model beyond "the array and the DRAM bus each do one thing at a
time":

* ``compute_cycles``: the sum of the layers' compute cycles (the array is never faster);
* ``dram_cycles``: every DRAM byte the plan moves, at full bandwidth (the bus is shared by
  reads and writes, so it cannot move them faster);
* ``roofline_cycles``: the larger of the two;
* ``min_dram_cycles``: the bytes no schedule can avoid (every weight once, the network
  input once, the output once) at full bandwidth, latency excluded.

The simulation is never faster than ``roofline_cycles`` (the pipeline checks it).
"""

from __future__ import annotations

from dataclasses import dataclass

from hwsim.graph.analysis import tensor_bytes
from hwsim.graph.ir import Graph
from hwsim.schedule.plan import Plan
from hwsim.spec.model import AcceleratorSpec


@dataclass(frozen=True)
class Bounds:
    compute_cycles: int
    dram_cycles: int
    min_dram_cycles: int

    @property
    def roofline_cycles(self) -> int:
        return max(self.compute_cycles, self.dram_cycles)


def unavoidable_dram_bytes(plan: Plan, graph: Graph, activation_bits: int) -> int:
    """Weights once + network input once + network output once."""
    weights = sum(layer.weight_bytes for layer in plan.layers)
    inputs = sum(tensor_bytes(graph.tensor[name].elements, activation_bits) for name in graph.inputs)
    outputs = sum(tensor_bytes(graph.tensor[name].elements, activation_bits)
                  for name in dict.fromkeys(graph.root(o) for o in graph.outputs))
    return weights + inputs + outputs


def roofline(plan: Plan, spec: AcceleratorSpec, graph: Graph) -> Bounds:
    """The roofline bounds of ``plan`` on ``spec`` (see the module docstring)."""
    compute = sum(layer.compute_cycles for layer in plan.layers)
    moved = sum(c.dram_bytes for c in plan.commands if c.kind in ("load", "store", "tiles"))
    unavoidable = unavoidable_dram_bytes(plan, graph, spec.datatype.activation_bits)
    return Bounds(compute, spec.dram_transfer_cycles(moved), spec.dram_transfer_cycles(unavoidable))
