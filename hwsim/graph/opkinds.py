"""Op kinds and their rules: output shape, multiply-accumulates, element-wise operations.

This table is torch-free: the extractor maps ATen targets onto these kinds, the validator
checks every op's declared output shapes against :func:`infer_shapes`, and the scheduler
and numerics read the same rules. Shapes are tuples of ints; ``attrs`` a plain mapping.

Counting conventions (documented in the JSON Schema too):

* ``macs``: multiply-accumulates of convolutions, transposed convolutions, linear layers
  and matrix products, exactly as ``torch.utils.flop_counter.FlopCounterMode`` counts them
  (its flops / 2). Bias additions are not MACs.
* ``vector_ops``: work for the vector unit, one operation per output element for an
  arithmetic or activation op (a LUT-based unit does a sigmoid or GELU in one pass), one
  per input element for a reduction, 7 per element for a layer norm (mean, subtract,
  square, mean, divide, scale, shift), 4 per element for softmax, window-size comparisons
  per output of max pooling, one per input element of average pooling, 7 per output of
  bilinear interpolation. Pure data movement (permute, shuffle, slicing, concatenation,
  nearest upsampling, unfold) costs none.

The kinds added for the ops of issue 13 (padding, bicubic upsampling, group norm, ...) have
their rules in ``opkinds_more.py``.

Categories: ``main`` ops start a layer; ``elementwise`` ops (reductions over axes and
permutes included) fuse into the layer that produced one of their inputs (see layers.py);
a ``host`` op (``host.py``, ``--fallback host``) is a layer of its own that nothing joins.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

Shape = tuple[int, ...]
Attrs = Mapping[str, Any]


class ShapeError(ValueError):
    """An op's inputs or attributes do not fit its rule."""


@dataclass(frozen=True)
class OpKind:
    name: str
    category: str  # "main" | "elementwise"
    arity: tuple[int, int]  # min, max number of tensor inputs
    infer: Callable[[Sequence[Shape], Attrs], list[Shape]]
    macs: Callable[[Sequence[Shape], Sequence[Shape], Attrs], int]
    vector_ops: Callable[[Sequence[Shape], Sequence[Shape], Attrs], int]
    required: tuple[str, ...] = ()


def _none(ins: Sequence[Shape], outs: Sequence[Shape], a: Attrs) -> int:
    return 0


def _per_out(k: int) -> Callable[[Sequence[Shape], Sequence[Shape], Attrs], int]:
    return lambda ins, outs, a: k * sum(math.prod(s) for s in outs)


def _per_in0(k: int) -> Callable[[Sequence[Shape], Sequence[Shape], Attrs], int]:
    return lambda ins, outs, a: k * math.prod(ins[0])


def _pair(v: Any) -> tuple[int, int]:
    if isinstance(v, (list, tuple)):
        if len(v) == 1:
            return int(v[0]), int(v[0])
        return int(v[0]), int(v[1])
    return int(v), int(v)


def _need(cond: bool, msg: str) -> None:
    if not cond:
        raise ShapeError(msg)


def broadcast(*shapes: Shape) -> Shape:
    """Numpy/torch broadcasting of shapes."""
    rank = max(len(s) for s in shapes)
    out = []
    for i in range(rank):
        dims = {s[i - rank + len(s)] for s in shapes if i - rank + len(s) >= 0} - {1}
        _need(len(dims) <= 1, f"shapes {list(map(list, shapes))} do not broadcast")
        out.append(dims.pop() if dims else 1)
    return tuple(out)


# ---- convolution family ---------------------------------------------------------------
def _conv_out(size: int, k: int, s: int, p: int, d: int) -> int:
    return (size + 2 * p - d * (k - 1) - 1) // s + 1


def _conv_infer(ins: Sequence[Shape], a: Attrs) -> list[Shape]:
    x, w = ins[0], ins[1]
    _need(len(x) == 4 and len(w) == 4, "conv2d needs a 4-D input and a 4-D weight")
    g = int(a.get("groups", 1))
    _need(x[1] == w[1] * g, f"input has {x[1]} channels, weight expects {w[1] * g}")
    _need(w[0] % g == 0, "output channels not divisible by groups")
    if len(ins) > 2:
        _need(ins[2] == (w[0],), f"bias shape {list(ins[2])} is not [{w[0]}]")
    (sh, sw), (ph, pw), (dh, dw) = _pair(a.get("stride", 1)), _pair(a.get("padding", 0)), _pair(a.get("dilation", 1))
    oh, ow = _conv_out(x[2], w[2], sh, ph, dh), _conv_out(x[3], w[3], sw, pw, dw)
    _need(oh > 0 and ow > 0, "convolution output would be empty")
    return [(x[0], w[0], oh, ow)]


def _conv_macs(ins: Sequence[Shape], outs: Sequence[Shape], a: Attrs) -> int:
    w = ins[1]
    return math.prod(outs[0]) * w[1] * w[2] * w[3]


def _convt_infer(ins: Sequence[Shape], a: Attrs) -> list[Shape]:
    x, w = ins[0], ins[1]
    _need(len(x) == 4 and len(w) == 4, "conv_transpose2d needs a 4-D input and a 4-D weight")
    g = int(a.get("groups", 1))
    _need(x[1] == w[0], f"input has {x[1]} channels, weight expects {w[0]}")
    _need(w[0] % g == 0, "input channels not divisible by groups")
    cout = w[1] * g
    if len(ins) > 2:
        _need(ins[2] == (cout,), f"bias shape {list(ins[2])} is not [{cout}]")
    s, p, d = _pair(a.get("stride", 1)), _pair(a.get("padding", 0)), _pair(a.get("dilation", 1))
    op = _pair(a.get("output_padding", 0))
    _need(all(op[i] < max(s[i], d[i]) for i in range(2)),
          f"output_padding {list(op)} must be smaller than the stride or the dilation")
    size = [(x[2 + i] - 1) * s[i] - 2 * p[i] + d[i] * (w[2 + i] - 1) + op[i] + 1 for i in range(2)]
    _need(min(size) > 0, "transposed convolution output would be empty")
    return [(x[0], cout, size[0], size[1])]


def _convt_macs(ins: Sequence[Shape], outs: Sequence[Shape], a: Attrs) -> int:
    # FlopCounterMode: every input pixel meets the whole filter: N*H*W * prod(weight).
    x, w = ins[0], ins[1]
    return x[0] * x[2] * x[3] * math.prod(w)


def _linear_infer(ins: Sequence[Shape], a: Attrs) -> list[Shape]:
    x, w = ins[0], ins[1]
    _need(len(x) >= 1 and len(w) == 2, f"linear needs an input of rank >= 1 and a 2-D weight, got {list(w)}")
    _need(x[-1] == w[1], f"linear input last dim {x[-1]} does not match weight {list(w)}")
    if len(ins) > 2:
        _need(ins[2] == (w[0],), f"bias shape {list(ins[2])} is not [{w[0]}]")
    return [tuple(x[:-1]) + (w[0],)]


def _linear_macs(ins: Sequence[Shape], outs: Sequence[Shape], a: Attrs) -> int:
    return math.prod(outs[0]) * ins[1][1]


def _matmul_infer(ins: Sequence[Shape], a: Attrs) -> list[Shape]:
    x, y = ins
    _need(len(x) >= 2 and len(y) >= 2, "matmul needs operands of rank >= 2")
    _need(x[-1] == y[-2], f"matmul inner dims differ: {list(x)} @ {list(y)}")
    return [broadcast(x[:-2], y[:-2]) + (x[-2], y[-1])]


def _matmul_macs(ins: Sequence[Shape], outs: Sequence[Shape], a: Attrs) -> int:
    return math.prod(outs[0]) * ins[0][-1]


def _unfold_infer(ins: Sequence[Shape], a: Attrs) -> list[Shape]:
    x = ins[0]
    _need(len(x) == 4, "unfold needs a 4-D input")
    k, d, p, s = (_pair(a.get(n, dflt)) for n, dflt in
                  (("kernel_size", 1), ("dilation", 1), ("padding", 0), ("stride", 1)))
    blocks = [_conv_out(x[2 + i], k[i], s[i], p[i], d[i]) for i in range(2)]
    _need(min(blocks) > 0, "unfold output would be empty")
    return [(x[0], x[1] * k[0] * k[1], blocks[0] * blocks[1])]


# ---- resampling and pooling -----------------------------------------------------------
def _shuffle_infer(ins: Sequence[Shape], a: Attrs) -> list[Shape]:
    _need(len(ins[0]) == 4, "pixel_shuffle needs a 4-D input")
    (n, c, h, w), r = ins[0], int(a["factor"])
    _need(c % (r * r) == 0, f"pixel_shuffle: {c} channels not divisible by {r * r}")
    return [(n, c // (r * r), h * r, w * r)]


def _unshuffle_infer(ins: Sequence[Shape], a: Attrs) -> list[Shape]:
    _need(len(ins[0]) == 4, "pixel_unshuffle needs a 4-D input")
    (n, c, h, w), r = ins[0], int(a["factor"])
    _need(h % r == 0 and w % r == 0, f"pixel_unshuffle: {h}x{w} not divisible by {r}")
    return [(n, c * r * r, h // r, w // r)]


def _resize_infer(ins: Sequence[Shape], a: Attrs) -> list[Shape]:
    x = ins[0]
    _need(len(x) == 4, "upsampling needs a 4-D input")
    h, w = _pair(a["size"])
    _need(h > 0 and w > 0, "upsampling to an empty size")
    return [(x[0], x[1], h, w)]


def _pool_out(size: int, k: int, s: int, p: int, d: int, ceil: bool) -> int:
    num = size + 2 * p - d * (k - 1) - 1
    out = (-(-num // s) if ceil else num // s) + 1
    if ceil and (out - 1) * s >= size + p:
        out -= 1
    return out


def _pool_infer(ins: Sequence[Shape], a: Attrs) -> list[Shape]:
    x = ins[0]
    _need(len(x) == 4, "pooling needs a 4-D input")
    k = _pair(a["kernel_size"])
    s = _pair(a.get("stride") or k)
    p, d = _pair(a.get("padding", 0)), _pair(a.get("dilation", 1))
    _need(all(2 * p[i] <= d[i] * (k[i] - 1) + 1 for i in range(2)),
          f"padding {list(p)} is more than half the kernel {list(k)}")
    ceil = bool(a.get("ceil_mode", False))
    hw = [_pool_out(x[2 + i], k[i], s[i], p[i], d[i], ceil) for i in range(2)]
    _need(min(hw) > 0, "pooling output would be empty")
    return [(x[0], x[1], hw[0], hw[1])]


def _maxpool_ops(ins: Sequence[Shape], outs: Sequence[Shape], a: Attrs) -> int:
    kh, kw = _pair(a["kernel_size"])
    return math.prod(outs[0]) * kh * kw


def _adaptive_infer(ins: Sequence[Shape], a: Attrs) -> list[Shape]:
    x = ins[0]
    _need(len(x) == 4, "adaptive pooling needs a 4-D input")
    h, w = _pair(a["output_size"])
    return [(x[0], x[1], h, w)]


# ---- concatenation and slicing --------------------------------------------------------
def _axis(a: Attrs, rank: int) -> int:
    ax = int(a["axis"])
    _need(-rank <= ax < rank, f"axis {ax} out of range for rank {rank}")
    return ax % rank


def _concat_infer(ins: Sequence[Shape], a: Attrs) -> list[Shape]:
    ax = _axis(a, len(ins[0]))
    for s in ins[1:]:
        _need(len(s) == len(ins[0]) and all(s[i] == ins[0][i] for i in range(len(s)) if i != ax),
              f"concat shapes {[list(s) for s in ins]} differ off axis {ax}")
    out = list(ins[0])
    out[ax] = sum(s[ax] for s in ins)
    return [tuple(out)]


def _slice_infer(ins: Sequence[Shape], a: Attrs) -> list[Shape]:
    x = ins[0]
    ax = _axis(a, len(x))
    start, end, step = int(a["start"]), int(a["end"]), int(a.get("step", 1))
    _need(0 <= start < end <= x[ax] and step >= 1, f"slice [{start}:{end}:{step}] outside axis of size {x[ax]}")
    out = list(x)
    out[ax] = -(-(end - start) // step)
    return [tuple(out)]


# ---- element-wise, reductions, layout --------------------------------------------------
def _eltwise_infer(ins: Sequence[Shape], a: Attrs) -> list[Shape]:
    _need((len(ins) == 2) != ("scalar" in a), "takes two tensors, or one tensor and the attribute 'scalar'")
    return [broadcast(*ins)]


def _reduce_infer(ins: Sequence[Shape], a: Attrs) -> list[Shape]:
    x = ins[0]
    dims = a.get("dims")
    axes = set(range(len(x))) if dims is None else {_axis({"axis": d}, len(x)) for d in dims}
    _need(dims is None or len(axes) == len(dims), f"dims {list(dims or [])} name an axis twice")
    keep = bool(a.get("keepdim", False))
    return [tuple(1 if i in axes else n for i, n in enumerate(x) if keep or i not in axes)]


def _permute_infer(ins: Sequence[Shape], a: Attrs) -> list[Shape]:
    x = ins[0]
    dims = [_axis({"axis": d}, len(x)) for d in a["dims"]]
    _need(sorted(dims) == list(range(len(x))), f"permute dims {list(a['dims'])} are not a permutation")
    return [tuple(x[d] for d in dims)]


def _norm_infer(ins: Sequence[Shape], a: Attrs) -> list[Shape]:
    x = ins[0]
    ns = tuple(int(n) for n in a["normalized_shape"])
    _need(tuple(x[len(x) - len(ns):]) == ns, f"layer_norm over {list(ns)} does not end input {list(x)}")
    for p in ins[1:]:
        _need(p == ns, f"layer_norm parameter shape {list(p)} is not {list(ns)}")
    return [x]


def _bn_infer(ins: Sequence[Shape], a: Attrs) -> list[Shape]:
    x = ins[0]
    _need(len(x) >= 2, "batch_norm needs an input of rank >= 2")
    for p in ins[1:]:
        _need(p == (x[1],), f"batch_norm parameter shape {list(p)} is not [{x[1]}]")
    return [x]


def _same_infer(ins: Sequence[Shape], a: Attrs) -> list[Shape]:
    return [ins[0]]


def _softmax_infer(ins: Sequence[Shape], a: Attrs) -> list[Shape]:
    _axis({"axis": a["dim"]}, len(ins[0]))
    return [ins[0]]


def _kind(name, category, arity, infer, macs=_none, vector_ops=_none, required=()) -> OpKind:
    return OpKind(name, category, arity, infer, macs, vector_ops, tuple(required))


_MAIN = [
    _kind("conv2d", "main", (2, 3), _conv_infer, _conv_macs),
    _kind("conv_transpose2d", "main", (2, 3), _convt_infer, _convt_macs),
    _kind("linear", "main", (2, 3), _linear_infer, _linear_macs),
    _kind("matmul", "main", (2, 2), _matmul_infer, _matmul_macs),
    _kind("unfold", "main", (1, 1), _unfold_infer, required=["kernel_size"]),
    _kind("pixel_shuffle", "main", (1, 1), _shuffle_infer, required=["factor"]),
    _kind("pixel_unshuffle", "main", (1, 1), _unshuffle_infer, required=["factor"]),
    _kind("upsample_nearest2d", "main", (1, 1), _resize_infer, required=["size"]),
    _kind("upsample_bilinear2d", "main", (1, 1), _resize_infer, vector_ops=_per_out(7), required=["size"]),
    _kind("max_pool2d", "main", (1, 1), _pool_infer, vector_ops=_maxpool_ops, required=["kernel_size"]),
    _kind("avg_pool2d", "main", (1, 1), _pool_infer, vector_ops=_per_in0(1), required=["kernel_size"]),
    _kind("adaptive_avg_pool2d", "main", (1, 1), _adaptive_infer, vector_ops=_per_in0(1),
          required=["output_size"]),
    _kind("concat", "main", (1, 64), _concat_infer, required=["axis"]),
    _kind("slice", "main", (1, 1), _slice_infer, required=["axis", "start", "end"]),
]
_UNARY = ["relu", "gelu", "sigmoid", "tanh", "sqrt", "rsqrt", "neg", "exp", "abs", "clamp", "silu",
          "hardswish", "hardsigmoid", "leaky_relu", "pow", "sin", "cos"]
_BINARY = ["add", "sub", "mul", "div", "maximum", "minimum"]
_ELTWISE = (
    [_kind(n, "elementwise", (1, 1), _same_infer, vector_ops=_per_out(1)) for n in _UNARY]
    + [_kind(n, "elementwise", (1, 2), _eltwise_infer, vector_ops=_per_out(1)) for n in _BINARY]
    + [
        _kind("mean", "elementwise", (1, 1), _reduce_infer, vector_ops=_per_in0(1)),
        _kind("sum", "elementwise", (1, 1), _reduce_infer, vector_ops=_per_in0(1)),
        _kind("vector_norm", "elementwise", (1, 1), _reduce_infer, vector_ops=_per_in0(1)),
        _kind("softmax", "elementwise", (1, 1), _softmax_infer, vector_ops=_per_in0(4), required=["dim"]),
        _kind("layer_norm", "elementwise", (1, 3), _norm_infer, vector_ops=_per_in0(7),
              required=["normalized_shape"]),
        _kind("batch_norm", "elementwise", (5, 5), _bn_infer, vector_ops=_per_in0(2)),
        _kind("permute", "elementwise", (1, 1), _permute_infer, required=["dims"]),
    ]
)
from hwsim.graph.opkinds_more import MORE_ELTWISE, MORE_MAIN  # noqa: E402  (its rules use the helpers above)

from hwsim.graph.host import HOST, host_infer  # noqa: E402

# A host op (``host.py``): run by the host CPU, its own layer; no MACs, no vector work on the accelerator.
_HOST = [_kind(HOST, "host", (0, 64), host_infer, required=["op", "out_shapes", "ops"])]
OP_KINDS: dict[str, OpKind] = {k.name: k for k in _MAIN + MORE_MAIN + _ELTWISE + MORE_ELTWISE + _HOST}


def infer_shapes(kind: str, in_shapes: Sequence[Shape], attrs: Attrs) -> list[Shape]:
    """Output shapes of an op of ``kind``; raises ShapeError when inputs or attrs don't fit."""
    k = OP_KINDS[kind]
    lo, hi = k.arity
    _need(lo <= len(in_shapes) <= hi, f"{kind} takes {lo}..{hi} tensor inputs, got {len(in_shapes)}")
    missing = [r for r in k.required if r not in attrs]
    _need(not missing, f"{kind} needs attrs {missing}")
    return k.infer([tuple(s) for s in in_shapes], attrs)
