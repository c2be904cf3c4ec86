"""The trace: every event the simulator recorded, in integer cycles.

One :class:`Event` per executed command that takes time (compute, load, store, a streamed
layer's tiles) and one per instantaneous free; ``sram_in_use`` after each event's allocation or release lets
the occupancy curve be drawn without re-running anything.
"""

from __future__ import annotations

from dataclasses import dataclass

from hwsim.records import stored_at_once


@stored_at_once
@dataclass(frozen=True)
class Event:
    command: int  # the plan command id
    kind: str  # compute | load | store | free
    engine: str  # compute | dma_read | dma_write | none
    layer: int
    start: int  # cycle
    end: int  # cycle (== start for a free)
    dram_bytes: int = 0
    traffic: str | None = None
    tensor: str | None = None
    tile: int | None = None
    # A streamed layer's ``tiles`` (``hwsim.sim.pipeline``): its computes' span, the compute idle
    # inside it by cause, and what its first compute waited for once the run had started.
    compute_span: tuple[int, int] | None = None
    stalls: tuple[tuple[str, int], ...] = ()
    first_wait: str | None = None
    moves: tuple[tuple[str, str, int], ...] = ()  # (tensor, traffic kind, bytes) the tiles moved


@stored_at_once
@dataclass(frozen=True)
class OccupancySample:
    cycle: int
    sram_bytes: int  # bytes allocated in SRAM after the change at this cycle
    weight_bytes: int = 0  # bytes allocated in a separate weight buffer


@dataclass(frozen=True)
class Trace:
    graph: str
    spec: str
    events: tuple[Event, ...]  # sorted by (start, command)
    occupancy: tuple[OccupancySample, ...]
    clock_hz: int
