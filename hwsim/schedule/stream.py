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
3. The tiles (for each weight chunk, each band) run in order. Tile ``k``'s buffers are
   ``<tensor>@tile<k>`` (typed: ``Buffer.tensor``, ``Buffer.tile``) in slot ``k % slots``
   of their tensor. With two slots the bands of every banded input for tile ``k + 1`` are
   loaded (halo rows included: ``streamed_read``, or ``input`` for the network input)
   before compute ``k`` in program order and into the other slot, so the DMA runs while
   tile ``k`` computes; a slot is reused only after the tile that used it two tiles before
   is freed (the program's address dependencies). With one slot, a tile's loads come
   right before its compute. After compute ``k`` its input tiles are freed and every
   banded output's band is stored from its tile (``streamed_write``, or ``output`` for a
   graph output) and freed, so with two slots that store overlaps compute ``k + 1``. Every
   tile transfer has cause ``streamed``. A weight chunk is loaded when its first tile comes
   up, after the previous chunk is freed.
4. A banded output is then in DRAM only; a later reader loads it (``streamed_read``).
   Outputs kept resident are written by the tiles in place and stay resident.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hwsim.schedule.cost import split_cycles
from hwsim.schedule.memory import DramCopy
from hwsim.schedule.plan import Buffer
from hwsim.schedule.tiling import Chunk, Mode

if TYPE_CHECKING:
    from hwsim.schedule.scheduler import Walk


def _arena_layout(walk: "Walk", mode: Mode) -> tuple[dict[str, tuple[int, ...]], int, int]:
    """Offsets of each banded tensor's tile slots in the arena, the weight chunk's offset, the
    arena's bytes."""
    aligned = walk.mem.sram.aligned
    offsets, at = {}, 0
    for name in mode.band_reads + mode.band_writes:
        slots = []
        for _ in range(mode.slots):
            slots.append(at)
            if mode.tile_bytes[name]:
                at += aligned(mode.tile_bytes[name])
        offsets[name] = tuple(slots)
    shared = walk.mem.weights is None
    return offsets, at, at + (mode.weight_region if shared else 0)


def run_streamed(walk: "Walk", t: int) -> int:
    """Emit layer ``t`` band by band; returns the number of tiles (computes)."""
    ctx, mem = walk.ctx, walk.mem
    mode = ctx.modes[t]
    for name in mode.band_reads:
        for p in ctx.layout.covers[name]:
            mem.clean(p, t, t, "streamed")
    offsets, weight_offset, arena_bytes = _arena_layout(walk, mode)
    arena = f"tiles:{ctx.graph.layers[t].name}"
    walk.setup(t, mode, ((arena, arena_bytes),) if arena_bytes else ())
    base = mem.sram.address(arena) if arena_bytes else 0
    state = _Tiles(walk, t, mode, base, offsets)
    tiles = [(c, chunk, band) for c, chunk in enumerate(mode.chunks or (Chunk(0, 1, 0),)) for band in mode.bands]
    ahead = mode.slots > 1  # band k + 1 loads into the other slot while band k computes
    loaded = state.load_band(0, *tiles[0][2]) if ahead else []
    weight = None
    for k, (c, chunk, (o0, o1)) in enumerate(tiles):
        if k == 0 or c != tiles[k - 1][0]:
            if weight is not None:
                walk.program.emit("free", t, frees=(weight,))
            weight = state.load_chunk(c, chunk, base + weight_offset)
        if not ahead:
            loaded = state.load_band(k, o0, o1)
        following = state.load_band(k + 1, *tiles[k + 1][2]) if ahead and k + 1 < len(tiles) else []
        state.tile(chunk, weight, o0, o1, loaded)
        loaded = following
    if weight is not None:
        walk.program.emit("free", t, frees=(weight,))
    for name, stores in state.stores.items():
        stores.sort()
        mem.dram[name] = DramCopy("streamed", tuple(sid for _, _, sid in stores), tuple(lo for lo, _, _ in stores),
                                  tuple(hi for _, hi, _ in stores), mode.model.writes[name].rows)
    if arena_bytes:
        mem.sram.free(arena)
    walk.notes.append(f"layer {ctx.graph.layers[t].name!r}: streamed in {state.count} tiles "
                      f"({len(mode.bands)} bands of {mode.bands[0][1] - mode.bands[0][0]} rows"
                      f"{f', {len(mode.chunks)} weight chunks' if len(mode.chunks) > 1 else ''}"
                      f"{', double-buffered' if ahead else ''})")
    return state.count


class _Tiles:
    """Emits the tiles of one streamed layer."""

    def __init__(self, walk: "Walk", t: int, mode: Mode, base: int, offsets: dict[str, int]):
        self.walk, self.t, self.mode, self.base, self.offsets = walk, t, mode, base, offsets
        self.mem, self.program = walk.mem, walk.program
        self.outs = tuple(self.mem.produce(p) for p in mode.resident_writes)
        self.reads = tuple(self.mem.present[p].name for p in mode.resident_reads)
        self.sizes = {n: sum(walk.ctx.layout.piece_bytes[p] for p in walk.ctx.layout.covers[n])
                      for n in mode.band_reads + mode.band_writes}
        inputs = {walk.ctx.graph.root(i) for i in walk.ctx.graph.inputs}
        layout = walk.ctx.layout
        self.read_traffic = {n: "input" if set(layout.covers[n]) <= inputs else "streamed_read"
                             for n in mode.band_reads}
        self.write_traffic = {n: "output" if n in walk.ctx.outputs else "streamed_write" for n in mode.band_writes}
        self.stores: dict[str, list[tuple[int, int, int]]] = {n: [] for n in mode.band_writes}  # (lo, hi, store)
        self.count = 0

    def load_chunk(self, c: int, chunk: Chunk, address: int) -> Buffer | None:
        if not chunk.nbytes:
            return None
        mem, block = self.mem, self.walk.ctx.block(self.t)
        if mem.weights is not None:
            address = mem.weights.address(block)
        name = block if len(self.mode.chunks) == 1 else f"{block}@chunk{c}"
        space = mem.weight_space()
        buffer = Buffer(name, address, mem.weight_allocator().aligned(chunk.nbytes), space)
        mem.dma("load", self.t, name, chunk.nbytes, "weights", "weights", allocs=(buffer,),
                tile=c if len(self.mode.chunks) > 1 else None)
        return buffer

    def _band(self, name: str, o0: int, o1: int) -> int:
        return self.mode.model.band_bytes(name, self.sizes[name], o0, o1)

    def _writers(self, name: str, o0: int, o1: int) -> tuple[int, ...]:
        """The stores that wrote the rows of ``name`` this band reads: those overlapping the band
        (for a concat in place, each piece's same rows when the band runs across the concat
        axis; all of them otherwise)."""
        layout, model, dram = self.walk.ctx.layout, self.mode.model, self.mem.dram
        pieces = layout.covers[name]
        span = model.band_rows(name, o0, o1)
        axis = model.band_axis(name)
        if len(pieces) == 1 or (axis >= 0 and axis != layout.concat_axis.get(name, axis)):
            return tuple(w for p in pieces for w in dram[p].writers_of(*span))
        return tuple(w for p in pieces for w in dram[p].writers)

    def tile(self, chunk: Chunk, weight: Buffer | None, o0: int, o1: int, loaded: list[Buffer]) -> None:
        """Compute the band from its loaded input tiles, store its outputs, free the tile buffers."""
        written = self._band_outputs(chunk, o0, o1)
        rows, channels = self.mode.rows, (self.mode.out_channels if self.mode.chunks else 1)
        cycles = split_cycles(self.walk.ctx.costs[self.t].cycles, chunk.first * rows + (chunk.end - chunk.first) * o0,
                              chunk.first * rows + (chunk.end - chunk.first) * o1, channels * rows)
        allocs = tuple(b for _, _, b in written) + (self.outs if self.count == 0 else ())
        reads = tuple(b.name for b in loaded) + self.reads + ((weight.name,) if weight else ())
        cid = self.program.emit("compute", self.t, allocs=allocs, reads=reads, cycles=cycles, tile=self.count)
        for o in self.outs if self.count else ():
            self.program.wrote(o.name, cid)
        if loaded:
            self.program.emit("free", self.t, frees=tuple(loaded))
        for name, nbytes, buffer in written:
            sid = self.mem.dma("store", self.t, name, nbytes, self.write_traffic[name], "streamed",
                               reads=(buffer.name,), tile=self.count)
            lo, hi, _ = self.mode.model.band_rows(name, o0, o1)
            self.stores[name].append((lo, hi, sid))
            self.program.emit("free", self.t, frees=(buffer,))
        self.count += 1

    def _slot(self, name: str, tile: int, nbytes: int) -> Buffer:
        """The tile buffer of ``name`` for tile ``tile``: slot ``tile % slots`` of its tile slots."""
        slots = self.offsets[name]
        return Buffer(f"{name}@tile{tile}", self.base + slots[tile % len(slots)], self.mem.sram.aligned(nbytes),
                      tensor=name, tile=tile)

    def load_band(self, tile: int, o0: int, o1: int) -> list[Buffer]:
        """Load tile ``tile``'s band (driver rows ``[o0, o1)``) of every banded input."""
        loaded = []
        for name in self.mode.band_reads:
            nbytes = self._band(name, o0, o1)
            if nbytes:
                buffer = self._slot(name, tile, nbytes)
                self.mem.dma("load", self.t, name, nbytes, self.read_traffic[name], "streamed",
                             deps=self._writers(name, o0, o1), allocs=(buffer,), tile=tile)
                loaded.append(buffer)
        return loaded

    def _band_outputs(self, chunk: Chunk, o0: int, o1: int) -> list[tuple[str, int, Buffer]]:
        """(tensor, bytes, tile buffer) of each banded output: this chunk's share of the band."""
        written = []
        channels = self.mode.out_channels if self.mode.chunks else 1
        for name in self.mode.band_writes:
            band = self._band(name, o0, o1)
            nbytes = band * chunk.end // channels - band * chunk.first // channels
            if nbytes:
                written.append((name, nbytes, self._slot(name, self.count, nbytes)))
        return written
