"""The decisions of a walk under construction (``hwsim.schedule.lower`` turns them into commands).

:class:`Program` appends :class:`~hwsim.schedule.lower.Action` s in program order: the
scheduler says what a command allocates, reads, writes and frees, and the orderings only it
knows (``deps``: a reload after the store that wrote it); :func:`~hwsim.schedule.lower.lower`
derives the rest once the walk is over.

Addresses in one space may be *provisional* (offline placement, ``placement``): buffers
there get their final addresses when :meth:`Program.relocate` is given where each provisional
address goes, once the walk is complete; the actions are final only then (:meth:`finish`).
"""

from __future__ import annotations

from typing import Callable

from hwsim.schedule.lower import Action
from hwsim.schedule.plan import Buffer


class Program:
    """Actions in program order. ``provisional``: the space whose addresses are provisional
    (None: all are final)."""

    def __init__(self, provisional: str | None = None):
        self.provisional = provisional
        self._actions: list[Action] = []
        self._traffic: dict[str, int] = {}

    def emit(self, kind: str, layer: int, *, deps=(), **fields) -> int:
        """Append an action; returns its index (its command's id). ``deps``: earlier actions it
        must follow besides those ``lower`` derives; ``fields``: the other fields of
        :class:`~hwsim.schedule.lower.Action`."""
        action = Action(kind, layer, tuple(sorted(set(deps))), **fields)
        self._actions.append(action)
        for _, traffic, nbytes in action.run.moves() if action.run is not None else ():
            self._traffic[traffic] = self._traffic.get(traffic, 0) + nbytes
        if action.traffic is not None:
            self._traffic[action.traffic] = self._traffic.get(action.traffic, 0) + action.dram_bytes
        return len(self._actions) - 1

    def traffic(self) -> dict[str, int]:
        """DRAM bytes of the loads and stores so far (and of streamed layers' tiles), by traffic
        kind (each kind that occurs)."""
        return dict(self._traffic)

    def relocate(self, where: Callable[[int], int]) -> None:
        """Move every buffer of the provisional space from address ``a`` to ``where(a)`` (which
        must keep buffers allocated at the same time apart: ``lower`` checks it); the
        addresses are then final."""
        space = self.provisional
        placed: dict[Buffer, Buffer] = {}  # each buffer once: its free names the one its allocation made

        def moved(buffers):
            out = []
            for b in buffers:
                if b.space == space:
                    new = placed.get(b)
                    if new is None:
                        new = placed[b] = Buffer(b.name, where(b.address), b.size, b.space, b.role, b.tensor,
                                                 b.tile, b.rows)
                    b = new
                out.append(b)
            return tuple(out)

        for i, a in enumerate(self._actions):
            if a.allocs or a.frees:  # the constructor, field by field (``replace`` is several times slower)
                self._actions[i] = Action(a.kind, a.layer, a.after, moved(a.allocs), moved(a.frees), a.reads,
                                          a.writes, a.tensor, a.dram_bytes, a.traffic, a.cycles, a.cause, a.tile,
                                          a.parts, a.run)
        self.provisional = None

    def finish(self) -> tuple[Action, ...]:
        """The actions (every address must be final)."""
        if self.provisional is not None:
            raise AssertionError(f"addresses in {self.provisional!r} are still provisional")
        return tuple(self._actions)
