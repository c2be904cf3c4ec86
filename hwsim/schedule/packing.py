"""Greedy packings of blocks with known lifetimes: :mod:`~hwsim.schedule.placement`'s heuristics.

A block is ``(first step, last step, bytes)``, both steps included (first <= last, bytes >=
0); two blocks that share a step must not overlap. Each packing gives every block an
address and reports the peak, the highest end address.

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
:func:`pack_perturbed` restarts it with randomly scaled areas.

Blocks are placed at rising addresses (a block is placed only when no unplaced block can
go lower, and placing blocks never lowers where the others can go), so a gap left below
the current level is never filled, and the lowest address where a block fits is simply
the highest *skyline* over its steps, the top of the highest block placed in each step.
The greedy keeps every unplaced block waiting under the address where it could go when
last looked at, a lower bound of where it can go now, and takes them lowest first: a block
whose skyline has risen meanwhile waits again under its new address. Deterministic,
integers only.

:func:`pack_in_order` is TFLite's greedy instead: blocks in a given order (:func:`pack_by_size`,
:func:`pack_by_lifetime`), each at the lowest address where it fits, gaps included.
"""

from __future__ import annotations

import bisect
import heapq
import random
from itertools import accumulate, chain
from typing import Sequence

import numpy as np


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


def pack(blocks: Sequence[tuple[int, int, int]], weights: Sequence[float] | None = None) -> tuple[list[int], int]:
    """Addresses of ``(first step, last step, bytes)`` blocks, lowest first (module docstring),
    and the peak (the highest end address). ``weights`` (numbers, no NaN): the first
    tie-break instead of the area (``pack_perturbed``)."""
    weights = [size * (e - s + 1) for s, e, size in blocks] if weights is None else weights
    order = sorted(_by_end(blocks), key=weights.__getitem__, reverse=True)
    return _lowest_first([(s, e + 1, size, e - s + 1) for s, e, size in blocks], order, _steps(blocks))


def _by_end(blocks: Sequence[tuple[int, int, int]]) -> list[int]:
    """The blocks' positions, the latest last step first, then the first given: the greedy's
    two last tie-breaks. Sorted again by weight, larger first, it is the greedy's whole
    order: Python's sort is stable, ``reverse`` too (equal keys keep their order)."""
    ends = [e for _, e, _ in blocks]
    return sorted(range(len(blocks)), key=ends.__getitem__, reverse=True)


def _lowest_first(shapes: Sequence[tuple[int, int, int, int]], order: Sequence[int], steps: int,
                  cutoff: int | None = None, live: Sequence[int] = ()) -> tuple[list[int], int] | None:
    """:func:`pack`'s greedy over blocks ``shapes`` (first step, last step + 1, bytes, steps),
    ranked ``order`` (best first: the tie-breaks), in ``steps`` steps; or None as soon as its
    peak is sure to be ``cutoff`` or more (``live``: the bytes live in each step; bytes >= 0).

    The blocks wait under the lowest address they could take when last looked at (a lower
    bound of where they can go now): the least such address, the *level*, is taken first,
    its blocks in rank order; one whose skyline has risen since waits again under its new
    address, above the level. So no block joins a level while it is taken, and taking the
    levels in turn, each in rank order, is popping a heap of all the blocks by (bound, rank)
    (as first written). The waiting blocks are lists by address, the addresses a heap: a
    block waits about four times on average, and a list append is cheaper than a push on a
    heap of blocks. One- and two-step blocks (most of them) read and raise the skyline
    without a slice.

    The cutoff: placements rise (module docstring), so every block not placed yet will lie at
    or above the address just taken, and those that share a step lie apart there (and above
    the block placed, in its steps): the peak will reach at least that address plus the most
    bytes not yet placed in any one step. ``most`` is a stale maximum of the latter (it only
    falls), taken afresh only when the stale one reaches the cutoff."""
    n = len(order)
    rank_shapes = [shapes[i] for i in order]
    skyline = [0] * steps  # per step: top of its highest block
    at = [0] * n  # by rank
    unplaced = list(live) if cutoff is not None else []  # per step: bytes of its blocks not placed yet
    most = max(unplaced, default=0)
    peak = 0
    waiting = {0: list(range(n))}  # address -> ranks of the blocks waiting under it
    levels = [0]  # the addresses of waiting, a heap
    heappush, heappop = heapq.heappush, heapq.heappop
    while levels:
        level = heappop(levels)
        ranks = waiting.pop(level)
        ranks.sort()
        for rank in ranks:
            start, stop, size, life = rank_shapes[rank]
            if life == 2:
                address, other = skyline[start], skyline[start + 1]
                if other > address:
                    address = other
            elif life == 1:
                address = skyline[start]
            else:
                address = max(skyline[start:stop])
            if address > level:  # blocks placed since it was looked at raised it: wait for its turn
                later = waiting.get(address)
                if later is None:
                    waiting[address] = [rank]
                    heappush(levels, address)
                else:
                    later.append(rank)
                continue
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
                if address + most >= cutoff:
                    most = max(unplaced)
                    if address + most >= cutoff:
                        return None
                if life == 2:
                    unplaced[start] -= size
                    unplaced[start + 1] -= size
                else:
                    for k in range(start, stop):
                        unplaced[k] -= size
    addresses = [0] * n
    for i, address in zip(order, at):
        addresses[i] = address
    return addresses, peak


PERTURBED_TRIES = 30  # lowest-first packings with perturbed tie-breaks (``pack_perturbed``)


def pack_perturbed(blocks: Sequence[tuple[int, int, int]], capacity: int, tries: int | None = None,
                   below: int | None = None) -> tuple[list[int], int] | None:
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

    ``below`` (above ``capacity``): the caller wants only a packing below it, so restarts also
    stop at ``below``. The result is the same when it lies below ``below`` (a restart that sets
    a new least peak below ``below`` runs to its end either way, and so do those within the
    capacity, which end the restarts), else it is None or a packing at or above ``below``.

    The factors of try ``t`` are ``random.Random(0).uniform(0.5, 1.5)``'s draws ``t * n`` to
    ``t * n + n - 1`` for ``n`` blocks, spelled out: ``0.5 + (1.5 - 0.5) * random()``, and
    ``1.0 * x`` is ``x`` (:func:`_first_draws`); numpy multiplies and adds doubles as Python
    does, converts the areas to doubles as Python does (rounded to nearest), and its stable
    sort of the negated weights orders as :func:`pack`'s. A restart stops as soon as its peak
    cannot come out below the best so far (:func:`_lowest_first`'s cutoff, kept off if a
    block has negative bytes): it could not replace it, and the best is above the capacity
    (else the restarts would have stopped), so nothing else changes."""
    n, count = len(blocks), PERTURBED_TRIES if tries is None else tries
    below = None if below is None else max(below, capacity + 1)
    steps, by_end = _steps(blocks), np.array(_by_end(blocks), dtype=np.int64)
    shapes = [(s, e + 1, size, e - s + 1) for s, e, size in blocks]
    areas = np.array([size * life for _, _, size, life in shapes], dtype=np.float64)[by_end]  # by_end order
    live = list(accumulate(_live(blocks, steps)))
    bounded = all(size >= 0 for _, _, size in blocks)
    draws = _first_draws(count * n)
    best: tuple[list[int], int] | None = None
    for t in range(count):
        weights = areas * (0.5 + draws[t * n + by_end])
        order = by_end[np.argsort(-weights, kind="stable")].tolist()
        cutoff = below if best is None else best[1] if below is None else min(best[1], below)
        found = _lowest_first(shapes, order, steps, cutoff if bounded else None, live)
        if found is not None and (best is None or found[1] < best[1]):
            best = found
        if best is not None and best[1] <= capacity:
            break
    return best


_DRAWS = [np.empty(0)]  # the first floats of random.Random(0).random(), as many as asked so far


def _first_draws(count: int) -> np.ndarray:
    """The first ``count`` (or more) floats ``random.Random(0).random()`` returns, in order: the
    same for every :func:`pack_perturbed` (a fixed seed), so drawn once and kept (read-only)."""
    if len(_DRAWS[0]) < count:
        draw = random.Random(0).random
        draws = np.fromiter(iter(draw, None), np.float64, max(count, 2 * len(_DRAWS[0])))
        draws.flags.writeable = False
        _DRAWS[0] = draws
    return _DRAWS[0]


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
