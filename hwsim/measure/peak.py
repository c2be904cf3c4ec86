"""What sets the SRAM peak: the moment of highest occupancy and the buffers resident then.

The trace's occupancy samples are taken after each allocating or freeing event, in trace
order (start cycle, command id). :func:`sram_peak` replays the plan's allocations and frees
in that same order up to the first sample holding the maximum, checking on the way that
its own running total matches each sample the simulator recorded until then.
"""

from __future__ import annotations

from dataclasses import dataclass

from hwsim.measure.facts import layer_names, plan_facts
from hwsim.measure.memo import plan_memo
from hwsim.schedule.plan import Buffer, Plan
from hwsim.sim.trace import Trace


@dataclass(frozen=True)
class Resident:
    name: str  # buffer name
    bytes: int  # bytes reserved
    address: int
    kind: str  # "activation" | "weights" | "tile" (a band tile or a tile arena) | "rows" (a rolling buffer or delay line)
    skip: bool  # a skip tensor (or a tile of one)


@dataclass(frozen=True)
class SramPeak:
    bytes: int
    cycle: int
    step: int | None  # the layer step of the command whose allocation reached the peak
    layer: str | None
    tensors: tuple[Resident, ...]  # resident SRAM buffers then, biggest first


def sram_high_water(plan: Plan) -> int:
    """The highest end address of any SRAM buffer the plan allocates (``hwsim.measure.facts``)."""
    return plan_facts(plan).high_water


def _kind(b: Buffer) -> str:
    return "tile" if b.role == "arena" else b.role


def _resident(buffers: dict[str, Buffer], plan: Plan) -> tuple[Resident, ...]:
    skips = plan_memo(plan, "skip_names", lambda p: {t.name for t in p.tensors if t.skip})
    rows = [Resident(b.name, b.size, b.address, _kind(b), b.holds() in skips)
            for b in buffers.values()]
    return tuple(sorted(rows, key=lambda r: (-r.bytes, r.address, r.name)))


def sram_peak(trace: Trace, plan: Plan) -> SramPeak:
    """The first moment of highest SRAM occupancy, and what was resident then."""
    samples = trace.occupancy
    if not samples:
        return SramPeak(0, 0, None, None, ())
    in_use_after = [s.sram_bytes for s in samples]
    target = in_use_after.index(max(in_use_after))  # the first sample holding the maximum
    live: dict[str, Buffer] = {}
    commands = plan.commands
    in_use, index = 0, -1
    for event in trace.events:
        command = commands[event.command]
        allocs, frees = command.allocs, command.frees
        if not (allocs or frees):  # allocates and frees nothing: no sample
            continue
        index += 1
        for b in allocs:
            if b.space == "sram":
                live[b.name], in_use = b, in_use + b.size
        for b in frees:
            if b.space == "sram":
                del live[b.name]
                in_use -= b.size
        if in_use != samples[index].sram_bytes:
            raise RuntimeError(f"replaying the plan gives {in_use} B in SRAM after command {event.command}, "
                               f"the trace recorded {samples[index].sram_bytes} B")
        if index == target:
            layer = command.layer
            return SramPeak(in_use, event.start, layer, layer_names(plan).get(layer), _resident(live, plan))
    raise RuntimeError(f"trace has {len(samples)} occupancy samples but only {index + 1} allocating events")
