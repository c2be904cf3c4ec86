"""Timing a streamed layer's tiles in bulk (a ``tiles`` command, :class:`~hwsim.schedule.plan.TileRun`).

The run owns the compute engine, both DMA engines and every DRAM channel while it runs
(``hwsim.sim.engine`` starts it once its deps are done, both DMA engines have reached it and
every channel is free; its compute begins no earlier than the compute engine reaches it). Inside,
the per-tile commands of ``hwsim.schedule.expand`` follow the engine model of
``hwsim.sim.engine`` exactly, but as arithmetic on integer cycles instead of events:

* DMA: the read engine issues the run's loads (band loads and weight chunks) in program
  order, the write engine its stores; each waits for its deps and for the engine's previous
  transfer to have been granted a channel. A channel goes to the waiting request of lowest
  program position, else to the first to arrive. A granted transfer holds its channel for
  the DRAM latency and then its data phase, which holds the DRAM bus (with one channel the
  bus cannot be contended); data phases are served in grant order, and one that moves data
  the other way from the bus's previous one pays the DRAM turnaround first (the direction
  before the run is the engine's, passed in; the one after it is handed back).
* compute ``k`` starts when compute ``k - 1`` has ended, its input bands and weight chunk are
  loaded, and the output tiles of tile ``k - slots`` (the same slots) have been stored.
* a band load for tile ``k`` waits for compute ``k - slots`` (the slot's previous user); a
  weight chunk waits for the last compute of the chunk before; a store waits for its compute.

Compute waiting inside the run is charged, as ``hwsim.measure.stalls`` charges a wait, to what
finished last: a band transfer (``streamed``) or a weight chunk (``weights``); ties go to the
command later in program order, as there.

Cost: a run is timed request by request only where its tiles do not repeat (mostly its first
and last few: :class:`_Skip` advances the rest in bulk), so what every tile of it costs is kept
to lists built in C (requests as program positions, counts per tile, figures compared by
slices), and the loop over requests keeps the DRAM in local variables and takes maxima with
``if`` (the builtin ``max`` is slow on two to four numbers). ``tests/sim/old_pipeline.py``
keeps the plain version this must equal.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass
from heapq import heapreplace
from itertools import chain, compress, repeat
from operator import add, attrgetter, ne, truth

from hwsim.records import stored_at_once
from hwsim.schedule.plan import BandStream, TileRun


@stored_at_once  # one per tiles command (shifted from a timed one)
@dataclass(frozen=True)
class RunTiming:
    dma_start: int
    compute_start: int  # first tile's compute
    compute_end: int  # last tile's compute
    dma_end: int  # last transfer's end (dma_start when there is none)
    first_wait: str | None  # what the first compute waited for after max(dma_start, compute arrival)
    stalls: dict[str, int]  # compute idle between the run's computes, by cause
    last_way: str | None = None  # "r" or "w": the direction of the bus's last data phase after the run

    @property
    def end(self) -> int:
        return max(self.compute_end, self.dma_end)

    def shifted(self, cycles: int) -> RunTiming:
        """The same timing ``cycles`` later."""
        return RunTiming(self.dma_start + cycles, self.compute_start + cycles, self.compute_end + cycles,
                         self.dma_end + cycles, self.first_wait, dict(self.stalls), self.last_way)


def _requests(run: TileRun) -> tuple[list[int], list[int], list[int], list[int]]:
    """The program positions (``hwsim.schedule.expand``) of the run's loads (band loads and
    weight chunks) and of its stores, each ascending, the two ordering reads against writes;
    band loads and stores per tile, then ``slots`` zeros (tile ``k - slots`` of a ``k < slots``
    reads as one that moves nothing).

    Iteration ``k`` is ``width`` positions: the load of a new weight chunk (at ``k * width``),
    one band load per read stream (of tile ``k + 1`` with two slots, the first tile's before
    the loop; of tile ``k`` with one), the compute, one store per write stream (of tile
    ``k``). :func:`time_run` reads a request's tile, stream or chunk off its position. A tile's
    loads (the band loads at ``(k - lead) * width + 1 + i``, a chunk at ``k * width``) all come
    before position ``(k + 1 - lead) * width + lead`` and the next tile's after it; its stores
    (at ``k * width + len(reads) + 2 + i``) before ``(k + 1) * width``."""
    n, r, per_chunk, slots = run.tiles, len(run.reads), len(run.bands), run.slots
    width = r + len(run.writes) + 2
    lead = 1 if slots > 1 else 0  # the band loads of tile k are in iteration k - lead
    reads = _positions(run.reads, n, width, 1 - lead * width)
    chunks = [c * per_chunk * width for c, nbytes in enumerate(run.chunk_bytes) if nbytes > 0]
    if chunks:
        reads = sorted(chunks + reads)
    return (reads, _positions(run.writes, n, width, r + 2), _moving_per_tile(run.reads, n, slots),
            _moving_per_tile(run.writes, n, slots))


def _positions(streams: tuple[BandStream, ...], n: int, width: int, offset: int) -> list[int]:
    """The positions of every tile of each stream that moves bytes, ascending; tile ``k`` of
    stream ``i`` is at ``k * width + offset + i``."""
    each = [range(offset + i, offset + i + n * width, width) if 0 not in stream.nbytes else
            compress(range(offset + i, offset + i + n * width, width), stream.nbytes)
            for i, stream in enumerate(streams)]
    return list(each[0]) if len(each) == 1 else sorted(chain.from_iterable(each))  # streams interleave


def _moving_per_tile(streams: tuple[BandStream, ...], n: int, pad: int) -> list[int]:
    """How many of ``streams`` move bytes in each tile (bools for one stream with gaps), then ``pad`` zeros."""
    if not any(0 in stream.nbytes for stream in streams):
        return [len(streams)] * n + [0] * pad
    counts = map(truth, streams[0].nbytes)
    for stream in streams[1:]:
        counts = map(add, counts, map(truth, stream.nbytes))
    return [*counts, *repeat(0, pad)]


def _stops(columns: list[tuple[int, ...]], n: int, period: int) -> list[int]:
    """The tiles ``k`` whose figures (``columns``, one value per tile each) differ from tile
    ``k - period``'s, those with none before them included, and ``n``: ascending. Tiles
    ``k .. m`` each repeat the tile ``period`` before them for every ``m`` below the first
    stop at or after ``k``."""
    found = set(range(min(period, n)))
    for column in columns:
        if column[period:] != column[:-period]:  # (most runs repeat most figures throughout)
            found.update(compress(range(period, n), map(ne, column[period:], column[:-period])))
    found.add(n)
    return sorted(found)


class _Skip:
    """Steady state. The dynamics are max-plus: shifting every time by the same cycles shifts
    the whole future alike. So once the state after tile ``t`` (every time that can still
    matter, relative to compute ``t``'s end, and how far each queue got) equals the state after
    tile ``t - p``, and the tiles ahead repeat with period ``p``, every later period repeats the
    last one: whole periods are advanced at once (``p`` = 1 inside a stretch of identical
    bands, ``p`` = the bands of a weight chunk when every chunk streams the same bands).

    A state is compared for ``p`` after tile ``t`` when ``t >= slots + 1 + p`` (its window
    holds computed tiles only), ``t`` is at the period's phase, and the stretch of tiles that
    repeat the tile ``p`` before them reaches ``3 + MARGIN + p`` tiles past ``t``; at most
    ``TRIES + 2`` states per stretch."""

    MARGIN = 4  # tiles of the repeating stretch kept beyond the state's window
    TRIES = 8  # states compared per stretch before giving up on it

    def __init__(self, run: TileRun):
        # Per tile: its cycles, the bytes each read and write stream moves, and (with weights)
        # 1 + the bytes of the chunk it starts, 0 when it starts none.
        columns = [run.cycles, *(s.nbytes for s in run.reads), *(s.nbytes for s in run.writes)]
        if run.chunk_bytes:
            starts = [0] * run.tiles
            starts[::len(run.bands)] = [nbytes + 1 for nbytes in run.chunk_bytes]
            columns.append(starts)
        periods = [1] + ([len(run.bands)] if len(run.chunk_bytes) > 2 and len(run.bands) > 1 else [])
        # Per period: [p, its stops, the first stop after the last tile it was looked at for (which
        # ends that tile's stretch), states compared in that stretch, the last state: (tile, state,
        # its base, stalls then, requests served then)]. Tiles only grow, so a stretch once left
        # is never met again.
        self.periods = [[p, _stops(columns, run.tiles, p), -1, 0, None] for p in periods]


def time_run(run: TileRun, start: int, compute_from: int, channels: int, latency: int, transfer,
             steady: bool = True, turnaround: int = 0, way: str | None = None) -> RunTiming:
    """Times of ``run`` whose DMA may start at ``start`` and compute at ``compute_from``
    (``steady``: advance identical tiles in steady state at once; False: tile by tile;
    ``turnaround``: cycles a data phase pays after one the other way; ``way``: the bus's
    direction before the run, "r" or "w").

    The DRAM is kept in locals: ``free``, the heap of channel free times; ``bus``, when the
    bus is next free; ``g_r``/``g_w``, the read and write engines' last grants (each engine
    issues in order); ``d_end``, the last transfer's end. A transfer is granted at the latest
    of its ready time, its engine's last grant and the first channel free; its data phase
    starts at the later of the grant plus the latency and the bus."""
    n, slots = run.tiles, run.slots
    tile_cycles, chunk_bytes, per_chunk = run.cycles, run.chunk_bytes, len(run.bands)  # tile k: chunk k // per_chunk
    reads, writes, loads_left, stores_left = _requests(run)
    n_reads, n_writes = len(reads), len(writes)
    r = len(run.reads)
    width, lead = r + len(run.writes) + 2, 1 if slots > 1 else 0  # (as _requests)
    read_bytes, write_bytes = [s.nbytes for s in run.reads], [s.nbytes for s in run.writes]
    c_end = [0] * n + [start] * slots  # c_end[k - slots] of a k < slots: start (no compute frees anything)
    l_end = [start] * n  # when tile k's bands are in
    s_end = [start] * (n + slots)  # when tile k's output tiles are stored (likewise start before tile 0)
    free = [start] * channels
    bus = g_r = g_w = d_end = start
    w_end, served = start, -1  # the last weight chunk loaded: when, which
    stalls: dict[str, int] = {}
    first_wait = None
    ri = wi = k = 0
    r_seen = w_seen = -1  # the requests last read off their positions
    prev = compute_from
    skip = _Skip(run) if steady and n > 4 * _Skip.MARGIN else None
    back = slots + 1  # the state's window: tiles t - back .. t + 3 around the last computed, t
    margin, tries = _Skip.MARGIN, _Skip.TRIES + 2
    while True:
        while k < n and not loads_left[k] and not stores_left[k - slots]:
            w_ready = start
            if chunk_bytes and chunk_bytes[k // per_chunk] > 0:
                if served < k // per_chunk:
                    break
                w_ready = w_end
            ready_l, ready_s = l_end[k], s_end[k - slots]
            begin = prev  # the latest of these four (no max(): it is slow on so few)
            if ready_l > begin:
                begin = ready_l
            if w_ready > begin:
                begin = w_ready
            if ready_s > begin:
                begin = ready_s
            if begin > prev:
                cause = "weights" if w_ready == begin and (slots > 1 or ready_l < begin) else "streamed"
                if k == 0:
                    first_wait = cause if begin > start else None  # (begin > max(prev, start))
                else:
                    stalls[cause] = stalls.get(cause, 0) + begin - prev
            prev = c_end[k] = begin + tile_cycles[k]
            k += 1
            if skip is None:
                continue
            t = k - 1
            periods = None  # those to compare the state after tile t for (_Skip)
            for period in skip.periods:
                p = period[0]
                if t < slots + 1 + p or (p > 1 and t % p != (slots + 2) % p):
                    continue
                if period[2] <= t:  # past the stretch's end: the next stop, no state compared before it
                    stops = period[1]
                    period[2], period[3] = stops[bisect_left(stops, t + 1)], 0
                if period[2] - t - 4 - margin < p:  # the stretch (to the stop - 1) is too short past t
                    continue
                period[3] += 1
                if period[3] <= tries:
                    periods = [period] if periods is None else [*periods, period]
            if periods is None:
                continue
            base, lo, hi = prev, t - back, t + 4
            floor = c_end[lo]  # no later wait compares against anything this early
            under = floor - base
            # The requests of tiles up to t: loads before position (t + 1 - lead) * width + lead, stores
            # before (t + 1) * width.
            r_at, w_at = bisect_left(reads, (t + 1 - lead) * width + lead), bisect_left(writes, (t + 1) * width)
            # Every time relative to base, clamped at floor: the engines', the channels' (in order),
            # then computes lo .. t, band loads and stores lo .. t + 3, at fixed places.
            times = [w_end, bus, g_r, g_w, d_end, *sorted(free), *c_end[lo:t + 1], *l_end[lo:hi], *s_end[lo:hi]]
            state = (ri - r_at, wi - w_at, served - t // per_chunk, way, loads_left[lo:hi], stores_left[lo:hi],
                     [x - base if x > floor else under for x in times])
            earlier = [(period, period[4]) for period in periods]
            now = (t, state, base, dict(stalls), ri + wi)
            for period in periods:
                period[4] = now
            for period, before in reversed(earlier):  # the longest period first: it advances the furthest
                p = period[0]
                if before is None or before[0] != t - p or before[1] != state:
                    continue
                repeats = (period[2] - 1 - t - 3 - margin) // p  # (the stretch reaches its stop - 1)
                jump, shift = repeats * p, repeats * (base - before[2])
                # Move the window (the new lists are made before the old places are overwritten).
                c_end[lo + jump:t + 1 + jump] = [x + shift for x in c_end[lo:t + 1]]
                l_end[lo + jump:hi + jump] = [x + shift for x in l_end[lo:hi]]
                s_end[lo + jump:hi + jump] = [x + shift for x in s_end[lo:hi]]
                loads_left[lo + jump:hi + jump] = loads_left[lo:hi]
                stores_left[lo + jump:hi + jump] = stores_left[lo:hi]
                for cause, cycles in stalls.items():
                    stalls[cause] = cycles + repeats * (cycles - before[3].get(cause, 0))
                if ri + wi > before[4]:  # transfers in every period skipped: ends grow in grant order
                    d_end += shift
                ri += bisect_left(reads, (t + jump + 1 - lead) * width + lead) - r_at
                wi += bisect_left(writes, (t + jump + 1) * width) - w_at
                w_end += shift
                served += (t + jump) // per_chunk - t // per_chunk
                free = [f + shift for f in free]  # a uniform shift keeps the heap a heap
                bus, g_r, g_w = bus + shift, g_r + shift, g_w + shift
                k = t + jump + 1
                prev = c_end[t + jump]
                break
        # The next transfer: of the read and write engines' next requests whose compute has ended
        # (a band load: compute k - slots, its slot's previous user; a chunk: the last compute of the
        # chunk before; a store: its own), the one granted first, ties to program order.
        if ri != r_seen:
            r_seen, need = ri, n  # none left: never ready
            if ri < n_reads:
                pos_r = reads[ri]
                j, i = divmod(pos_r - 1 + lead * width, width)
                chunk = i >= r  # a weight chunk's (at the iteration of the tile it starts): else tile j's band i
                if chunk:
                    j += 1 - lead
                need = j - 1 if chunk else j - slots
        if wi != w_seen:
            w_seen, jw = wi, n
            if wi < n_writes:
                pos_w = writes[wi]
                jw, iw = divmod(pos_w - r - 2, width)  # tile jw's output band iw
        head = free[0]
        if need < k:
            grant = c_end[need]
            if g_r > grant:
                grant = g_r
            if head > grant:
                grant = head
            if jw < k:
                w_grant = c_end[jw]
                if g_w > w_grant:
                    w_grant = g_w
                if head > w_grant:
                    w_grant = head
                reading = grant < w_grant or (grant == w_grant and pos_r < pos_w)
            else:
                reading = True
        elif jw < k:
            w_grant = c_end[jw]
            if g_w > w_grant:
                w_grant = g_w
            if head > w_grant:
                w_grant = head
            reading = False
        else:
            if k < n or ri < n_reads or wi < n_writes:
                raise RuntimeError(f"tiles of layer {run.layer}: the pipeline cannot advance (a bug)")
            break
        if reading:
            g_r = grant
            end = (grant + latency if grant + latency > bus else bus) + transfer(
                chunk_bytes[j // per_chunk] if chunk else read_bytes[i][j])
            if way != "r" and way is not None:
                end += turnaround
            way = "r"
            if chunk:
                w_end, served = end, j // per_chunk
            else:
                if end > l_end[j]:
                    l_end[j] = end
                loads_left[j] -= 1
            ri += 1
        else:
            g_w = w_grant
            end = (w_grant + latency if w_grant + latency > bus else bus) + transfer(write_bytes[iw][jw])
            if way != "w" and way is not None:
                end += turnaround
            way = "w"
            if end > s_end[jw]:
                s_end[jw] = end
            stores_left[jw] -= 1
            wi += 1
        bus = end
        heapreplace(free, end)
        if end > d_end:
            d_end = end
    compute_start = c_end[0] - tile_cycles[0] if n else compute_from
    return RunTiming(start, compute_start, prev, d_end, first_wait, stalls, way)


_NBYTES = attrgetter("nbytes")


class RunTimer:
    """Times the runs of one simulation, each distinct run once.

    The dynamics are max-plus (:class:`_Skip`), so a run's times relative to its DMA start
    depend only on its per-tile figures (cycles, bytes of each stream, slots, bands per
    weight chunk, chunk bytes) and on how much later its compute may begin: a run with the
    same figures and the same lead (NAFNet's repeated blocks stream the same layers many
    times) takes the first one's timing, shifted.

    Runs are told apart by figures without hashing them each time (a run's key would hash
    every tile's figures): each tuple of figures met stands for the first equal one met, by
    its id (alike layers share their tuples, so few are met). The timer keeps every tuple it
    has met, so no id it holds can be taken by another object while it lives."""

    def __init__(self, channels: int, latency: int, transfer, turnaround: int = 0):
        self.channels, self.latency, self.transfer, self.turnaround = channels, latency, transfer, turnaround
        self.timed: dict[tuple, RunTiming] = {}  # lead, bus direction, figures -> timing from cycle 0
        self.met: dict[int, tuple[tuple, int]] = {}  # id of a tuple met -> (it, id of the first equal one met)
        self.first: dict[tuple, tuple] = {}  # figures -> the first tuple met with them

    def _first(self, figures: tuple) -> int:
        """The id of the first tuple met equal to ``figures``."""
        met = self.met.get(id(figures))
        if met is None:
            met = self.met[id(figures)] = (figures, id(self.first.setdefault(figures, figures)))
        return met[1]

    def time(self, run: TileRun, start: int, compute_from: int, way: str | None = None) -> RunTiming:
        """``time_run(run, start, compute_from, ...)`` on this simulation's DRAM, the bus's last
        data phase before it going ``way``."""
        lead = compute_from - start
        key = (lead, way, run.slots, len(run.bands), len(run.reads),
               *map(self._first, (run.cycles, run.chunk_bytes, *map(_NBYTES, run.reads), *map(_NBYTES, run.writes))))
        timing = self.timed.get(key)
        if timing is None:
            timing = self.timed[key] = time_run(run, 0, lead, self.channels, self.latency, self.transfer,
                                                turnaround=self.turnaround, way=way)
        return timing.shifted(start)
