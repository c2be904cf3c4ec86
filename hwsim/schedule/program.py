"""The decisions of a walk under construction (``hwsim.schedule.lower`` turns them into commands).

:class:`Program` appends :class:`~hwsim.schedule.lower.Action` s in program order: the
scheduler says what a command allocates, reads, writes and frees, and the orderings only it
knows (``deps``: a reload after the store that wrote it); :func:`~hwsim.schedule.lower.lower`
derives the rest once the walk is over.

Addresses in one space may be *provisional* (offline placement, ``placement``): buffers
there get their final addresses when :meth:`Program.relocate` is given where each provisional
address goes, once the walk is complete: ``lower`` applies it (:meth:`relocation`).
"""

from __future__ import annotations

from typing import Callable

from hwsim.schedule.lower import Action


class Program:
    """Actions in program order. ``provisional``: the space whose addresses are provisional
    (None: all are final)."""

    def __init__(self, provisional: str | None = None):
        self.provisional = provisional
        self._actions: list[Action] = []
        self._traffic: dict[str, int] = {}
        self._where: Callable[[int], int] | None = None  # the provisional space's relocation

    def emit(self, kind: str, layer: int, *, deps=(), **fields) -> int:
        """Append an action; returns its index (its command's id). ``deps``: earlier actions it
        must follow besides those ``lower`` derives; ``fields``: the other fields of
        :class:`~hwsim.schedule.lower.Action`."""
        action = Action(kind, layer, tuple(sorted(set(deps))) if deps else (), **fields)
        self._actions.append(action)
        if action.run is not None:
            for _, traffic, nbytes in action.run.moves():
                self._traffic[traffic] = self._traffic.get(traffic, 0) + nbytes
        if action.traffic is not None:
            self._traffic[action.traffic] = self._traffic.get(action.traffic, 0) + action.dram_bytes
        return len(self._actions) - 1

    def free(self, layer: int, frees: tuple) -> int:
        """``emit("free", layer, frees=frees)``, the most common action, made without keyword
        arguments (half the cost of :meth:`emit`'s, measured; a free moves no bytes)."""
        actions = self._actions
        actions.append(Action("free", layer, (), (), frees))
        return len(actions) - 1

    def compute(self, layer: int, allocs: tuple, reads: tuple, cycles: int) -> int:
        """``emit("compute", layer, allocs=allocs, reads=reads, cycles=cycles)`` made as :meth:`free`."""
        actions = self._actions
        actions.append(Action("compute", layer, (), allocs, (), reads, (), None, 0, None, cycles))
        return len(actions) - 1

    def traffic(self) -> dict[str, int]:
        """DRAM bytes of the loads and stores so far (and of streamed layers' tiles), by traffic
        kind (each kind that occurs)."""
        return dict(self._traffic)

    def relocate(self, where: Callable[[int], int]) -> None:
        """Buffers of the provisional space at address ``a`` go to ``where(a)`` (which must keep
        buffers allocated at the same time apart: ``lower`` checks it). The actions keep their
        provisional addresses: ``lower`` moves each buffer as it makes the commands, so only the
        walk that is kept pays for it (a schedule places several)."""
        if self.provisional is None:
            raise AssertionError("no provisional addresses to relocate")
        self._where = where

    def relocation(self) -> tuple[str | None, Callable[[int], int] | None]:
        """(the space whose addresses are provisional, where each goes); (None, None) when all
        are final."""
        return (self.provisional, self._where) if self.provisional is not None else (None, None)

    def finish(self) -> tuple[Action, ...]:
        """The actions (every address final, or relocated: ``relocation``)."""
        if self.provisional is not None and self._where is None:
            raise AssertionError(f"addresses in {self.provisional!r} are still provisional")
        return tuple(self._actions)
