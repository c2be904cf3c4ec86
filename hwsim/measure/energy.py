"""Energy of a run, in picojoules, by component.

* ``mac``: every multiply-accumulate at ``energy.mac_pj`` **plus** every element-wise
  (vector) operation at ``energy.vector_op_pj`` - the compute energy of the layers;
* ``sram``: every byte read or written in SRAM at ``energy.sram_byte_pj``: the array side
  (each compute command reads the buffers it lists in ``reads`` - its input activations
  and its weights - and writes the buffers it allocates, each buffer's reserved size
  counted, so a layer that moves no data, such as an in-place concatenation, costs
  nothing and a tiled layer costs its tiles; a cascade's command counts each of its
  parts' ``reads``) plus the DMA side (each DRAM byte is written into SRAM by a load or
  read out of it by a store);
* ``dram``: every DRAM byte moved at ``energy.dram_byte_pj``;
* ``leakage``: ``energy.sram_leakage_w_per_byte`` x all on-chip SRAM (weight buffer
  included) x the latency in seconds x 1e12.

The array side is a figure of the plan alone: ``hwsim.measure.sram_bytes`` counts it command
by command, in the one pass over the plan's commands that ``hwsim.measure.facts`` makes.
"""

from __future__ import annotations

from dataclasses import dataclass

from hwsim.measure.facts import array_sram_bytes
from hwsim.measure.memo import plan_memo
from hwsim.schedule.plan import Plan
from hwsim.spec.model import AcceleratorSpec


@dataclass(frozen=True)
class Energy:
    mac_pj: float
    sram_pj: float
    dram_pj: float
    leakage_pj: float

    @property
    def total_pj(self) -> float:
        return self.mac_pj + self.sram_pj + self.dram_pj + self.leakage_pj


def run_energy(plan: Plan, spec: AcceleratorSpec, dram_bytes: int, latency_cycles: int) -> Energy:
    """Energy by component (see the module docstring)."""
    e = spec.energy
    macs, vector_ops = plan_memo(plan, "macs_vector_ops", lambda p: (sum(layer.macs for layer in p.layers),
                                                                     sum(layer.vector_ops for layer in p.layers)))
    sram_bytes = array_sram_bytes(plan) + dram_bytes
    leakage = e.sram_leakage_w_per_byte * spec.sram.total_bytes * spec.cycles_to_seconds(latency_cycles)
    return Energy(
        mac_pj=macs * e.mac_pj + vector_ops * e.vector_op_pj,
        sram_pj=sram_bytes * e.sram_byte_pj,
        dram_pj=dram_bytes * e.dram_byte_pj,
        leakage_pj=leakage * 1e12,
    )
