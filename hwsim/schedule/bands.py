"""Row bands of a streamed layer: which rows of each tensor one band of the layer touches.

A streamed layer runs band by band over the *driver* rows: the rows (axis 2, H) of its
main op's output for the spatial ops (convolutions, pooling, resampling, pixel shuffles),
the blocks of an ``unfold``, the outermost axis longer than one for the others (the tokens
of a linear layer, the rows of a matmul; H for a rank-4 tensor), and the *input* rows for a global average pooling, which accumulates its
1x1 output row by row. For each tensor the layer reads or writes, a :class:`RowMap` maps a
band ``[o0, o1)`` of driver rows to the rows of that tensor it needs:

* ``window``: a convolution or pooling input, ``[o0*s - p, (o1-1)*s - p + d*(k-1) + 1)``
  clipped to the tensor: consecutive bands re-read ``d*(k-1) + 1 - s`` halo rows;
* ``tconv``: a transposed convolution input, the input rows whose filter footprint meets
  the band; ``scale``: nearest (or, with one more row on each side, bilinear) upsampling;
  ``shuffle`` / ``unshuffle``: pixel (un)shuffle by a factor; ``offset``: a slice along the
  band axis; ``segment``: one input of a concat along the band axis;
* ``unfold``: the input rows under a band of an ``unfold``'s blocks (a window per block row);
* ``fraction``: the same share of rows (element-wise inputs, linear and matmul rows, adaptive
  pooling bins), also through reshapes that keep the band axis outermost.

A constant ``pad`` maps rows as a window of one row shifted by the padding; a reflect,
replicate or circular pad along the band axis, a ``gather``, ``flip`` or ``roll`` along it and a
``group_norm`` (statistics over the whole map) make the layer unbandable.

A value reduced over the band axis inside the layer (a global pooling, e.g. the statistic of
a GRN or a squeeze-excitation) can be used only once every band has been seen: the layer
really runs two passes over the bands, one accumulating and one using the result. The
model folds them into one loop that moves the same bytes (each band's tile holds both
passes' rows, a slight over-estimate of the tile).

A matmul's second operand (unless it is batched along the band axis), an element-wise input broadcast along the band axis and an output reduced over it are
needed or produced whole: they stay resident for the whole layer. A layer whose fused ops
would need a whole intermediate while banding (a softmax or layer norm over the band axis,
a reshape that moves it) cannot be banded: :func:`band_model` returns None.

Bytes of a band of rows of a tensor are taken as the same share of the tensor's bytes
(rows of an inner axis are gathered with strided transfers; the byte count is the same).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from hwsim.graph.analysis import layer_io
from hwsim.graph.ir import Graph, Op
from hwsim.graph.opkinds_more import pad_amounts

SPATIAL = ("conv2d", "conv_transpose2d", "max_pool2d", "avg_pool2d", "upsample_nearest2d",
           "upsample_bilinear2d", "upsample_bicubic2d", "pixel_shuffle", "pixel_unshuffle", "adaptive_avg_pool2d",
           "adaptive_max_pool2d")
REDUCTIONS = ("mean", "sum", "vector_norm", "amax", "amin")
WHOLE_MAP = ("group_norm",)
"""Fused ops whose statistics span the whole map (GroupNorm, InstanceNorm): a layer holding one
cannot run in row bands (no statistics pass is modelled), so it needs its whole input."""
MOVES_ALONG = ("flip", "roll")
"""Fused ops that move rows along their ``dims``: along the band axis a band needs other rows."""


class _Unbandable(Exception):
    pass


@dataclass(frozen=True)
class RowMap:
    kind: str
    rows: int  # rows of the tensor (as the op sees it) along its band axis
    params: tuple[int, ...] = ()
    axis: int = -1  # the band axis in the tensor's own shape (-1: unknown, e.g. through a reshape)

    def span(self, o0: int, o1: int, driver: int) -> tuple[int, int]:
        """Rows ``[r0, r1)`` of the tensor needed by driver rows ``[o0, o1)`` (r0 == r1: none)."""
        lo, hi = self._formula(o0, o1, driver, max, min)
        lo, hi = max(lo, 0), min(hi, self.rows)
        return (lo, hi) if lo < hi else (0, 0)

    def spans(self, o0: np.ndarray, o1: np.ndarray, driver: int) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`span` of many bands at once (integer arrays)."""
        lo, hi = self._formula(o0, o1, driver, np.maximum, np.minimum)
        lo, hi = np.maximum(lo, 0), np.minimum(hi, self.rows)
        empty = lo >= hi
        return np.where(empty, 0, lo), np.where(empty, 0, hi)

    def _formula(self, o0, o1, driver: int, maximum, minimum):
        n, p = self.rows, self.params
        if self.kind == "fraction":
            lo, hi = o0 * n // driver, -(-o1 * n // driver)
        elif self.kind == "window":
            k, s, pad, d = p
            lo, hi = o0 * s - pad, (o1 - 1) * s - pad + d * (k - 1) + 1
        elif self.kind == "tconv":
            k, s, pad, d = p
            lo, hi = -(-(o0 + pad - d * (k - 1)) // s), (o1 - 1 + pad) // s + 1
        elif self.kind == "scale":
            lo, hi = o0 * n // driver - p[0], (o1 - 1) * n // driver + 1 + p[0]
        elif self.kind == "shuffle":
            lo, hi = o0 // p[0], -(-o1 // p[0])
        elif self.kind == "unshuffle":
            lo, hi = o0 * p[0], o1 * p[0]
        elif self.kind == "unfold":  # blocks [o0, o1) of an unfold, ``p[4]`` blocks per row
            k, s, pad, d, per_row = p
            lo, hi = o0 // per_row * s - pad, (o1 - 1) // per_row * s - pad + d * (k - 1) + 1
        elif self.kind == "offset":
            lo, hi = p[0] + o0 * p[1], p[0] + (o1 - 1) * p[1] + 1
        else:  # segment
            lo, hi = maximum(o0, p[0]) - p[0], minimum(o1, p[0] + p[1]) - p[0]
        return lo, hi


@dataclass(frozen=True)
class BandModel:
    rows: int  # driver rows
    reads: dict[str, tuple[RowMap, ...]]  # banded layer reads (roots) -> their maps
    writes: dict[str, RowMap]  # banded layer writes -> their map
    whole_reads: tuple[str, ...]
    whole_writes: tuple[str, ...]
    accumulated: frozenset[str] = frozenset()  # values reduced over the bands that banded ops use (two passes)

    @property
    def two_pass(self) -> bool:
        return bool(self.accumulated)

    def band_bytes(self, name: str, nbytes: int, o0: int, o1: int) -> int:
        """Bytes of ``name`` (``nbytes`` in all) that driver rows ``[o0, o1)`` read or write."""
        maps = self.reads[name] if name in self.reads else (self.writes[name],)
        spans = [m.span(o0, o1, self.rows) for m in maps]
        if len({m.rows for m in maps}) == 1:
            spans = [s for s in spans if s[1] > s[0]]
            if not spans:
                return 0
            lo, hi = min(s[0] for s in spans), max(s[1] for s in spans)
            return -(-nbytes * (hi - lo) // maps[0].rows)
        return max(-(-nbytes * (r1 - r0) // m.rows) for m, (r0, r1) in zip(maps, spans))

    def band_axis(self, name: str) -> int:
        """The band axis of ``name`` in its own shape, if all its maps agree on it (else -1)."""
        maps = self.reads[name] if name in self.reads else (self.writes[name],)
        axes = {m.axis for m in maps}
        return axes.pop() if len(axes) == 1 else -1

    def band_rows(self, name: str, o0: int, o1: int) -> tuple[int, int, int]:
        """``(lo, hi, rows)``: driver rows ``[o0, o1)`` touch rows ``[lo, hi)`` of ``rows`` of
        ``name`` (maps with different row counts: the whole tensor, conservatively)."""
        maps = self.reads[name] if name in self.reads else (self.writes[name],)
        if len({m.rows for m in maps}) > 1:
            return 0, 1, 1
        spans = [s for s in (m.span(o0, o1, self.rows) for m in maps) if s[1] > s[0]]
        if not spans:
            return 0, 0, maps[0].rows
        return min(s[0] for s in spans), max(s[1] for s in spans), maps[0].rows

    def bands_bytes(self, name: str, nbytes: int, o0: np.ndarray, o1: np.ndarray) -> np.ndarray:
        """:meth:`band_bytes` of many bands at once. Several maps of one tensor with the same
        rows take the union of their spans, otherwise the largest."""
        maps = self.reads[name] if name in self.reads else (self.writes[name],)
        if len(maps) == 1:
            lo, hi = maps[0].spans(o0, o1, self.rows)
            return -(-nbytes * (hi - lo) // maps[0].rows)
        spans = [m.spans(o0, o1, self.rows) for m in maps]
        if len({m.rows for m in maps}) == 1:
            his = np.max([hi for _, hi in spans], axis=0)
            los = np.min([np.where(hi > lo, lo, his) for lo, hi in spans], axis=0)
            return -(-nbytes * (his - los) // maps[0].rows)
        return np.max([-(-nbytes * (hi - lo) // m.rows) for m, (lo, hi) in zip(maps, spans)], axis=0)


def _pair(v, default: int) -> tuple[int, int]:
    if v is None:
        return default, default
    if isinstance(v, (list, tuple)):
        return int(v[0]), int(v[-1])
    return int(v), int(v)


def _main_maps(g: Graph, op: Op, axis: int) -> list[RowMap | None]:
    """Maps of the main op's inputs (None: needed whole) for driver axis ``axis`` of its output."""
    shapes = [g.tensor[i].shape for i in op.inputs]
    x = shapes[0]
    a = op.attrs
    if op.kind in ("conv2d", "max_pool2d", "avg_pool2d", "conv_transpose2d"):
        if op.kind == "conv2d" or op.kind == "conv_transpose2d":
            k = shapes[1][2]
            s = _pair(a.get("stride"), 1)[0]
        else:
            k = _pair(a["kernel_size"], 1)[0]
            s = _pair(a.get("stride") or a["kernel_size"], 1)[0]
        params = (k, s, _pair(a.get("padding"), 0)[0], _pair(a.get("dilation"), 1)[0])
        return [RowMap("tconv" if op.kind == "conv_transpose2d" else "window", x[2], params, 2)]
    if op.kind in ("upsample_nearest2d", "upsample_bilinear2d", "upsample_bicubic2d"):
        extra = {"upsample_bilinear2d": 1, "upsample_bicubic2d": 2}.get(op.kind, 0)  # rows of taps each side
        return [RowMap("scale", x[2], (extra,), 2)]
    if op.kind in ("pixel_shuffle", "pixel_unshuffle"):
        return [RowMap(op.kind.replace("pixel_", ""), x[2], (int(a["factor"]),), 2)]
    if op.kind in ("adaptive_avg_pool2d", "adaptive_max_pool2d"):
        return [RowMap("fraction", x[2], (), 2)]
    if op.kind == "pad":  # a constant pad shifts rows; the other modes read rows far away: whole
        lo, hi = pad_amounts(x, a["pads"])[axis]
        if (lo or hi) and a.get("mode", "constant") != "constant":
            raise _Unbandable
        return [RowMap("window", x[axis], (1, 1, lo, 1), axis)]
    if op.kind == "gather":
        if int(a["axis"]) % len(x) == axis:
            raise _Unbandable
        return [RowMap("fraction", x[axis], (), axis)]
    if op.kind == "slice":
        if int(a["axis"]) % len(x) == axis:
            return [RowMap("offset", x[axis], (int(a["start"]), int(a.get("step", 1))), axis)]
        return [RowMap("fraction", x[axis], (), axis)]
    if op.kind == "concat":
        if int(a["axis"]) % len(x) != axis:
            return [RowMap("fraction", s[axis], (), axis) for s in shapes]
        maps, at = [], 0
        for s in shapes:
            maps.append(RowMap("segment", s[axis], (at, s[axis]), axis))
            at += s[axis]
        return maps
    if op.kind == "linear":
        return [RowMap("fraction", x[axis], (), axis) if axis < len(x) - 1 else None]
    if op.kind == "matmul":
        out = g.tensor[op.outputs[0]].shape
        first = RowMap("fraction", x[axis], (), axis) if len(x) == len(out) and axis < len(x) - 1 else None
        y = shapes[1]
        second = (RowMap("fraction", y[axis], (), axis)
                  if len(y) == len(out) and axis < len(y) - 2 and y[axis] == out[axis] else None)
        return [first, second]
    if op.kind == "unfold":
        (k, _), (d, _), (pad, _), (s, pw) = (_pair(a.get(n), dflt) for n, dflt in
                                            (("kernel_size", 1), ("dilation", 1), ("padding", 0), ("stride", 1)))
        kw, dw, padw = _pair(a.get("kernel_size"), 1)[1], _pair(a.get("dilation"), 1)[1], _pair(a.get("padding"), 0)[1]
        per_row = (x[3] + 2 * padw - dw * (kw - 1) - 1) // pw + 1
        return [RowMap("unfold", x[2], (k, s, pad, d, per_row), 2)]
    return [_follow_map(g, op, i, axis) for i in range(len(op.inputs))]


def _check_along(op: Op, rank: int, axis: int) -> None:
    """A softmax or layer norm along the band axis needs whole rows of it, a group norm the whole
    map, a flip or roll along it rows of other bands: no banding."""
    if op.kind in WHOLE_MAP or (op.kind in MOVES_ALONG and axis in {int(d) % rank for d in op.attrs["dims"]}):
        raise _Unbandable
    if op.kind == "softmax" and int(op.attrs["dim"]) % rank == axis:
        raise _Unbandable
    if op.kind == "layer_norm" and axis >= rank - len(op.attrs["normalized_shape"]):
        raise _Unbandable


def _follow_map(g: Graph, op: Op, position: int, out_axis: int) -> RowMap | None:
    """Map of input ``position`` of a fused (element-wise) op whose output is banded on ``out_axis``."""
    shape = g.tensor[op.inputs[position]].shape
    out = g.tensor[op.outputs[0]].shape
    a = _input_axis(op, shape, out, out_axis)
    if a is not None:
        _check_along(op, len(shape), a)
    if a is None or shape[a] == 1:
        return None
    return RowMap("fraction", shape[a], (), a)


def _input_axis(op: Op, shape, out, out_axis: int) -> int | None:
    """The input axis feeding output axis ``out_axis`` of an element-wise op (None: none)."""
    if op.kind == "permute":
        return [int(d) % len(shape) for d in op.attrs["dims"]][out_axis]
    if op.kind in REDUCTIONS:
        dims = op.attrs.get("dims")
        reduced = set(range(len(shape))) if dims is None else {int(d) % len(shape) for d in dims}
        kept = [i for i in range(len(shape)) if i not in reduced or op.attrs.get("keepdim")]
        return kept[out_axis] if kept[out_axis] not in reduced else None
    a = out_axis - (len(out) - len(shape))
    return a if 0 <= a < len(shape) else None


def _output_axis(g: Graph, op: Op, position: int, in_axis: int) -> int | None:
    """The output axis an element-wise op carries input axis ``in_axis`` of input ``position`` to."""
    shape = g.tensor[op.inputs[position]].shape
    out = g.tensor[op.outputs[0]].shape
    _check_along(op, len(shape), in_axis)
    for a in range(len(out)):
        if _input_axis(op, shape, out, a) == in_axis and out[a] == shape[in_axis]:
            return a
    return None


def _view_axis(g: Graph, root: str, axis: int, view: str) -> int:
    """Band axis of ``view`` (a row-major reshape of ``root``): the axis that starts where
    ``axis`` starts (same product of the dimensions before it) and splits it or merges it
    with inner ones; if there is none the layer cannot be banded."""
    shape, new = g.tensor[root].shape, g.tensor[view].shape
    before = math.prod(shape[:axis])
    for a in range(len(new)):
        if math.prod(new[:a]) == before and new[a] > 1 and (shape[axis] % new[a] == 0 or new[a] % shape[axis] == 0):
            return a
    raise _Unbandable


def band_model(g: Graph, index: int) -> BandModel | None:
    """How layer ``index`` splits into row bands, or None if it cannot be banded (memoised per graph)."""
    return g.memo(("band_model", index), lambda _: _band_model(g, index))


CONST = -1  # axis marker: a small value computed whole before the bands (e.g. a 1x1 conv's output)


def _pick_axis(shape) -> int | None:
    """Band axis of a tensor: H for a rank-4 map with H > 1, else its outermost axis longer than one."""
    if len(shape) == 4 and shape[2] > 1:
        return 2
    return next((i for i, n in enumerate(shape) if n > 1), None)


class _Builder:
    """Walks a layer's ops, giving each value a band axis (None: accumulated whole; CONST)."""

    def __init__(self, g: Graph, index: int):
        self.g = g
        self.io = layer_io(g)[index]
        self.ops = [g.op[n] for n in g.layers[index].ops]
        self.reads = set(self.io.reads)
        self.rows: int | None = None
        self.axes: dict[str, int | None] = {}
        self.maps: dict[str, list[RowMap | None]] = {}

    def external(self, op: Op, maps: list[RowMap | None]) -> None:
        for name, m in zip(op.inputs, maps):
            root = self.g.root(name)
            if root in self.reads:
                if m is not None and name != root:  # seen through a reshape: the axis is the view's
                    m = RowMap(m.kind, m.rows, m.params)
                self.maps.setdefault(root, []).append(m)

    def main(self) -> None:
        g, op = self.g, self.ops[0]
        out = g.tensor[op.outputs[0]].shape
        if op.kind in ("adaptive_avg_pool2d", "adaptive_max_pool2d") and out[2] == 1:  # global pooling: rows add up
            self.rows = g.tensor[op.inputs[0]].shape[2]
            self.axes[op.outputs[0]] = None
            self.external(op, [RowMap("fraction", self.rows, (), 2)])
            return
        if op.kind == "unfold":
            axis = 2 if out[2] > 1 else None  # the blocks
        elif op.kind in SPATIAL:
            axis = 2 if out[2] > 1 else None
        else:
            axis = _pick_axis(out)
        if axis is None:  # a small output: computed whole, its inputs read whole
            self.axes[op.outputs[0]] = CONST
            self.external(op, [None] * len(op.inputs))
            return
        self.rows = out[axis]
        self.axes[op.outputs[0]] = axis
        self.external(op, _main_maps(g, op, axis))

    def fused(self, op: Op) -> None:
        out = self.g.tensor[op.outputs[0]].shape
        axis = _fused_axis(self.g, op, self.axes)
        if axis == CONST:
            axis = _pick_axis(out) if any(self.g.root(i) in self.reads for i in op.inputs) else None
            if axis is None:
                axis = CONST
            elif self.rows is None:
                self.rows = out[axis]
            elif out[axis] != self.rows:
                raise _Unbandable
        self.axes[op.outputs[0]] = axis
        banded = axis is not None and axis != CONST
        self.external(op, [_follow_map(self.g, op, i, axis) if banded else None for i in range(len(op.inputs))])

    def model(self) -> BandModel:
        self.main()
        for op in self.ops[1:]:
            self.fused(op)
        if self.rows is None or self.rows <= 1:
            raise _Unbandable
        banded = {r: tuple(ms) for r, ms in self.maps.items() if all(m is not None for m in ms)}
        writes = {}
        for w in self.io.writes:
            a = self.axes.get(w)
            if a is not None and a != CONST:
                writes[w] = RowMap("fraction", self.g.tensor[w].shape[a], (), a)
        return BandModel(self.rows, banded, writes, tuple(r for r in self.maps if r not in banded),
                         tuple(w for w in self.io.writes if w not in writes), self._accumulated())

    def _accumulated(self) -> frozenset[str]:
        """The values reduced over the band axis (or computed from one), if one feeds an op whose
        output is banded (else none: nothing needs a first pass)."""
        if not any(a is None for a in self.axes.values()):
            return frozenset()  # nothing reduced over the bands
        whole = {n for n, a in self.axes.items() if a is None or a == CONST}
        used = any(self.g.root(i) in whole and self.axes.get(op.outputs[0]) not in (None, CONST)
                   for op in self.ops for i in op.inputs)
        return frozenset(whole) if used else frozenset()


def _band_model(g: Graph, index: int) -> BandModel | None:
    if any(g.op[name].kind == "host" for name in g.layers[index].ops):
        return None  # a host op runs on the host CPU: never in row bands nor in a cascade
    try:
        return _Builder(g, index).model()
    except _Unbandable:
        return None


def _fused_axis(g: Graph, op: Op, axes: dict[str, int | None]) -> int | None:
    """Band axis of a fused op's output from its in-layer inputs (None: produced whole;
    CONST: only small whole values feed it)."""
    found: list[int | None] = []
    for i, name in enumerate(op.inputs):
        root = g.root(name)
        if root not in axes or axes[root] is None or axes[root] == CONST:
            continue  # a small whole value, or one accumulated over the bands (see below)
        a = axes[root]
        if a is not None and name != root:
            a = _view_axis(g, root, a, name)
        found.append(None if a is None else _output_axis(g, op, i, a))
    if not found:
        return CONST
    if any(a is None for a in found) and any(a is not None for a in found):
        raise _Unbandable  # mixes a whole (accumulated) value with banded ones
    if len(set(found)) > 1:
        raise _Unbandable
    return found[0]


@functools.lru_cache(maxsize=4096)
def bands(rows: int, height: int) -> tuple[tuple[int, int], ...]:
    """Driver rows ``[0, rows)`` cut into bands of ``height`` rows (the last may be shorter)."""
    return tuple((o0, min(o0 + height, rows)) for o0 in range(0, rows, height))
