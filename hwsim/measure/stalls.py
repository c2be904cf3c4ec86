"""Time accounting of a trace: measured totals, and, independently, stalls by cause.

*Measured* (from the trace's events only): latency = the last event's end; compute busy =
the sum of compute event durations; stall = the time in [0, latency] not covered by any
compute event (a sweep over the compute intervals).

*Attributed* (from the plan's compute commands in program order and the events' times):
each compute command's idle gap (its start minus the end of the compute command before it,
or minus 0 for the first) is charged to what actually blocked it, walking back in time from
the gap's end. The dependency that finished last is the blocker; a load or store charges its
own transfer time (from its issue to the gap's end, within the gap) to its ``cause`` (or, if
it has none, the cause its traffic kind implies, :data:`CAUSE_OF_TRAFFIC`); before its issue
it was itself waiting, and that earlier part of the gap goes to what it waited for: its own
dependency that finished at its issue, else the transfer that released the DMA channel then
(a weight load queued behind a spill store: the store's ``spill_store``), else the
transfer its engine issued just before it (in-order issue). A free is looked through to its
own last-finishing dependency (waiting for space is waiting for what freed it). Ties between
dependencies that finished at the same cycle go to a load or store before a free, then to
the later command. The time after the last compute until the end of the run is ``drain``.
A ``host`` command (a host op, ``--fallback host``) is no compute: the accelerator waits
while the host CPU runs, and that time is a stall of cause ``host``, as are the waits for
the stores of its inputs and the loads of its outputs (traffic ``host_write`` /
``host_read``).

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
    "host_write": "host", "host_read": "host",
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


def _own_cause(plan: Plan, command_id: int) -> str:
    command = plan.commands[command_id]
    if command.kind == "tiles":
        return "streamed"
    cause = command.cause or CAUSE_OF_TRAFFIC.get(command.traffic or "")
    if cause not in STALL_CAUSES:
        raise RuntimeError(f"command {command.id} ({command.kind} of {command.tensor!r}) has no stall cause")
    return cause


class _Blame:
    """Walks back from a gap's end through what blocked (the module docstring)."""

    def __init__(self, plan: Plan, starts: list[int], ends: list[int]):
        self.plan, self.starts, self.ends = plan, starts, ends
        self.released_at: dict[int, list[int]] = {}  # cycle -> transfers that ended then
        self.issued_at: dict[tuple[str, int], list[int]] = {}  # (engine, cycle) -> transfers issued then
        for c in plan.commands:
            if c.kind in ("load", "store", "tiles"):
                self.released_at.setdefault(ends[c.id], []).append(c.id)
                self.issued_at.setdefault((c.engine, starts[c.id]), []).append(c.id)

    def charge(self, command_id: int, gap_start: int, gap_end: int, by_cause: dict[str, int]) -> None:
        """Charge [gap_start, gap_end), which compute command ``command_id`` waited through."""
        plan, starts, ends = self.plan, self.starts, self.ends
        last = _last_finished(plan.commands[command_id].deps, ends, plan)
        if last is None or ends[last] != gap_end:
            raise RuntimeError(f"compute command {command_id} started at cycle {gap_end} after an idle gap, "
                               "but no dependency finished then: the simulator left the engine idle")
        end = gap_end
        seen: set[int] = set()
        while end > gap_start:
            if last in seen:  # transfers that took no time, each released when the other was issued
                by_cause[_own_cause(plan, last)] += end - gap_start
                return
            seen.add(last)
            command = plan.commands[last]
            if command.kind == "free":
                last = _last_finished(command.deps, ends, plan)
                if last is None:
                    raise RuntimeError(f"compute command {command_id} waited for a free with no dependency")
                continue
            if command.kind == "compute":
                raise RuntimeError(f"compute command {command_id} waited for compute command {command.id}")
            issued = starts[last]
            by_cause[_own_cause(plan, last)] += end - max(issued, gap_start)
            end = issued
            if end <= gap_start:
                return
            before = self._waited_for(last, issued)
            if before is None:
                by_cause[_own_cause(plan, last)] += end - gap_start
                return
            last = before

    def _waited_for(self, command_id: int, issued: int) -> int | None:
        """What transfer ``command_id``, issued at ``issued``, waited for: a dependency that
        finished then, a transfer that released the channel then, or its engine's previous
        transfer issued then (None: nothing held it; it was issued when it was reached)."""
        plan, ends = self.plan, self.ends
        dep = _last_finished(plan.commands[command_id].deps, ends, plan)
        if dep is not None and ends[dep] == issued and plan.commands[dep].kind != "compute":
            return dep
        for other in reversed(self.released_at.get(issued, ())):
            if other != command_id:
                return other
        engine = plan.commands[command_id].engine
        earlier = [c for c in self.issued_at.get((engine, issued), ()) if c < command_id]
        return earlier[-1] if earlier else None


def attributed_stalls(plan: Plan, events: tuple[Event, ...], latency: int) -> tuple[dict, dict]:
    """(stall cycles by cause, by layer step), walking the compute commands in program order."""
    starts = [0] * len(plan.commands)
    ends = [0] * len(plan.commands)
    for e in events:
        starts[e.command], ends[e.command] = e.start, e.end
    by_cause = dict.fromkeys(STALL_CAUSES, 0)
    by_layer: dict[int, int] = {}
    blame = _Blame(plan, starts, ends)
    previous_end = 0
    tiles = {e.command: e for e in events if e.kind == "tiles"}
    for command in plan.commands:
        if command.kind == "tiles":
            previous_end = _tiles_stalls(plan, tiles[command.id], previous_end, starts, ends, by_cause, by_layer)
            continue
        if command.kind not in ("compute", "host"):
            continue
        gap = starts[command.id] - previous_end
        if gap < 0:
            raise RuntimeError(f"compute command {command.id} started at cycle {starts[command.id]}, "
                               f"before the previous compute ended ({previous_end})")
        if gap:
            blame.charge(command.id, previous_end, starts[command.id], by_cause)
            by_layer[command.layer] = by_layer.get(command.layer, 0) + gap
        if command.kind == "host":  # the host CPU runs, the accelerator waits
            by_cause["host"] += ends[command.id] - starts[command.id]
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
        last = _last_finished(deps, ends, plan)
        while plan.commands[last].kind == "free":
            last = _last_finished(plan.commands[last].deps, ends, plan)
        return _own_cause(plan, last)
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
