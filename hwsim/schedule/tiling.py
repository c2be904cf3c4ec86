"""How each layer runs: whole, with its weights in chunks, or streamed in row bands.

A layer runs **whole** when the storages it touches (its inputs and outputs, an in-place
concat's whole buffer included) fit in the SRAM together with its weights: its weight
block when weights share the SRAM, or in the weight buffer when they are separate.

**Weight chunks.** A weight block that does not fit is loaded in chunks of whole output
channels, as large as fit (in the weight buffer, or, when shared, in the SRAM left beside
the layer's activations and the other tensors live across the layer, so that loading
weights does not evict a waiting skip: chunks cost no DRAM bytes, a spill costs two; when
those leave less than one output channel, chunks take an eighth of the room beside the
layer's own activations, evicting little, rather than all of it); chunk ``c`` is
computed before chunk ``c + 1`` is loaded into the same place, so chunk loads do not
overlap the layer's compute. Every weight byte is
still read once, so ``weights`` traffic stays the weight block's bytes.

**Streamed layers.** A layer whose own inputs and outputs cannot be resident together
(with at least one output channel of weights, when shared) runs in row bands through
DRAM (see ``bands``). Tensors the band model needs whole stay resident. Of the others (the
*bandable* inputs and outputs) the layer keeps resident, whole, as many as fit beside the
tiles of the rest, and only the rest move in bands. Which ones: every set to keep (all
subsets of up to 8 bandable tensors; beyond, the largest first, one more at a time), each
with the tallest bands its leftover room allows, is scored by the activation bytes it moves
through DRAM: a banded input is read band by band once per weight chunk, halo rows again,
and stored first unless DRAM holds it already (the network input, or an output an earlier
streamed layer sent out in bands); a banded output is written and later read back (a graph
output is written once either way); a kept input is loaded whole if only DRAM holds it.
The fewest bytes win, then the fewest tiles, then the most input bytes kept (an input read
in place needs no store). So a resident input that fits beside the bands is read in place
and never stored, and the operands whose movement costs the most stay (``_Shape.best``
scores them in the order of a lower bound of their bytes).

**Tile slots.** Each banded tensor gets one tile buffer (its largest band) per slot. With
two slots (*double buffering*) band ``k + 1``'s inputs load into one slot while band ``k``
computes from the other, and band ``k``'s outputs are stored while band ``k + 1`` computes:
DMA overlaps compute, for twice the tile SRAM, so bands are about half as tall. Two slots
are used when one band of them fits and the layer's estimated time is not longer than with
one (one slot: compute + DMA, one after the other; two: the longer of the two plus one
tile's share of the shorter; DMA is the layer's own bytes at the DRAM bandwidth plus the
DRAM latency once per tile transfer): a DMA-bound layer keeps fewer, taller bands, since
shorter ones would only add transfers and halo rows. A layer of one tile has one slot.
The tallest band that fits is found first, then the rows are shared evenly among as many
bands (smaller tiles, the same count) when that fits too.

With weights in chunks, every chunk streams all the bands again (output-channel blocking:
the input is re-read once per chunk, the weights once). When weights share the SRAM and do
not fit beside a one-band tile, their chunks get at most half of the room left by the
resident tensors and never more than a one-band tile leaves (all that it leaves when half
cannot hold one output channel); the bands get the rest. If even one single-slot band of
everything bandable cannot fit beside the tensors needed whole,
:class:`~hwsim.errors.UserError` names the layer and the bytes it needs.

The search depends on a layer's sizes and geometry, not on its tensors' names: within one
context, streamed layers alike (``hwsim.schedule.alike``: a network's repeated blocks) share
one search, and each makes its own tile-slot choice, which reads its cycles (made once per
cycles: ``guards.two_slots``); they also share what their modes have in common, by position
(``alike.Shared``), and the graph remembers each search for its other contexts and schedules.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import AbstractSet, Callable, Iterator

from hwsim.errors import UserError
from hwsim.graph.ir import Graph
from hwsim.records import stored_at_once
from hwsim.schedule.alike import Searched, Shared, likeness, remembered, resident
from hwsim.schedule.band_table import band_table, tallest_band
from hwsim.schedule.bands import BandModel, band_model, bands
from hwsim.schedule.chunks import Chunk, channels_per_chunk, chunks_of, plan_chunks
from hwsim.schedule.guards import two_slots
from hwsim.schedule.storage import Layout, LayerNeed


@stored_at_once
@dataclass(frozen=True)
class Mode:
    streamed: bool
    chunks: tuple[Chunk, ...]  # () without weights
    out_channels: int
    weight_region: int  # bytes reserved for the weights (largest chunk, aligned)
    resident_reads: tuple[str, ...]  # pieces that must be in SRAM during the layer
    resident_writes: tuple[str, ...]  # pieces the layer writes into SRAM
    band_reads: tuple[str, ...] = ()  # tensors read from DRAM band by band
    band_writes: tuple[str, ...] = ()  # tensors written to DRAM band by band
    bands: tuple[tuple[int, int], ...] = ((0, 1),)
    rows: int = 1  # driver rows the bands cut
    model: BandModel | None = None
    tile_bytes: dict[str, int] | None = None  # streamed: banded tensor -> tile buffer bytes
    slots: int = 1  # tile buffers per banded tensor: 2 when band i + 1 loads while band i computes
    # streamed: what the layers alike in its context share of their modes (``alike.Shared``), not compared
    alike: Shared | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Room:
    """What a layer may use: SRAM bytes, the weight buffer (None when shared), alignment."""

    sram: int
    weight_buffer: int | None
    aligned: Callable[[int], int]
    transfer: Callable[[int], int] = lambda nbytes: 0  # DRAM cycles of a transfer, latency excluded
    latency: int = 0  # DRAM cycles paid once per transfer
    objective: str = "latency"  # policy.stream_objective: how a streamed layer picks its tile slots
    guards: list | None = None  # when a list: each tile slots choice is recorded in it (``guards``)


def choose_mode(g: Graph, index: int, need: LayerNeed, layout: Layout, room: Room, *, beside: int = 0,
                in_dram: AbstractSet[str] = frozenset(), outputs: frozenset[str] = frozenset(),
                cycles: int = 0, alike: dict | None = None) -> Mode:
    """Whole, chunked or streamed (the module docstring), for layer ``index``. ``beside``: bytes
    of the other storages live across it, which its weights are chunked to leave resident;
    ``in_dram``: the tensors DRAM holds before it runs (the network input, outputs of streamed
    layers sent out in bands; read during the call only); ``outputs``: the graph outputs; ``cycles``: its compute cycles
    (these only weigh a streamed layer's choices); ``alike``: a dict in which a streamed layer's
    search is shared with the layers alike (``hwsim.schedule.alike``; one per context)."""
    base = _base(layout, need, room)
    budget = room.weight_buffer if room.weight_buffer is not None else room.sram - base
    if base <= room.sram:
        chunks = None
        if room.weight_buffer is None and beside:  # leave what is live across the layer resident
            chunks = plan_chunks(need.weight_bytes, need.out_channels, min(budget - beside, budget // 8),
                                 room.aligned) or plan_chunks(need.weight_bytes, need.out_channels, budget // 8,
                                                              room.aligned)
        chunks = chunks if chunks is not None else plan_chunks(need.weight_bytes, need.out_channels, budget,
                                                               room.aligned)
        if chunks is not None:
            return Mode(False, chunks, need.out_channels, _region(chunks, room), need.reads, need.writes)
        if room.weight_buffer is not None:
            raise UserError(f"layer {g.layers[index].name!r} needs more than the weight buffer's "
                            f"{room.weight_buffer:,} B for one output channel of weights")
    return _streamed(g, index, need, layout, room, in_dram=in_dram, outputs=outputs, cycles=cycles, alike=alike)


def _base(layout: Layout, need: LayerNeed, room: Room) -> int:
    """Bytes of the storages ``need`` names, each aligned: kept on the layout per need and
    alignment (``room.aligned(1)``, as the likeness takes it), asked of every layer."""
    cache = layout.__dict__.setdefault("_bases", {})
    hit = cache.get((id(need), room.aligned(1)))
    if hit is None or hit[0] is not need:
        hit = cache[id(need), room.aligned(1)] = (need, sum(room.aligned(layout.storages[s].nbytes)
                                                              for s in need.storages))
    return hit[1]


_REMEMBERED = threading.local()  # .shapes while ``remembered_shapes``: per thread (Dask workers may be threads)


@contextmanager
def remembered_shapes() -> Iterator[None]:
    """Within: a streamed layer's choices and the best of them (``_Shape``) are made once per
    layer, layout, SRAM, weight buffer, alignment and tensors in DRAM; the tile slots, which
    read DRAM timing, each time (a sweep's plan group: ``hwsim.sweep.share``)."""
    saved = getattr(_REMEMBERED, "shapes", None)
    _REMEMBERED.shapes = {}
    try:
        yield
    finally:
        _REMEMBERED.shapes = saved


def _shape(g: Graph, index: int, layout: Layout, room: Room, need: LayerNeed, in_dram: frozenset[str],
           outputs: frozenset[str]) -> "_Shape":
    """``_Shape(...)``, remembered while ``remembered_shapes`` (``need`` comes with ``layout``)."""
    shapes = getattr(_REMEMBERED, "shapes", None)
    if shapes is None:
        return _Shape(g, index, layout, room, need, in_dram, outputs)
    key = (id(g), index, id(layout), room.sram, room.weight_buffer, room.aligned(1), in_dram, outputs)
    hit = shapes.get(key)
    if hit is None or hit[0] is not g or hit[1] is not layout:
        hit = shapes[key] = (g, layout, _Shape(g, index, layout, room, need, in_dram, outputs))
    return hit[2]


def _region(chunks: tuple[Chunk, ...], room: Room) -> int:
    """Bytes the largest chunk takes (alignment rounds up, so the largest chunk's is the largest)."""
    return room.aligned(max([c.nbytes for c in chunks])) if chunks else 0


def _streamed(g: Graph, index: int, need: LayerNeed, layout: Layout, room: Room, *,
              in_dram: AbstractSet[str] = frozenset(), outputs: frozenset[str] = frozenset(),
              cycles: int = 0, alike: dict | None = None) -> Mode:
    name = g.layers[index].name
    model = band_model(g, index)
    if model is None:
        total = sum(room.aligned(layout.storages[s].nbytes) for s in need.storages)
        raise UserError(f"layer {name!r} needs {total:,} B at once and cannot be tiled, "
                        f"SRAM is {room.sram:,} B")
    banded = tuple(model.reads) + tuple(model.writes)
    searched = _search(g, index, model, layout, room, need, in_dram, outputs, alike)
    found = searched.found
    slots = 2 if 2 in found and (1 not in found or two_slots(index, len(banded), searched, cycles, room)) else 1
    shared = searched.modes.get(slots) or _share(searched, slots, model, banded, room)
    tiles = shared.tiles
    return Mode(True, shared.chunks, need.out_channels, shared.region, *resident(model, layout, shared.kept),
                tuple([banded[i] for i in shared.band_reads]), tuple([banded[i] for i in shared.band_writes]),
                shared.bands, model.rows, model,
                {banded[i]: tiles[i] for i in shared.band_reads + shared.band_writes}, shared.slots, shared)


def _share(searched: Searched, slots: int, model: BandModel, banded: tuple[str, ...], room: Room) -> Shared:
    """What the modes of the layers alike share with ``slots`` tile slots chosen (kept in
    ``searched``), by position in ``banded`` (the band model's reads, then its writes: one
    layer's names; a name in both is kept or banded in both). Every layer alike has the same
    positions (the likeness lists the band model's tensors in order, a name met again at the
    same place). A layer of one tile has one slot."""
    _, _, _, _, kept, height, chunks = searched.found[slots]
    cut = bands(model.rows, height)
    names = {banded[i] for i in kept}
    reads = len(model.reads)
    band_reads = tuple(i for i in range(reads) if banded[i] not in names)
    band_writes = tuple(i for i in range(reads, len(banded)) if banded[i] not in names)
    shared = searched.modes[slots] = Shared(
        searched, kept, height, chunks, cut, 1 if len(cut) * max(len(chunks), 1) == 1 else slots,
        band_reads, band_writes, searched.table.tiles(height), _region(chunks, room))
    return shared


def _search(g: Graph, index: int, model: BandModel, layout: Layout, room: Room, need: LayerNeed,
            in_dram: AbstractSet[str], outputs: frozenset[str], alike: dict | None) -> Searched:
    """The best :meth:`_Shape.fit` for each slot count that has one, its kept tensors as
    positions in the banded tensors, and the band table (:class:`~hwsim.schedule.alike.Searched`);
    made once per likeness (``hwsim.schedule.alike``) in ``alike`` (when given: one context's,
    so one room), and raising when nothing fits. ``in_dram`` is read during the call only.
    The likeness names all the search reads, the room's figures included, so with ``alike``
    the fits and table are also remembered on the graph (``alike.remembered``) for the other
    contexts of the graph with the same likeness."""
    if alike is None:
        return Searched(*_fits(g, index, layout, room, need, frozenset(in_dram), outputs), room)
    key = likeness(model, layout, need, in_dram, outputs, (room.sram, room.weight_buffer, room.aligned(1)))
    hit = alike.get(key)
    if hit is None:
        dram = frozenset(in_dram)
        hit = alike[key] = Searched(*remembered(g, "search", key, lambda: _fits(g, index, layout, room, need, dram,
                                                                                outputs)), room)
    return hit


def _fits(g: Graph, index: int, layout: Layout, room: Room, need: LayerNeed, in_dram: frozenset[str],
          outputs: frozenset[str]) -> tuple[dict, object]:
    """(slots -> :meth:`_Shape.best`, kept tensors as positions in the banded tensors; the band
    table), for the slot counts that have one; raising when none has."""
    shape = _shape(g, index, layout, room, need, in_dram, outputs)
    place = {t: i for i, t in enumerate(shape.banded)}
    found = {slots: (*f[:4], frozenset(place[t] for t in f[4]), *f[5:])
             for slots in (2, 1) if (f := shape.best(slots)) is not None}
    if not found:
        raise UserError(f"layer {g.layers[index].name!r} needs {shape.one_tile():,} B for one tile, "
                        f"SRAM is {room.sram:,} B")
    return found, shape.table


class _Shape:
    """The ways to run one streamed layer: which banded tensors stay resident whole (*kept*),
    the band height and weight chunks each choice allows, and the DRAM bytes it moves."""

    def __init__(self, g: Graph, index: int, layout: Layout, room: Room, need: LayerNeed,
                 in_dram: frozenset[str], outputs: frozenset[str]):
        model = band_model(g, index)
        self.index, self.model, self.layout, self.room, self.need = index, model, layout, room, need
        self.in_dram, self.outputs = in_dram, outputs
        self.banded = tuple(model.reads) + tuple(model.writes)
        self.sizes = {t: sum(layout.piece_bytes[p] for p in layout.covers[t]) for t in self.banded}
        self.table = band_table(g, index, self.banded, tuple(self.sizes[t] for t in self.banded))
        self.alignment = room.aligned(1)  # the SRAM's alignment: aligned(n) rounds n up to a multiple of it
        storages = layout.storage_of
        whole_reads, whole_writes = resident(model, layout, frozenset())  # what stays whole whatever is kept
        self._whole = frozenset(storages[p] for p in whole_reads + whole_writes)
        self._own = {t: frozenset(storages[p] for p in layout.covers[t]) for t in model.reads}
        self._own.update((w, frozenset((storages[w],))) for w in model.writes)
        self._chunk_plans: dict[int, tuple[tuple[Chunk, ...], int]] = {}  # channels per chunk -> (chunks, region)
        self._choices = None  # (choices(), their least_traffic) once made
        self._best: dict[int, tuple | None] = {}  # slots -> best(slots)
        self._bases: dict[frozenset[str], int] = {}  # kept -> base(kept)

    def base(self, kept) -> int:
        """Bytes of the storages resident when ``kept`` stay whole."""
        found = self._bases.get(kept)
        if found is None:
            storages = self._whole.union(*(self._own[t] for t in kept))
            found = self._bases[kept] = sum(self.room.aligned(self.layout.storages[s].nbytes) for s in storages)
        return found

    def choices(self):
        """Every set of banded tensors to keep whole (all subsets of up to 8 tensors; else the
        largest first, one more at a time), leaving at least one to band, among the tensors
        that can be kept at all: a set whose resident storages alone exceed the SRAM never
        fits (:meth:`fit`), nor does any set holding it (:meth:`base` only grows)."""
        room = self.room.sram
        banded = [t for t in self.banded if self.base(frozenset((t,))) <= room]
        n = len(banded)
        if n == len(self.banded) and n <= 8:
            return [frozenset(t for i, t in enumerate(banded) if mask >> i & 1) for mask in range(2**n - 1)]
        if n <= 8:
            return [frozenset(t for i, t in enumerate(banded) if mask >> i & 1) for mask in range(2**n)]
        by_size = sorted(banded, key=lambda t: -self.sizes[t])
        return [frozenset(by_size[:k]) for k in range(n + (n < len(self.banded)))]

    def best(self, slots: int):
        """The :meth:`fit` with ``slots`` tile slots that moves the fewest bytes, then has the fewest
        tiles, then keeps the most input bytes, then comes first in :meth:`choices`; None if
        none fits. Choices are tried by a lower bound of the bytes they move, smallest first,
        until the bound exceeds the best bytes found: the rest cannot win."""
        if slots not in self._best:
            self._best[slots] = self._find_best(slots)
        return self._best[slots]

    def _find_best(self, slots: int):
        if self._choices is None:  # the same for both slot counts
            choices = self.choices()
            self._choices = choices, [self.least_traffic(kept) for kept in choices]
        choices, bounds = self._choices
        found = None  # ((bytes, tiles, -bytes of inputs kept), position, fit)
        for k in sorted(range(len(choices)), key=bounds.__getitem__):
            if found is not None and bounds[k] > found[0][0]:
                break
            f = self.fit(choices[k], slots)
            if f is not None and (found is None or (f[:3], k) < found[:2]):
                found = (f[:3], k, f)
        return None if found is None else found[2]

    def least_traffic(self, kept) -> int:
        """A lower bound of :meth:`traffic`'s total for any band height and weight chunks: every
        banded input read once at its cheapest height (0 when not every height is known)."""
        total = 0
        for t, moved in zip(self.model.reads, self.table.least_sums):
            stored = 0 if t in self.in_dram else self.sizes[t]
            total += self.sizes[t] - stored if t in kept else moved + stored
        for t in self.model.writes:
            if t in self.outputs or t not in kept:
                total += self.sizes[t] if t in self.outputs else 2 * self.sizes[t]
        return total

    def chunks(self, left: int, one_band: int) -> tuple[tuple[Chunk, ...], int] | None:
        """The weight chunks beside one single-band tile arena of ``one_band`` bytes in ``left``
        bytes, and the bytes their region takes (None if the band does not fit): as large as
        fit; when they come in several, at most half of ``left`` if one channel fits there."""
        need, room = self.need, self.room
        if one_band > left:
            return None
        if need.weight_bytes == 0:
            return (), 0
        budget = room.weight_buffer if room.weight_buffer is not None else left - one_band
        per_chunk = channels_per_chunk(need.weight_bytes, need.out_channels, budget, room.aligned)
        if room.weight_buffer is None and 0 < per_chunk < need.out_channels:
            per_chunk = channels_per_chunk(need.weight_bytes, need.out_channels, min(left // 2, left - one_band),
                                           room.aligned) or per_chunk
        if not per_chunk:
            return None
        if per_chunk not in self._chunk_plans:
            chunks = chunks_of(need.weight_bytes, need.out_channels, per_chunk)
            self._chunk_plans[per_chunk] = chunks, _region(chunks, room)
        return self._chunk_plans[per_chunk]

    def arena(self, banded: tuple[int, ...], height: int, slots: int) -> int:
        """Bytes of the tile slots of the ``banded`` tensors (positions in ``self.banded``)."""
        return slots * self.table.arena(self.alignment, banded, height)

    def fit(self, kept, slots: int):
        """(DRAM bytes, tiles, -bytes of inputs kept, bytes the layer itself moves, kept, height,
        chunks) of the tallest bands beside ``kept``; None if one band does not fit."""
        room = self.room
        banded = tuple(i for i, t in enumerate(self.banded) if t not in kept)
        left = room.sram - self.base(kept)
        plan = self.chunks(left, self.arena(banded, 1, slots))
        if plan is None:
            return None
        chunks, region = plan
        arena_room = left - (region if room.weight_buffer is None else 0)
        rows = self.model.rows
        tallest = tallest_band(lambda h: self.arena(banded, h, slots), arena_room, rows)
        count = -(-rows // tallest)
        height = -(-rows // count)  # as many bands as the tallest make, evened out: smaller tiles
        if self.arena(banded, height, slots) > arena_room:  # rows that straddle more of a tensor's rows
            height = tallest
        kept_reads = sum(self.sizes[t] for t in self.model.reads if t in kept)
        passes = max(len(chunks), 1)
        total, own = self.traffic(kept, height, passes)
        return total, -(-rows // height) * passes, -kept_reads, own, kept, height, chunks

    def traffic(self, kept, height: int, passes: int) -> tuple[int, int]:
        """Activation bytes the layer moves, and with the later reads of what it sends to DRAM: a
        banded input is read in bands once per weight chunk, halo rows again, and stored first
        unless DRAM holds it already; a banded output is written and read back (a graph output
        is written once either way); a kept input is loaded whole if only DRAM holds it."""
        sums = self.table.sums(height)
        own = later = 0
        for t, moved in zip(self.model.reads, sums):
            stored = 0 if t in self.in_dram else self.sizes[t]
            if t in kept:
                own += self.sizes[t] - stored  # loaded whole if only DRAM holds it
            else:
                own += passes * moved + stored
        for t in self.model.writes:
            if t in self.outputs or t not in kept:
                own += self.sizes[t]  # a graph output goes out, in bands or whole
                later += self.sizes[t] if t not in self.outputs else 0
        return own + later, own

    def one_tile(self) -> int:
        """Bytes one single-buffered band of every banded tensor needs beside the whole ones."""
        need = self.need
        weights = (self.room.aligned(-(-need.weight_bytes // need.out_channels))
                   if self.room.weight_buffer is None and need.weight_bytes else 0)
        return self.base(frozenset()) + self.arena(tuple(range(len(self.banded))), 1, 1) + weights
