"""The TFLite op table (see tflite_import.py for the layout and bit-width rules).

Padding: SAME is TensorFlow's (the odd row after), turned into the IR's symmetric padding
that gives the same output size (``frontend.symmetric_padding``); an explicit zero PAD
(PADV2 whose value is the zero point, i.e. real 0) is folded into the convolution or
average pooling that reads it; any other reader (a max pooling, an addition, a graph output)
reads a ``pad`` op of its own, as do other constant paddings and MIRROR_PAD (``pad``).
"""

from __future__ import annotations

import math

import numpy as np

from hwsim.extract.aten_table import Unsupported
from hwsim.extract.frontend import PendingPad, depth_to_space_dcr, same_padding, space_to_depth_dcr, \
    symmetric_padding
from hwsim.extract.tflite_import import NHWC_TO_NCHW, Context, TflOp, nchw, register_tflite_op

_ACTIVATION = {1: ("relu", {}), 2: ("clamp", {"min": -1.0, "max": 1.0}), 3: ("clamp", {"min": 0.0, "max": 6.0}),
               4: ("tanh", {})}


def _fused(ctx: Context, op: TflOp, kind: str, inputs: list[str], attrs: dict) -> None:
    """The op, then its fused activation (if any) as its own element-wise op on the output tensor."""
    act = getattr(op.options, "FusedActivationFunction", lambda: 0)()
    if act == 0:
        ctx.set(op, ctx.emit(op, kind, inputs, attrs))
        return
    if act not in _ACTIVATION:
        raise Unsupported(f"fused activation {act}")
    out = ctx.tensor_name(op.outputs[0])  # names the op (and so its layer), as Vela's reports do
    inner = ctx.emit(op, kind, inputs, attrs, name=out + "/pre_activation", op_name=out)
    akind, aattrs = _ACTIVATION[act]
    ctx.set(op, ctx.emit(op, akind, [inner], aattrs, op_name=out + "/activation"))


def _axis(ctx: Context, i: int, axis: int) -> int:
    rank = len(ctx.file_shape(i))
    axis %= rank
    return NHWC_TO_NCHW[axis] if rank == 4 else axis


def _padding(ctx: Context, op: TflOp, x, k: list[int], s: list[int], d: list[int]) -> tuple[str, list[int]]:
    extra = (0, 0, 0, 0)
    if isinstance(x, PendingPad):
        x, extra = x.source, x.pads
    size = ctx.shape(x)[2:]
    same = op.options.Padding() == 0
    pads = [same_padding(size[i], k[i], s[i], d[i]) if same else (0, 0) for i in range(2)]
    pads = [(pads[0][0] + extra[0], pads[0][1] + extra[2]), (pads[1][0] + extra[1], pads[1][1] + extra[3])]
    return x, [symmetric_padding(size[i], k[i], s[i], pads[i][0], pads[i][1], d[i]) for i in range(2)]


def _bias(ctx: Context, op: TflOp, index: int) -> list[str]:
    i = op.inputs[index] if len(op.inputs) > index else -1
    return [] if i < 0 else [ctx.x(i)]


@register_tflite_op("CONV_2D", "DEPTHWISE_CONV_2D")
def conv(ctx: Context, op: TflOp) -> None:
    o = op.options
    x = ctx.x(op.inputs[0], pad_ok=True)
    wshape = ctx.file_shape(op.inputs[1])  # CONV_2D: (O, KH, KW, I); DEPTHWISE: (1, KH, KW, C*M)
    cin = ctx.file_shape(op.inputs[0])[3]
    if op.opname == "CONV_2D":
        w = ctx.param(op.inputs[1], (wshape[0], wshape[3], wshape[1], wshape[2]))
        groups = cin // wshape[3]
    else:
        w = ctx.param(op.inputs[1], (wshape[3], 1, wshape[1], wshape[2]))
        groups = cin
    s, d = [o.StrideH(), o.StrideW()], [o.DilationHFactor(), o.DilationWFactor()]
    x, pad = _padding(ctx, op, x, list(wshape[1:3]), s, d)
    _fused(ctx, op, "conv2d", [x, w] + _bias(ctx, op, 2),
           {"stride": s, "padding": pad, "dilation": d, "groups": groups})


@register_tflite_op("TRANSPOSE_CONV")
def transpose_conv(ctx: Context, op: TflOp) -> None:
    o = op.options
    out = ctx.const(op.inputs[0])
    wshape = ctx.file_shape(op.inputs[1])  # (O, KH, KW, I)
    x = ctx.x(op.inputs[2])
    w = ctx.param(op.inputs[1], (wshape[3], wshape[0], wshape[1], wshape[2]))
    size, s, k = ctx.shape(x)[2:], [o.StrideH(), o.StrideW()], wshape[1:3]
    want = [int(out[1]), int(out[2])]
    pad, extra = [], []
    for i in range(2):
        total = (size[i] - 1) * s[i] + k[i] - want[i]  # rows the transposed convolution crops
        p = max(-(-total // 2), 0)
        pad.append(p)
        extra.append(want[i] - ((size[i] - 1) * s[i] - 2 * p + k[i]))
    if any(e < 0 or e >= s[i] for i, e in enumerate(extra)):
        raise Unsupported(f"an output size {want} that no symmetric padding gives")
    _fused(ctx, op, "conv_transpose2d", [x, w] + _bias(ctx, op, 3),
           {"stride": s, "padding": pad, "output_padding": extra, "dilation": [1, 1], "groups": 1})


@register_tflite_op("FULLY_CONNECTED")
def fully_connected(ctx: Context, op: TflOp) -> None:
    x, wshape = ctx.x(op.inputs[0]), ctx.file_shape(op.inputs[1])  # weight (O, I)
    if ctx.shape(x)[-1] != wshape[1] or len(ctx.shape(x)) != 2:
        x = ctx.b.view(ctx.tensor_name(op.outputs[0]) + "/rows", x, (ctx.b.tensors[x].elements // wshape[1], wshape[1]))
    w = ctx.param(op.inputs[1], wshape)
    name = ctx.tensor_name(op.outputs[0])
    rows = (ctx.shape(x)[0], wshape[0])
    if rows == nchw(ctx.file_shape(op.outputs[0])):
        _fused(ctx, op, "linear", [x, w] + _bias(ctx, op, 2), {})
        return
    y = ctx.emit(op, "linear", [x, w] + _bias(ctx, op, 2), {}, name=name + "/rows_out")
    if getattr(op.options, "FusedActivationFunction", lambda: 0)():
        raise Unsupported("a FULLY_CONNECTED that reshapes its output and has a fused activation")
    ctx.view_out(op, y)


@register_tflite_op("MAX_POOL_2D", "AVERAGE_POOL_2D")
def pool(ctx: Context, op: TflOp) -> None:
    o = op.options
    raw = ctx.x(op.inputs[0], pad_ok=op.opname == "AVERAGE_POOL_2D")
    k, s = [o.FilterHeight(), o.FilterWidth()], [o.StrideH(), o.StrideW()]
    x, pad = _padding(ctx, op, raw, k, s, [1, 1])
    attrs = {"kernel_size": k, "stride": s, "padding": pad}
    if op.opname == "AVERAGE_POOL_2D":  # TensorFlow's SAME average leaves the padding out of the count
        attrs["count_include_pad"] = isinstance(raw, PendingPad)
        if isinstance(raw, PendingPad) and o.Padding() == 0:
            raise Unsupported("a zero PAD before a SAME average pooling")
    _fused(ctx, op, "avg_pool2d" if op.opname == "AVERAGE_POOL_2D" else "max_pool2d", [x], attrs)


@register_tflite_op("MEAN", "SUM")
def mean(ctx: Context, op: TflOp) -> None:
    x, axes = ctx.x(op.inputs[0]), ctx.const(op.inputs[1])
    if axes is None:
        raise Unsupported("reduction axes computed at run time")
    dims = sorted({_axis(ctx, op.inputs[0], int(a)) for a in axes.reshape(-1)})
    if op.opname == "MEAN" and len(ctx.shape(x)) == 4 and dims == [2, 3]:  # global average pooling
        pooled = ctx.emit(op, "adaptive_avg_pool2d", [x], {"output_size": [1, 1]},
                          name=ctx.tensor_name(op.outputs[0]) + "/pool")
        ctx.view_out(op, pooled)
        return
    if len(ctx.file_shape(op.inputs[0])) == 4 and len(ctx.file_shape(op.outputs[0])) == 4 and dims != [1]:
        raise Unsupported("a reduction over spatial axes that keeps a rank-4 result")
    keep = bool(op.options.KeepDims()) if op.options is not None else False
    ctx.set(op, ctx.emit(op, op.opname.lower(), [x], {"dims": dims, "keepdim": keep}))


_BINARY = {"ADD": "add", "SUB": "sub", "MUL": "mul", "DIV": "div", "MAXIMUM": "maximum", "MINIMUM": "minimum"}


@register_tflite_op(*_BINARY)
def binary(ctx: Context, op: TflOp) -> None:
    kind = _BINARY[op.opname]
    a, b = op.inputs[:2]
    out_rank = len(ctx.file_shape(op.outputs[0]))
    ca, cb = ctx.const(a), ctx.const(b)
    if cb is not None and cb.size == 1:
        _fused(ctx, op, kind, [_operand(ctx, op, a, out_rank)], {"scalar": float(ctx.real(b).reshape(-1)[0])})
    elif ca is not None and ca.size == 1:
        attrs = {"scalar": float(ctx.real(a).reshape(-1)[0])}
        if kind not in ("add", "mul", "maximum", "minimum"):
            attrs["reverse"] = True
        _fused(ctx, op, kind, [_operand(ctx, op, b, out_rank)], attrs)
    else:
        _fused(ctx, op, kind, [_operand(ctx, op, a, out_rank), _operand(ctx, op, b, out_rank)], {})


def _operand(ctx: Context, op: TflOp, i: int, out_rank: int) -> str:
    """Operand ``i`` in the IR layout: a lower-rank operand of a rank-4 op is broadcast NHWC-wise,
    i.e. against the channel axis last; in NCHW it is reshaped to (1, C, 1, 1)-like axes."""
    shape = ctx.file_shape(i)
    if out_rank != 4 or len(shape) == 4:
        return ctx.x(i)
    full = (1,) * (4 - len(shape)) + shape
    ir = nchw(full)
    moved = [d for d in (full[0], full[3], full[1], full[2]) if d != 1]
    if moved != [d for d in full if d != 1]:
        raise Unsupported(f"broadcasting an operand of shape {list(shape)} against an NHWC map")
    if ctx.const(i) is not None:
        return ctx.param(i, ir)
    return ctx.b.view(ctx.tensor_name(i) + "/nchw", ctx.x(i), ir)


@register_tflite_op("CONCATENATION")
def concatenation(ctx: Context, op: TflOp) -> None:
    xs = [ctx.x(i) for i in op.inputs]
    _fused(ctx, op, "concat", xs, {"axis": _axis(ctx, op.inputs[0], op.options.Axis())})


@register_tflite_op("RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR")
def resize(ctx: Context, op: TflOp) -> None:
    x = ctx.x(op.inputs[0])
    size = list(nchw(ctx.file_shape(op.outputs[0]))[2:])
    if op.opname == "RESIZE_NEAREST_NEIGHBOR":
        ctx.set(op, ctx.emit(op, "upsample_nearest2d", [x], {"size": size}))
    else:  # TF's legacy corner mode and half-pixel centres cost the same: 7 vector ops per output
        ctx.set(op, ctx.emit(op, "upsample_bilinear2d", [x],
                             {"size": size, "align_corners": bool(op.options.AlignCorners())}))


@register_tflite_op("PAD", "PADV2", "MIRROR_PAD")
def pad(ctx: Context, op: TflOp) -> None:
    """Padding of a map's spatial axes. A zero PAD (PADV2 whose value is the zero point: real 0)
    waits to be folded into the convolution or average pooling that reads it; anything else
    reading it gets a ``pad`` op (``Context.lone_pad``). PADV2 with another value is a constant
    ``pad`` of that real value; MIRROR_PAD in REFLECT mode is PyTorch's reflect padding (TF's
    SYMMETRIC mode, which repeats the edge row, has no IR mode)."""
    x, p = ctx.x(op.inputs[0]), ctx.const(op.inputs[1])
    if p is None or p.shape != (4, 2) or p[0].any() or p[3].any() or (p < 0).any():
        raise Unsupported("PAD other than a padding of the spatial axes of a map")
    pads = [int(p[2, 0]), int(p[2, 1]), int(p[1, 0]), int(p[1, 1])]  # left, right, top, bottom
    if op.opname == "MIRROR_PAD":
        if op.options is None or op.options.Mode() != 0:
            raise Unsupported("MIRROR_PAD in SYMMETRIC mode (only REFLECT is modelled)")
        ctx.set(op, ctx.pad_op(op.outputs[0], x, pads, "reflect", 0.0, op.name))
        return
    if op.opname == "PADV2" and int(ctx.const(op.inputs[2]).reshape(-1)[0]) != ctx.zero_point(op.inputs[0]):
        value = float(ctx.real(op.inputs[2]).reshape(-1)[0])
        ctx.set(op, ctx.pad_op(op.outputs[0], x, pads, "constant", value, op.name))
        return
    ctx.set(op, PendingPad(x, (int(p[1, 0]), int(p[2, 0]), int(p[1, 1]), int(p[2, 1])), op.name))


@register_tflite_op("RESHAPE", "SQUEEZE", "EXPAND_DIMS")
def reshape(ctx: Context, op: TflOp) -> None:
    x = ctx.x(op.inputs[0])
    if ctx.b.tensors[x].elements != math.prod(ctx.file_shape(op.outputs[0])):
        raise Unsupported("a reshape that changes the number of elements")
    ctx.view_out(op, x)


@register_tflite_op("TRANSPOSE")
def transpose(ctx: Context, op: TflOp) -> None:
    x, perm = ctx.x(op.inputs[0]), ctx.const(op.inputs[1])
    shape = ctx.file_shape(op.inputs[0])
    perm = [int(p) for p in perm.reshape(-1)]
    moving = [p for p in perm if shape[p] != 1]
    if moving == sorted(moving):
        ctx.view_out(op, x)
        return
    if len(shape) != 4:
        raise Unsupported("a TRANSPOSE of a tensor of rank other than 4")
    back = (0, 3, 1, 2)  # IR axis -> NHWC axis
    dims = [NHWC_TO_NCHW[perm[back[j]]] for j in range(4)]
    ctx.set(op, ctx.emit(op, "permute", [x], {"dims": dims}))


@register_tflite_op("QUANTIZE", "DEQUANTIZE")
def quantize(ctx: Context, op: TflOp) -> None:
    """The identity on the graph (a requantisation, int16 -> int16 in 16x8 models, moves no data);
    the input's root is stored at the narrower of the two types."""
    x = ctx.x(op.inputs[0])
    root = ctx.b.root(x)
    out_bits = ctx.bits.get(ctx.tensor_name(op.outputs[0]), 32)
    ctx.bits[root] = min(ctx.bits.get(root, 32), out_bits)
    ctx.set(op, x)


_UNARY = {"RELU": ("relu", {}), "RELU6": ("clamp", {"min": 0.0, "max": 6.0}),
          "RELU_N1_TO_1": ("clamp", {"min": -1.0, "max": 1.0}), "LOGISTIC": ("sigmoid", {}), "TANH": ("tanh", {}),
          "HARD_SWISH": ("hardswish", {}), "ABS": ("abs", {}), "EXP": ("exp", {}), "NEG": ("neg", {}),
          "SQRT": ("sqrt", {}), "RSQRT": ("rsqrt", {})}


@register_tflite_op(*_UNARY)
def unary(ctx: Context, op: TflOp) -> None:
    kind, attrs = _UNARY[op.opname]
    ctx.set(op, ctx.emit(op, kind, [ctx.x(op.inputs[0])], dict(attrs)))


@register_tflite_op("LEAKY_RELU")
def leaky_relu(ctx: Context, op: TflOp) -> None:
    ctx.set(op, ctx.emit(op, "leaky_relu", [ctx.x(op.inputs[0])], {"negative_slope": float(op.options.Alpha())}))


@register_tflite_op("GELU")
def gelu(ctx: Context, op: TflOp) -> None:
    attrs = {"approximate": "tanh"} if op.options is not None and op.options.Approximate() else {}
    ctx.set(op, ctx.emit(op, "gelu", [ctx.x(op.inputs[0])], attrs))


@register_tflite_op("SOFTMAX")
def softmax(ctx: Context, op: TflOp) -> None:
    if op.options is not None and op.options.Beta() != 1.0:
        raise Unsupported("SOFTMAX with beta other than 1")
    ctx.set(op, ctx.emit(op, "softmax", [ctx.x(op.inputs[0])], {"dim": _axis(ctx, op.inputs[0], -1)}))


@register_tflite_op("SPLIT", "SPLIT_V")
def split(ctx: Context, op: TflOp) -> None:
    if op.opname == "SPLIT":
        axis_i, x_i = op.inputs[0], op.inputs[1]
    else:
        x_i, axis_i = op.inputs[0], op.inputs[2]
    x = ctx.x(x_i)
    axis = _axis(ctx, x_i, int(ctx.const(axis_i).reshape(-1)[0]))
    start = 0
    for k, o in enumerate(op.outputs):
        size = nchw(ctx.file_shape(o))[axis]
        if size == ctx.shape(x)[axis]:
            ctx.set(op, x, k)
        else:
            ctx.set(op, ctx.emit(op, "slice", [x], {"axis": axis, "start": start, "end": start + size}, out=k), k)
        start += size


@register_tflite_op("SLICE", "STRIDED_SLICE")
def slice_(ctx: Context, op: TflOp) -> None:
    x_i = op.inputs[0]
    x, begin = ctx.x(x_i), ctx.const(op.inputs[1])
    shape_in, shape_out = ctx.file_shape(x_i), ctx.file_shape(op.outputs[0])
    if op.opname == "STRIDED_SLICE":
        o, strides = op.options, ctx.const(op.inputs[3])
        if strides is None or (strides != 1).any() or o.EllipsisMask() or o.NewAxisMask() or o.ShrinkAxisMask():
            raise Unsupported("STRIDED_SLICE with strides other than 1 or with ellipsis, new or shrunk axes")
        begin = np.where([(o.BeginMask() >> k) & 1 for k in range(len(shape_in))], 0, begin)
    cut = [k for k in range(len(shape_in)) if shape_in[k] != shape_out[k]]
    if len(cut) > 1 or begin is None:
        raise Unsupported("slicing several axes at once, or at offsets computed at run time")
    if not cut:
        ctx.set(op, x)
        return
    k = cut[0]
    start = int(begin.reshape(-1)[k]) % shape_in[k]
    axis = _axis(ctx, x_i, k)
    ctx.set(op, ctx.emit(op, "slice", [x], {"axis": axis, "start": start, "end": start + shape_out[k]}))


@register_tflite_op("DEPTH_TO_SPACE", "SPACE_TO_DEPTH")
def depth_space(ctx: Context, op: TflOp) -> None:
    x, r = ctx.x(op.inputs[0]), int(op.options.BlockSize())
    helper = depth_to_space_dcr if op.opname == "DEPTH_TO_SPACE" else space_to_depth_dcr
    ctx.set(op, helper(ctx.b, ctx.tensor_name(op.outputs[0]), x, r, op.name))
