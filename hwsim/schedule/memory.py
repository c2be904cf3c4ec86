"""SRAM residency during the scheduler's walk: reservations, resident pieces, DRAM copies.

:class:`Memory` owns the allocators and knows, for every piece, whether it is resident
(which buffer) and whether DRAM holds a clean copy (how it got there, which stores wrote
it). It emits the loads, stores and frees that moving data needs, through the
:class:`~hwsim.schedule.program.Program`, and keeps the per-tensor DRAM figures the plan's
``TensorPlan`` rows report.

Evicting a storage stores each resident piece that DRAM does not hold yet and that is read
again (``spill_write``, cause ``spill_store``); a piece stored because a streamed layer reads
it in bands from DRAM is streamed traffic (``streamed_write``, cause ``streamed``). A clean
piece (the network input, a stored output, a piece stored or reloaded before: tensors are
immutable) is dropped for free. A piece read back comes in as ``input`` (the network input,
cause ``input``), ``spill_read`` (cause ``reload``) or ``streamed_read`` (written by a
streamed layer or stored for one, cause ``streamed``); read back again after an eviction,
any piece is a reload (``spill_read``): the network input dropped to make room and read
twice is spilled as surely as a stored tensor.

With the SRAM placed offline (``sram`` is a :class:`~hwsim.schedule.placement.Reservations`)
evictions count bytes only (a reservation fits when the bytes do); the scheduler packs the
blocks once the walk is over, and places the SRAM online instead only if the packing does
not fit. ``may_evict=False`` forbids evicting at all: a reservation that does not fit raises
:class:`~hwsim.schedule.placement.Full`.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Callable

from hwsim.schedule.allocate import Allocator
from hwsim.schedule.placement import Full, Reservations
from hwsim.schedule.plan import Buffer
from hwsim.schedule.program import Program
from hwsim.schedule.spill import NEVER, Candidate, VictimQueue
from hwsim.schedule.storage import Layout

READ_BACK = {"input": ("input", "input"), "spill": ("spill_read", "reload"), "streamed": ("streamed_read", "streamed"),
             "host": ("host_read", "host")}


class NoRoom(Exception):
    """Nothing left to evict and the request still does not fit."""


@dataclass(frozen=True)
class DramCopy:
    """A clean copy of a piece in DRAM: how it got there and the stores that wrote it.

    Written band by band (``rows`` > 0), writer ``i`` wrote rows ``[starts[i], ends[i])`` of
    ``rows``, sorted by start, so a band read depends only on the stores it overlaps.
    """

    origin: str  # "input" | "spill" | "streamed" | "host" (written by a host op: ``host_run``)
    writers: tuple[int, ...]  # the stores that wrote it (none for the network input)
    starts: tuple[int, ...] = ()
    ends: tuple[int, ...] = ()
    rows: int = 0  # 0: every writer wrote all of it

    def writers_of(self, lo: int, hi: int, rows: int) -> tuple[int, ...]:
        """The stores that wrote any of rows ``[lo, hi)`` of ``rows`` (another row count may be
        used than the writer's: the spans are compared as fractions of the tensor)."""
        if not self.rows:
            return self.writers
        first = bisect.bisect_right(self.ends, lo * self.rows // rows)
        last = bisect.bisect_left(self.starts, -(-hi * self.rows // rows))
        return self.writers[first:last]


@dataclass(frozen=True)
class Usage:
    """When each storage is needed resident and when each piece is read (sorted steps)."""

    touches: dict[str, list[int]]  # storage -> steps it must be resident
    reads: dict[str, list[int]]  # piece -> steps that read it (resident, streamed or by the host)
    skip_storages: frozenset[str]
    host_steps: frozenset[int] = frozenset()  # host layers (``host_run``): they read their inputs from DRAM


class Memory:
    def __init__(self, layout: Layout, usage: Usage, program: Program, sram: Allocator | Reservations,
                 weights: Allocator | None, policy: str, out_at: Callable[[int], frozenset[str]] | None = None,
                 may_evict: bool = True):
        self.layout, self.usage, self.program = layout, usage, program
        self.out_at = out_at  # the storages the optimum has out of SRAM at a step (policy "optimal")
        self.sram, self.weights = sram, weights
        self.may_evict = may_evict
        self.queue = VictimQueue(policy)
        self.present: dict[str, Buffer] = {}
        self.dram: dict[str, DramCopy] = {}
        self.weight_blocks: dict[str, list[Buffer]] = {}  # resident block -> its loaded buffers
        self.first_address: dict[str, int] = {}
        self.tensor_traffic: dict[str, int] = {}
        self.loaded: set[str] = set()  # pieces loaded at least once
        self.spilled: set[str] = set()

    # --- DRAM traffic --------------------------------------------------------------------
    def dma(self, kind: str, layer: int, tensor: str, nbytes: int, traffic: str, cause: str, **fields) -> int:
        if traffic != "weights":
            self.count(tensor, nbytes)
        if traffic == "spill_write":
            self.spilled.add(tensor)
        return self.program.emit(kind, layer, tensor=tensor, dram_bytes=nbytes, traffic=traffic, cause=cause, **fields)

    def count(self, tensor: str, nbytes: int) -> None:
        """Charge ``nbytes`` of activation traffic moved by a streamed layer's tiles to ``tensor``."""
        self.tensor_traffic[tensor] = self.tensor_traffic.get(tensor, 0) + nbytes

    def store(self, piece: str, layer: int, traffic: str, cause: str, origin: str) -> int:
        cid = self.dma("store", layer, piece, self.layout.piece_bytes[piece], traffic, cause,
                       reads=(self.present[piece].name,))
        self.dram[piece] = DramCopy(origin, (cid,))
        return cid

    # --- placement ------------------------------------------------------------------------
    def make_room(self, allocator: Allocator, name: str, size: int, protect, step: int) -> int:
        """Reserve ``size`` bytes for ``name``, evicting unprotected blocks as needed."""
        while (address := allocator.alloc(name, size)) is None:
            if not self.may_evict:
                raise Full(name)
            first = self.out_at(step) if self.out_at is not None else frozenset()
            victim = self.queue.pop(protect, first) if allocator is self.sram else None
            if victim is None:
                raise NoRoom(name)
            self.evict(victim, step)
        return address

    def try_reserve(self, storage: str, step: int) -> bool:
        """Reserve without evicting anything (prefetch); False if it does not fit."""
        if storage not in self.sram:
            if self.sram.alloc(storage, self.layout.storages[storage].nbytes) is None:
                return False
            self.touch(storage, step)
        return True

    def touch(self, storage: str, step: int) -> None:
        """Describe ``storage`` to the spill policy (nothing to do when nothing may be evicted)."""
        if not self.may_evict:
            return
        steps = self.usage.touches.get(storage, [])
        i = bisect.bisect_right(steps, step)
        self.queue.push(Candidate(storage, steps[i] if i < len(steps) else NEVER, step,
                                  self.sram.size(storage), storage in self.usage.skip_storages))

    def piece_buffer(self, piece: str) -> Buffer:
        storage = self.layout.storages[self.layout.storage_of[piece]]
        offset = self.layout.piece_offset(piece)
        size = self.layout.piece_bytes[piece]
        if piece == storage.pieces[-1]:
            size = self.sram.size(storage.name) - offset  # the last piece takes the alignment padding
        buffer = Buffer(piece, self.sram.address(storage.name) + offset, size)
        self.first_address.setdefault(piece, buffer.address)
        return buffer

    # --- pieces ---------------------------------------------------------------------------
    def load(self, piece: str, layer: int) -> int:
        """Load ``piece`` from its DRAM copy into its (reserved) storage: the first time as its
        copy's origin says, again (it was evicted since) as a reload."""
        copy = self.dram[piece]
        traffic, cause = READ_BACK["spill" if piece in self.loaded else copy.origin]
        self.loaded.add(piece)
        buffer = self.piece_buffer(piece)
        cid = self.dma("load", layer, piece, self.layout.piece_bytes[piece], traffic, cause,
                       deps=copy.writers, allocs=(buffer,))
        self.present[piece] = buffer
        return cid

    def produce(self, piece: str) -> Buffer:
        """The buffer a compute writes ``piece`` into (its storage is reserved); now dirty."""
        buffer = self.piece_buffer(piece)
        self.present[piece] = buffer
        self.dram.pop(piece, None)
        return buffer

    def read_later(self, piece: str, step: int) -> bool:
        steps = self.usage.reads.get(piece, [])
        return bisect.bisect_left(steps, step) < len(steps)

    def clean(self, piece: str, layer: int, from_step: int, cause: str) -> None:
        """Store ``piece`` if it is resident, not in DRAM, and read at ``from_step`` or later:
        ``spill_write`` when SRAM is full (cause ``spill_store``), ``streamed_write`` when a
        streamed layer reads it from DRAM in bands (cause ``streamed``), ``host_write`` when the
        next reader from DRAM is a host op (cause ``host``; read back later, a reload)."""
        if piece in self.present and piece not in self.dram and self.read_later(piece, from_step):
            if cause == "streamed" and self.next_read(piece, from_step) in self.usage.host_steps:
                self.store(piece, layer, "host_write", "host", "spill")
            elif cause == "streamed":
                self.store(piece, layer, "streamed_write", cause, "streamed")
            else:
                self.store(piece, layer, "spill_write", cause, "spill")

    def next_read(self, piece: str, step: int) -> int | None:
        """The first step at ``step`` or later that reads ``piece`` (None: none)."""
        steps = self.usage.reads.get(piece, [])
        i = bisect.bisect_left(steps, step)
        return steps[i] if i < len(steps) else None

    def drop(self, storage: str, layer: int, from_step: int, cause: str) -> None:
        """Store what is read at ``from_step`` or later, then free the storage's buffers and block."""
        pieces = [p for p in self.layout.storages[storage].pieces if p in self.present]
        for p in pieces:
            self.clean(p, layer, from_step, cause)
        if pieces:
            self.program.free(layer, tuple([self.present.pop(p) for p in pieces]))
        self.sram.free(storage)
        self.queue.remove(storage)

    # --- eviction -------------------------------------------------------------------------
    def evict(self, name: str, step: int) -> None:
        if name in self.weight_blocks:
            self.free_weights(name, step)
        else:
            self.drop(name, step, step, "spill_store")

    def evict_all(self, step: int) -> None:
        """Evict every block; blocks reserved but not filled yet are simply released."""
        while (victim := self.queue.pop(frozenset())) is not None:
            self.evict(victim, step)
        for name in self.sram.names():
            if self.weight_blocks.get(name) or any(
                    p in self.present for p in getattr(self.layout.storages.get(name), "pieces", ())):
                raise AssertionError(f"{name!r} holds data but is not evictable")
            self.sram.free(name)
            self.weight_blocks.pop(name, None)

    # --- weights --------------------------------------------------------------------------
    def weight_allocator(self) -> Allocator:
        return self.weights if self.weights is not None else self.sram

    def weight_space(self) -> str:
        return "weights" if self.weights is not None else "sram"

    def load_weights(self, block: str, buffer_name: str, nbytes: int, layer: int, use_step: int,
                     chunk: int | None = None) -> Buffer:
        """Load ``nbytes`` of layer weights into reserved ``block`` (at its start) as ``buffer_name``
        (weights are not activation traffic: no ``dma`` bookkeeping; made once per weight chunk)."""
        shared = self.weights is None
        allocator = self.sram if shared else self.weights
        buffer = Buffer(buffer_name, allocator.address(block), allocator.aligned(nbytes), "sram" if shared else "weights",
                        "weights")
        self.program.emit("load", layer, tensor=buffer_name, dram_bytes=nbytes, traffic="weights", cause="weights",
                          allocs=(buffer,), tile=chunk)
        loaded = self.weight_blocks.get(block)
        if loaded is None:
            self.weight_blocks[block] = [buffer]
        else:
            loaded.append(buffer)
        if shared and self.may_evict and block not in self.queue:
            self.queue.push(Candidate(block, use_step, layer, allocator.size(block), False))
        return buffer

    def free_weight_buffer(self, block: str, buffer: Buffer, step: int) -> None:
        self.program.free(step, (buffer,))
        self.weight_blocks[block].remove(buffer)

    def free_weights(self, block: str, step: int) -> None:
        buffers = self.weight_blocks.pop(block)
        if buffers:
            self.program.free(step, tuple(buffers))
        self.weight_allocator().free(block)
        self.queue.remove(block)
