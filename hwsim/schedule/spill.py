"""Which resident block to evict when SRAM is full: the spill policies.

Every block the scheduler may evict (an activation storage, or a weight block when weights
share the SRAM) is described by a :class:`Candidate` when it becomes resident or is used;
the policy turns it into a sort key, smallest evicted first:

* ``belady``: the block whose next use is furthest away (optimal for a fixed order when
  every block costs the same; the default);
* ``lru``: the block used least recently;
* ``largest``: the biggest block;
* ``skip_first``: skip tensors first (the blocks holding a U-Net skip), then Belady;
* ``optimal``: the blocks that the optimum of the spill program (``optimum``: the least
  traffic under the SRAM capacity, solved exactly) has out of SRAM at this step first, then
  Belady. The walk still evicts only when it needs room, and may need more when no hole is
  large enough, so its plan can move more than the optimum: the report says how much.

Ties go to the block name, so a plan is deterministic. :class:`VictimQueue` keeps each
block's latest description and scans them when a victim is picked: blocks are described at
every use, and victims picked far more rarely, from a handful of resident blocks (on the zoo
graphs, a few hundred picks from one or two candidates each, against thousands of
descriptions), so describing costs one dict store and picking one pass over the blocks.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

NEVER = 1 << 62  # the next use of a block that is not used again


class Candidate(NamedTuple):  # a named tuple: made at every use of a block, so it must be cheap
    name: str
    next_use: int  # step of the next layer that needs it resident (NEVER: none)
    last_use: int  # step of the last layer that used it (or made it resident)
    size: int  # bytes it occupies
    skip: bool  # holds a skip tensor


REGISTRY: dict[str, Callable[[Candidate], tuple]] = {
    "belady": lambda c: (-c.next_use, c.name),
    "lru": lambda c: (c.last_use, c.name),
    "largest": lambda c: (-c.size, c.name),
    "skip_first": lambda c: (not c.skip, -c.next_use, c.name),
    "optimal": lambda c: (-c.next_use, c.name),  # after the blocks the optimum evicts (VictimQueue.first)
}
"""The spill policies: name -> sort key of a candidate (smallest evicted first). The one list
of policies: the spec (``policy.spill``) accepts exactly these names."""
POLICIES = tuple(REGISTRY)


def victim_key(policy: str, c: Candidate) -> tuple:
    key = REGISTRY.get(policy)
    if key is None:
        raise ValueError(f"spill policy must be one of {POLICIES}, got {policy!r}")
    return key(c)


class VictimQueue:
    """The resident evictable blocks, ordered by a spill policy."""

    def __init__(self, policy: str):
        victim_key(policy, Candidate("", 0, 0, 0, False))  # reject an unknown policy now
        self.policy = policy
        self._key = REGISTRY[policy]
        self._blocks: dict[str, Candidate] = {}

    def __contains__(self, name: str) -> bool:
        return name in self._blocks

    def __len__(self) -> int:
        return len(self._blocks)

    def push(self, c: Candidate) -> None:
        """Add ``c.name``, or re-describe it."""
        self._blocks[c.name] = c

    def remove(self, name: str) -> None:
        self._blocks.pop(name, None)

    def pop(self, protected: set[str] | frozenset[str], first: frozenset[str] = frozenset()) -> str | None:
        """Remove and return the first victim not in ``protected`` (None if there is none):
        one in ``first`` if any, then by the policy."""
        key = self._key
        keys = [(name not in first, key(c), name) for name, c in self._blocks.items() if name not in protected]
        if not keys:
            return None
        name = min(keys)[2]
        del self._blocks[name]
        return name
