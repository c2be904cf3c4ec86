"""The command stream under construction, with every dependency the plan contract asks for.

:class:`Program` appends commands in program order and adds their dependencies itself, so
the scheduler only says what a command allocates, reads and frees:

* an allocation depends on the ``free`` of every buffer that last occupied any of its
  bytes (an address history per space records who held each byte last) and on the last
  ``free`` of a buffer of the same name (so a reloaded tensor never coexists with its
  evicted copy in any execution order);
* a command reading a buffer depends on the command that last wrote it;
* a ``free`` depends on the buffer's writers, its last compute reader and its stores;
* a compute depends on the previous compute (the compute engine runs in program order).

Callers add the other dependencies (a reload depends on the store that wrote it to DRAM).

Addresses in one space may be *provisional* (offline placement, ``placement``): buffers
there get their final addresses, and the first kind of dependency, only when
:meth:`Program.relocate` is given where each provisional address goes, once the program is
complete. Commands are built by :meth:`Program.finish`.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field, replace
from typing import Callable

from hwsim.schedule.plan import Buffer, Command

ENGINE_OF = {"compute": "compute", "load": "dma_read", "store": "dma_write", "free": "none", "tiles": "tiles"}


class AddressHistory:
    """Who held each byte of one space last: sorted segments ``[start_i, start_{i+1})`` -> owner key."""

    def __init__(self):
        self._starts: list[int] = [0]
        self._owners: list[int | None] = [None]

    def owners(self, lo: int, hi: int) -> set[int]:
        i = bisect.bisect_right(self._starts, lo) - 1
        found = set()
        while i < len(self._starts) and self._starts[i] < hi:
            if self._owners[i] is not None:
                found.add(self._owners[i])
            i += 1
        return found

    def paint(self, lo: int, hi: int, owner: int) -> None:
        i = bisect.bisect_right(self._starts, lo) - 1
        j = bisect.bisect_right(self._starts, hi) - 1
        after = self._owners[j]  # owner of the segment that continues at hi
        new_starts, new_owners = [lo], [owner]
        if self._starts[i] < lo:
            new_starts.insert(0, self._starts[i])
            new_owners.insert(0, self._owners[i])
        if j + 1 >= len(self._starts) or self._starts[j + 1] != hi:
            new_starts.append(hi)
            new_owners.append(after)
        self._starts[i:j + 1] = new_starts
        self._owners[i:j + 1] = new_owners


@dataclass(slots=True)
class _Live:
    buffer: Buffer
    key: int
    writer: int  # the command that last wrote it (allocation included)
    reader: int | None = None  # the last compute that read it
    stores: list[int] = field(default_factory=list)


@dataclass(slots=True)
class _Pending:
    """A command whose buffers may still move."""

    kind: str
    layer: int
    deps: set[int]
    allocs: tuple[Buffer, ...]
    frees: tuple[Buffer, ...]
    reads: tuple[str, ...]
    fields: dict


class Program:
    """Commands in program order; buffers live between their allocation and their free.

    ``provisional``: the space whose addresses are provisional (None: all are final)."""

    def __init__(self, provisional: str | None = None):
        self.provisional = provisional
        self._commands: list[_Pending] = []
        self._live: dict[str, _Live] = {}
        self._history: dict[str, AddressHistory] = {}
        self._freed_by: dict[int, int] = {}  # buffer key -> free command
        self._last_free_of: dict[str, int] = {}  # buffer name -> its last free command
        self._last_compute: int | None = None
        self._keys = 0

    def emit(self, kind: str, layer: int, *, deps=(), allocs=(), reads=(), frees=(), **fields) -> int:
        """Append a command; returns its id. ``fields``: tensor, dram_bytes, traffic, cycles, cause, tile, run."""
        cid = len(self._commands)
        d = set(deps)
        for b in allocs:
            self._reuse_deps(b, d)
        for name in reads:
            d.add(self._live[name].writer)
        for b in frees:
            live = self._live[b.name]
            d.add(live.writer)
            d.update(live.stores)
            if live.reader is not None:
                d.add(live.reader)
        if kind in ("compute", "tiles") and self._last_compute is not None:
            d.add(self._last_compute)
        self._commands.append(_Pending(kind, layer, d, tuple(allocs), tuple(frees), tuple(reads), fields))
        self._after(cid, kind, allocs, reads, frees)
        return cid

    def wrote(self, name: str, cid: int) -> None:
        """Record that command ``cid`` wrote into live buffer ``name`` (a later weight chunk)."""
        self._live[name].writer = cid

    def _reuse_deps(self, b: Buffer, deps: set[int]) -> None:
        """Add to ``deps`` the frees that allocating ``b`` must follow."""
        if b.name in self._live:
            raise AssertionError(f"buffer {b.name!r} allocated twice")
        if b.name in self._last_free_of:
            deps.add(self._last_free_of[b.name])
        if b.space == self.provisional:
            return  # see relocate
        history = self._history.get(b.space)
        if history is None:
            history = self._history[b.space] = AddressHistory()
        for key in history.owners(b.address, b.address + b.size):
            if key not in self._freed_by:
                raise AssertionError(f"buffer {b.name!r} at {b.address} overlaps a live buffer")
            deps.add(self._freed_by[key])

    def _after(self, cid: int, kind: str, allocs, reads, frees) -> None:
        for b in allocs:
            self._keys += 1
            self._live[b.name] = _Live(b, self._keys, cid)
            if b.space != self.provisional:
                self._history[b.space].paint(b.address, b.address + b.size, self._keys)
        for name in reads:
            if kind in ("compute", "tiles"):
                self._live[name].reader = cid
            elif kind == "store":
                self._live[name].stores.append(cid)
        for b in frees:
            live = self._live.pop(b.name)
            self._freed_by[live.key] = cid
            self._last_free_of[b.name] = cid
        if kind in ("compute", "tiles"):
            self._last_compute = cid

    def traffic(self) -> dict[str, int]:
        """DRAM bytes of the loads and stores so far (and of streamed layers' tiles), by traffic
        kind (each kind that occurs)."""
        moved: dict[str, int] = {}
        for c in self._commands:
            run = c.fields.get("run")
            for _, kind, nbytes in run.moves() if run is not None else ():
                moved[kind] = moved.get(kind, 0) + nbytes
            if "traffic" in c.fields:
                moved[c.fields["traffic"]] = moved.get(c.fields["traffic"], 0) + c.fields.get("dram_bytes", 0)
        return moved

    def relocate(self, where: Callable[[int], int]) -> None:
        """Move every buffer of the provisional space from address ``a`` to ``where(a)``, and make
        each allocation there depend on the ``free`` of every buffer that last held any of its
        bytes. The program must be complete (nothing allocated) and ``where`` must keep
        buffers allocated at the same time apart; the addresses are then final."""
        if self._live:
            raise AssertionError(f"relocating a program that still holds {sorted(self._live)[:3]}")
        space, history = self.provisional, AddressHistory()
        placed: dict[str, tuple[Buffer, int]] = {}  # buffer name -> (moved buffer, key)
        freed_by: dict[int, int] = {}  # key -> the free that released it
        for cid, c in enumerate(self._commands):
            if c.allocs:
                allocs = []
                for b in c.allocs:
                    if b.space == space:
                        b = replace(b, address=where(b.address))
                        for key in history.owners(b.address, b.address + b.size):
                            if key not in freed_by:
                                raise AssertionError(f"buffer {b.name!r} moved onto a live buffer")
                            c.deps.add(freed_by[key])
                    allocs.append(b)
                for b in allocs:
                    if b.space == space:
                        self._keys += 1
                        placed[b.name] = (b, self._keys)
                        history.paint(b.address, b.address + b.size, self._keys)
                c.allocs = tuple(allocs)
            if c.frees:
                frees = []
                for b in c.frees:
                    if b.space == space:
                        b, key = placed.pop(b.name)
                        freed_by[key] = cid
                    frees.append(b)
                c.frees = tuple(frees)
        self.provisional = None

    def finish(self) -> tuple[Command, ...]:
        """The commands (every address must be final)."""
        if self.provisional is not None:
            raise AssertionError(f"addresses in {self.provisional!r} are still provisional")
        return tuple(Command(cid, c.kind, ENGINE_OF[c.kind], c.layer, tuple(sorted(c.deps)), allocs=c.allocs,
                             frees=c.frees, reads=c.reads, **c.fields)
                     for cid, c in enumerate(self._commands))
