"""A run as a Chrome / Perfetto trace (Trace Event Format JSON): open it in https://ui.perfetto.dev.

One process (the accelerator), one thread per engine lane: ``compute``, and ``dma_read`` /
``dma_write`` with one lane per DMA channel in use (transfers that overlap in time go to
different lanes, so each lane's slices never overlap). Every compute, load and store is an
``X`` (complete) event: ``ts`` and ``dur`` in microseconds, ``name`` the layer (compute) or
the tensor (load, store), ``args`` with the layer, bytes, traffic kind, tile and command id.
A streamed layer's tiles are two slices: its computes' span on the compute track (``args``:
busy ``cycles``, ``tiles``, the cycles its computes waited inside it by cause) and the run's
span on a ``dma_read`` lane (``args``: its DRAM bytes in all and by tensor and traffic kind).
A cascade's compute command is a slice per part (a layer in a stripe, the stripe as its tile).
A ``C`` (counter) track ``SRAM in use`` holds the bytes allocated after each change (and a
``weight buffer in use`` track when the spec has a separate one), every sample the
simulator recorded, so the peak shows even when it lasts zero cycles. ``M`` events name the
process and the threads. Same trace and plan, same bytes.

:func:`write_trace` is what ``hwsim run --trace FILE`` calls.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from typing import Any

from hwsim.files import write_atomic
from hwsim.schedule.plan import Plan
from hwsim.sim.trace import Event, Trace

PID = 1
ENGINE_ORDER = ("compute", "dma_read", "dma_write")


def _us(cycles: int, clock_hz: int) -> float:
    """Cycles as microseconds, rounded to the picosecond (keeps the JSON short and stable)."""
    return round(cycles * 1e6 / clock_hz, 6)


def _lanes(events: list[Event]) -> list[int]:
    """A lane per event such that events of one lane never overlap (greedy, first free lane)."""
    lane_end: list[int] = []
    lanes = []
    for e in events:
        lane = next((i for i, end in enumerate(lane_end) if end <= e.start), len(lane_end))
        if lane == len(lane_end):
            lane_end.append(e.end)
        else:
            lane_end[lane] = e.end
        lanes.append(lane)
    return lanes


def _slice(e: Event, tid: int, names: dict[int, str], clock_hz: int) -> dict[str, Any]:
    layer = names.get(e.layer, str(e.layer))
    args: dict[str, Any] = {"command": e.command, "layer": layer, "kind": e.kind}
    if e.kind == "compute" and e.compute_span:
        args.update(cycles=e.end - e.start - sum(c for _, c in e.stalls), waits=dict(e.stalls))
    elif e.kind == "compute":
        args["cycles"] = e.end - e.start
    elif e.kind == "tiles":
        args.update(bytes=e.dram_bytes, tensor=e.tensor, moves=[list(m) for m in e.moves])
    else:
        args.update(bytes=e.dram_bytes, traffic=e.traffic, tensor=e.tensor)
    if e.tile is not None:
        args["tile"] = e.tile
    name = layer if e.kind == "compute" or e.tensor is None else e.tensor
    return {"ph": "X", "pid": PID, "tid": tid, "name": name, "cat": e.kind,
            "ts": _us(e.start, clock_hz), "dur": _us(e.end - e.start, clock_hz), "args": args}


def _meta(name: str, tid: int | None, value: str, sort_index: int | None = None) -> list[dict[str, Any]]:
    base = {"ph": "M", "pid": PID, **({"tid": tid} if tid is not None else {})}
    out = [{**base, "name": name, "args": {"name": value}}]
    if sort_index is not None:
        out.append({**base, "name": "thread_sort_index", "args": {"sort_index": sort_index}})
    return out


def _parts(e: Event, plan: Plan) -> list[Event]:
    """A compute event as a slice per part of its command (a cascade's), or as it is."""
    command = plan.commands[e.command]
    if not command.parts:
        return [e]
    return [replace(e, layer=layer, tile=tile, start=start, end=end)
            for layer, tile, start, end in command.spans(e.start)]


def _engine_events(trace: Trace, plan: Plan) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    names = {layer.index: layer.name for layer in plan.layers}
    tid = 0
    split = []  # a streamed layer's tiles: its computes' span, and the run on the DMA tracks
    for e in trace.events:
        if e.kind == "tiles":
            split += [replace(e, kind="compute", engine="compute", start=e.compute_span[0], end=e.compute_span[1]),
                      replace(e, engine="dma_read")]
        else:
            split.append(e)
    for engine in ENGINE_ORDER:
        events = sorted((e for e in split if e.engine == engine), key=lambda e: (e.start, e.command))
        if engine == "compute":  # a cascade's command: a slice per part (a layer in a stripe)
            events = [part for e in events for part in _parts(e, plan)]
        lanes = _lanes(events)
        for lane in range(max(lanes, default=-1) + 1):
            tid += 1
            label = engine if engine == "compute" else f"{engine} {lane}"
            out += _meta("thread_name", tid, label, tid)
            out += [_slice(e, tid, names, trace.clock_hz) for e, l in zip(events, lanes) if l == lane]
    return out


def _counters(trace: Trace, separate_weights: bool) -> list[dict[str, Any]]:
    """Every occupancy sample as a counter event, in trace order (several may share a time)."""
    out = []
    for s in trace.occupancy:
        ts = _us(s.cycle, trace.clock_hz)
        out.append({"ph": "C", "pid": PID, "name": "SRAM in use", "ts": ts, "args": {"bytes": s.sram_bytes}})
        if separate_weights:
            out.append({"ph": "C", "pid": PID, "name": "weight buffer in use", "ts": ts,
                        "args": {"bytes": s.weight_bytes}})
    return out


def trace_events(trace: Trace, plan: Plan) -> dict[str, Any]:
    """The Trace Event Format object of one run."""
    events = _meta("process_name", None, f"{trace.graph} on {trace.spec}")
    events += _engine_events(trace, plan)
    events += _counters(trace, plan.weight_buffer_bytes > 0)
    return {
        "displayTimeUnit": "ns",
        "metadata": {"graph": trace.graph, "spec": trace.spec, "clock_hz": trace.clock_hz,
                     "sram_bytes": plan.sram_bytes, "weight_buffer_bytes": plan.weight_buffer_bytes},
        "traceEvents": events,
    }


def write_trace(trace: Trace, plan: Plan, path: str | os.PathLike) -> None:
    """Write the trace JSON to ``path`` atomically (UserError if it cannot be written)."""
    write_atomic(path, json.dumps(trace_events(trace, plan), sort_keys=True, separators=(",", ":")) + "\n")
