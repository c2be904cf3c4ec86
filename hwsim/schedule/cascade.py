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
segments (a single layer runs as in layer mode, where its weights may come in chunks and it
may stream) minimising the peak of the memory each segment needs (what is live across it,
its whole outputs, its arena at its finest stripes, its weights), then the number of
segments (cascades as long as they fit, as Vela grows them), then the sum over segments of
need x layers (the average occupancy). A multi-layer segment is allowed only if it fits the
SRAM on its own. (Working out a segment's rolling buffers is the costly part; a segment's
need without them bounds its score from below, so only the segments whose bound beats the
best score found so far are worked out, the lowest bound first.) Each cascade then gets the
tallest stripes (fewest) that keep its need, with what is live across it, within the SRAM
(the finest when none does); a cascade that fits in one stripe runs as single layers, which
then fit too.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from hwsim.graph.analysis import layer_io, param_bytes, skip_tensors, tensor_bytes
from hwsim.graph.ir import Graph
from hwsim.schedule.bands import band_model
from hwsim.schedule.plan import Cascade, RollingBuffer
from hwsim.schedule.rows import StripeRows, layer_rows

MAX_LAYERS = 48
MAX_STRIPES = 256


class _Problem:
    """The facts of one graph the grouping needs, computed once."""

    def __init__(self, g: Graph, activation_bits: int, weight_bits: int, bias_bits: int, aligned,
                 weight_buffer: int | None):
        self.g, self.aligned, self.weight_buffer = g, aligned, weight_buffer
        self.io = layer_io(g)
        n = len(self.io)
        self.producer = {g.root(i): -1 for i in g.inputs}
        self.last = {}
        for io in self.io:
            for w in io.writes:
                self.producer[w] = io.index
            for r in io.reads:
                self.last[r] = io.index
        for o in g.outputs:
            self.last[g.root(o)] = n
        self.raw = {t: tensor_bytes(g.tensor[t].elements, activation_bits) for t in self.producer}
        self.nbytes = {t: aligned(b) for t, b in self.raw.items()}
        self.weights = [param_bytes(g, io.params, weight_bits, bias_bits) for io in self.io]
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


@dataclass(frozen=True)
class _Span:
    """Layers ``first..last`` that may run as one cascade, before its rows are worked out."""

    first: int
    last: int
    reads: tuple[str, ...]  # tensors read whole, made before it
    writes: tuple[str, ...]  # tensors written whole
    consumed: tuple[str, ...]  # tensors made and read inside it, by first reader
    weight_bytes: int
    stripes: int  # the finest: as many as its sinks' driver rows (MAX_STRIPES at most)
    bound: int  # its need but for the rolling buffers: whole reads and writes, weights


def _spans(pb: _Problem, a: int, stop: int) -> tuple[list[_Span], str | None]:
    """The spans from layer ``a`` to each layer before ``stop`` that can run as one cascade, and
    why the next cannot (None: ``stop`` ends them). The checks of a longer span are those of
    a shorter one and the last layer's, so the span grows a layer at a time."""
    consumed: dict[str, None] = {}
    reads: dict[str, None] = {}
    spans, weight = [], 0
    for b in range(a, stop):
        lr = pb.rows[b]
        if lr is None:
            return spans, f"layer {pb.g.layers[b].name!r} cannot run in row stripes"
        for name in lr.model.whole_reads:
            if pb.producer.get(name, -1) >= a:
                return spans, f"layer {pb.g.layers[b].name!r} needs {name!r} whole"
        for name in lr.reads:
            made = pb.producer.get(name, -1)
            if made >= a and name not in pb.rows[made].writes:
                return spans, f"layer {pb.g.layers[made].name!r} makes {name!r} whole"
            if made >= a:
                consumed[name] = None
        for name in (*lr.reads, *lr.model.whole_reads):
            if pb.producer.get(name, -1) < a:
                reads[name] = None
        weight += pb.weights[b]
        if b == a:
            continue
        if pb.weight_buffer is not None and pb.aligned(weight) > pb.weight_buffer:
            return spans, f"the weights of layers {a}..{b} exceed the weight buffer"
        writes = tuple(w for t in range(a, b + 1) for w in pb.io[t].writes if pb.last.get(w, t) > b)
        sinks = [pb.rows[t].rows for t in range(a, b + 1) if consumed.keys().isdisjoint(pb.rows[t].writes)]
        bound = sum(pb.nbytes[t] for t in reads) + sum(pb.nbytes[w] for w in writes) + pb.weight_need(weight)
        spans.append(_Span(a, b, tuple(reads), writes, tuple(consumed), weight, min(max(sinks), MAX_STRIPES), bound))
    return spans, None


def _cascade(pb: _Problem, span: _Span, rows: StripeRows) -> Cascade:
    """``span`` in ``rows.stripes`` stripes (``rows``: of cascades ending at ``span.last``)."""
    a, b = span.first, span.last
    rows.progress(a)
    rolling = []
    for name in span.consumed:
        if pb.last.get(name, -1) > b:
            continue  # leaves the cascade: whole
        held = rows.rows_held(name)
        of = pb.rows[pb.producer[name]].writes[name].rows
        rolling.append(RollingBuffer(name, held, of, -(-pb.raw[name] * held // of), name in pb.skips))
    arena = sum(pb.aligned(r.nbytes) for r in rolling)
    return Cascade(a, b, rows.stripes, tuple(rows.rows_done[t] for t in range(a, b + 1)),
                   tuple(pb.rows[t].rows for t in range(a, b + 1)), tuple(rolling), span.reads, span.writes,
                   span.weight_bytes, arena, span.bound + arena, "")


def _with_entering(pb: _Problem, c: Cascade | _Span) -> int:
    """Bytes in SRAM while cascade ``c`` runs with nothing evicted (a span: but its rolling buffers)."""
    arena = c.arena_bytes if isinstance(c, Cascade) else 0
    return pb.entering[c.first] + sum(pb.nbytes[w] for w in c.writes) + arena + pb.weight_need(c.weight_bytes)


class _Table:
    """Every span of layers a graph allows to run as a cascade, and their cascades at their
    finest stripes and at the other heights tried, worked out when first asked for
    (independent of the SRAM size, so a search over sizes builds it once)."""

    def __init__(self, g: Graph, activation_bits: int, weight_bits: int, bias_bits: int, alignment: int,
                 weight_buffer: int | None):
        self.pb = _Problem(g, activation_bits, weight_bits, bias_bits, lambda n: -(-n // alignment) * alignment,
                           weight_buffer)
        self.spans: dict[tuple[int, int], _Span] = {}
        self.ends: dict[int, str] = {}  # first layer -> why no longer cascade from it is possible
        self._finest: dict[tuple[int, int], Cascade] = {}
        self._tried: dict[tuple[int, int, int], Cascade] = {}
        self._rows: dict[tuple[int, int], StripeRows] = {}  # (last layer, stripes) -> its rows, for now
        n = len(self.pb.io)
        for a in range(n):
            spans, why = _spans(self.pb, a, min(n, a + MAX_LAYERS))
            self.spans.update(((s.first, s.last), s) for s in spans)
            if why is not None:
                self.ends[a] = why
        self.single = [self.pb.single_need(t) for t in range(n)]  # a layer on its own: its need
        # per last layer b: (first layer a, bound, need but for rolling buffers) of the spans a..b,
        # a falling from b - 1 to the first that cannot start one (``_bounds`` reads them per size)
        self.ending: list[list[tuple[int, int, int]]] = []
        for b in range(n):
            found = []
            for a in range(b - 1, max(-1, b - MAX_LAYERS), -1):
                span = self.spans.get((a, b))
                if span is None:
                    break
                found.append((a, span.bound, _with_entering(self.pb, span)))
            self.ending.append(found)
        self._finest_need: dict[tuple[int, int], int] = {}

    def finest(self, a: int, b: int) -> Cascade:
        """Layers ``a..b`` at their finest stripes. Cascades ending at the same layer share their
        rows (:class:`StripeRows`) until :meth:`done_with` that layer."""
        if (a, b) not in self._finest:
            span = self.spans[(a, b)]
            key = (b, span.stripes)
            if key not in self._rows:
                self._rows[key] = StripeRows(self.pb.rows, self.pb.banded_readers, self.pb.producer, b, span.stripes)
            self._finest[(a, b)] = _cascade(self.pb, span, self._rows[key])
        return self._finest[(a, b)]

    def finest_need(self, a: int, b: int) -> int:
        """``_with_entering`` of :meth:`finest` ``(a, b)``."""
        need = self._finest_need.get((a, b))
        if need is None:
            need = self._finest_need[(a, b)] = _with_entering(self.pb, self.finest(a, b))
        return need

    def done_with(self, last: int) -> None:
        """No more cascades ending at layer ``last`` will be asked for soon: drop their rows."""
        self._rows = {k: r for k, r in self._rows.items() if k[0] != last}

    def at(self, a: int, b: int, stripes: int) -> Cascade:
        if (a, b, stripes) not in self._tried:
            rows = StripeRows(self.pb.rows, self.pb.banded_readers, self.pb.producer, b, stripes)
            self._tried[(a, b, stripes)] = _cascade(self.pb, self.spans[(a, b)], rows)
        return self._tried[(a, b, stripes)]


def plan_cascades(g: Graph, activation_bits: int, weight_bits: int, sram_bytes: int, alignment: int,
                  weight_buffer: int | None = None, forbidden: frozenset[tuple[int, int]] = frozenset(),
                  *, bias_bits: int) -> tuple[Cascade, ...]:
    """The cascades of ``g`` for an SRAM of ``sram_bytes`` (the module docstring); with a
    separate weight buffer of ``weight_buffer`` bytes, a cascade's weights must fit in it.
    ``forbidden``: (first, last) layer pairs not to run as a cascade. Biases are counted at
    ``bias_bits``, other parameters at ``weight_bits``."""
    table = _table(g, activation_bits, weight_bits, bias_bits, alignment, weight_buffer)
    pb = table.pb
    n = len(pb.io)
    best: list[tuple[int, int, int]] = [(0, 0, 0)]  # (peak, segments, occupancy) of layers 0..b-1
    choice: list[int] = []
    for b in range(n):
        single = table.single[b]
        peak, count, occupancy = best[b]
        option = (max(peak, single), count + 1, occupancy + single, b)
        for low, a in _bounds(table, best, b, sram_bytes, forbidden):
            if low > option:
                break  # neither it nor any after it can score lower
            c = table.finest(a, b)
            if c.need_bytes <= sram_bytes:
                need = table.finest_need(a, b)
                peak, count, occupancy = best[a]
                option = min(option, (max(peak, need), count + 1, occupancy + need * (b - a + 1), a))
        table.done_with(b)
        *score, a = option
        best.append(tuple(score))
        choice.append(a)
    chosen, b = [], n - 1
    while b >= 0:
        if choice[b] < b:
            chosen.append((choice[b], b))
        b = choice[b] - 1
    cascades = []
    for a, b in reversed(chosen):
        c = _tallest(table, table.finest(a, b), sram_bytes)
        if c is not None:
            if b == n - 1:
                why = "the end of the graph"
            elif (a, b + 1) not in table.spans:
                why = table.ends.get(a, "the longest cascade allowed")
            else:
                why = "memory: a longer cascade would raise the peak"
                if a in table.ends:
                    why += f" (none could go further: {table.ends[a]})"
            cascades.append(replace(c, ends=why))
    return tuple(cascades)


def finest(g: Graph, activation_bits: int, weight_bits: int, alignment: int, weight_buffer: int | None,
           cascades: tuple[Cascade, ...], *, bias_bits: int) -> tuple[Cascade, ...]:
    """The same cascades at their finest stripes (the least memory each can take)."""
    table = _table(g, activation_bits, weight_bits, bias_bits, alignment, weight_buffer)
    return tuple(replace(table.finest(c.first, c.last), ends=c.ends) for c in cascades)


def _table(g: Graph, activation_bits: int, weight_bits: int, bias_bits: int, alignment: int,
           weight_buffer: int | None) -> _Table:
    return g.memo(f"cascades:{activation_bits}:{weight_bits}:{bias_bits}:{alignment}:{weight_buffer}",
                  lambda g: _Table(g, activation_bits, weight_bits, bias_bits, alignment, weight_buffer))


def _bounds(table: _Table, best: list[tuple[int, int, int]], b: int, sram_bytes: int,
            forbidden: frozenset[tuple[int, int]]) -> list[tuple[tuple[int, int, int, int], int]]:
    """The cascades ending at layer ``b`` that may fit ``sram_bytes``, lowest first by a lower bound
    of their score (that of their span, whose need leaves out the rolling buffers), with their
    first layers: a cascade is worked out only if its bound is below the best score so far."""
    found = []
    for a, bound, need in table.ending[b]:
        if bound <= sram_bytes and (not forbidden or (a, b) not in forbidden):
            peak, count, occupancy = best[a]
            found.append(((peak if peak > need else need, count + 1, occupancy + need * (b - a + 1), a), a))
    found.sort()
    return found


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
