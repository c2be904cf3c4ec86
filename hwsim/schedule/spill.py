"""Which resident block to evict when SRAM is full: the spill policies.

Every block the scheduler may evict (an activation storage, or a weight block when weights
share the SRAM) is described by a :class:`Candidate` when it becomes resident or is used;
the policy turns it into a sort key, smallest evicted first:

* ``belady``: the block whose next use is furthest away (optimal for a fixed order when
  every block costs the same; the default);
* ``lru``: the block used least recently;
* ``largest``: the biggest block;
* ``skip_first``: skip tensors first (the blocks holding a U-Net skip), then Belady.

Ties go to the block name, so a plan is deterministic. :class:`VictimQueue` is a heap with
lazy invalidation: re-describing a block pushes a new entry and makes its old ones stale,
so a pick costs O(log n) amortised and nothing is ever scanned.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

from hwsim.spec.model import SPILL_POLICIES as POLICIES  # the one list of names, which the spec loader reads

NEVER = 1 << 62  # the next use of a block that is not used again


@dataclass(frozen=True)
class Candidate:
    name: str
    next_use: int  # step of the next layer that needs it resident (NEVER: none)
    last_use: int  # step of the last layer that used it (or made it resident)
    size: int  # bytes it occupies
    skip: bool  # holds a skip tensor


def victim_key(policy: str, c: Candidate) -> tuple:
    if policy == "belady":
        return (-c.next_use, c.name)
    if policy == "lru":
        return (c.last_use, c.name)
    if policy == "largest":
        return (-c.size, c.name)
    if policy == "skip_first":
        return (not c.skip, -c.next_use, c.name)
    raise ValueError(f"spill policy must be one of {POLICIES}, got {policy!r}")


class VictimQueue:
    """The resident evictable blocks, ordered by a spill policy."""

    def __init__(self, policy: str):
        victim_key(policy, Candidate("", 0, 0, 0, False))  # reject an unknown policy now
        self.policy = policy
        self._heap: list[tuple[tuple, int, str]] = []
        self._version: dict[str, int] = {}
        self._count = 0

    def __contains__(self, name: str) -> bool:
        return name in self._version

    def __len__(self) -> int:
        return len(self._version)

    def push(self, c: Candidate) -> None:
        """Add ``c.name``, or re-describe it (its earlier entries become stale)."""
        self._count += 1
        self._version[c.name] = self._count
        heapq.heappush(self._heap, (victim_key(self.policy, c), self._count, c.name))

    def remove(self, name: str) -> None:
        self._version.pop(name, None)

    def pop(self, protected: set[str] | frozenset[str]) -> str | None:
        """Remove and return the first victim not in ``protected`` (None if there is none)."""
        kept = []
        found = None
        while self._heap:
            entry = heapq.heappop(self._heap)
            _, version, name = entry
            if self._version.get(name) != version:
                continue  # stale
            if name in protected:
                kept.append(entry)
                continue
            del self._version[name]
            found = name
            break
        for entry in kept:
            heapq.heappush(self._heap, entry)
        return found
