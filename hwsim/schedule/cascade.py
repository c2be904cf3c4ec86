"""Cascade mode (``policy.execution: cascade``): which layers run together in stripes, and how tall.

**What may share a cascade.** Consecutive layers (in the graph's order) each of which works
on the rows of feature maps (its band model bands every tensor along H: convolutions,
pooling, stride-2 downsampling, 2x upsampling, pixel (un)shuffles, concatenations, the
element-wise work fused into them). An op that needs its whole input before any output
(a global pooling, as in NAFNet's channel attention; a matmul over all pixels; a softmax
or norm over the whole map) can end a cascade, never sit inside one: a value made whole
(the pooled vector) is not read inside the cascade that makes it, and a layer that reads a
map whole reads it from before its cascade. A cascade holds at most ``MAX_LAYERS`` layers.

**Memory of a cascade** with ``S`` stripes (``rows``): the tensors it reads from before it
and the tensors it writes that are read after it (or are graph outputs) are whole and
resident; the tensors made and used inside it live in rolling buffers (delay lines for skips)
in one arena; the weights of all its layers stay resident for the whole cascade (each
stripe runs every layer, so the other choice, reading them again for every stripe, would
multiply weight traffic by ``S``; the report gives that cost). Halo rows are kept in the
rolling buffers, never recomputed: no extra MACs.

**Choosing the cascades.** A dynamic programme over the layers in order splits them into
segments (a single layer runs as in layer mode, where its weights may come in chunks and
it may stream) minimising the peak of the memory each segment needs (what is live across
it, its whole outputs, its arena at its finest stripes, its weights), then the number of
segments (cascades as long as they fit, as Vela grows them), then the sum over segments of
need x layers (the average occupancy). A multi-layer segment is allowed only if
it fits the SRAM on its own. Each cascade then gets the tallest stripes (fewest) that keep
its need, with what is live across it, within the SRAM (the finest when none does); a
cascade that fits in one stripe runs as single layers, which then fit too.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from hwsim.graph.analysis import layer_io, skip_tensors, tensor_bytes
from hwsim.graph.ir import Graph
from hwsim.schedule.bands import band_model
from hwsim.schedule.plan import Cascade, RollingBuffer
from hwsim.schedule.rows import LayerRows, layer_progress, layer_rows, rolling_rows

MAX_LAYERS = 48
MAX_STRIPES = 256


class _Problem:
    """The facts of one graph the grouping needs, computed once."""

    def __init__(self, g: Graph, activation_bits: int, weight_bits: int, aligned, weight_buffer: int | None):
        self.g, self.aligned, self.weight_buffer = g, aligned, weight_buffer
        self.io = layer_io(g)
        n = len(self.io)
        self.producer = {g.root(i): -1 for i in g.inputs}
        self.last = {}
        self.readers: dict[str, list[int]] = {}
        for io in self.io:
            for w in io.writes:
                self.producer[w] = io.index
            for r in io.reads:
                self.readers.setdefault(r, []).append(io.index)
                self.last[r] = io.index
        for o in g.outputs:
            self.last[g.root(o)] = n
        self.raw = {t: tensor_bytes(g.tensor[t].elements, activation_bits) for t in self.producer}
        self.nbytes = {t: aligned(b) for t, b in self.raw.items()}
        self.weights = [sum(tensor_bytes(g.tensor[p].elements, weight_bits) for p in io.params) for io in self.io]
        shapes = {t: g.tensor[t].shape for t in g.tensor}
        self.rows = [layer_rows(band_model(g, t), t, shapes) for t in range(n)]
        self.banded_readers: dict[str, list[tuple[int, tuple]]] = {}  # tensor -> (layer, its row maps), in order
        for lr in self.rows:
            for name, maps in lr.reads.items() if lr is not None else ():
                self.banded_readers.setdefault(name, []).append((lr.index, maps))
        self.skips = frozenset(skip_tensors(g))
        delta = [0] * (n + 2)
        for t, p in self.producer.items():
            end = self.last.get(t, p)
            if end > p:
                delta[p + 1] += self.nbytes[t]
                delta[end + 1] -= self.nbytes[t]
        self.entering, run = [], 0
        for t in range(n):
            run += delta[t]
            self.entering.append(run)  # bytes made before layer t and read at t or later

    def single_need(self, t: int) -> int:
        io = self.io[t]
        out = sum(self.nbytes[w] for w in io.writes)
        shape = self.g.tensor[self.g.op[self.g.layers[t].ops[0]].outputs[0]].shape
        channels = max(1, shape[1] if len(shape) == 4 else 1)
        weights = self.aligned(-(-self.weights[t] // channels)) if self.weight_buffer is None else 0
        return self.entering[t] + out + weights

    def weight_need(self, weight_bytes: int) -> int:
        """SRAM bytes weights resident for a whole cascade take (none with a weight buffer)."""
        return self.aligned(weight_bytes) if weight_bytes and self.weight_buffer is None else 0


class _Invalid(Exception):
    pass


class _Rows:
    """Progress and rows held in cascades ending at layer ``last`` in ``stripes`` stripes, layer by
    layer from ``last`` down as far as asked: a layer's progress depends only on the layers after
    it (the consumers of its outputs), so every cascade ending there shares them."""

    def __init__(self, pb: _Problem, last: int, stripes: int):
        self.pb, self.last, self.stripes = pb, last, stripes
        self.done: dict[int, np.ndarray] = {}
        self.rows_done: dict[int, tuple[int, ...]] = {}  # ``done`` as a Cascade holds it
        self.held: dict[str, int] = {}
        self._lowest = last + 1  # the lowest layer whose progress is known

    def consumers(self, name: str) -> list[tuple[int, tuple]]:
        return [(c, maps) for c, maps in self.pb.banded_readers.get(name, ()) if c <= self.last]

    def progress(self, t: int) -> np.ndarray:
        pb = self.pb
        while self._lowest > t:
            self._lowest -= 1
            lr = pb.rows[self._lowest]
            consumers = {name: self.consumers(name) for name in lr.writes}
            self.done[lr.index] = layer_progress(lr, consumers, self.done, pb.rows, self.stripes)
            self.rows_done[lr.index] = tuple(self.done[lr.index].tolist())
        return self.done[t]

    def rows_held(self, name: str) -> int:
        if name not in self.held:
            producer = self.pb.rows[self.pb.producer[name]]
            self.progress(producer.index)
            self.held[name] = rolling_rows(producer, name, self.consumers(name), self.done, self.pb.rows)
        return self.held[name]


def _segment(pb: _Problem, a: int, b: int, rows_at, stripes: int | None = None) -> Cascade:
    """Layers ``a..b`` as one cascade of ``stripes`` stripes (None: the finest); _Invalid if they
    cannot. ``rows_at(b, stripes)``: the :class:`_Rows` of cascades ending at ``b``."""
    layers: list[LayerRows] = []
    for t in range(a, b + 1):
        if pb.rows[t] is None:
            raise _Invalid(f"layer {pb.g.layers[t].name!r} cannot run in row stripes")
        layers.append(pb.rows[t])
    inside = range(a, b + 1)
    consumed: dict[str, None] = {}  # tensors made and read inside, by first reader
    reads: dict[str, None] = {}
    for lr in layers:
        for name in lr.model.whole_reads:
            if pb.producer.get(name, -1) >= a:
                raise _Invalid(f"layer {pb.g.layers[lr.index].name!r} needs {name!r} whole")
        for name in lr.reads:
            made = pb.producer.get(name, -1)
            if made >= a and name not in pb.rows[made].writes:
                raise _Invalid(f"layer {pb.g.layers[made].name!r} makes {name!r} whole")
            if made >= a:
                consumed[name] = None
        for name in (*lr.reads, *lr.model.whole_reads):
            if pb.producer.get(name, -1) < a:
                reads[name] = None
    writes = [w for t in inside for w in pb.io[t].writes if pb.last.get(w, t) > b]
    if stripes is None:
        sinks = [lr.rows for lr in layers if consumed.keys().isdisjoint(lr.writes)]
        stripes = min(max(sinks), MAX_STRIPES)
    rows = rows_at(b, stripes)
    rows.progress(a)
    rolling = []
    for name in consumed:
        if pb.last.get(name, -1) > b:
            continue  # leaves the cascade: whole
        held = rows.rows_held(name)
        of = pb.rows[pb.producer[name]].writes[name].rows
        rolling.append(RollingBuffer(name, held, of, -(-pb.raw[name] * held // of), name in pb.skips))
    arena = sum(pb.aligned(r.nbytes) for r in rolling)
    weight = sum(pb.weights[t] for t in inside)
    if pb.weight_buffer is not None and pb.aligned(weight) > pb.weight_buffer:
        raise _Invalid(f"the weights of layers {a}..{b} exceed the weight buffer")
    need = sum(pb.nbytes[t] for t in reads) + sum(pb.nbytes[w] for w in writes) + arena + pb.weight_need(weight)
    return Cascade(a, b, stripes, tuple(rows.rows_done[t] for t in inside),
                   tuple(pb.rows[t].rows for t in inside), tuple(rolling), tuple(reads), tuple(writes),
                   weight, arena, need, "")


def _with_entering(pb: _Problem, c: Cascade) -> int:
    """Bytes in SRAM while cascade ``c`` runs with nothing evicted."""
    return pb.entering[c.first] + sum(pb.nbytes[w] for w in c.writes) + c.arena_bytes + pb.weight_need(c.weight_bytes)


class _Table:
    """Every cascade a graph allows at its finest stripes, and the ones tried at other heights
    (independent of the SRAM size, so a search over sizes builds it once)."""

    def __init__(self, g: Graph, activation_bits: int, weight_bits: int, alignment: int, weight_buffer: int | None):
        self.pb = _Problem(g, activation_bits, weight_bits, lambda n: -(-n // alignment) * alignment, weight_buffer)
        self.finest: dict[tuple[int, int], Cascade] = {}
        self.ends: dict[int, str] = {}  # first layer -> why no longer cascade from it is possible
        self._tried: dict[tuple[int, int, int], Cascade] = {}
        self._rows: dict[tuple[int, int], _Rows] = {}  # (last layer, stripes) -> its rows
        n = len(self.pb.io)
        for a in range(n):
            for b in range(a + 1, min(n, a + MAX_LAYERS)):
                try:
                    self.finest[(a, b)] = _segment(self.pb, a, b, self._rows_at)
                except _Invalid as why:
                    self.ends[a] = f"{why}"
                    break
            self._rows = {k: r for k, r in self._rows.items() if k[0] > a + 1}  # no later cascade ends there
        self._rows = {}

    def _rows_at(self, last: int, stripes: int) -> _Rows:
        if (last, stripes) not in self._rows:
            self._rows[(last, stripes)] = _Rows(self.pb, last, stripes)
        return self._rows[(last, stripes)]

    def at(self, a: int, b: int, stripes: int) -> Cascade:
        if (a, b, stripes) not in self._tried:
            self._tried[(a, b, stripes)] = _segment(self.pb, a, b, lambda last, s: _Rows(self.pb, last, s), stripes)
        return self._tried[(a, b, stripes)]


def plan_cascades(g: Graph, activation_bits: int, weight_bits: int, sram_bytes: int, alignment: int,
                  weight_buffer: int | None = None, forbidden: frozenset[tuple[int, int]] = frozenset(),
                  ) -> tuple[Cascade, ...]:
    """The cascades of ``g`` for an SRAM of ``sram_bytes`` (the module docstring); with a
    separate weight buffer of ``weight_buffer`` bytes, a cascade's weights must fit in it.
    ``forbidden``: (first, last) layer pairs not to run as a cascade."""
    table = g.memo(f"cascades:{activation_bits}:{weight_bits}:{alignment}:{weight_buffer}",
                   lambda g: _Table(g, activation_bits, weight_bits, alignment, weight_buffer))
    pb = table.pb
    n = len(pb.io)
    best: list[tuple[int, int, int]] = [(0, 0, 0)]  # (peak, segments, occupancy) of layers 0..b-1
    choice: list[int] = []
    for b in range(n):
        single = pb.single_need(b)
        peak, count, occupancy = best[b]
        options = [(max(peak, single), count + 1, occupancy + single, b)]
        for a in range(b - 1, max(-1, b - MAX_LAYERS), -1):
            c = table.finest.get((a, b))
            if c is None:
                break
            if c.need_bytes <= sram_bytes and (a, b) not in forbidden:
                need = _with_entering(pb, c)
                peak, count, occupancy = best[a]
                options.append((max(peak, need), count + 1, occupancy + need * (b - a + 1), a))
        *score, a = min(options)
        best.append(tuple(score))
        choice.append(a)
    chosen, b = [], n - 1
    while b >= 0:
        if choice[b] < b:
            chosen.append((choice[b], b))
        b = choice[b] - 1
    cascades = []
    for a, b in reversed(chosen):
        c = _tallest(table, table.finest[(a, b)], sram_bytes)
        if c is not None:
            if b == n - 1:
                why = "the end of the graph"
            elif (a, b + 1) not in table.finest:
                why = table.ends.get(a, "the longest cascade allowed")
            else:
                why = "memory: a longer cascade would raise the peak"
                if a in table.ends:
                    why += f" (none could go further: {table.ends[a]})"
            cascades.append(replace(c, ends=why))
    return tuple(cascades)


def finest(g: Graph, activation_bits: int, weight_bits: int, alignment: int, weight_buffer: int | None,
           cascades: tuple[Cascade, ...]) -> tuple[Cascade, ...]:
    """The same cascades at their finest stripes (the least memory each can take)."""
    table = g.memo(f"cascades:{activation_bits}:{weight_bits}:{alignment}:{weight_buffer}",
                   lambda g: _Table(g, activation_bits, weight_bits, alignment, weight_buffer))
    return tuple(replace(table.finest[(c.first, c.last)], ends=c.ends) for c in cascades)


def _tallest(table: _Table, finest: Cascade, cap: int) -> Cascade | None:
    """``finest``'s layers with the fewest stripes that fit ``cap`` beside what is live across
    them (None: one stripe fits, so the layers fit one by one too; the finest if none fits)."""
    s = 1
    while s < finest.stripes:
        c = table.at(finest.first, finest.last, s)
        if _with_entering(table.pb, c) <= cap:
            return None if s == 1 else c
        s *= 2
    return finest
