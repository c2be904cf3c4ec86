"""SRAM placement at real addresses, and an independent checker of any placement.

:class:`Allocator` keeps a free list of *holes* below the *top* (the end of the highest
block in use); above the top lies the *tail*, free up to the capacity. A request, rounded
up to the alignment, goes into the smallest hole that holds it (best fit; ties: lowest
address) or, when no hole does, at the top. Fragmentation is real: a request can fail
although the free bytes add up to more than it needs.

Placement never looks at the capacity except to refuse a request that would cross it, so
a run that fits in capacity C makes exactly the same decisions at any capacity above C.
``fit="first"`` swaps best fit for first fit (lowest hole that holds the request), behind
the same API. The scheduler places the SRAM online only when its offline placement
(``placement``: every lifetime known, far less fragmentation) cannot be used.

:func:`check_allocation` verifies a placement given as ``(start, end, address, size)``
tuples (``start``..``end`` inclusive steps) without using the allocator: no two
intervals overlap in both time and address, and all lie within the capacity.
:func:`place_live_ranges` places ``(start, end, size)`` live ranges with an allocator, as
a compiler's static planner does (the tests' hand-worked cases).
"""

from __future__ import annotations

import bisect
from typing import Iterable, Sequence

FITS = ("best", "first")


class Allocator:
    """Free-list allocator over ``[0, capacity)``; addresses and sizes are multiples of ``alignment``."""

    def __init__(self, capacity: int, alignment: int = 1, fit: str = "best"):
        if fit not in FITS:
            raise ValueError(f"fit must be one of {FITS}, got {fit!r}")
        self.capacity = capacity
        self.alignment = max(1, alignment)
        self.fit = fit
        self.high_water = 0  # max over time of the highest end address in use
        self.in_use = 0  # bytes reserved now (alignment included)
        self._blocks: dict[str, tuple[int, int]] = {}  # name -> (address, size)
        self._hole_starts: list[int] = []  # sorted; holes lie below _top
        self._hole_sizes: list[int] = []
        self._top = 0

    def aligned(self, size: int) -> int:
        a = self.alignment
        return -(-max(size, 1) // a) * a

    def __contains__(self, name: str) -> bool:
        return name in self._blocks

    def address(self, name: str) -> int:
        return self._blocks[name][0]

    def size(self, name: str) -> int:
        return self._blocks[name][1]

    def names(self) -> list[str]:
        return list(self._blocks)

    def alloc(self, name: str, size: int) -> int | None:
        """Reserve ``size`` bytes (rounded up) for ``name``; its address, or None if nothing fits."""
        if name in self._blocks:
            raise ValueError(f"{name!r} is already allocated")
        size = self.aligned(size)
        hole = self._choose_hole(size)
        if hole is not None:
            address = self._hole_starts[hole]
            left = self._hole_sizes[hole] - size
            if left:
                self._hole_starts[hole] += size
                self._hole_sizes[hole] = left
            else:
                del self._hole_starts[hole], self._hole_sizes[hole]
        elif self._top + size <= self.capacity:
            address = self._top
            self._top += size
            self.high_water = max(self.high_water, self._top)
        else:
            return None
        self._blocks[name] = (address, size)
        self.in_use += size
        return address

    def _choose_hole(self, size: int) -> int | None:
        best = None
        for i, hole_size in enumerate(self._hole_sizes):
            if hole_size >= size:
                if self.fit == "first":
                    return i
                if best is None or hole_size < self._hole_sizes[best]:
                    best = i
        return best

    def free(self, name: str) -> None:
        address, size = self._blocks.pop(name)
        self.in_use -= size
        end = address + size
        if end == self._top:
            self._top = address
            if self._hole_starts and self._hole_starts[-1] + self._hole_sizes[-1] == self._top:
                self._top = self._hole_starts.pop()
                self._hole_sizes.pop()
            return
        i = bisect.bisect_left(self._hole_starts, address)
        if i < len(self._hole_starts) and self._hole_starts[i] == end:  # merge with the next hole
            size += self._hole_sizes[i]
            del self._hole_starts[i], self._hole_sizes[i]
        if i > 0 and self._hole_starts[i - 1] + self._hole_sizes[i - 1] == address:  # and the previous
            self._hole_sizes[i - 1] += size
        else:
            self._hole_starts.insert(i, address)
            self._hole_sizes.insert(i, size)

    def free_bytes(self) -> int:
        return self.capacity - self.in_use


def check_allocation(intervals: Iterable[tuple[int, int, int, int]], capacity: int) -> list[str]:
    """Problems of a placement of ``(start, end, address, size)`` intervals (empty: none).

    Two intervals clash when their steps ``[start, end]`` (inclusive) and their addresses
    ``[address, address + size)`` both overlap.
    """
    problems = []
    items = sorted((s, e, a, n, i) for i, (s, e, a, n) in enumerate(intervals))
    active: list[tuple[int, int, int, int]] = []  # (end, address, size, index)
    for start, end, address, size, index in items:
        if address < 0 or address + size > capacity:
            problems.append(f"interval {index} at [{address}, {address + size}) leaves [0, {capacity})")
        active = [x for x in active if x[0] >= start]
        for other_end, other_address, other_size, other in active:
            if address < other_address + other_size and other_address < address + size:
                problems.append(f"intervals {other} and {index} overlap in steps and addresses")
        active.append((end, address, size, index))
    return problems


def place_live_ranges(ranges: Sequence[tuple[int, int, int]], capacity: int | None = None,
                      alignment: int = 1, fit: str = "best") -> tuple[list[int | None], int]:
    """Addresses of ``(start, end, size)`` live ranges placed in step order, and the peak.

    At each step the ranges that ended before it are freed first, then the ranges starting
    at it are allocated in the order given. A range that does not fit gets None.
    """
    allocator = Allocator(capacity if capacity is not None else 1 << 62, alignment, fit)
    addresses: list[int | None] = [None] * len(ranges)
    order = sorted(range(len(ranges)), key=lambda i: (ranges[i][0], i))
    ending = sorted(range(len(ranges)), key=lambda i: ranges[i][1])
    done = 0
    for i in order:
        start = ranges[i][0]
        while done < len(ending) and ranges[ending[done]][1] < start:
            j = ending[done]
            if addresses[j] is not None:
                allocator.free(f"r{j}")
            done += 1
        addresses[i] = allocator.alloc(f"r{i}", ranges[i][2])
    return addresses, allocator.high_water
