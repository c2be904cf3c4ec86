"""Decisions -> Plan: the one lowering every scheduler shares.

A scheduler decides; it does not wire dependencies. What it decided is a :class:`Decisions`:
the plan's outline (layers, tensors, cascades and their stripes, notes: a :class:`Plan`
with no commands) and, in program order, :class:`Action` s: what each command does, which
buffers it allocates (at their final addresses), reads, writes and frees, and the few
orderings only the scheduler knows (``after``: a reload follows the store that put its
bytes in DRAM; a streamed layer follows the writers of the bands it reads from DRAM).
:func:`lower` derives every other dependency the plan contract (``hwsim.schedule.plan``)
asks for, the same way for every scheduler (the greedy walk of ``hwsim.schedule.scheduler``
and any other that emits decisions):

* an allocation depends on the ``free`` of every buffer that last occupied any of its
  bytes (an address history per space records who held each byte last) and on the last
  ``free`` of a buffer of the same name (so a reloaded tensor never coexists with its
  evicted copy in any execution order);
* a command reading a buffer depends on the command that last wrote it (its allocation,
  or an action listing it in ``writes``);
* a ``free`` depends on the buffer's writers, its last compute reader and its stores;
* a compute (or ``tiles``) depends on the previous one (the compute engine runs in
  program order);
* a ``host`` command (a host op, ``hwsim.schedule.host_run``) is a barrier: it depends on
  every load, store, compute and ``tiles`` since the previous barrier, and the first command
  of each engine after it depends on it (engines issue in program order, so nothing after it
  starts before it ends).

Lowering checks what it relies on: a buffer is never allocated twice while live, never
over a live buffer's bytes, and only live buffers are read or freed (an ``AssertionError``
names the first that is not: a scheduler bug, never a user error).
"""

from __future__ import annotations

import bisect
import itertools
from dataclasses import dataclass, field, replace
from typing import Callable, NamedTuple

from hwsim.schedule.plan import ENGINE_OF, Buffer, Command, Part, Plan, TileRun


class Action(NamedTuple):
    """One command as decided: everything but its id and its derived dependencies. A named
    tuple (immutable, made by the thousand: 0.6-0.9 us, a frozen dataclass 1.2-1.6 us)."""

    kind: str  # one of plan.COMMAND_KINDS
    layer: int
    after: tuple[int, ...] = ()  # earlier actions (indices) it must follow besides the derived deps
    allocs: tuple[Buffer, ...] = ()
    frees: tuple[Buffer, ...] = ()
    reads: tuple[str, ...] = ()
    writes: tuple[str, ...] = ()  # live buffers it writes besides its allocs (a later weight chunk's compute)
    tensor: str | None = None
    dram_bytes: int = 0
    traffic: str | None = None
    cycles: int = 0
    cause: str | None = None
    tile: int | None = None
    parts: tuple[Part, ...] = ()
    run: TileRun | None = None


@dataclass(frozen=True)
class Decisions:
    """What a scheduler decided: ``outline`` is the plan but for its commands (empty). Buffers
    of space ``provisional`` (when not None) have provisional addresses: address ``a`` is
    ``where(a)`` in the plan (an offline placement, ``hwsim.schedule.program``)."""

    actions: tuple[Action, ...]
    outline: Plan
    provisional: str | None = None
    where: Callable[[int], int] | None = None


class AddressHistory:
    """Who held each byte of one space last: sorted segments ``[start_i, start_{i+1})`` -> owner key."""

    def __init__(self):
        self._starts: list[int] = [0]
        self._owners: list[int | None] = [None]

    def claim(self, lo: int, hi: int, owner: int) -> list[int]:
        """Give bytes ``[lo, hi)`` to ``owner``; returns the keys that held any of them last
        (in address order; None, for bytes never held, left out)."""
        starts, owners = self._starts, self._owners
        i = bisect.bisect_right(starts, lo) - 1
        j = bisect.bisect_right(starts, hi, i) - 1
        held = [k for k in owners[i:j + 1 if starts[j] < hi else j] if k is not None]
        after = owners[j]  # owner of the segment that continues at hi
        new_starts, new_owners = [lo], [owner]
        if starts[i] < lo:
            new_starts.insert(0, starts[i])
            new_owners.insert(0, owners[i])
        if j + 1 >= len(starts) or starts[j + 1] != hi:
            new_starts.append(hi)
            new_owners.append(after)
        starts[i:j + 1] = new_starts
        owners[i:j + 1] = new_owners
        return held


@dataclass(slots=True)
class _Live:
    key: int
    writer: int  # the command that last wrote it (allocation included)
    reader: int | None = None  # the last compute that read it
    stores: list[int] = field(default_factory=list)


def lower(decisions: Decisions) -> Plan:
    """The plan the decisions stand for (see the module docstring)."""
    return replace(decisions.outline, commands=commands_of(decisions.actions, decisions.provisional, decisions.where))


def commands_of(actions: tuple[Action, ...] | list[Action], provisional: str | None = None,
                where: Callable[[int], int] | None = None) -> tuple[Command, ...]:
    """The commands of ``actions``, with every dependency derived; the buffers of space
    ``provisional`` moved from address ``a`` to ``where(a)``."""
    placed: dict[int, Buffer] = {}  # id -> moved: a free names the buffer object its allocation made
    placed_get = placed.get

    def move(b: Buffer) -> Buffer:
        new = placed[id(b)] = Buffer(b.name, where(b.address), b.size, b.space, b.role, b.tensor, b.tile, b.rows)
        return new

    live: dict[str, _Live] = {}
    history: dict[str, AddressHistory] = {}
    freed_by: dict[int, int] = {}  # buffer key -> its free
    last_free_of: dict[str, int] = {}  # buffer name -> its last free
    last_compute: int | None = None
    keys = itertools.count()
    commands = []
    since_barrier: list[int] = []  # non-free commands since the last host command
    barrier: int | None = None
    synced: set[str] = set()  # engines whose first command after the barrier depends on it
    for cid, a in enumerate(actions):
        kind, layer, after, allocs, frees, reads, writes, tensor, dram_bytes, traffic, cycles, cause, tile, parts, \
            run = a
        deps = set(after)
        if provisional:
            if allocs:
                allocs = tuple([placed_get(id(b)) or move(b) if b.space == provisional else b for b in allocs])
            if frees:
                frees = tuple([placed_get(id(b)) or move(b) if b.space == provisional else b for b in frees])
        if kind == "free" and not (allocs or reads or writes):  # the common case, on its own
            for b in frees:
                held = _freed(live, b.name, cid, deps)
                del live[b.name]
                freed_by[held.key] = last_free_of[b.name] = cid
            commands.append(Command(cid, kind, "none", layer, tuple(sorted(deps)), tensor, dram_bytes, traffic,
                                    cycles, allocs, frees, reads, cause, tile, parts, run))
            continue
        if kind == "host":
            deps.update(since_barrier)
            barrier, synced, since_barrier = cid, set(), []
        elif kind != "free":
            since_barrier.append(cid)
            if barrier is not None:
                engines = _run_engines(run) if kind == "tiles" else (ENGINE_OF[kind],)
                if not synced.issuperset(engines):
                    deps.add(barrier)
                    synced.update(engines)
        for b in allocs:  # each claims its bytes: their last holders must have been freed
            name = b.name
            if name in live:
                raise AssertionError(f"buffer {name!r} allocated twice")
            if name in last_free_of:
                deps.add(last_free_of[name])
            space = history.get(b.space)
            if space is None:
                space = history[b.space] = AddressHistory()
            key = next(keys)
            for owner in space.claim(b.address, b.address + b.size, key):
                if owner not in freed_by:
                    raise AssertionError(f"buffer {name!r} at {b.address} overlaps a live buffer")
                deps.add(freed_by[owner])
            live[name] = _Live(key, -1)  # its writer: this command, set below
        for name in reads:
            held = live.get(name)
            if held is None or held.writer == -1:
                _live({}, name, cid)  # not allocated before this command: raises
            deps.add(held.writer)
        for b in frees:
            _freed(live, b.name, cid, deps)
        computes = kind == "compute" or kind == "tiles"
        if computes and last_compute is not None:
            deps.add(last_compute)
        for b in allocs:
            live[b.name].writer = cid
        for name in writes:
            _live(live, name, cid).writer = cid
        if computes:
            for name in reads:
                live[name].reader = cid
            last_compute = cid
        elif kind == "store":
            for name in reads:
                live[name].stores.append(cid)
        for b in frees:
            held = live.pop(b.name)
            freed_by[held.key] = last_free_of[b.name] = cid
        commands.append(Command(cid, kind, ENGINE_OF[kind], layer, tuple(sorted(deps)), tensor, dram_bytes, traffic,
                                cycles, allocs, frees, reads, cause, tile, parts, run))
    return tuple(commands)


def _run_engines(run: TileRun) -> tuple[str, ...]:
    """The engines a streamed layer's tiles use once written out (``expand``): compute, the read
    engine if they load bands or weight chunks, the write engine if they store bands. Only
    those count as waiting for a host command before them: an engine the tiles leave idle must
    wait for it at its own next command."""
    loads = any(any(s.nbytes) for s in run.reads) or any(run.chunk_bytes)
    stores = any(any(s.nbytes) for s in run.writes)
    return ("compute",) + (("dma_read",) if loads else ()) + (("dma_write",) if stores else ())


def _freed(live: dict[str, _Live], name: str, cid: int, deps: set[int]) -> _Live:
    """Buffer ``name`` as command ``cid`` frees it: its writer, its stores and its last compute
    reader join ``deps``."""
    held = _live(live, name, cid)
    deps.add(held.writer)
    deps.update(held.stores)
    if held.reader is not None:
        deps.add(held.reader)
    return held


def _live(live: dict[str, _Live], name: str, cid: int) -> _Live:
    held = live.get(name)
    if held is None:
        raise AssertionError(f"command {cid} uses buffer {name!r}, which is not allocated")
    return held
