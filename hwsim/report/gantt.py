"""SRAM occupancy by address over time: one rectangle per buffer, from the plan and its trace.

A buffer lives from the start of the command that allocates it to the start of the ``free``
that releases it (or the end of the run), at ``[address, address + size)``. Drawn together
(:func:`hwsim.report.plots.memory_gantt`) the rectangles show what holds the SRAM when, and
the gaps between them show fragmentation.
"""

from __future__ import annotations

from dataclasses import dataclass

from hwsim.schedule.plan import Buffer, Plan
from hwsim.sim.trace import Trace

BUFFER_KINDS = ("skip", "activation", "rows", "tile", "input", "weights")
"""Rectangle kinds: skip tensors (a cascade's delay line of one included), other layer outputs,
a cascade's rolling buffers, tiles of streamed layers (their arenas), the network input (and
anything else that is no layer's output), weights."""


@dataclass(frozen=True)
class BufferRect:
    name: str
    kind: str  # one of BUFFER_KINDS
    address: int
    size: int
    start: int  # cycle
    end: int  # cycle


def buffer_kind(b: Buffer, activations: set[str], skips: set[str]) -> str:
    if b.role in ("weights", "tile"):
        return b.role
    if b.role == "arena":
        return "tile"
    if b.holds() in skips:
        return "skip"
    if b.role == "rows":
        return "rows"
    return "activation" if b.name in activations else "input"


def buffer_rects(trace: Trace, plan: Plan) -> list[BufferRect]:
    """Every SRAM buffer of the run as a rectangle (address x cycles), in allocation order."""
    started = {e.command: e.start for e in trace.events}
    end_of_run = max((e.end for e in trace.events), default=0)
    skips = {t.name for t in plan.tensors if t.skip}
    activations = {t.name for t in plan.tensors}
    open_buffers: dict[Buffer, list[int]] = {}  # buffer -> indices of its open rectangles
    rects: list[list] = []
    for command in plan.commands:
        when = started.get(command.id, 0)
        for b in command.allocs:
            if b.space == "sram":
                open_buffers.setdefault(b, []).append(len(rects))
                rects.append([b, when, end_of_run])
        for b in command.frees:
            if open_buffers.get(b):
                rects[open_buffers[b].pop(0)][2] = when
    return [BufferRect(b.name, buffer_kind(b, activations, skips), b.address, b.size, start, end)
            for b, start, end in rects]
