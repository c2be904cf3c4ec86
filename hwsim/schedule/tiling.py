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
DRAM (see ``bands``): tensors needed whole stay resident, the others move in tiles of the
largest band that fits. With weights in chunks, every chunk streams all the bands again
(output-channel blocking: the input is re-read once per chunk, the weights once). When
weights share the SRAM and do not fit beside a one-band tile, their chunks get at most
half of the room left by the whole tensors and never more than a one-band tile leaves
(all that it leaves when half cannot hold one output channel); the bands get the rest. If even one band cannot fit, :class:`~hwsim.errors.UserError` names the
layer and the bytes it needs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from hwsim.errors import UserError
from hwsim.graph.ir import Graph
from hwsim.schedule.bands import BandModel, band_model, bands
from hwsim.schedule.storage import Layout, LayerNeed


@dataclass(frozen=True)
class Chunk:
    first: int  # first output channel
    end: int  # one past the last
    nbytes: int


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
    tile_bytes: dict[str, int] = field(default_factory=dict)  # banded tensor -> tile buffer bytes


def plan_chunks(weight_bytes: int, channels: int, budget: int,
                aligned: Callable[[int], int]) -> tuple[Chunk, ...] | None:
    """Weight chunks of whole output channels, each (aligned) within ``budget``; None if one
    channel does not fit; () without weights."""
    if weight_bytes == 0:
        return ()
    if aligned(weight_bytes) <= budget:
        return (Chunk(0, channels, weight_bytes),)
    lo, hi = 0, channels
    while lo < hi:  # most channels per chunk whose bytes fit
        mid = (lo + hi + 1) // 2
        if aligned(-(-weight_bytes * mid // channels)) <= budget:
            lo = mid
        else:
            hi = mid - 1
    if lo == 0:
        return None
    return tuple(
        Chunk(k0, min(k0 + lo, channels),
              weight_bytes * min(k0 + lo, channels) // channels - weight_bytes * k0 // channels)
        for k0 in range(0, channels, lo)
    )


@dataclass(frozen=True)
class Room:
    """What a layer may use: SRAM bytes, the weight buffer (None when shared), alignment."""

    sram: int
    weight_buffer: int | None
    aligned: Callable[[int], int]


def choose_mode(g: Graph, index: int, need: LayerNeed, layout: Layout, room: Room, beside: int = 0) -> Mode:
    """Whole, chunked or streamed (the module docstring), for layer ``index``; ``beside``: bytes
    of the other storages live across it, which its weights are chunked to leave resident."""
    base = sum(room.aligned(layout.storages[s].nbytes) for s in need.storages)
    budget = room.weight_buffer if room.weight_buffer is not None else room.sram - base
    if base <= room.sram:
        chunks = None
        if room.weight_buffer is None and beside:  # leave what is live across the layer resident
            chunks = plan_chunks(need.weight_bytes, need.out_channels, budget - beside, room.aligned) \
                or plan_chunks(need.weight_bytes, need.out_channels, budget // 8, room.aligned)
        chunks = chunks if chunks is not None else plan_chunks(need.weight_bytes, need.out_channels, budget,
                                                               room.aligned)
        if chunks is not None:
            return Mode(False, chunks, need.out_channels, _region(chunks, room), need.reads, need.writes)
        if room.weight_buffer is not None:
            raise UserError(f"layer {g.layers[index].name!r} needs more than the weight buffer's "
                            f"{room.weight_buffer:,} B for one output channel of weights")
    return _streamed(g, index, need, layout, room)


def _region(chunks: tuple[Chunk, ...], room: Room) -> int:
    return max((room.aligned(c.nbytes) for c in chunks), default=0)


def _streamed(g: Graph, index: int, need: LayerNeed, layout: Layout, room: Room) -> Mode:
    name = g.layers[index].name
    model = band_model(g, index)
    if model is None:
        total = sum(room.aligned(layout.storages[s].nbytes) for s in need.storages)
        raise UserError(f"layer {name!r} needs {total:,} B at once and cannot be tiled, "
                        f"SRAM is {room.sram:,} B")
    whole_reads = tuple(dict.fromkeys(p for t in model.whole_reads for p in layout.covers[t]))
    whole_writes = tuple(w for w in model.whole_writes if not layout.is_alias(w))
    storages = dict.fromkeys(layout.storage_of[p] for p in whole_reads + whole_writes)
    base = sum(room.aligned(layout.storages[s].nbytes) for s in storages)
    sizes = {t: sum(layout.piece_bytes[p] for p in layout.covers[t]) for t in (*model.reads, *model.writes)}

    tiles: dict[int, dict[str, int]] = {}  # height -> tile bytes of each banded tensor

    def arena(height: int) -> int:
        if height not in tiles:
            tiles[height] = model.tile_sizes(sizes, height)
        return sum(room.aligned(b) for b in tiles[height].values() if b)

    left = room.sram - base
    chunks = _streamed_chunks(need, room, left, arena(1))
    if chunks is None:
        one = base + arena(1) + (room.aligned(-(-need.weight_bytes // need.out_channels))
                                 if room.weight_buffer is None and need.weight_bytes else 0)
        raise UserError(f"layer {name!r} needs {one:,} B for one tile, SRAM is {room.sram:,} B")
    region = _region(chunks, room)
    arena_room = left - (region if room.weight_buffer is None else 0)
    height = _tallest(arena, arena_room, model.rows)
    return Mode(True, chunks, need.out_channels, region, whole_reads, whole_writes,
                tuple(model.reads), tuple(model.writes), tuple(bands(model.rows, height)), model.rows, model,
                tiles[height])


def _tallest(arena: Callable[[int], int], room: int, rows: int) -> int:
    """The tallest band height ``h`` in [1, rows] with ``arena(h) <= room`` (``arena(1)`` fits).

    ``arena`` grows with ``h`` nearly linearly (a taller band needs a bigger tile, up to the
    rounding of rows between tensors of different heights): start from the straight line
    through ``h = 1`` and ``h = rows``, probe it, then bisect the bracket, so a handful of
    evaluations suffice. Whatever ``h`` is returned, its tile fits (it was evaluated).
    """
    full = arena(rows)
    if full <= room:
        return rows
    one = arena(1)
    guess = 1 + (room - one) * (rows - 1) // max(full - one, 1)
    lo, hi = 1, rows - 1  # arena(lo) fits, arena(hi + 1) does not
    for probe in (guess, guess + 1):
        if lo <= probe <= hi:
            if arena(probe) <= room:
                lo = probe
            else:
                hi = probe - 1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if arena(mid) <= room:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _streamed_chunks(need: LayerNeed, room: Room, left: int, one_band: int) -> tuple[Chunk, ...] | None:
    if one_band > left:
        return None
    if room.weight_buffer is not None:
        return plan_chunks(need.weight_bytes, need.out_channels, room.weight_buffer, room.aligned)
    whole = plan_chunks(need.weight_bytes, need.out_channels, left - one_band, room.aligned)
    if whole is None or len(whole) <= 1:
        return whole
    halved = plan_chunks(need.weight_bytes, need.out_channels, min(left // 2, left - one_band), room.aligned)
    return halved if halved is not None else whole
