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

from bisect import bisect_left, bisect_right
from dataclasses import dataclass

from hwsim.measure.facts import plan_facts
from hwsim.measure.scan import Scan, scan_events
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
    computes = [(e.start, e.end) if e.kind == "compute" else e.compute_span
                for e in events if e.kind == "compute" or e.compute_span]
    inside = sum(c for e in events for _, c in e.stalls)  # a streamed layer's tiles waiting inside
    return _totals(latency, computes, inside)


def _totals(latency: int, computes: list[tuple[int, int]], inside: int) -> tuple[int, int, int]:
    """(latency, busy, idle) from the last event's end, the compute intervals (in any order)
    and the idle inside streamed layers: a sweep over the intervals in start order."""
    computes.sort()
    busy = -inside
    idle, covered_to = inside, 0
    for start, end in computes:
        busy += end - start
        if start > covered_to:
            idle += start - covered_to
        if end > covered_to:
            covered_to = end
    idle += latency - covered_to
    return latency, busy, idle


def _own_cause(plan: Plan, command_id: int) -> str:
    command = plan.commands[command_id]
    if command.kind == "tiles":
        return "streamed"
    cause = command.cause or CAUSE_OF_TRAFFIC.get(command.traffic or "")
    if cause not in STALL_CAUSES:
        raise RuntimeError(f"command {command.id} ({command.kind} of {command.tensor!r}) has no stall cause")
    return cause


class _Blame:
    """Walks back from a gap's end through what blocked (the module docstring). The plan's
    tables (``hwsim.measure.facts``) are shared by every trace of the plan."""

    def __init__(self, plan: Plan, starts: list[int], ends: list[int]):
        self.plan, self.starts, self.ends = plan, starts, ends
        self.commands = plan.commands
        facts = plan_facts(plan)
        self.facts, self.causes = facts, facts.causes
        # One integer per command ordered as (end, a transfer or compute before a free, id): the
        # end times M = 2n + 1 apart, the plan's tie rank (< 2n) added, so max() needs no key tuple.
        scale = 2 * len(ends) + 1
        self.key_of = [end * scale + rank for end, rank in zip(ends, facts.tie_rank)].__getitem__
        self._by_end: tuple[list[int], list[int]] | None = None  # made when first asked for (_at)
        self._by_start: tuple[list[int], list[int]] | None = None

    def last_finished(self, command_id: int) -> int | None:
        """Of command ``command_id``'s deps, the one that finished last; ties go to a load,
        store or compute before a free, then to the later command."""
        deps = self.commands[command_id].deps
        if len(deps) < 2:
            return deps[0] if deps else None
        return max(deps, key=self.key_of)

    def cause(self, command_id: int) -> str:
        """The stall cause a wait on command ``command_id`` is charged to."""
        cause = self.causes.get(command_id)
        if cause is None:
            cause = self.causes[command_id] = _own_cause(self.plan, command_id)
        return cause

    def _sorted(self, times: list[int]) -> tuple[list[int], list[int]]:
        """The transfers (load, store, tiles) sorted by ``times`` (their ends or their starts),
        each time's in program order: (the times, the ids). Two C-level sorts, made when a walk
        first asks which transfer ended or was issued at some cycle (most walks never do)."""
        ids = self.facts.transfers
        at = list(map(times.__getitem__, ids))
        order = sorted(range(len(ids)), key=at.__getitem__)  # stable: program order within a cycle
        return list(map(at.__getitem__, order)), list(map(ids.__getitem__, order))

    def _at(self, times: list[int], cycle: int) -> list[int]:
        """The transfers whose ``times`` (ends or starts) are ``cycle``, in program order."""
        index = self._by_end if times is self.ends else self._by_start
        if index is None:
            index = self._sorted(times)
            if times is self.ends:
                self._by_end = index
            else:
                self._by_start = index
        keys, ids = index
        return ids[bisect_left(keys, cycle):bisect_right(keys, cycle)]

    def charge(self, command_id: int, gap_start: int, gap_end: int, by_cause: dict[str, int]) -> None:
        """Charge [gap_start, gap_end), which compute command ``command_id`` waited through."""
        starts, ends, kind, causes = self.starts, self.ends, self.facts.kinds, self.causes
        last = self.last_finished(command_id)
        if last is None or ends[last] != gap_end:
            raise RuntimeError(f"compute command {command_id} started at cycle {gap_end} after an idle gap, "
                               "but no dependency finished then: the simulator left the engine idle")
        if kind[last] not in ("free", "compute") and starts[last] <= gap_start:
            # the common case, the walk below in one step: a transfer in flight through the whole gap
            by_cause[causes.get(last) or self.cause(last)] += gap_end - gap_start
            return
        end = gap_end
        seen: set[int] = set()
        while end > gap_start:
            if last in seen:  # transfers that took no time, each released when the other was issued
                by_cause[self.cause(last)] += end - gap_start
                return
            seen.add(last)
            if kind[last] == "free":
                last = self.last_finished(last)
                if last is None:
                    raise RuntimeError(f"compute command {command_id} waited for a free with no dependency")
                continue
            if kind[last] == "compute":
                raise RuntimeError(f"compute command {command_id} waited for compute command {last}")
            issued = starts[last]
            by_cause[causes.get(last) or self.cause(last)] += end - (issued if issued > gap_start else gap_start)
            end = issued
            if end <= gap_start:
                return
            before = self._waited_for(last, issued)
            if before is None:
                by_cause[self.cause(last)] += end - gap_start
                return
            last = before

    def _waited_for(self, command_id: int, issued: int) -> int | None:
        """What transfer ``command_id``, issued at ``issued``, waited for: a dependency that
        finished then, a transfer that released the channel then, or its engine's previous
        transfer issued then (None: nothing held it; it was issued when it was reached)."""
        dep = self.last_finished(command_id)
        if dep is not None and self.ends[dep] == issued and self.facts.kinds[dep] != "compute":
            return dep
        for other in reversed(self._at(self.ends, issued)):  # transfers that released a channel then
            if other != command_id:
                return other
        commands = self.commands
        engine = commands[command_id].engine
        earlier = [c for c in self._at(self.starts, issued) if c < command_id and commands[c].engine == engine]
        return earlier[-1] if earlier else None

    def released_before(self, command_id: int, cycle: int) -> int | None:
        """The last load or store before ``command_id`` in program order that ended at ``cycle``."""
        kind = self.facts.kinds
        ended = [c for c in self._at(self.ends, cycle) if c < command_id and kind[c] in ("load", "store")]
        return ended[-1] if ended else None


def attributed_stalls(plan: Plan, events: tuple[Event, ...], latency: int,
                      scan: Scan | None = None) -> tuple[dict, dict]:
    """(stall cycles by cause, by layer step), walking the compute commands in program order
    (``scan``: the events' :func:`hwsim.measure.scan.scan_events`, made here when not given)."""
    if scan is None:
        scan = scan_events(events, plan)
    starts, ends, tiles = scan.starts, scan.ends, scan.tiles
    by_cause = dict.fromkeys(STALL_CAUSES, 0)
    by_layer: dict[int, int] = {}
    blame = _Blame(plan, starts, ends)
    previous_end = 0
    for command_id, kind, layer in plan_facts(plan).timeline:
        if kind == "tiles":
            previous_end = _tiles_stalls(plan, tiles[command_id], previous_end, blame, by_cause, by_layer)
            continue
        start = starts[command_id]
        gap = start - previous_end
        if gap < 0:
            raise RuntimeError(f"compute command {command_id} started at cycle {start}, "
                               f"before the previous compute ended ({previous_end})")
        if gap:
            blame.charge(command_id, previous_end, start, by_cause)
            by_layer[layer] = by_layer.get(layer, 0) + gap
        if kind == "host":  # the host CPU runs, the accelerator waits
            by_cause["host"] += ends[command_id] - start
        previous_end = ends[command_id]
    by_cause["drain"] += latency - previous_end
    return by_cause, by_layer


def _tiles_stalls(plan: Plan, event: Event, previous_end: int, blame: _Blame, by_cause, by_layer) -> int:
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
        by_cause[event.first_wait or _cause_at(plan, event, blame)] += gap
    for cause, cycles in event.stalls:
        by_cause[cause] += cycles
    idle = gap + sum(c for _, c in event.stalls)
    if idle:
        by_layer[event.layer] = by_layer.get(event.layer, 0) + idle
    return last


def _cause_at(plan: Plan, event: Event, blame: _Blame) -> str:
    """What a ``tiles`` command that started at ``event.start`` waited for."""
    ends = blame.ends
    deps = plan.commands[event.command].deps
    if any(ends[d] == event.start for d in deps):
        last = blame.last_finished(event.command)
        while plan.commands[last].kind == "free":
            last = blame.last_finished(last)
        return _own_cause(plan, last)
    waited = blame.released_before(event.command, event.start)
    if waited is not None:
        waited = plan.commands[waited]
        return waited.cause or CAUSE_OF_TRAFFIC.get(waited.traffic or "", "streamed")
    return "streamed"


def account_stalls(trace: Trace, plan: Plan, scan: Scan | None = None) -> StallAccount:
    """Measured totals and stalls by cause, checked against each other (``scan``: the trace's
    :func:`hwsim.measure.scan.scan_events`, made here when not given)."""
    if len(trace.events) != len(plan.commands):
        raise RuntimeError(f"trace has {len(trace.events)} events for {len(plan.commands)} plan commands")
    if scan is None:
        scan = scan_events(trace.events, plan)
    latency, busy, stall = _totals(scan.latency, scan.computes, scan.inside)
    by_cause, by_layer = attributed_stalls(plan, trace.events, latency, scan)
    if sum(by_cause.values()) != stall:
        raise RuntimeError(f"stalls by cause sum to {sum(by_cause.values())} cycles, "
                           f"measured idle time is {stall}: {by_cause}")
    if busy + stall != latency:
        raise RuntimeError(f"compute busy {busy} + stalls {stall} != latency {latency} "
                           "(compute events overlap)")
    return StallAccount(latency, busy, stall, by_cause, by_layer)
