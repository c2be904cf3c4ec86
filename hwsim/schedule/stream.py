"""A streamed layer: row bands through DRAM (how bands are cut: ``bands``; when, which
operands stay resident and how many tile slots: ``tiling``).

1. Every banded input that is resident but not in DRAM yet is stored first: it does not
   fit beside the bands, and they are read from DRAM. Such a store is forced by the
   streamed layer, so it is streamed traffic (``streamed_write``, cause ``streamed``; read
   back later as ``streamed_read``), never a spill. (A piece whose resident life ended
   before a streamed layer reads it in bands is stored the same way when it is freed.)
   Inputs the mode keeps resident are read in place: no store, no band loads.
2. The tensors needed whole and those the mode keeps resident are made resident as for a
   whole layer (loaded whole if only DRAM holds them), and one *arena* is reserved in SRAM
   for the tile buffers (``slots`` per banded tensor, each sized for its largest band),
   plus the weight chunk when weights share the SRAM.
3. The tiles (for each weight chunk, each band) run in order, all of them one ``tiles``
   command whose :class:`~hwsim.schedule.plan.TileRun` says what each tile moves and
   computes (per-tile figures, not commands: the plan grows with layers, not bands; it
   allocates the arena and the outputs written in place, and a ``free`` after it releases
   the arena). What the run stands for, lowered by ``hwsim.schedule.expand`` for the
   numerics check and the tests, and timed in bulk by ``hwsim.sim.pipeline``: tile ``k``'s buffers are
   ``<tensor>@tile<k>/L<layer>`` (typed: ``Buffer.tensor``, ``Buffer.tile``) in slot ``k % slots``
   of their tensor. With two slots the bands of every banded input for tile ``k + 1`` are
   loaded (halo rows included: ``streamed_read``, or ``input`` for the network input,
   ``host_read`` for a host op's output)
   before compute ``k`` in program order and into the other slot, so the DMA runs while
   tile ``k`` computes; a slot is reused only after the tile that used it two tiles before
   is freed (the program's address dependencies). With one slot, a tile's loads come
   right before its compute. After compute ``k`` its input tiles are freed and every
   banded output's band is stored from its tile (``streamed_write``, or ``output`` for a
   graph output) and freed, so with two slots that store overlaps compute ``k + 1``. Every
   tile transfer has cause ``streamed``. A weight chunk is loaded when its first tile comes
   up, after the previous chunk is freed.
4. A banded output is then in DRAM only; a later reader loads it (``streamed_read``),
   after the whole run (the run is its one writer).
   Outputs kept resident are written by the tiles in place and stay resident.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from hwsim.schedule.alike import remembered
from hwsim.schedule.band_table import band_table
from hwsim.schedule.chunks import Chunk
from hwsim.schedule.memory import DramCopy
from hwsim.schedule.plan import BandStream, Buffer, TileRun
from hwsim.schedule.tiling import Mode

if TYPE_CHECKING:
    from hwsim.schedule.context import Context
    from hwsim.schedule.walk import Walk


def _arena_layout(walk: "Walk", mode: Mode) -> tuple[dict[str, tuple[int, ...]], int, int]:
    """Offsets of each banded tensor's tile slots in the arena, the weight chunk's offset, the
    arena's bytes."""
    offsets, at, total = _arena(walk.mem.sram, mode, walk.mem.weights is None)
    # each layer's own tuples, as each layer made them (a plan pickled shares no more objects)
    return {name: tuple(slots) for name, slots in zip(mode.band_reads + mode.band_writes, offsets)}, at, total


def _arena(sram, mode: Mode, shared: bool) -> tuple[tuple[list[int], ...], int, int]:
    """:func:`_arena_layout` with the offsets in the order of the banded tensors (reads, then
    writes: distinct names, a layer never reads what it writes): it reads their tile bytes in
    that order, the slots, the weight region, ``sram``'s alignment and whether weights share
    the SRAM only, so the layers alike (``mode.alike``: the same tile bytes by position, slots
    and region) share it per alignment and sharing."""
    key = (sram.alignment, shared)
    found = mode.alike.arenas.get(key) if mode.alike is not None else None
    if found is None:
        offsets, at = [], 0
        for name in mode.band_reads + mode.band_writes:
            slots = []
            for _ in range(mode.slots):
                slots.append(at)
                if mode.tile_bytes[name]:
                    at += sram.aligned(mode.tile_bytes[name])
            offsets.append(slots)
        found = tuple(offsets), at, at + (mode.weight_region if shared else 0)
        if mode.alike is not None:
            mode.alike.arenas[key] = found
    return found


def run_streamed(walk: "Walk", t: int) -> int:
    """Emit layer ``t`` as one ``tiles`` command (its :class:`TileRun`); returns its tile count."""
    ctx, mem = walk.ctx, walk.mem
    mode = ctx.modes[t]
    for name in mode.band_reads:
        for p in ctx.layout.covers[name]:
            mem.clean(p, t, t, "streamed")
    offsets, weight_offset, arena_bytes = _arena_layout(walk, mode)
    arena = f"tiles:{ctx.graph.layers[t].name}"
    walk.setup(t, mode, ((arena, arena_bytes),) if arena_bytes else ())
    run = tile_run(walk, t, offsets, weight_offset)
    outs = tuple(mem.produce(p) for p in mode.resident_writes)
    allocs = ((Buffer(arena, mem.sram.address(arena), mem.sram.aligned(arena_bytes), role="arena"),) if arena_bytes else ())
    if run.weight_space == "weights" and run.weight_size:
        allocs += (Buffer(run.weight_block, run.weight_at, run.weight_size, "weights", "weights"),)
    writers = {w for s in run.reads for p in ctx.layout.covers[s.tensor] for w in mem.dram[p].writers}
    moves = run.moves()  # each stream's bytes summed once (then the weights'), as the program sums them too
    for tensor, _, nbytes in moves[:len(run.reads) + len(run.writes)]:
        mem.count(tensor, nbytes)
    cid = walk.program.emit("tiles", t, deps=writers, allocs=allocs + outs,
                            reads=run.resident, cycles=sum(run.cycles), tensor=ctx.graph.layers[t].name,
                            dram_bytes=sum([nbytes for _, _, nbytes in moves]), cause="streamed", run=run)
    for name in mode.band_writes:
        mem.dram[name] = DramCopy("streamed", (cid,))
    if allocs:
        walk.program.free(t, allocs)
    if arena_bytes:
        mem.sram.free(arena)
    walk.notes.append(f"layer {ctx.graph.layers[t].name!r}: streamed in {run.tiles} tiles {_cut(mode)}")
    return run.tiles


def _cut(mode: Mode) -> str:
    """How ``mode`` cuts its layer, for the walk's note: its bands, weight chunks and slots (the
    same for the layers alike: ``mode.alike``, where it is kept once made)."""
    found = mode.alike.note if mode.alike is not None else None
    if found is None:
        found = (f"({len(mode.bands)} bands of {mode.bands[0][1] - mode.bands[0][0]} rows"
                 f"{f', {len(mode.chunks)} weight chunks' if len(mode.chunks) > 1 else ''}"
                 f"{', double-buffered' if mode.slots > 1 else ''})")
        if mode.alike is not None:
            mode.alike.note = found
    return found


def _banded(ctx: Context, t: int) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """The tensors streamed layer ``t``'s band model bands (reads, then writes) and their bytes."""
    model, layout = ctx.modes[t].model, ctx.layout
    banded = tuple(model.reads) + tuple(model.writes)
    return banded, tuple(sum(layout.piece_bytes[p] for p in layout.covers[n]) for n in banded)


def moved_per_band(ctx: Context, t: int) -> dict[str, np.ndarray]:
    """DRAM bytes of each tensor that streamed layer ``t`` bands, band by band (the band table
    ``tiling`` chose its bands by)."""
    mode, (banded, sizes) = ctx.modes[t], _banded(ctx, t)
    table = band_table(ctx.graph, t, banded, sizes)
    return dict(zip(banded, table.moved(mode.bands[0][1] - mode.bands[0][0])))


def band_bytes(ctx: Context, t: int) -> int:
    """The DRAM bytes of streamed layer ``t``'s bands (its :class:`TileRun`'s streams): every
    band read once per weight chunk, every band written once (the chunks' shares of its
    channels add up to it). Fixed by the layer's mode: no walk moves them differently."""
    mode, moved = ctx.modes[t], moved_per_band(ctx, t)
    reads = sum(int(moved[n].sum()) for n in mode.band_reads) * max(1, len(mode.chunks))
    return reads + sum(int(moved[n].sum()) for n in mode.band_writes)


def tile_run(walk: "Walk", t: int, offsets: dict[str, tuple[int, ...]], weight_offset: int) -> TileRun:
    """The tiles of streamed layer ``t``: bytes per tile of every banded tensor, cycles per tile."""
    ctx, mem, mode = walk.ctx, walk.mem, walk.ctx.modes[t]
    model = mode.model
    chunks = mode.chunks or (Chunk(0, 1, 0),)
    channels = mode.out_channels if mode.chunks else 1
    kinds = _kinds(ctx)
    cycles, moved = _tile_figures(ctx, t, chunks, channels)
    aligned, tile_bytes = mem.sram.aligned, mode.tile_bytes
    streams = [BandStream(name, kinds.get(name) or _kind(ctx, name), nbytes, offsets[name], aligned(tile_bytes[name]))
               for name, nbytes in zip(mode.band_reads, moved)]
    streams += [BandStream(name, "output" if name in ctx.outputs else "streamed_write", nbytes, offsets[name],
                           aligned(tile_bytes[name])) for name, nbytes in zip(mode.band_writes, moved[len(streams):])]
    reads, writes = streams[:len(mode.band_reads)], streams[len(mode.band_reads):]
    chunk_bytes = tuple(c.nbytes for c in chunks) if mode.chunks else ()
    block, space, at = ctx.block(t), mem.weight_space(), weight_offset
    if mem.weights is not None and sum(chunk_bytes):
        at = mem.weights.address(block)
    weight_size = mem.weight_allocator().aligned(max(chunk_bytes)) if sum(chunk_bytes) else 0
    return TileRun(t, mode.bands, mode.slots, cycles, tuple(reads), tuple(writes),
                   tuple(mem.present[p].name for p in mode.resident_reads),
                   block if sum(chunk_bytes) else None, chunk_bytes, at, space, weight_size,
                   tuple((c.first, c.end) for c in chunks), channels, mode.resident_writes, model)


def _kinds(ctx: "Context") -> dict[str, str]:
    """The traffic kind of each tensor read in bands so far in ``ctx`` (``_kind``; in ``Context.alike``)."""
    found = ctx.alike.get("kinds")
    if found is None:
        found = ctx.alike["kinds"] = {}
    return found


def _kind(ctx: "Context", name: str) -> str:
    """The traffic kind of reading ``name`` in bands: ``input`` when the network input holds it,
    ``host_read`` when host ops sent it to DRAM, else ``streamed_read`` (kept in ``_kinds``)."""
    found = ctx.alike.get("sources")
    if found is None:
        found = ctx.alike["sources"] = ({ctx.graph.root(i) for i in ctx.graph.inputs},
                                        {p for u in ctx.host_cycles for n in ctx.modes[u].band_writes
                                         for p in ctx.layout.covers[n]})
    inputs, hosted = found
    pieces = set(ctx.layout.covers[name])
    kind = _kinds(ctx)[name] = "input" if pieces <= inputs else "host_read" if pieces <= hosted else "streamed_read"
    return kind


def _tile_figures(ctx: "Context", t: int, chunks: tuple[Chunk, ...], channels: int):
    """Streamed layer ``t``'s cycles per tile, and the DRAM bytes per tile of each tensor it bands
    (reads, then writes: a chunk's share of a written band's channels), as tuples. They depend
    on its compute cycles, bands, chunks, and the row maps and bytes of the tensors it bands,
    not on their names: the layers alike in this problem (a network's repeated blocks) share
    them (``Context.alike``, by all of that; the graph remembers them for its other contexts:
    ``alike.remembered``). The layers whose modes share the rest (``mode.alike``: the likeness,
    so the row maps and bytes by position, and the bands, chunks and positions banded) find
    them there per output channels and compute cycles, sparing the key of all of it; each such
    share takes them from ``Context.alike`` once, so the layers get the very tuples they got
    before it was kept (a plan pickles the same)."""
    mode = ctx.modes[t]
    if mode.alike is not None:
        key = (channels, ctx.costs[t].cycles)
        found = mode.alike.figures.get(key)
        if found is None:
            found = mode.alike.figures[key] = _shared_figures(ctx, t, chunks, channels)
        return found
    return _shared_figures(ctx, t, chunks, channels)


def _shared_figures(ctx: "Context", t: int, chunks: tuple[Chunk, ...], channels: int):
    """:func:`_tile_figures` shared per everything they depend on (``Context.alike``)."""
    mode = ctx.modes[t]
    model = mode.model
    banded, sizes = _banded(ctx, t)
    place = {n: i for i, n in enumerate(banded)}
    key = ("tile_figures", tuple(model.reads.values()), tuple(model.writes.values()), sizes, mode.bands, mode.rows,
           chunks, channels, ctx.costs[t].cycles, tuple(place[n] for n in mode.band_reads + mode.band_writes))
    found = ctx.alike.get(key)
    if found is None:  # the key names all they depend on: remembered on the graph for its other contexts
        found = ctx.alike[key] = remembered(ctx.graph, "tile_figures", key,
                                            lambda: _work_out_figures(ctx, t, chunks, channels))
    return found


def _work_out_figures(ctx: "Context", t: int, chunks: tuple[Chunk, ...], channels: int):
    """``_tile_figures`` worked out for layer ``t``: each tile's share of its cycles, and each
    banded tensor's bytes per band once per chunk."""
    mode, total = ctx.modes[t], ctx.costs[t].cycles
    height, rows = mode.bands[0][1] - mode.bands[0][0], mode.rows
    o0 = np.arange(0, rows, height, dtype=np.int64)
    o1 = np.minimum(o0 + height, rows)
    if len(chunks) == 1:
        first, end, each = chunks[0].first, chunks[0].end, lambda a: a
    else:
        first = np.repeat(np.array([c.first for c in chunks], dtype=np.int64), len(o0))
        end = np.repeat(np.array([c.end for c in chunks], dtype=np.int64), len(o0))

        def each(a):  # per tile: every band once per chunk
            return np.tile(a, len(chunks))
    lo, hi = first * rows + (end - first) * each(o0), first * rows + (end - first) * each(o1)
    den = channels * rows
    cycles = (-(-total * hi // den)) - (-(-total * lo // den))
    moved = moved_per_band(ctx, t)
    figures = [tuple(each(moved[name]).tolist()) for name in mode.band_reads]
    for name in mode.band_writes:
        band = each(moved[name])
        share = band if len(chunks) == 1 and (first, end) == (0, channels) else \
            band * end // channels - band * first // channels  # a chunk's share of the channels
        figures.append(tuple(share.tolist()))
    return tuple(cycles.tolist()), tuple(figures)
