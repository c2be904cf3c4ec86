"""Where each activation's bytes live: pieces, storages and aliases.

* A **piece** is a tensor whose bytes a layer (or the network input) actually writes: the
  unit of the plan's buffers and of DRAM traffic. A plan buffer is named after its piece.
* A **storage** is one SRAM reservation holding one or more pieces laid end to end.
* An **alias** is a tensor that owns no bytes: its data is some pieces of a storage.

With ``policy.concat: copy`` every written tensor is a piece with a storage of its own, and
concatenation and slicing layers copy data like any other layer.

With ``policy.concat: inplace`` (what NPU compilers such as Arm's Vela do):

* a layer made of one ``concat`` op whose inputs are all pieces with storages of their
  own (written by layers, not the network input, not aliases, each input once) gets one
  storage whose pieces are its inputs, in order: their producers write straight into their
  slices of the concatenated buffer and the concat layer moves no data. The buffer is
  modelled as the inputs laid end to end (a concat along an inner axis is written with
  strided stores; the footprint is the same). An input already claimed by an earlier
  concat, the network input or an alias makes the concat a real copy instead (simple and
  correct; the copy is what a compiler does when it cannot place the input in place);
* a layer made of one ``slice`` op makes its output an alias of the pieces of its input
  that hold the slice (all of them unless the input is an in-place concat sliced along the
  concat axis): a channel slice of a resident tensor is a view of it.

A concat or slice whose output is a graph output is always a copy, so that every graph
output is one piece that can be stored as such. Layers that move no data are listed in
``alias_layers``; they read and write no buffer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Mapping

from hwsim.graph.analysis import layer_io, live_ranges, param_bytes, tensor_bytes
from hwsim.graph.ir import Graph, Op

if TYPE_CHECKING:
    from hwsim.spec.model import AcceleratorSpec


@dataclass(frozen=True)
class Storage:
    name: str
    pieces: tuple[str, ...]
    offsets: tuple[int, ...]  # byte offset of each piece in the storage
    nbytes: int  # sum of the pieces' bytes


@dataclass(frozen=True)
class Layout:
    storages: Mapping[str, Storage]
    storage_of: Mapping[str, str]  # piece -> storage name
    piece_bytes: Mapping[str, int]
    covers: Mapping[str, tuple[str, ...]]  # tensor (written or network input) -> pieces holding it
    alias_offset: Mapping[str, int]  # alias -> byte offset of its first byte in its first piece
    alias_layers: frozenset[int]  # layers that move no data (in-place concat or slice)
    concat_axis: Mapping[str, int]  # in-place concat -> the axis it concatenates along

    def is_alias(self, name: str) -> bool:
        return self.covers[name] != (name,)

    def piece_offset(self, piece: str) -> int:
        s = self.storages[self.storage_of[piece]]
        return s.offsets[s.pieces.index(piece)]


def _sole_op(g: Graph, index: int, kind: str) -> Op | None:
    ops = g.layers[index].ops
    op = g.op[ops[0]]
    return op if len(ops) == 1 and op.kind == kind else None


def build_layout(g: Graph, bits: int, concat: str, copied: frozenset[int] = frozenset()) -> Layout:
    """The layout of ``g``'s activations at ``bits`` per element under concat mode ``concat``;
    the layers in ``copied`` (those inside cascades, whose tensors live in rolling buffers)
    copy data whatever the mode. Memoised per graph."""
    if concat not in ("inplace", "copy"):
        raise ValueError(f"concat must be 'inplace' or 'copy', got {concat!r}")
    return g.memo(("layout", bits, concat, frozenset(copied)), lambda _: _build_layout(g, bits, concat, copied))


def _build_layout(g: Graph, bits: int, concat: str, copied: frozenset[int]) -> Layout:
    outputs = {g.root(o) for o in g.outputs}
    members: dict[str, list[str]] = {}  # storage -> pieces
    covers: dict[str, tuple[str, ...]] = {}
    offset: dict[str, int] = {}
    concat_axis: dict[str, tuple[int, list[int]]] = {}  # in-place concat -> (axis, extents)
    alias_layers: set[int] = set()
    for name in g.inputs:
        root = g.root(name)
        members[root], covers[root] = [root], (root,)
    for io in layer_io(g):
        inplace = concat == "inplace" and io.index not in copied
        cat = _sole_op(g, io.index, "concat") if inplace else None
        cut = _sole_op(g, io.index, "slice") if inplace else None
        if cat is not None and _inplace_concat(g, cat, io.writes, outputs, members, covers):
            out, parts = cat.outputs[0], [g.root(i) for i in cat.inputs]
            for p in parts:
                del members[p]
            members[out] = parts
            covers[out] = tuple(parts)
            axis = int(cat.attrs["axis"]) % len(g.tensor[out].shape)
            concat_axis[out] = (axis, [g.tensor[p].shape[axis] for p in parts])
            alias_layers.add(io.index)
        elif cut is not None and io.writes == (cut.outputs[0],) and cut.outputs[0] not in outputs:
            covers[cut.outputs[0]], offset[cut.outputs[0]] = _slice_cover(g, cut, covers, offset, concat_axis, bits)
            alias_layers.add(io.index)
        else:
            for w in io.writes:
                members[w], covers[w] = [w], (w,)
    return _assemble(g, bits, members, covers, offset, alias_layers, {t: a for t, (a, _) in concat_axis.items()})


def _inplace_concat(g: Graph, op: Op, writes, outputs, members, covers) -> bool:
    out = op.outputs[0]
    parts = [g.root(i) for i in op.inputs]
    if writes != (out,) or out in outputs or len(set(parts)) != len(parts):
        return False
    inputs = {g.root(i) for i in g.inputs}
    return all(p not in inputs and members.get(p) == [p] and covers.get(p) == (p,) for p in parts)


def _slice_cover(g: Graph, op: Op, covers, offset, concat_axis, bits) -> tuple[tuple[str, ...], int]:
    """The pieces holding a slice's output, and its byte offset in the first of them."""
    parent = g.root(op.inputs[0])
    shape = g.tensor[op.inputs[0]].shape
    axis = int(op.attrs["axis"]) % len(shape)
    start = int(op.attrs["start"])
    pieces = covers[parent]
    if parent in concat_axis and concat_axis[parent][0] == axis and op.inputs[0] == parent:
        end = int(op.attrs["end"])
        chosen, first_start, at = [], 0, 0
        for piece, extent in zip(pieces, concat_axis[parent][1]):
            if at < end and start < at + extent:
                if not chosen:
                    first_start = at
                chosen.append(piece)
            at += extent
        inner = math.prod(shape[axis + 1:]) if math.prod(shape[:axis]) == 1 else 0
        return tuple(chosen), (start - first_start) * inner * bits // 8
    contiguous = math.prod(shape[:axis]) == 1 and int(op.attrs.get("step", 1)) == 1
    base = offset.get(parent, 0)
    if len(pieces) == 1 and contiguous and op.inputs[0] == parent:
        return pieces, base + start * math.prod(shape[axis + 1:]) * bits // 8
    return pieces, base


def _assemble(g: Graph, bits: int, members, covers, offset, alias_layers, axes) -> Layout:
    piece_bytes = {p: tensor_bytes(g.tensor[p].elements, bits) for ps in members.values() for p in ps}
    storages, storage_of = {}, {}
    for name, pieces in members.items():
        offsets, at = [], 0
        for p in pieces:
            offsets.append(at)
            at += piece_bytes[p]
            storage_of[p] = name
        storages[name] = Storage(name, tuple(pieces), tuple(offsets), at)
    return Layout(storages, storage_of, piece_bytes, covers, offset, frozenset(alias_layers), axes)


@dataclass(frozen=True)
class LayerNeed:
    """What a layer needs when it runs whole: pieces resident, pieces written, their storages."""

    reads: tuple[str, ...]
    writes: tuple[str, ...]
    storages: tuple[str, ...]
    weight_bytes: int  # its parameters: biases at bias_bits, the rest at weight_bits
    out_channels: int  # output channels of its main op (weight chunks split these)


def layer_needs(g: Graph, layout: Layout, weight_bits: int, bias_bits: int) -> tuple[LayerNeed, ...]:
    needs = []
    for io in layer_io(g):
        host = any(g.op[n].kind == "host" for n in g.layers[io.index].ops)
        if io.index in layout.alias_layers or host:
            reads, writes = (), ()  # moves no data, or runs on the host CPU (through DRAM: ``host_run``)
        else:
            reads = tuple(dict.fromkeys(p for t in io.reads for p in layout.covers[t]))
            writes = tuple(w for w in io.writes if not layout.is_alias(w))
        storages = tuple(dict.fromkeys(layout.storage_of[p] for p in reads + writes))
        weights = 0 if host else param_bytes(g, io.params, weight_bits, bias_bits)  # the host reads its own
        shape = g.tensor[g.op[g.layers[io.index].ops[0]].outputs[0]].shape
        channels = shape[1] if len(shape) == 4 else (shape[-1] if shape else 1)
        needs.append(LayerNeed(reads, writes, storages, weights, max(1, channels)))
    return tuple(needs)


def live_piece_peak(graph: Graph, spec: "AcceleratorSpec") -> int:
    """Peak over steps of the bytes of live pieces (a piece lives from its producer to the last
    reader of any tensor it holds bytes of); ``live_curve``'s peak under ``concat: copy``.
    Memoised per graph."""
    bits, concat = spec.datatype.activation_bits, spec.policy.concat
    return graph.memo(("live_piece_peak", bits, concat), lambda _: _live_piece_peak(graph, bits, concat))


def _live_piece_peak(graph: Graph, bits: int, concat: str) -> int:
    layout = build_layout(graph, bits, concat)
    ends: dict[str, list[int]] = {}
    for name, r in live_ranges(graph).items():
        for piece in layout.covers[name]:
            span = ends.setdefault(piece, [r.start, r.end])
            span[0], span[1] = min(span[0], r.start), max(span[1], r.end)
    delta = [0] * (len(graph.layers) + 1)
    for piece, (start, end) in ends.items():
        if piece in live_ranges(graph):  # not the network input
            delta[start] += layout.piece_bytes[piece]
            delta[end + 1] -= layout.piece_bytes[piece]
    peak = acc = 0
    for d in delta:
        acc += d
        peak = max(peak, acc)
    return peak
