"""A simulation's record: its commands' start and end cycles made into a trace's events, in
trace order, and the occupancy replayed from them (``hwsim.sim.engine`` runs, this records).

Per event the cost is one call of :class:`~hwsim.sim.trace.Event`'s ``__init__`` over columns
(no Python loop per event but the occupancy replay's), and the commands' fields are read once
(:data:`FIELDS`), at the simulation's set-up: measured on NAFNet's 8,911 commands (400 KiB,
4-bit) on the project's 2-core VM, seven passes over the commands, one per field, took 6.5 ms,
against 16.6 ms for making the events themselves.
"""

from __future__ import annotations

from operator import attrgetter, itemgetter

from hwsim.schedule.plan import Buffer, Command
from hwsim.sim.pipeline import RunTiming
from hwsim.sim.trace import Event, OccupancySample

# Each command's fields, in this order: what the simulation's set-up checks and runs on (kind,
# engine, deps, id, dram_bytes, cycles), then what the events record.
FIELDS = attrgetter("kind", "engine", "deps", "id", "layer", "dram_bytes", "traffic", "tensor", "tile", "allocs",
                    "frees", "cycles")


def record(commands: tuple[Command, ...], fields: list[tuple], starts: list[int | None], ends: list[int | None],
           timings: dict[int, RunTiming]) -> tuple[tuple[Event, ...], tuple[OccupancySample, ...]]:
    """Every command as an event, in trace order (start cycle, command id), and the SRAM and
    weight-buffer bytes in use after each allocating or freeing event, replayed in that order.

    Raises RuntimeError if a command never ran, or a buffer is allocated twice or freed while
    not allocated.

    ``fields`` are each command's :data:`FIELDS`, read once (the simulation reads them too):
    they are turned into columns in trace order (``zip``), then one ``map`` of :class:`Event`
    over the columns makes the events; a ``tiles`` event, which carries its run's timing
    (``timings``), is made again in place.
    """
    if None in ends:
        stuck = [i for i, end in enumerate(ends) if end is None]
        raise RuntimeError(f"simulation ended with {len(stuck)} commands never run (first: {stuck[:5]})")
    n = len(starts)
    if not n:
        return (), ()
    order = sorted(range(n), key=starts.__getitem__)  # (start, command): the sort is stable
    pick = itemgetter(*order) if n > 1 else (lambda items: (items[0],))
    at = pick(starts)
    kind, engine, _, _, layer, dram_bytes, traffic, tensor, tile, allocs, frees, _ = zip(*pick(fields))
    events = list(map(Event, order, kind, engine, layer, at, pick(ends), dram_bytes, traffic, tensor, tile))
    if timings:
        position = {i: p for p, i in enumerate(order)}
        for i, timing in timings.items():
            p, c = position[i], commands[i]
            events[p] = Event(i, c.kind, c.engine, c.layer, starts[i], ends[i], c.dram_bytes, c.traffic, c.tensor,
                              c.tile, (timing.compute_start, timing.compute_end),
                              tuple(sorted(timing.stalls.items())), timing.first_wait, c.run.moves())
    return tuple(events), occupancy(allocs, frees, at, order)


def occupancy(allocs: tuple[tuple[Buffer, ...], ...], frees: tuple[tuple[Buffer, ...], ...], at: tuple[int, ...],
               order: list[int]) -> tuple[OccupancySample, ...]:
    """The bytes in use in each space after every allocating or freeing command (their
    ``allocs`` and ``frees`` in trace order, starting at cycles ``at``), checking each buffer
    is allocated before it is freed and not twice."""
    cycles, sram_in_use, weights_in_use = [], [], []
    live: dict[str, set[str]] = {"sram": set(), "weights": set()}  # space -> names of its allocated buffers
    in_use = {"sram": 0, "weights": 0}
    sram = live["sram"]
    sram_bytes = 0
    for position, allocs, frees in zip(range(len(at)), allocs, frees):
        if not (allocs or frees):
            continue
        for buffer in allocs:
            name, space, size = _BUFFER(buffer)
            names = sram if space == "sram" else live[space]
            if name in names:
                raise RuntimeError(f"command {order[position]} allocates {name!r}, already allocated")
            names.add(name)
            if names is sram:
                sram_bytes += size
            else:
                in_use[space] += size
        for buffer in frees:
            name, space, size = _BUFFER(buffer)
            names = sram if space == "sram" else live[space]
            if name not in names:
                raise RuntimeError(f"command {order[position]} frees {name!r}, which is not allocated")
            names.remove(name)
            if names is sram:
                sram_bytes -= size
            else:
                in_use[space] -= size
        cycles.append(at[position])
        sram_in_use.append(sram_bytes)
        weights_in_use.append(in_use["weights"])
    return tuple(map(OccupancySample, cycles, sram_in_use, weights_in_use))


_BUFFER = attrgetter("name", "space", "size")
