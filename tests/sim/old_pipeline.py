"""``hwsim.sim.pipeline.time_run`` as it was written first, as reference for it: the DRAM an
object (``_Dram.serve`` per transfer), the requests and per-tile figures built as tuples, the
steady state's stretches as a per-tile ``_reach`` list and its state as nested tuples.

Only the tests use it (``test_pipeline.py``): the pipeline must give the very same
:class:`~hwsim.sim.pipeline.RunTiming` as this on any run and arguments.
"""

from __future__ import annotations

import heapq
from bisect import bisect_left
from itertools import compress, repeat
from operator import eq, itemgetter, not_

from hwsim.schedule.plan import BandStream, TileRun
from hwsim.sim.pipeline import RunTiming


class _Dram:
    """Channels, bus and the two DMA engines' issue order."""

    def __init__(self, channels: int, latency: int, transfer, start: int, turnaround: int = 0,
                 way: str | None = None):
        self.free = [start] * channels  # heap of channel free times
        self.latency, self.transfer, self.turnaround = latency, transfer, turnaround
        self.way = way  # the direction of the bus's last data phase
        self.bus = start
        self.last_grant = {"r": start, "w": start}
        self.end = start

    def shift(self, cycles: int, moving: bool) -> None:
        """Advance by ``cycles``; ``end`` too when transfers are ``moving`` in the periods skipped
        (ends grow in grant order, so the last end is then the last period's)."""
        self.free = [f + cycles for f in self.free]  # a uniform shift keeps the heap a heap
        self.bus += cycles
        self.last_grant = {e: g + cycles for e, g in self.last_grant.items()}
        if moving:
            self.end += cycles

    def serve(self, engine: str, ready: int, nbytes: int) -> int:
        """Grant, move and finish one transfer that is next in its engine's order; its end."""
        grant = max(ready, self.last_grant[engine], self.free[0])
        self.last_grant[engine] = grant
        data = max(grant + self.latency, self.bus)
        end = data + self.transfer(nbytes) + (self.turnaround if self.way not in (None, engine) else 0)
        self.way = engine
        self.bus = end
        heapq.heapreplace(self.free, end)
        self.end = max(self.end, end)
        return end


_POSITION = itemgetter(0)  # positions are unique: sorting by them alone gives the order of the whole tuples


def _requests(run: TileRun):
    """The run's loads ``(position, "l" | "w", tile, bytes)`` and stores ``(position, tile, bytes)``
    in program order (``hwsim.schedule.expand``), positions ordering reads against writes; the
    tiles of each (non-decreasing); band loads and stores per tile.

    Iteration ``k`` holds, in order: the load of a new weight chunk, the band loads (of tile
    ``k + 1`` with two slots, the first tile's before the loop; of tile ``k`` with one), the
    compute, the stores of tile ``k``: position ``k * width`` for the chunk, then one per
    stream."""
    n, r, per_chunk = run.tiles, len(run.reads), len(run.bands)
    width = r + len(run.writes) + 2
    lead = 1 if run.slots > 1 else 0  # the band loads of tile k are in iteration k - lead
    chunks = [(c * per_chunk * width, "w", c * per_chunk, nbytes) for c, nbytes in enumerate(run.chunk_bytes)
              if nbytes > 0]
    reads = sorted(chunks + _moving_tiles(run.reads, n, width, 1 - lead * width, "l"), key=_POSITION)
    writes = _moving_tiles(run.writes, n, width, r + 2)
    return (reads, writes, list(map(itemgetter(2), reads)), list(map(itemgetter(1), writes)),
            _moving_per_tile(run.reads, n), _moving_per_tile(run.writes, n))


def _moving_tiles(streams: tuple[BandStream, ...], n: int, width: int, offset: int, *kind: str) -> list[tuple]:
    """``(position, *kind, tile, bytes)`` of every tile of each stream that moves bytes, in
    position order; tile ``k`` of stream ``i`` is at ``k * width + offset + i``."""
    found = []
    for i, stream in enumerate(streams):
        moving, first = stream.nbytes, offset + i
        found += zip(compress(range(first, first + n * width, width), moving), *(repeat(x) for x in kind),
                     compress(range(n), moving), filter(None, moving))
    return sorted(found, key=_POSITION) if len(streams) > 1 else found  # streams interleave tile by tile


def _moving_per_tile(streams: tuple[BandStream, ...], n: int) -> list[int]:
    """How many of ``streams`` move bytes in each tile."""
    return [len(moved) - moved.count(0) for moved in zip(*(s.nbytes for s in streams))] if streams else [0] * n


def _figures(run: TileRun) -> list[tuple[int, ...]]:
    """Per tile: its cycles, the bytes each read and write stream moves, and (with weights)
    1 + the bytes of the chunk it starts, 0 when it starts none."""
    columns = [run.cycles, *(s.nbytes for s in run.reads), *(s.nbytes for s in run.writes)]
    if run.chunk_bytes:
        starts = [0] * run.tiles
        starts[::len(run.bands)] = [nbytes + 1 for nbytes in run.chunk_bytes]
        columns.append(starts)
    return list(zip(*columns))


def _reach(figures: list[tuple[int, ...]], period: int) -> list[int]:
    """Per tile ``k``: the last tile ``m >= k - 1`` such that every tile of ``k .. m`` has the
    same ``figures`` (:func:`_figures`) as the tile ``period`` tiles before it."""
    n = len(figures)
    same = [False] * min(period, n) + list(map(eq, figures[period:], figures[:-period])) + [False]
    reach: list[int] = []
    for stop in compress(range(n + 1), map(not_, same)):  # same[n] is False: every k finds one at or after it
        reach += repeat(stop - 1, stop + 1 - len(reach))  # tiles len(reach) .. stop
    del reach[n:]
    return reach


class _Skip:
    """Steady state. The dynamics are max-plus: shifting every time by the same cycles shifts
    the whole future alike. So once the state after tile ``t`` (every time that can still
    matter, relative to compute ``t``'s end, and how far each queue got) equals the state after
    tile ``t - p``, and the tiles ahead repeat with period ``p``, every later period repeats the
    last one: whole periods are advanced at once (``p`` = 1 inside a stretch of identical
    bands, ``p`` = the bands of a weight chunk when every chunk streams the same bands)."""

    MARGIN = 4  # tiles of the repeating stretch kept beyond the state's window
    TRIES = 8  # states compared per stretch before giving up on it

    def __init__(self, run: TileRun, r_tiles: list[int], w_tiles: list[int]):
        figures = _figures(run)
        self.periods = [1] + ([len(run.bands)] if len(run.chunk_bytes) > 2 and len(run.bands) > 1 else [])
        self.reach = {p: _reach(figures, p) for p in self.periods}
        self.r_tiles, self.w_tiles = r_tiles, w_tiles
        self.seen: dict[int, tuple] = {}  # period -> (tile, state, its base, stalls then)
        self.tries: dict[tuple[int, int], int] = {}  # (period, reach) -> states compared

    def candidates(self, t: int, slots: int) -> list[int]:
        """Periods worth comparing the state after tile ``t`` for."""
        found = []
        for p in self.periods:
            reach = self.reach[p][t + 1] if t + 1 < len(self.reach[p]) else t
            if reach - t - 3 - self.MARGIN < p or t < slots + 1 + p:
                continue
            if p > 1 and t % p != (slots + 2) % p:
                continue
            key = (p, reach)
            self.tries[key] = self.tries.get(key, 0) + 1
            if self.tries[key] <= self.TRIES + 2:
                found.append(p)
        return found


def time_run(run: TileRun, start: int, compute_from: int, channels: int, latency: int, transfer,
             steady: bool = True, turnaround: int = 0, way: str | None = None) -> RunTiming:
    """Times of ``run`` whose DMA may start at ``start`` and compute at ``compute_from``
    (``steady``: advance identical tiles in steady state at once; False: tile by tile;
    ``turnaround``: cycles a data phase pays after one the other way; ``way``: the bus's
    direction before the run, "r" or "w")."""
    dram = _Dram(channels, latency, transfer, start, turnaround, way)
    n, slots = run.tiles, run.slots
    tile_cycles, chunk_bytes, per_chunk = run.cycles, run.chunk_bytes, len(run.bands)  # tile k: chunk k // per_chunk
    reads, writes, r_tiles, w_tiles, loads_left, stores_left = _requests(run)
    n_reads, n_writes = len(reads), len(writes)
    c_end = [0] * n
    l_end = [start] * n  # when tile k's bands are in
    s_end = [start] * n  # when tile k's output tiles are stored
    w_end, served = start, -1  # the last weight chunk loaded: when, which
    stalls: dict[str, int] = {}
    first_wait = None
    ri = wi = k = 0
    prev = compute_from
    skip = _Skip(run, r_tiles, w_tiles) if steady and n > 4 * _Skip.MARGIN else None
    window = range(-slots - 1, 4)  # tiles around the last computed whose times shape the future
    while True:
        while k < n and not loads_left[k] and not (k >= slots and stores_left[k - slots]):
            weighted = bool(chunk_bytes) and chunk_bytes[k // per_chunk] > 0
            if weighted and served < k // per_chunk:
                break
            ready_l, ready_s = l_end[k], (s_end[k - slots] if k >= slots else start)
            w_ready = w_end if weighted else start
            begin = max(prev, ready_l, w_ready, ready_s)
            if begin > prev:
                cause = "weights" if w_ready == begin and (slots > 1 or ready_l < begin) else "streamed"
                if k == 0:
                    first_wait = cause if begin > max(prev, start) else None
                else:
                    stalls[cause] = stalls.get(cause, 0) + begin - prev
            prev = c_end[k] = begin + tile_cycles[k]
            k += 1
            if skip is None:
                continue
            t = k - 1
            periods = skip.candidates(t, slots)
            if not periods:
                continue
            base = c_end[t]
            floor = c_end[t - slots - 1]  # no later wait compares against anything this early

            def rel(x: int) -> int:
                return max(x, floor) - base

            r_at = bisect_left(skip.r_tiles, t + 1)
            w_at = bisect_left(skip.w_tiles, t + 1)
            state = (ri - r_at, wi - w_at, served - t // per_chunk, rel(w_end), rel(dram.bus),
                     rel(dram.last_grant["r"]), rel(dram.last_grant["w"]), rel(dram.end), dram.way,
                     tuple(rel(f) for f in sorted(dram.free)),
                     tuple((rel(c_end[t + o]), rel(l_end[t + o]), rel(s_end[t + o]), loads_left[t + o],
                            stores_left[t + o]) if o <= 0 else
                           (rel(l_end[t + o]), rel(s_end[t + o]), loads_left[t + o], stores_left[t + o])
                           for o in window))
            earlier = {p: skip.seen.get(p) for p in periods}
            for p in periods:
                skip.seen[p] = (t, state, base, dict(stalls), ri + wi)
            for p in reversed(periods):  # the longest period first: it advances the furthest
                before = earlier[p]
                if before is None or before[0] != t - p or before[1] != state:
                    continue
                repeats = (skip.reach[p][t + 1] - t - 3 - _Skip.MARGIN) // p
                jump, shift = repeats * p, repeats * (base - before[2])
                for o in reversed(window):  # move the window (later tiles first: old and new may overlap)
                    u, v = t + o, t + jump + o
                    l_end[v], s_end[v] = l_end[u] + shift, s_end[u] + shift
                    loads_left[v], stores_left[v] = loads_left[u], stores_left[u]
                    if o <= 0:
                        c_end[v] = c_end[u] + shift
                for cause, cycles in stalls.items():
                    stalls[cause] = cycles + repeats * (cycles - before[3].get(cause, 0))
                moving = ri + wi > before[4]  # transfers in every period skipped
                ri += bisect_left(skip.r_tiles, t + jump + 1) - r_at
                wi += bisect_left(skip.w_tiles, t + jump + 1) - w_at
                w_end += shift
                served += (t + jump) // per_chunk - t // per_chunk
                dram.shift(shift, moving)
                k = t + jump + 1
                prev = c_end[k - 1]
                break
        r_ready = w_ready_t = None
        if ri < n_reads:
            _, kind, j, _ = reads[ri]
            need = j - slots if kind == "l" else j - 1  # the compute whose end frees its place
            if need < k:
                r_ready = c_end[need] if need >= 0 and (kind == "l" or j >= per_chunk) else start
        if wi < n_writes and writes[wi][1] < k:
            w_ready_t = c_end[writes[wi][1]]
        if r_ready is None and w_ready_t is None:
            if k < n or ri < n_reads or wi < n_writes:
                raise RuntimeError(f"tiles of layer {run.layer}: the pipeline cannot advance (a bug)")
            break
        free = dram.free[0]
        if w_ready_t is None or (r_ready is not None and (max(r_ready, dram.last_grant["r"], free), reads[ri][0])
                                 < (max(w_ready_t, dram.last_grant["w"], free), writes[wi][0])):
            _, kind, j, nbytes = reads[ri]
            end = dram.serve("r", r_ready, nbytes)
            if kind == "w":
                w_end, served = end, j // per_chunk
            else:
                l_end[j] = max(l_end[j], end)
                loads_left[j] -= 1
            ri += 1
        else:
            _, j, nbytes = writes[wi]
            s_end[j] = max(s_end[j], dram.serve("w", w_ready_t, nbytes))
            stores_left[j] -= 1
            wi += 1
    compute_start = c_end[0] - tile_cycles[0] if n else compute_from
    return RunTiming(start, compute_start, prev, dram.end, first_wait, stalls, dram.way)
