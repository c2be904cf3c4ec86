"""One pass over a trace's events collecting what every figure of ``measure`` reads of them.

Measuring used to walk the events once per figure (the measured totals three times, the
stall attribution's start and end times, the traffic by kind, by tensor and by layer, each
layer's compute span): eight passes over a trace of 9,000 events at 400 KiB of SRAM.
:func:`scan_events` makes one, and each figure reads its share:

* for the measured totals (``hwsim.measure.stalls.measured_totals``, from the events alone):
  the latency (the last event's end), the compute intervals (a compute event's
  ``(start, end)``, any other event's ``compute_span``) and the idle inside streamed layers
  (every event's ``stalls``);
* for the attributed stalls: each command's start and end, and the ``tiles`` events by command;
* DRAM bytes by traffic kind (every event's ``moves``, and each load's and store's own bytes,
  whose traffic must be a read kind for a load and a write kind for a store) and by tensor
  (the same bytes less weights, a transfer counted when it names its tensor);
* per layer step: the start of its first compute and the end of its last (a cascade's compute
  walked part by part), its busy cycles, and the bytes of the loads and stores serving it
  (a streamed layer's: its moves, a read kind counted as read, any other as written).

A contradiction found on the way (a load or store whose traffic kind does not fit it, a
compute event whose parts do not add up to its duration) is kept, the first of each, and
raised by ``measure`` at the point where the figure it breaks is made, as before.
"""

from __future__ import annotations

from hwsim.measure.facts import plan_facts
from hwsim.schedule.plan import TRAFFIC_KINDS, Plan
from hwsim.sim.trace import Event

READ_KINDS = ("weights", "input", "spill_read", "streamed_read", "host_read")
WRITE_KINDS = ("output", "spill_write", "streamed_write", "host_write")


class Scan:
    """What :func:`scan_events` collected (the module docstring)."""

    __slots__ = ("starts", "ends", "latency", "computes", "inside", "tiles", "by_kind", "traffic_error",
                 "moved", "first", "last", "busy", "read", "written", "parts_error")

    def __init__(self, n: int):
        self.starts = [0] * n
        self.ends = [0] * n
        self.latency = 0
        self.computes: list[tuple[int, int]] = []
        self.inside = 0
        self.tiles: dict[int, Event] = {}
        self.by_kind = dict.fromkeys(TRAFFIC_KINDS, 0)
        self.traffic_error: str | None = None
        self.moved: dict[str, int] = {}
        self.first: dict[int, int] = {}
        self.last: dict[int, int] = {}
        self.busy: dict[int, int] = {}
        self.read: dict[int, int] = {}
        self.written: dict[int, int] = {}
        self.parts_error: str | None = None


def scan_events(events: tuple[Event, ...], plan: Plan) -> Scan:
    """One pass over ``events`` (sorted by start, then command) of a run of ``plan``."""
    s = Scan(len(plan.commands))
    starts, ends, computes, by_kind, moved = s.starts, s.ends, s.computes, s.by_kind, s.moved
    first, last, busy, read, written = s.first, s.last, s.busy, s.read, s.written
    parts = plan_facts(plan).parts
    latency = events[0].end if events else 0
    inside = 0
    for e in events:
        c, start, end, kind = e.command, e.start, e.end, e.kind
        starts[c] = start
        ends[c] = end
        if end > latency:
            latency = end
        if kind == "compute":
            computes.append((start, end))
            at = start
            for layer, cycles in parts[c]:
                if layer not in first:
                    first[layer] = at
                at += cycles
                last[layer] = at  # compute events do not overlap
                busy[layer] = busy.get(layer, 0) + cycles
            if at != end and s.parts_error is None:
                s.parts_error = f"compute command {c} ran {end - start} cycles, its parts take {at - start}"
        elif kind == "load" or kind == "store":
            traffic, nbytes = e.traffic, e.dram_bytes
            if traffic not in (READ_KINDS if kind == "load" else WRITE_KINDS):
                if s.traffic_error is None:
                    s.traffic_error = f"{kind} command {c} of {e.tensor!r} has traffic kind {traffic!r}"
            else:
                by_kind[traffic] += nbytes
            if traffic != "weights" and (tensor := e.tensor) is not None:
                moved[tensor] = moved.get(tensor, 0) + nbytes  # a tile's transfer names its tensor
            layer = e.layer
            if kind == "load":
                read[layer] = read.get(layer, 0) + nbytes
            else:
                written[layer] = written.get(layer, 0) + nbytes
        elif kind == "tiles":
            s.tiles[c] = e
            layer, (a, b) = e.layer, e.compute_span
            first.setdefault(layer, a)
            last[layer] = max(last.get(layer, b), b)
            busy[layer] = busy.get(layer, 0) + b - a - sum(cycles for _, cycles in e.stalls)
            for _, traffic, nbytes in e.moves:
                into = read if traffic in READ_KINDS else written
                into[layer] = into.get(layer, 0) + nbytes
        if kind != "compute" and e.compute_span:
            computes.append(e.compute_span)
        if e.stalls:  # a streamed layer's tiles waiting inside
            inside += sum(cycles for _, cycles in e.stalls)
        if e.moves:
            for tensor, traffic, nbytes in e.moves:
                by_kind[traffic] += nbytes
                if traffic != "weights":
                    moved[tensor] = moved.get(tensor, 0) + nbytes
    s.latency, s.inside = latency, inside
    return s
