"""Scheduling: Graph + AcceleratorSpec -> Plan, an independent verifier, the zero-spill search.

Modules, one concept each: ``cost`` (compute cycles), ``storage`` (pieces, storages and
in-place aliases), ``allocate`` (online SRAM placement), ``placement`` (offline SRAM
placement, when nothing is evicted), ``spill`` (the registry of eviction policies), ``bands``,
``band_table`` and ``tiling`` (how a layer runs: whole, weight chunks, row bands), ``program``
(the walk's decisions as they are made), ``lower`` (decisions -> plan: every dependency),
``memory`` (residency during the walk), ``scheduler``, ``stream`` and ``cascade_run`` (the
walk), ``expand`` (a plan's streamed layers as per-tile commands), ``verify`` (the plan
invariants), ``search`` (zero-spill SRAM). ``plan`` is the contract with the simulator.

The package's three entry points are imported on first use (PEP 562), so that importing one
module of it (the spec reads ``spill``'s registry) does not import the scheduler.
"""

from __future__ import annotations

import importlib

__all__ = ["schedule", "verify_plan", "zero_spill_sram"]
_HOME = {"schedule": "scheduler", "verify_plan": "verify", "zero_spill_sram": "search"}


def __getattr__(name: str):
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_HOME[name]}"), name)
