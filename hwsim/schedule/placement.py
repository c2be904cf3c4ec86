"""Offline SRAM placement: reserve first, choose addresses once every lifetime is known.

The online :class:`~hwsim.schedule.allocate.Allocator` places each block when it is
reserved, in program order, without knowing how long it or its neighbours will live, and
fragments: a 4 MiB block that outlives its neighbours splits the SRAM, and a later block
finds free bytes but no hole. A compiler's static memory planner (TFLite's, Vela's) does
better by placing all the buffers of a run at once. The scheduler's walk does the same
first (evicting by bytes when the SRAM is full), and places online only when that packing
does not fit:

* :class:`Reservations` stands in for the SRAM allocator during such a walk. It never
  fragments: a request is refused only when the bytes reserved would exceed the capacity
  (the walk then evicts, counting bytes). Each block (each reservation: an evicted storage
  reserved again is a new block) gets a fresh *virtual* address range, never reused, so
  the walk's buffers have addresses that can be moved later, and its lifetime is recorded
  in *ticks*: from the tick that reserves it to the tick that releases it, both included.
  A tick is a layer step, split where the step reserves after releasing (an eviction makes
  room for what comes next): so two blocks are in SRAM together exactly when their
  lifetimes share a tick, and a walk that evicts nothing has one tick per step.
* :func:`pack` places the recorded blocks: blocks that share a step must not overlap.
* :meth:`Reservations.place` keeps the lower of two placements of them: :func:`pack`'s
  and, as a safeguard, :func:`replay`'s (the online allocator's best fit, given the same
  requests in the same order), so placing offline is never worse than placing online the
  same walk; when both overshoot the SRAM, also :func:`pack_by_size`'s (largest first) and
  :func:`pack_by_lifetime`'s (longest-lived first), then :func:`pack_perturbed`'s (restarts of
  :func:`pack` with perturbed tie-breaks), and for at most ``EXACT_BLOCKS`` blocks the exact
  packing's (``exact_packing``: an integer program that finds a placement within the SRAM
  where one exists and the solver finds it within its limits: on ``unet`` at a third of its
  knee the greedy packings overshoot by 3 % where one exists). On the zoo graphs
  :func:`pack` is always far lower than best fit. :meth:`Reservations.real` maps a virtual address to its place, for
  the program's buffers and the plan's tensor addresses.

:func:`pack` is the *lowest-first* greedy, after the best-fit heuristic of Sekiyama et al.
(*Profile-guided memory optimization for deep neural networks*, 2018), which treats DSA
as packing rectangles (steps x bytes): repeatedly place, among the blocks not placed yet,
the one that can go lowest, at the lowest address where it overlaps no placed block that
shares a step with it; ties go to the largest area (bytes x steps), then the latest last
step, then the first reserved. Long, large blocks thus settle at the bottom first and
short ones fill the gaps above them. The peak is never below the most bytes reserved in
any one step (the lower bound of every placement); on the zoo graphs (every
``accelerators/edge_npu.yaml`` variant of concat, prefetch, alignment and weight buffer
tried) it is within 0.25 % of that bound, mostly within 0.02 %. The second tie-break
was chosen by measurement: earliest first step instead leaves NAFNet 20 % above it.

Blocks are placed at rising addresses (a block is placed only when no unplaced block can
go lower, and placing blocks never lowers where the others can go), so a gap left below
the current level is never filled, and the lowest address where a block fits is simply
the highest *skyline* over its steps, the top of the highest block placed in each step.
The greedy keeps every unplaced block in a heap under the address where it could go when
last looked at, a lower bound of where it can go now: a popped block whose skyline has
risen meanwhile is pushed back under its new address. Deterministic, integers only.
"""

from __future__ import annotations

import bisect
import heapq
from itertools import accumulate, chain
from typing import Sequence

from hwsim.schedule.allocate import Allocator
from hwsim.schedule.exact_packing import exact_packing


class Full(Exception):
    """A reservation that would need an eviction, in a walk that may evict nothing."""


class Reservations:
    """The SRAM during a walk placed offline: bytes counted, lifetimes recorded, virtual addresses."""

    def __init__(self, capacity: int, alignment: int = 1, optional_limit: int | None = None):
        self.capacity = capacity
        # requests the walk can do without (prefetches) stop at this many bytes reserved, so
        # that they leave the packing some slack (None: the capacity)
        self.optional_limit = capacity if optional_limit is None else optional_limit
        self.optional = False  # the walk is making optional requests now
        self.alignment = max(1, alignment)
        self.in_use = 0  # bytes reserved now (alignment included)
        self.high_water = 0  # the peak of the placement, once placed
        self.exact_stopped = False  # the exact packing stopped at a limit without a packing
        self._live: dict[str, int] = {}  # name -> its record
        self._virtual: list[int] = []  # per record, increasing
        self._sizes: list[int] = []
        self._starts: list[int] = []  # first step
        self._ends: list[int | None] = []  # last step (None: still reserved)
        self._events: list[int] = []  # reservation of record i: i; its release: ~i
        self._step = 0
        self._tick = 0  # the current tick: the step plus the splits so far
        self._step_ticks: list[tuple[int, int]] = [(0, 0)]  # (first tick, step), a row per step started
        self._released = False  # a release during the current tick
        self._real: list[int] = []

    def aligned(self, size: int) -> int:
        a = self.alignment
        return -(-max(size, 1) // a) * a

    def __contains__(self, name: str) -> bool:
        return name in self._live

    def address(self, name: str) -> int:
        return self._virtual[self._live[name]]

    def size(self, name: str) -> int:
        return self._sizes[self._live[name]]

    def names(self) -> list[str]:
        return list(self._live)

    def at_step(self, step: int) -> None:
        """The walk starts layer step ``step``."""
        self._tick += step - self._step
        self._step, self._released = step, False
        self._step_ticks.append((self._tick, step))

    def alloc(self, name: str, size: int) -> int | None:
        """Reserve ``size`` bytes (rounded up) for ``name``: its virtual address, or None if
        the bytes reserved would exceed the capacity."""
        if name in self._live:
            raise ValueError(f"{name!r} is already allocated")
        size = self.aligned(size)
        if self.in_use + size > (self.optional_limit if self.optional else self.capacity):
            return None
        if self._released:  # after a release: a new tick, so the two never share one
            self._tick, self._released = self._tick + 1, False
        address = self._virtual[-1] + self._sizes[-1] if self._virtual else 0
        self._live[name] = len(self._virtual)
        self._events.append(len(self._virtual))
        self._virtual.append(address)
        self._sizes.append(size)
        self._starts.append(self._tick)
        self._ends.append(None)
        self.in_use += size
        return address

    def free(self, name: str) -> None:
        i = self._live.pop(name)
        self._events.append(~i)
        self._ends[i] = self._tick
        self.in_use -= self._sizes[i]
        self._released = True

    def blocks(self) -> list[tuple[int, int, int]]:
        """``(first tick, last tick, bytes)`` of every block reserved, in reservation order."""
        return [(s, self._tick if e is None else e, n) for s, e, n in zip(self._starts, self._ends, self._sizes)]

    def place(self, exact: bool = False, memo: dict | None = None) -> int:
        """Place the blocks: :func:`pack`, or best fit in program order (:func:`replay`) if
        that is lower; when both overshoot, also by size (:func:`pack_by_size`) and by
        lifetime (:func:`pack_by_lifetime`), then by :func:`pack_perturbed` and, if
        ``exact`` and the blocks are few enough, by the exact packing (``exact_packing``);
        the peak, also kept as ``high_water``. Best fit is not tried when :func:`pack` reaches
        the live peak (no placement is lower).

        ``memo``: placements already made, by everything they read (the blocks, the order of
        reservations and releases, capacity, alignment): the walks of one schedule often
        reserve the same blocks (a margin or quiet steps that changed nothing), and a packing
        that overshoots costs 30 restarts. A placement made with ``exact`` serves one without
        when it overshot (the heuristics' packing, the exact packing having found none), and
        one without serves one with when it fitted (the exact packing is not tried then)."""
        blocks, key = self.blocks(), None
        if memo is not None:
            key = (tuple(blocks), tuple(self._events), self.capacity, self.alignment)
            hit = memo.get(key)
            if hit is not None and (hit[3] == exact or hit[3] == (hit[1] > self.capacity)):
                real, self.high_water, stopped, _ = hit
                self._real, self.exact_stopped = list(real), stopped and exact
                return self.high_water
        self._place(blocks, exact)
        if memo is not None:
            memo[key] = (tuple(self._real), self.high_water, self.exact_stopped, exact)
        return self.high_water

    def _place(self, blocks: list[tuple[int, int, int]], exact: bool) -> None:
        self._real, self.high_water = pack(blocks)
        if self.high_water > live_peak(blocks):
            replayed, peak = replay(self._events, self._sizes, self.alignment)
            if peak < self.high_water:
                self._real, self.high_water = replayed, peak
        if self.high_water > self.capacity:  # a third try, slower, only when it matters
            for other in (pack_by_size, pack_by_lifetime):
                addresses, peak = other(blocks)
                if peak < self.high_water:
                    self._real, self.high_water = addresses, peak
        if self.high_water > self.capacity:  # a fourth, restarts of the first
            found = pack_perturbed(blocks, self.capacity)
            if found is not None and found[1] < self.high_water:
                self._real, self.high_water = found
        if exact and self.high_water > self.capacity and len(self._sizes) <= EXACT_BLOCKS:  # the last: exact
            found, self.exact_stopped = exact_packing(blocks, self.capacity, self.alignment)
            if found is not None:
                self._real, self.high_water = found

    def overflow(self, whole: bool = False) -> dict[int, int]:
        """Once placed: :func:`overflow`'s figures for its blocks, by layer step (the most of
        the ticks of a step)."""
        firsts = [tick for tick, _ in self._step_ticks]
        over: dict[int, int] = {}
        for tick, nbytes in overflow(self.blocks(), self._real, self.capacity, whole).items():
            step = self._step_ticks[bisect.bisect_right(firsts, tick) - 1][1]
            over[step] = max(over.get(step, 0), nbytes)
        return over

    def real(self, address: int) -> int:
        """Where virtual ``address`` lies once placed."""
        i = bisect.bisect_right(self._virtual, address) - 1
        return self._real[i] + address - self._virtual[i]


def live_peak(blocks: Sequence[tuple[int, int, int]]) -> int:
    """The most bytes of ``(first step, last step, bytes)`` blocks that share a step: no
    placement of them is lower (0 for none)."""
    return max(0, max(accumulate(_live(blocks, _steps(blocks)))))


def _steps(blocks: Sequence[tuple[int, int, int]]) -> int:
    """How many steps ``blocks`` span: the last one's, plus one (0 for none)."""
    return max((e for _, e, _ in blocks), default=-1) + 1


def _live(blocks: Sequence[tuple[int, int, int]], steps: int) -> list[int]:
    """The change of the bytes live at each of ``steps`` steps (and one past), from the step
    before: their running sum is the bytes live in each step."""
    change = [0] * (steps + 1)
    for first, last, size in blocks:
        change[first] += size
        change[last + 1] -= size
    return change


def overflow(blocks: Sequence[tuple[int, int, int]], addresses: Sequence[int], capacity: int,
             whole: bool = False) -> dict[int, int]:
    """For ``(first step, last step, bytes)`` blocks placed at ``addresses``, those reaching above
    ``capacity``: step -> the most bytes the blocks below one of them would have to give up in
    that step for it to come down within the capacity, the rest staying put (steps that need
    nothing left out). A block at ``address`` must come down to ``capacity - bytes``; in each
    step of its life the blocks below it reach up to some ``top`` (its skyline there), and
    only the steps where ``top > capacity - bytes`` hold it up, by ``top - (capacity -
    bytes)``. ``whole``: every step of its life, by ``address - (capacity - bytes)`` (the
    packing is greedy, and a block that comes down can land elsewhere: a wider request
    sometimes packs sooner)."""
    high = [i for i, ((_, _, size), address) in enumerate(zip(blocks, addresses)) if address + size > capacity]
    steps = {k for i in high for k in range(blocks[i][0], blocks[i][1] + 1)}
    spans: dict[int, list[tuple[int, int]]] = {k: [] for k in steps}  # step -> (address, top) of its blocks
    for (first, last, size), address in zip(blocks, addresses):
        for k in range(first, last + 1):
            if k in spans:
                spans[k].append((address, address + size))
    over: dict[int, int] = {}
    for i in high:
        first, last, size = blocks[i]
        address, floor = addresses[i], capacity - size  # where it is, where it would have to start
        for k in range(first, last + 1):
            skyline = address if whole else max((top for a, top in spans[k] if top <= address and a < address),
                                                default=0)
            if skyline > floor:
                over[k] = max(over.get(k, 0), skyline - floor)
    return over


def pack(blocks: Sequence[tuple[int, int, int]], weights: Sequence[float] | None = None) -> tuple[list[int], int]:
    """Addresses of ``(first step, last step, bytes)`` blocks, lowest first (module docstring),
    and the peak (the highest end address). ``weights`` (numbers, no NaN): the first
    tie-break instead of the area (``pack_perturbed``)."""
    by_end = _by_end(blocks)
    weights = [size * (e - s + 1) for s, e, size in blocks] if weights is None else weights
    shapes = [(s, e + 1, size, e - s + 1) for s, e, size in blocks]
    return _lowest_first(shapes, sorted(by_end, key=weights.__getitem__, reverse=True), _steps(blocks))


def _by_end(blocks: Sequence[tuple[int, int, int]]) -> list[int]:
    """The blocks' positions, the latest last step first, then the first given: the order of
    the greedy's two last tie-breaks. Sorted again, stably, by weight, larger first, it is the
    greedy's whole order (``reverse`` keeps equal keys in their order)."""
    ends = [e for _, e, _ in blocks]
    return sorted(range(len(blocks)), key=ends.__getitem__, reverse=True)


def _lowest_first(shapes: Sequence[tuple[int, int, int, int]], order: Sequence[int], steps: int,
                  cutoff: int | None = None, live: Sequence[int] = ()) -> tuple[list[int], int] | None:
    """:func:`pack`'s greedy over blocks ``shapes`` (first step, last step + 1, bytes, steps),
    ranked ``order`` (best first: the tie-breaks), in ``steps`` steps; or None as soon as its
    peak is sure to be ``cutoff`` or more (``live``: the bytes live in each step).

    The blocks wait in a heap by (the lowest address they could take when last looked at,
    rank). The heap holds ``bound * len(blocks) + rank``: one integer compares as fast as the
    tuple's first element (a block is pushed back about four times on average). One- and
    two-step blocks (most of them) read and raise the skyline without a slice.

    The cutoff: placements rise (module docstring), so every block not placed yet will lie at
    or above the address just taken, and those that share a step lie apart there: the peak
    will reach at least that address plus the most bytes still unplaced in any one step.
    ``most`` is a stale maximum of the latter (it only falls): taken afresh only when the
    stale one reaches the cutoff."""
    n = len(order)
    rank_shapes = [shapes[i] for i in order]
    skyline = [0] * steps  # per step: top of its highest block
    at = [0] * n  # by rank
    heap = list(range(n))  # bound 0 for all: rank order is heap order
    heapreplace, heappop = heapq.heapreplace, heapq.heappop
    unplaced = list(live) if cutoff is not None else []  # per step: bytes of its blocks not placed yet
    most = max(unplaced, default=0)
    peak = 0
    while heap:
        key = heap[0]
        rank = key % n
        start, stop, size, life = rank_shapes[rank]
        if life == 2:
            address, other = skyline[start], skyline[start + 1]
            if other > address:
                address = other
        elif life == 1:
            address = skyline[start]
        else:
            address = max(skyline[start:stop])
        pushed = address * n + rank
        if pushed > key:  # blocks placed since it was pushed raised it: wait for its turn
            heapreplace(heap, pushed)
            continue
        heappop(heap)
        at[rank] = address
        top = address + size
        if life == 2:
            skyline[start] = skyline[start + 1] = top
        elif life == 1:
            skyline[start] = top
        else:
            skyline[start:stop] = [top] * life
        if top > peak:
            peak = top
        if cutoff is not None:
            if address + most >= cutoff:  # the block placed counts: the others in its steps go above it
                most = max(unplaced)
                if address + most >= cutoff:
                    return None
            if life == 1:
                unplaced[start] -= size
            else:
                unplaced[start:stop] = [u - size for u in unplaced[start:stop]]
    addresses = [0] * n
    for i, address in zip(order, at):
        addresses[i] = address
    return addresses, peak


PERTURBED_TRIES = 30  # lowest-first packings with perturbed tie-breaks (``pack_perturbed``)


def pack_perturbed(blocks: Sequence[tuple[int, int, int]], capacity: int,
                   tries: int | None = None) -> tuple[list[int], int] | None:
    """The lowest of up to ``tries`` :func:`pack` packings whose area tie-break is scaled, block
    by block, by a factor drawn uniformly in [0.5, 1.5) (a fixed seed: deterministic), stopping
    at the first within ``capacity``: a randomised restart of the greedy. Arm Vela's
    ``HillClimbAllocator`` searches orders of the same greedy more purposefully (it swaps
    pairs of the live ranges that set the peak and keeps a swap that lowers it, for many
    iterations); TVM's USMP hill climb likewise permutes the order of a greedy by size. A few
    restarts are cheaper (about 1 ms each for 600 blocks) and, on the zoo, enough. The greedy's
    first choice is the lowest address, so the noise only reorders blocks that could go equally
    low, which is where its fixed order fails on the tight packings of the spill optimum's
    evictions: on NAFNet at 64x64 in cascade mode and half its knee (530 blocks, 0.1 % below the
    SRAM at their busiest step) the plain greedy packings overshoot by 9.7 % or more, 30
    perturbed ones by 5.7 %; on MSCAN at 256x256, cascade mode, 90 % of its knee (134 blocks),
    by 9.8 % and not at all. None when ``tries`` is 0.

    What does not depend on the draws is set up once. A factor is ``rng.uniform(0.5, 1.5)``
    spelled out (``0.5 + (1.5 - 0.5) * random()``, and ``1.0 * x`` is ``x``): the same floats.
    A restart stops as soon as its peak cannot come out below the best so far
    (:func:`_lowest_first`'s cutoff): it could not replace it, and the best is above the
    capacity (else the restarts would have stopped), so nothing else changes; about a third
    of the greedy's steps are saved so."""
    import random

    draw = random.Random(0).random
    steps, by_end = _steps(blocks), _by_end(blocks)
    areas = [size * (e - s + 1) for s, e, size in blocks]
    shapes = [(s, e + 1, size, e - s + 1) for s, e, size in blocks]
    live = list(accumulate(_live(blocks, steps)))
    best: tuple[list[int], int] | None = None
    for _ in range(PERTURBED_TRIES if tries is None else tries):
        weights = [area * (0.5 + draw()) for area in areas]
        found = _lowest_first(shapes, sorted(by_end, key=weights.__getitem__, reverse=True), steps,
                              None if best is None else best[1], live)
        if best is None or found is not None and found[1] < best[1]:
            best = found
        if best[1] <= capacity:
            break
    return best


def pack_by_size(blocks: Sequence[tuple[int, int, int]]) -> tuple[list[int], int]:
    """Addresses of ``(first step, last step, bytes)`` blocks placed largest first, each at the
    lowest address where it overlaps no placed block that shares a step with it (the greedy
    by size of TFLite's memory planner), and the peak. Ties: the earliest first step, then the
    first given (the sort is stable)."""
    keys = [(-size, s) for s, _, size in blocks]
    return pack_in_order(blocks, sorted(range(len(blocks)), key=keys.__getitem__))


def pack_by_lifetime(blocks: Sequence[tuple[int, int, int]]) -> tuple[list[int], int]:
    """As :func:`pack_by_size`, the longest-lived blocks first (then the largest): a U-Net's
    skips go to the bottom before the short blocks around them are placed. On ``unet`` at
    256x256 and half its zero-spill SRAM (48 blocks) it packs them at their lower bound,
    7,962,304 B, where the other greedy packings need 8 MiB or more."""
    keys = [(s - e, -size, s) for s, e, size in blocks]
    return pack_in_order(blocks, sorted(range(len(blocks)), key=keys.__getitem__))


def pack_in_order(blocks: Sequence[tuple[int, int, int]], order: Sequence[int]) -> tuple[list[int], int]:
    """Addresses of the blocks placed in ``order``, each at the lowest address where it
    overlaps no placed block that shares a step with it, and the peak.

    A block scans the placed blocks that share a step with it by address, from 0, and stops at
    the first gap it fits in, below the next one's start: where it goes depends only on their
    ranges in address order, not on the order of ranges that start at the same address (the
    first of them that does not leave a gap below it raises the scan above its start, so the
    others do not either) nor on a range seen twice. So each step keeps the ranges placed in
    it, by address, and a block scans its steps' lists merged (a block met in two of its steps
    twice), or, when they hold more than all the blocks placed, every placed block, skipping
    those that share no step with it: never much more than the one plain scan. Quadratic in
    the blocks at worst."""
    addresses = [0] * len(blocks)
    in_step: list[list[tuple[int, int]]] = [[] for _ in range(_steps(blocks))]  # (address, end), by address
    placed: list[tuple[int, int, int, int]] = []  # (address, end address, first step, last step)
    insort = bisect.insort
    peak = 0
    for i in order:
        start, end, size = blocks[i]
        if start == end:
            near: list[tuple[int, int]] = in_step[start]
        else:
            near_lists = in_step[start:end + 1]
            if sum(map(len, near_lists)) <= len(placed):
                near = sorted(chain.from_iterable(near_lists))
            else:
                near = sorted([(lo, hi) for lo, hi, s, e in placed if s <= end and start <= e])
        address = 0
        for lo, hi in near:
            if lo - address >= size:
                break
            if hi > address:
                address = hi
        addresses[i] = address
        span = (address, address + size)
        for k in range(start, end + 1):
            insort(in_step[k], span)
        placed.append((address, address + size, start, end))
        if address + size > peak:
            peak = address + size
    return addresses, peak


EXACT_BLOCKS = 160  # at most this many blocks go to the exact packing
def replay(events: Sequence[int], sizes: Sequence[int], alignment: int) -> tuple[list[int], int]:
    """Addresses of blocks placed online, best fit in the order of ``events`` (block ``i``
    reserved: ``i``, released: ``~i``), and the peak."""
    allocator = Allocator(sum(sizes), alignment)
    addresses = [0] * len(sizes)
    for e in events:
        if e >= 0:
            addresses[e] = allocator.alloc(str(e), sizes[e])
        else:
            allocator.free(str(~e))
    return addresses, allocator.high_water
