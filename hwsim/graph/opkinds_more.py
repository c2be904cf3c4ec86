"""Rules of the op kinds added for the ops U-Nets in use bring (issue 13): padding, bicubic
upsampling, adaptive max pooling, gathers, group norm, PReLU/Mish/Softplus, comparisons and
``where``, max/min reductions, flips and rolls.

Counting conventions (as ``opkinds.py``): none of these has MACs (``FlopCounterMode`` counts
none for them: attention and ``einsum`` are extracted as ``matmul`` ops, Conv1d as a
``conv2d`` of height 1). Vector operations:

* ``group_norm``: 7 per input element, as ``layer_norm`` (mean, subtract, square, mean,
  divide, scale, shift), but its statistics span a whole group of channels *over the whole
  map*: a layer holding one needs its whole input before its first output row. The band
  model (``hwsim/schedule/bands.py``) therefore refuses to stream it in row bands, and a
  cascade ends at it, as at a global pooling; Vela has no such op (TFLite lowers GroupNorm
  to reductions + element-wise ops, which Vela schedules as separate whole-tensor passes),
  Stream models it as a layer of its own. InstanceNorm is a group norm with one channel
  per group.
* ``prelu``, ``mish``, ``softplus``, comparisons, logical ops, ``where``: one per output
  element (a LUT-based vector unit does Mish or Softplus in one pass, as it does GELU).
* ``amax`` / ``amin``: one comparison per input element.
* ``adaptive_max_pool2d``: one comparison per input element of each bin (bins overlap when
  the size does not divide: then more than the input's elements).
* ``upsample_bicubic2d``: 15 per output element: the 4x4 cubic taps applied separably,
  4 multiplies + 3 adds per pass, two passes, and the intermediate's read-back counted once.
* ``pad``, ``gather``, ``flip``, ``roll``: data movement, no vector work (as ``slice`` and
  ``concat``).
"""

from __future__ import annotations

import math
from typing import Sequence

from hwsim.graph.opkinds import (Attrs, OpKind, Shape, _adaptive_infer, _kind, _need, _pair, _per_in0,
                                 _per_out, _reduce_infer, _resize_infer, _same_infer, broadcast)

PAD_MODES = ("constant", "reflect", "replicate", "circular")


def pad_amounts(shape: Shape, pads: Sequence[int]) -> list[tuple[int, int]]:
    """(before, after) per axis of a tensor of ``shape`` from torch's ``F.pad`` list (last axis first)."""
    out = [(0, 0)] * len(shape)
    for i in range(len(pads) // 2):
        out[len(shape) - 1 - i] = (int(pads[2 * i]), int(pads[2 * i + 1]))
    return out


def _pad_infer(ins: Sequence[Shape], a: Attrs) -> list[Shape]:
    x = ins[0]
    pads = list(a["pads"])
    _need(len(pads) % 2 == 0 and len(pads) // 2 <= len(x), f"pads {pads} must be pairs, at most one per axis")
    mode = a.get("mode", "constant")
    amounts = pad_amounts(x, pads)
    for size, (lo, hi) in zip(x, amounts):
        if mode == "constant":
            _need(size + lo + hi > 0, f"padding {pads} leaves an empty axis")
        else:
            _need(lo >= 0 and hi >= 0, f"{mode} padding {pads} must not be negative")
            if mode == "reflect":
                _need(lo < size and hi < size, f"reflect padding {pads} must be smaller than the axis {size}")
            if mode == "circular":
                _need(lo <= size and hi <= size, f"circular padding {pads} must not exceed the axis {size}")
    return [tuple(n + lo + hi for n, (lo, hi) in zip(x, amounts))]


def _adaptive_bins(size: int, out: int) -> int:
    """Input elements of all ``out`` adaptive bins along an axis of ``size``: sum of bin lengths."""
    return sum(-(-((i + 1) * size) // out) - (i * size) // out for i in range(out))


def _adaptive_max_ops(ins: Sequence[Shape], outs: Sequence[Shape], a: Attrs) -> int:
    x = ins[0]
    oh, ow = _pair(a["output_size"])
    return x[0] * x[1] * _adaptive_bins(x[2], oh) * _adaptive_bins(x[3], ow)


def _gather_infer(ins: Sequence[Shape], a: Attrs) -> list[Shape]:
    x = ins[0]
    ax = int(a["axis"])
    _need(-len(x) <= ax < len(x), f"axis {ax} out of range for rank {len(x)}")
    ax %= len(x)
    idx = list(a["indices"])
    _need(len(idx) > 0 and all(-x[ax] <= i < x[ax] for i in idx), f"indices outside an axis of {x[ax]}")
    out = list(x)
    out[ax] = len(idx)
    return [tuple(out)]


def _group_norm_infer(ins: Sequence[Shape], a: Attrs) -> list[Shape]:
    x = ins[0]
    _need(len(x) >= 2, "group_norm needs an input of rank >= 2")
    g = int(a["num_groups"])
    _need(x[1] % g == 0, f"group_norm: {x[1]} channels not divisible by {g} groups")
    for p in ins[1:]:
        _need(p == (x[1],), f"group_norm parameter shape {list(p)} is not [{x[1]}]")
    return [x]


_SCALARS = ("scalar_x", "scalar_y")


def _where_infer(ins: Sequence[Shape], a: Attrs) -> list[Shape]:
    scalars = sum(k in a for k in _SCALARS)
    _need(len(ins) + scalars == 3, "where takes a condition and two values (tensors, or 'scalar_x'/'scalar_y')")
    return [broadcast(*ins)]


def _compare_infer(ins: Sequence[Shape], a: Attrs) -> list[Shape]:
    _need((len(ins) == 2) != ("scalar" in a), "takes two tensors, or one tensor and the attribute 'scalar'")
    return [broadcast(*ins)]


def _axes_infer(ins: Sequence[Shape], a: Attrs) -> list[Shape]:
    x = ins[0]
    dims = [int(d) for d in a["dims"]]
    _need(all(-len(x) <= d < len(x) for d in dims), f"dims {dims} out of range for rank {len(x)}")
    _need(len({d % len(x) for d in dims}) == len(dims), f"dims {dims} name an axis twice")
    if "shifts" in a:
        _need(len(list(a["shifts"])) == len(dims), "roll needs one shift per axis in dims")
    return [x]


def _bicubic_ops(ins: Sequence[Shape], outs: Sequence[Shape], a: Attrs) -> int:
    return 15 * math.prod(outs[0])


COMPARISONS = ("gt", "lt", "ge", "le", "eq", "ne")
LOGICAL = ("logical_and", "logical_or")

MORE_MAIN: list[OpKind] = [
    _kind("pad", "main", (1, 1), _pad_infer, required=["pads"]),
    _kind("upsample_bicubic2d", "main", (1, 1), _resize_infer, vector_ops=_bicubic_ops, required=["size"]),
    _kind("adaptive_max_pool2d", "main", (1, 1), _adaptive_infer, vector_ops=_adaptive_max_ops,
          required=["output_size"]),
    _kind("gather", "main", (1, 1), _gather_infer, required=["axis", "indices"]),
]
MORE_ELTWISE: list[OpKind] = (
    [_kind(n, "elementwise", (1, 1), _same_infer, vector_ops=_per_out(1)) for n in ("mish", "softplus",
                                                                                    "logical_not")]
    + [_kind(n, "elementwise", (1, 2), _compare_infer, vector_ops=_per_out(1)) for n in COMPARISONS + LOGICAL]
    + [
        _kind("prelu", "elementwise", (2, 2), lambda ins, a: [broadcast(*ins)], vector_ops=_per_out(1)),
        _kind("where", "elementwise", (1, 3), _where_infer, vector_ops=_per_out(1)),
        _kind("amax", "elementwise", (1, 1), _reduce_infer, vector_ops=_per_in0(1)),
        _kind("amin", "elementwise", (1, 1), _reduce_infer, vector_ops=_per_in0(1)),
        _kind("group_norm", "elementwise", (1, 3), _group_norm_infer, vector_ops=_per_in0(7),
              required=["num_groups"]),
        _kind("flip", "elementwise", (1, 1), _axes_infer, required=["dims"]),
        _kind("roll", "elementwise", (1, 1), _axes_infer, required=["dims", "shifts"]),
    ]
)
