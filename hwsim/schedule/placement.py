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

The greedy packings are :mod:`~hwsim.schedule.packing`'s (imported here too).
"""

from __future__ import annotations

import bisect
from typing import Sequence

from hwsim.schedule.allocate import Allocator
from hwsim.schedule.exact_packing import exact_packing
from hwsim.schedule.packing import (  # noqa: F401 (this module's API too)
    PERTURBED_TRIES, live_peak, pack, pack_by_lifetime, pack_by_size, pack_in_order, pack_perturbed,
)


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
            # this module's PERTURBED_TRIES (tests set it); below high_water: only a lower packing
            # is kept, and pack_perturbed gives the same one then (its restarts stop sooner)
            found = pack_perturbed(blocks, self.capacity, PERTURBED_TRIES, self.high_water)
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
