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
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from operator import attrgetter

from hwsim.measure.facts import plan_memo
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


_READS = attrgetter("reads")


def array_sram_bytes(plan: Plan) -> int:
    """SRAM bytes the compute commands read (``reads``) and write (``allocs``): a figure of the
    plan alone, worked out once per plan (``hwsim.measure.facts``)."""
    return plan_memo(plan, "array_sram_bytes", _array_sram_bytes)


def _array_sram_bytes(plan: Plan) -> int:
    size_of: dict[str, int] = {}  # buffer name -> size of its latest allocation
    total = 0
    for command in plan.commands:
        allocs = command.allocs
        for buffer in allocs:
            size_of[buffer.name] = buffer.size
        kind = command.kind
        if kind == "tiles":
            total += _tiles_sram_bytes(command, size_of)
            continue
        if kind != "compute":
            continue
        if command.parts:
            for reads, times in Counter(map(_READS, command.parts)).items():
                total += _read_bytes(command, reads, size_of) * times
        else:
            total += _read_bytes(command, command.reads, size_of)
        for buffer in allocs:
            total += buffer.size
    return total


def _read_bytes(command, reads: tuple[str, ...], size_of: dict[str, int]) -> int:
    """The bytes of the buffers ``reads`` (of compute ``command``), each as last allocated."""
    total = 0
    for name in reads:
        size = size_of.get(name)
        if size is None:
            raise RuntimeError(f"compute command {command.id} reads {name!r}, which no command allocated")
        total += size
    return total


def _tiles_sram_bytes(command, size_of: dict[str, int]) -> int:
    """What the per-tile computes of a streamed layer read and write (``hwsim.schedule.expand``):
    each tile its input and output tiles, the resident operands and the weight chunk; the
    first tile the outputs written in place."""
    run = command.run
    tiles = 0
    for stream in run.reads + run.writes:  # its tiles that move any bytes
        tiles += stream.size * (len(stream.nbytes) - stream.nbytes.count(0))
    resident = run.weight_size if run.weight_block else 0
    for name in run.resident:
        if name not in size_of:
            raise RuntimeError(f"tiles command {command.id} reads {name!r}, which no command allocated")
        resident += size_of[name]
    outs = 0
    for buffer in command.allocs:
        if buffer.space == "sram" and buffer.role != "arena":
            outs += buffer.size
    return tiles + run.tiles * resident + outs


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
