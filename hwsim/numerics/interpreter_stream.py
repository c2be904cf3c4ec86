"""A streamed layer in the plan interpreter: row bands through tile buffers and DRAM.

The plan's tile commands (its ``tiles`` command lowered by ``hwsim.schedule.expand``) carry
byte counts, not rows; the rows come from the band model the plan's
:class:`~hwsim.schedule.plan.TileRun` carries (the plan alone, no scheduler state), so the
interpreter moves exactly the rows the plan's bytes stand for and checks that the counts agree:

* a tile **load** gathers the band's rows of the tensor from its DRAM copy (halo rows
  included) and writes them, encoded, into the tile buffer;
* a tile **compute** reads every tile buffer it names back from SRAM into a fresh staging copy
  of that input (rows not in those buffers are NaN, even if an earlier tile loaded them), reads
  the layer's other inputs from SRAM, and computes the layer; it encodes the band's rows (and,
  with weight chunks, the chunk's output channels) of every banded output into its tile buffer.
  Outputs the layer keeps resident are assembled band by band and written at its last tile
  (one the band model does not band: computed on every row the tiles read). A band whose rows
  need input rows the plan did not load comes out NaN, so a band model that forgets a halo row
  fails the check;
* a tile **store** copies the tile buffer into those rows of the tensor's DRAM copy.

The layer is computed whole at a tile (on the staged inputs) and the band cut from it: simple
and exact; a tile whose inputs and weights are the same as the last computed one's reuses
its values. With weight chunks, the weight bytes of chunks not yet loaded are taken from the
weight image in DRAM (each chunk's own bytes are read from its SRAM buffer). A band of a
tensor held by several pieces (an in-place concatenation, a channel slice of a piece) moves
the band of every piece holding it, as the plan counts it. The band axis is the band model's
own; through a reshape, the axis of the root where the view's band axis starts.

A layer that reduces a value over the band axis and uses it on every band (a GRN's global
statistic) needs two passes; the band model folds them into one loop of tiles. The
interpreter follows that model: a first pass over the band inputs' DRAM copies computes the
reduced values, and the tiles use them.
"""

from __future__ import annotations

import math

import numpy as np

from hwsim.numerics.interpreter import InterpreterError, alias_value, compute_layer
from hwsim.schedule.chunks import Chunk
from hwsim.schedule.plan import Buffer, Command


def band_axis(shape: tuple[int, ...], rows: int, views: list[tuple[int, ...]] = ()) -> int | None:
    """The axis of a root of ``shape`` whose band of ``rows`` rows the band model measured, when it
    does not say which: through a reshape (one of ``views``) the band runs along the view's
    outermost axis of ``rows``, which starts where the root's axis starts (same product of the
    axes before it); otherwise H of a feature map, else the outermost axis of ``rows``."""
    for view in views:
        for a_v, n in enumerate(view):
            if n == rows:
                before = math.prod(view[:a_v])
                found = [a for a in range(len(shape)) if math.prod(shape[:a]) == before and shape[a] > 1]
                if found:
                    return found[0]
    if len(shape) == 4 and shape[2] == rows:
        return 2
    return next((a for a, n in enumerate(shape) if n == rows), None)


def to_rows(lo: int, hi: int, rows: int, size: int) -> tuple[int, int]:
    """Rows ``[lo, hi)`` of ``rows`` as the same share of an axis of ``size`` (a reshape may split or
    merge the band axis)."""
    if size == rows:
        return lo, hi
    return lo * size // rows, -(-hi * size // rows)


def _cut(axis: int, lo: int, hi: int, rank: int, channel: tuple[int, int, int] | None = None) -> tuple:
    index = [slice(None)] * rank
    index[axis] = slice(lo, hi)
    if channel is not None:
        index[channel[0]] = slice(channel[1], channel[2])
    return tuple(index)


class Stream:
    """The tiles of streamed layer ``t`` (created at its first tile command)."""

    def __init__(self, machine, t: int):
        run = machine.runs.get(t)
        if run is None:
            raise InterpreterError("a per-tile command of a layer the plan does not stream", t)
        self.m, self.t = machine, t
        self.graph = machine.graph
        self.run, self.model = run, run.model
        self.band_reads = tuple(s.tensor for s in run.reads)
        self.band_writes = tuple(s.tensor for s in run.writes)
        self.pieces = {n: machine.alias_of.get(n, (n,)) for n in self.band_reads}
        self.staged = {p: np.full(self.graph.tensor[p].shape, np.nan, np.float32)
                       for ps in self.pieces.values() for p in ps}
        self.seen = {p: v.copy() for p, v in self.staged.items()}
        self.resident: dict[str, np.ndarray] = {}  # resident output -> its rows made so far
        self.loaded: dict[str, list[tuple[str, tuple]]] = {}  # tile buffer -> [(piece, index)]
        self.views: dict[str, list[tuple[int, ...]]] = {}  # root -> shapes it is read through in the layer
        for op in (self.graph.op[n] for n in self.graph.layers[t].ops):
            for i in op.inputs:
                if self.graph.root(i) != i:
                    self.views.setdefault(self.graph.root(i), []).append(self.graph.tensor[i].shape)
        self.written = {n: np.full(self.graph.tensor[n].shape, np.nan, np.float32) for n in self.band_writes}
        reads = {machine.graph.root(i) for i in machine.io[t].reads}
        self.whole_reads = tuple(r for r in reads if r not in self.pieces)
        self.env: dict | None = None  # the layer's values at the last tile computed, and its whole inputs
        self.whole: dict = {}
        self.accumulated = self.model.accumulated
        self.first_pass: dict[str, np.ndarray] | None = None

    # ---- geometry ------------------------------------------------------------------------
    def band(self, tile: int) -> tuple[int, int]:
        return self.run.band(tile)

    def chunk(self, tile: int) -> Chunk:
        return Chunk(*self.run.channels[self.run.chunk(tile)], 0)

    def rows(self, name: str, tile: int) -> tuple[int, int, int]:
        """(axis, first row, end row) of ``name`` that tile ``tile`` moves."""
        maps = self.model.reads[name] if name in self.model.reads else (self.model.writes[name],)
        o0, o1 = self.band(tile)
        spans = [s for s in (m.span(o0, o1, self.model.rows) for m in maps) if s[1] > s[0]] or [(0, 0)]
        lo, hi, rows = min(s[0] for s in spans), max(s[1] for s in spans), maps[0].rows
        if len({m.rows for m in maps}) > 1:
            lo, hi, rows = 0, 1, 1  # maps of different row counts: the whole tensor, as the plan counts it
        shape = self.graph.tensor[name].shape
        axes = {getattr(m, "axis", -1) for m in maps}  # the model's own axis; -1: unknown (a reshape)
        axis = axes.pop() if len(axes) == 1 else -1
        if axis < 0:
            axis = band_axis(shape, rows, self.views.get(name, []))
        if axis is None:
            raise InterpreterError(f"cannot find the band axis of {name!r} ({rows} rows)", self.t)
        return (axis, *to_rows(lo, hi, rows, shape[axis]))

    def piece_rows(self, name: str, tile: int) -> list[tuple[str, tuple]]:
        """(piece, index) of the rows tile ``tile`` moves of each piece holding ``name``: the plan
        moves a band of every piece that holds a tensor (a channel slice moves its whole piece's rows)."""
        axis, lo, hi = self.rows(name, tile)
        shape = self.graph.tensor[name].shape
        pieces = self.pieces.get(name, (name,))
        if pieces == (name,):
            return [(name, _cut(axis, lo, hi, len(shape)))]
        op = self.graph.op[self.graph.producer[name]]
        if op.kind == "concat" and int(op.attrs["axis"]) % len(shape) == axis:
            found, at = [], 0
            for i in op.inputs:
                p, extent = self.graph.root(i), self.graph.tensor[i].shape[axis]
                if p in pieces and max(lo, at) < min(hi, at + extent):
                    found.append((p, _cut(axis, max(lo, at) - at, min(hi, at + extent) - at, len(shape))))
                at += extent
            return found
        if all(self.graph.tensor[p].shape[axis:axis + 1] == shape[axis:axis + 1]
               and len(self.graph.tensor[p].shape) == len(shape) for p in pieces):
            return [(p, _cut(axis, lo, hi, len(shape))) for p in pieces]
        raise InterpreterError(f"the numerics interpreter cannot cut bands of {name!r} from its pieces "
                               f"{list(pieces)}", self.t)

    def _check_bytes(self, what: str, name: str, got: int, planned: int) -> None:
        if got != planned:
            raise InterpreterError(f"tile {what} of {name!r}: the plan moves {planned} B, "
                                   f"the band's rows hold {got} B", self.t)

    # ---- commands --------------------------------------------------------------------------
    def load_tile(self, cmd: Command, b: Buffer) -> None:
        parts = self.piece_rows(cmd.tensor, cmd.tile)
        raws = [self.m.codecs[p].encode(self.dram_piece(p)[index]) for p, index in parts]
        raw = np.concatenate(raws) if raws else np.zeros(0, np.uint8)
        self._check_bytes("load", cmd.tensor, raw.size, cmd.dram_bytes)
        self.m.mem.write(b.space, b.address, raw)
        self.loaded[b.name] = parts

    def dram_piece(self, piece: str) -> np.ndarray:
        raw, found = self.m.mem.dram_read(piece, self.m.nbytes(piece))
        if not found:
            self.m.note(f"reads a band of {piece!r}, which DRAM does not hold: poison")
        return self.m.codecs[piece].decode(raw, self.graph.tensor[piece].shape)

    def compute_tile(self, cmd: Command) -> None:
        m, tile = self.m, cmd.tile or 0
        changed = m.gather_weights(cmd, initial=m.image(self.t).raw)
        # the tile sees only the rows in the tile buffers it reads: rows of earlier bands, even if
        # some slot still holds them, are NaN unless this command lists their buffer
        staged = {p: np.full(v.shape, np.nan, np.float32) for p, v in self.staged.items()}
        for name in cmd.reads:
            if name in self.loaded:
                self._stage(name, staged)
        changed = changed or not all(np.array_equal(staged[p], self.staged[p], equal_nan=True) for p in staged)
        self.staged = staged
        for p, v in staged.items():  # every row the tiles have read so far (for outputs not written in bands)
            np.copyto(self.seen[p], v, where=~np.isnan(v))
        m.operands = set(cmd.reads)
        try:
            whole = {root: m.tensor_value(root) for root in self.whole_reads}
        finally:
            m.operands = None
        if not changed and self.env is not None and all(np.array_equal(whole[r], self.whole[r], equal_nan=True)
                                                        for r in whole):
            env = self.env  # same inputs and weights as the last tile computed: same layer values
        else:
            read = lambda root: self._read(root, whole)  # noqa: E731
            env = compute_layer(self.graph, self.t, read, m.params(self.t).__getitem__, self.accumulate(whole))
            self.env, self.whole = env, whole
        for name in self.band_writes:
            self._write_band(cmd, tile, name, env[name])
        for name in self.run.resident_writes:
            if name in self.model.writes:  # a resident output made band by band: this tile's rows
                index = self.out_index(name, tile)
                self.resident.setdefault(name, np.full(env[name].shape, np.nan, np.float32))[index] = env[name][index]
        if tile == self.m.plan.layers[self.t].tiles - 1:
            values = {n: v.copy() for n, v in self.written.items()}
            values.update({w: m.write_piece(w, self.resident_value(w, whole)) for w in self.run.resident_writes})
            m.result.layer_values[self.t] = values
            m.staged.pop(self.t, None)

    def resident_value(self, name: str, whole: dict[str, np.ndarray]) -> np.ndarray:
        """A resident output at the last tile: its rows as the tiles made them, or (an output not made
        in bands) the layer computed on every row the tiles read."""
        if name in self.resident:
            return self.resident[name]
        read = lambda root: (alias_value(self.graph, root, self.seen.__getitem__, self.m.alias_of)  # noqa: E731
                             if root in self.m.alias_of else self.seen[root]) if root in self.pieces else whole[root]
        return compute_layer(self.graph, self.t, read, self.m.params(self.t).__getitem__,
                             self.accumulate(whole))[name]

    def accumulate(self, whole: dict[str, np.ndarray]) -> dict[str, np.ndarray] | None:
        """The values the layer reduces over the band axis and then uses band by band, from a first
        pass over the band inputs' DRAM copies (run once, at the first tile)."""
        if not self.accumulated:
            return None
        if self.first_pass is None:
            def read(root: str) -> np.ndarray:
                return self.m.tensor_value(root, self.dram_piece) if root in self.pieces else whole[root]

            env = compute_layer(self.graph, self.t, read, self.m.params(self.t).__getitem__)
            self.first_pass = {n: env[n] for n in self.accumulated}
        return self.first_pass

    def _read(self, root: str, whole: dict[str, np.ndarray]) -> np.ndarray:
        if root not in self.pieces:
            return whole[root]
        if root in self.m.alias_of:
            return alias_value(self.graph, root, self.staged.__getitem__, self.m.alias_of)
        return self.staged[root]

    def _stage(self, buffer: str, staged: dict[str, np.ndarray]) -> None:
        """Read a loaded tile buffer back from SRAM into its pieces' staging copies ``staged``."""
        m = self.m
        b = m.buffer(buffer)
        if b is None:
            return
        at = b.address
        for piece, index in self.loaded[buffer]:
            shape = staged[piece][index].shape
            n = m.codecs[piece].nbytes(math.prod(shape))
            raw = m.mem.read(b.space, at, n)
            if m.probe is not None:
                m.probe.check(m, piece, b.space, at, raw, "reads", index=index)
            block = m.codecs[piece].decode(raw, shape)
            at += n
            staged[piece][index] = block

    def _write_band(self, cmd: Command, tile: int, name: str, value: np.ndarray) -> None:
        b = next((x for x in cmd.allocs if x.tensor == name and x.tile == tile), None)
        if b is None:
            return  # the plan writes nothing of it in this tile
        index = self.out_index(name, tile)
        codec = self.m.codecs[name]
        raw = codec.encode(value[index])
        if raw.size > b.size:
            raise InterpreterError(f"tile {tile} of {name!r}: {raw.size} B of rows, a {b.size} B buffer", self.t)
        self.m.mem.write(b.space, b.address, raw)
        back = self.m.mem.read(b.space, b.address, raw.size)
        if self.m.probe is not None:
            self.m.probe.check(self.m, name, b.space, b.address, back, "writes", index=index)
        self.written[name][index] = codec.decode(back, value[index].shape)

    def out_index(self, name: str, tile: int) -> tuple:
        """The rows (and, with weight chunks, the chunk's output channels) of ``name`` tile ``tile`` writes."""
        shape = self.graph.tensor[name].shape
        axis, lo, hi = self.rows(name, tile)
        channel = None
        if len(self.run.channels) > 1:
            chunk, total = self.chunk(tile), self.run.out_channels
            c_axis = 1 if len(shape) == 4 else len(shape) - 1
            channel = (c_axis, chunk.first * shape[c_axis] // total, chunk.end * shape[c_axis] // total)
        return _cut(axis, lo, hi, len(shape), channel)

    def store_tile(self, cmd: Command, buffer: str) -> None:
        """Copy a written tile buffer into its rows of the tensor's DRAM copy."""
        m, name = self.m, cmd.tensor
        codec, shape = m.codecs[name], self.graph.tensor[name].shape
        index = self.out_index(name, cmd.tile or 0)
        block = self.written[name][index].shape
        nbytes = codec.nbytes(math.prod(block))
        self._check_bytes("store", name, nbytes, cmd.dram_bytes)
        b = m.buffer(buffer)
        if b is None:
            return
        image = m.mem.dram.get(name)
        if image is None or image.size != m.nbytes(name):
            image = m.mem.dram_read(name, m.nbytes(name))[0]  # nothing stored yet: poison
        stored = image.view(codec.dtype).reshape(shape).copy()
        stored[index] = m.mem.read(b.space, b.address, nbytes).view(codec.dtype).reshape(block)
        m.mem.dram_write(name, stored.reshape(-1).view(np.uint8))
