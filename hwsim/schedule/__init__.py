"""Scheduling: Graph + AcceleratorSpec -> Plan, an independent verifier, the zero-spill search.

Modules, one concept each: ``cost`` (compute cycles), ``storage`` (pieces, storages and
in-place aliases), ``allocate`` (online SRAM placement), ``placement`` (offline SRAM
placement, when nothing is evicted), ``spill`` (eviction policies), ``bands``,
``band_table`` and ``tiling`` (how a layer runs: whole, weight chunks, row bands), ``program`` (the
command stream and its dependencies), ``memory`` (residency during the walk),
``scheduler`` and ``stream`` (the walk), ``verify`` (the plan invariants), ``search``
(zero-spill SRAM). ``plan`` is the contract with the simulator.
"""

from hwsim.schedule.scheduler import schedule
from hwsim.schedule.search import zero_spill_sram
from hwsim.schedule.verify import verify_plan

__all__ = ["schedule", "verify_plan", "zero_spill_sram"]
