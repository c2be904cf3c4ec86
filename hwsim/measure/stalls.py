"""Time accounting of a trace: measured totals, and, independently, stalls by cause.

*Measured* (from the trace's events only): latency = the last event's end; compute busy =
the sum of compute event durations; stall = the time in [0, latency] not covered by any
compute event (a sweep over the compute intervals).

*Attributed* (from the plan's compute commands in program order and the events' times):
each compute command's idle gap (its start minus the end of the compute command before it,
or minus 0 for the first) is charged to ONE cause, that of the dependency that finished
last: a load or store gives its ``cause`` (or, if it has none, the cause its traffic kind
implies, :data:`CAUSE_OF_TRAFFIC`); a free is looked through to its own last-finishing
dependency (waiting for space is waiting for what freed it). Ties between dependencies
that finished at the same cycle go to a load or store before a free, then to the later
command. The time after the last compute until the end of the run is ``drain``.

The two are checked to agree (sum of causes == measured stall, busy + stall == latency);
a mismatch is a bug in the simulator or in this module, reported as a RuntimeError.
"""

from __future__ import annotations

from dataclasses import dataclass

from hwsim.schedule.plan import STALL_CAUSES, Plan
from hwsim.sim.trace import Event, Trace

CAUSE_OF_TRAFFIC = {
    "weights": "weights", "input": "input", "spill_read": "reload", "spill_write": "spill_store",
    "output": "spill_store", "streamed_read": "streamed", "streamed_write": "streamed",
}


@dataclass(frozen=True)
class StallAccount:
    latency_cycles: int
    compute_cycles: int  # busy
    stall_cycles: int
    by_cause: dict[str, int]  # every cause of STALL_CAUSES, zeros included
    by_layer: dict[int, int]  # layer step -> idle cycles before its compute commands (drain excluded)


def measured_totals(events: tuple[Event, ...]) -> tuple[int, int, int]:
    """(latency, compute busy, compute idle) in cycles, from the events alone."""
    latency = max((e.end for e in events), default=0)
    computes = sorted((e.start, e.end) if e.kind == "compute" else e.compute_span
                      for e in events if e.kind == "compute" or e.compute_span)
    inside = sum(c for e in events for _, c in e.stalls)  # a streamed layer's tiles waiting inside
    busy = sum(end - start for start, end in computes) - inside
    idle, covered_to = inside, 0
    for start, end in computes:
        if start > covered_to:
            idle += start - covered_to
        covered_to = max(covered_to, end)
    idle += latency - covered_to
    return latency, busy, idle


def _last_finished(dep_ids, ends: list[int], plan: Plan) -> int | None:
    if not dep_ids:
        return None
    return max(dep_ids, key=lambda d: (ends[d], plan.commands[d].kind != "free", d))


def _cause_of_wait(plan: Plan, command_id: int, start: int, ends: list[int]) -> str:
    """The cause of the dependency that made compute command ``command_id`` start at ``start``."""
    last = _last_finished(plan.commands[command_id].deps, ends, plan)
    if last is None or ends[last] != start:
        raise RuntimeError(f"compute command {command_id} started at cycle {start} after an idle gap, "
                           "but no dependency finished then: the simulator left the engine idle")
    while plan.commands[last].kind == "free":
        last = _last_finished(plan.commands[last].deps, ends, plan)
        if last is None:
            raise RuntimeError(f"compute command {command_id} waited for a free with no dependency")
    waited = plan.commands[last]
    if waited.kind == "compute":
        raise RuntimeError(f"compute command {command_id} waited for compute command {waited.id}")
    cause = waited.cause or CAUSE_OF_TRAFFIC.get(waited.traffic or "")
    if cause not in STALL_CAUSES:
        raise RuntimeError(f"command {waited.id} ({waited.kind} of {waited.tensor!r}) has no stall cause")
    return cause


def attributed_stalls(plan: Plan, events: tuple[Event, ...], latency: int) -> tuple[dict, dict]:
    """(stall cycles by cause, by layer step), walking the compute commands in program order."""
    starts = [0] * len(plan.commands)
    ends = [0] * len(plan.commands)
    for e in events:
        starts[e.command], ends[e.command] = e.start, e.end
    by_cause = dict.fromkeys(STALL_CAUSES, 0)
    by_layer: dict[int, int] = {}
    previous_end = 0
    tiles = {e.command: e for e in events if e.kind == "tiles"}
    for command in plan.commands:
        if command.kind == "tiles":
            previous_end = _tiles_stalls(plan, tiles[command.id], previous_end, starts, ends, by_cause, by_layer)
            continue
        if command.kind != "compute":
            continue
        gap = starts[command.id] - previous_end
        if gap < 0:
            raise RuntimeError(f"compute command {command.id} started at cycle {starts[command.id]}, "
                               f"before the previous compute ended ({previous_end})")
        if gap:
            by_cause[_cause_of_wait(plan, command.id, starts[command.id], ends)] += gap
            by_layer[command.layer] = by_layer.get(command.layer, 0) + gap
        previous_end = ends[command.id]
    by_cause["drain"] += latency - previous_end
    return by_cause, by_layer


def _tiles_stalls(plan: Plan, event: Event, previous_end: int, starts, ends, by_cause, by_layer) -> int:
    """Charge the compute idle before and inside a streamed layer's tiles; the end of its last compute.

    Before its first compute the wait is charged like any compute's, to what finished last: a
    transfer of the run itself when the first tile waited for one (``first_wait``), else the
    dependency that let the run start (or, when the DMA engines or channels held it, the
    transfer that ended then). Inside: the run's own account (``hwsim.sim.pipeline``)."""
    first, last = event.compute_span
    if first < previous_end:
        raise RuntimeError(f"tiles command {event.command} computed from cycle {first}, "
                           f"before the previous compute ended ({previous_end})")
    gap = first - previous_end
    if gap:
        by_cause[event.first_wait or _cause_at(plan, event, ends)] += gap
    for cause, cycles in event.stalls:
        by_cause[cause] += cycles
    idle = gap + sum(c for _, c in event.stalls)
    if idle:
        by_layer[event.layer] = by_layer.get(event.layer, 0) + idle
    return last


def _cause_at(plan: Plan, event: Event, ends: list[int]) -> str:
    """What a ``tiles`` command that started at ``event.start`` waited for."""
    deps = plan.commands[event.command].deps
    if any(ends[d] == event.start for d in deps):
        return _cause_of_wait(plan, event.command, event.start, ends)
    transfers = [c for c in plan.commands[:event.command] if c.kind in ("load", "store") and ends[c.id] == event.start]
    if transfers:
        waited = transfers[-1]
        return waited.cause or CAUSE_OF_TRAFFIC.get(waited.traffic or "", "streamed")
    return "streamed"


def account_stalls(trace: Trace, plan: Plan) -> StallAccount:
    """Measured totals and stalls by cause, checked against each other."""
    if len(trace.events) != len(plan.commands):
        raise RuntimeError(f"trace has {len(trace.events)} events for {len(plan.commands)} plan commands")
    latency, busy, stall = measured_totals(trace.events)
    by_cause, by_layer = attributed_stalls(plan, trace.events, latency)
    if sum(by_cause.values()) != stall:
        raise RuntimeError(f"stalls by cause sum to {sum(by_cause.values())} cycles, "
                           f"measured idle time is {stall}: {by_cause}")
    if busy + stall != latency:
        raise RuntimeError(f"compute busy {busy} + stalls {stall} != latency {latency} "
                           "(compute events overlap)")
    return StallAccount(latency, busy, stall, by_cause, by_layer)
