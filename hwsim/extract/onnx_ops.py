"""The ONNX op table: convolution, products, pooling, resampling, quantisation.

Each converter receives the walk's :class:`~hwsim.extract.onnx_import.Context` and the
node, emits IR ops (the kinds of ``hwsim/graph/opkinds.py``, the same the PyTorch front end
emits for the same layer), or raises ``Unsupported`` with the reason. Element-wise ops,
reductions and normalisations are in ``onnx_eltwise.py``, the ops that only move or view data
(Concat, Split, Slice, Reshape, Transpose ...) in ``onnx_layout.py``.
"""

from __future__ import annotations

import math

import numpy as np

from hwsim.extract import onnx_eltwise, onnx_layout, onnx_pad  # noqa: F401  (register their converters)
from hwsim.extract.aten_table import Unsupported
from hwsim.extract.frontend import PendingPad, depth_to_space_dcr, space_to_depth_dcr, symmetric_padding
from hwsim.extract.onnx_import import Context, OnnxNode, register_onnx_op
from hwsim.extract.onnx_quant import qlinear_bits


def _spatial(n: OnnxNode, ctx: Context, x: str) -> None:
    if len(ctx.shape(x)) != 4:
        raise Unsupported(f"only 2-D {n.op_type} (input of rank 4), got rank {len(ctx.shape(x))}")


def _pads(ctx: Context, n: OnnxNode, x, k: list[int], s: list[int], d: list[int]) -> tuple[str, list[int]]:
    """(input tensor, symmetric padding [h, w]) from ``pads`` / ``auto_pad`` and any Pad folded in."""
    extra = (0, 0, 0, 0)
    if isinstance(x, PendingPad):
        x, extra = x.source, x.pads
    size = ctx.shape(x)[2:]
    auto = n.attrs.get("auto_pad", "NOTSET")
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        pads = []
        for i in range(2):
            out = -(-size[i] // s[i])
            total = max((out - 1) * s[i] + d[i] * (k[i] - 1) + 1 - size[i], 0)
            lo = total // 2 if auto == "SAME_UPPER" else total - total // 2
            pads.append((lo, total - lo))
    elif auto == "VALID":
        pads = [(0, 0), (0, 0)]
    else:
        p = list(n.attrs.get("pads", [0, 0, 0, 0]))
        pads = [(p[0], p[2]), (p[1], p[3])]
    pads = [(pads[0][0] + extra[0], pads[0][1] + extra[2]), (pads[1][0] + extra[1], pads[1][1] + extra[3])]
    if any(lo != hi for lo, hi in pads):
        ctx.inexact.append(f"{n.name}: asymmetric padding {pads} taken as symmetric")
    return x, [symmetric_padding(size[i], k[i], s[i], pads[i][0], pads[i][1], d[i]) for i in range(2)]


@register_onnx_op("Conv", "QLinearConv")
def conv(ctx: Context, n: OnnxNode) -> None:
    quant = n.op_type == "QLinearConv"
    xi, wi, bi = (0, 3, 8) if quant else (0, 1, 2)
    x = ctx.tensor(n, xi, pad_ok=True)
    w = ctx.tensor(n, wi)
    ws = ctx.shape(w)
    if len(ws) != 4:
        raise Unsupported(f"only 2-D convolutions (weight of rank {len(ws)})")
    k, s, d = list(ws[2:]), list(n.attrs.get("strides", [1, 1])), list(n.attrs.get("dilations", [1, 1]))
    x, pad = _pads(ctx, n, x, k, s, d)
    _spatial(n, ctx, x)
    inputs = [x, w] + ([ctx.tensor(n, bi)] if ctx.has(n, bi) else [])
    if quant:
        qlinear_bits(ctx, n, x_zp=2, w_zp=5, y_zp=7, w=w, bias=inputs[2] if len(inputs) > 2 else None)
    out = ctx.emit(n, "conv2d", inputs, {"stride": s, "padding": pad, "dilation": d,
                                         "groups": int(n.attrs.get("group", 1))})
    ctx.set(n, out)


@register_onnx_op("ConvTranspose")
def conv_transpose(ctx: Context, n: OnnxNode) -> None:
    x, w = ctx.tensor(n, 0), ctx.tensor(n, 1)
    _spatial(n, ctx, x)
    ws, size = ctx.shape(w), ctx.shape(x)[2:]
    s, d = list(n.attrs.get("strides", [1, 1])), list(n.attrs.get("dilations", [1, 1]))
    op = list(n.attrs.get("output_padding", [0, 0]))
    if "output_shape" in n.attrs or n.attrs.get("auto_pad", "NOTSET") != "NOTSET":
        want = list(n.attrs["output_shape"])[-2:] if "output_shape" in n.attrs else [v * st for v, st in zip(size, s)]
        total = [s[i] * (size[i] - 1) + op[i] + d[i] * (ws[2 + i] - 1) + 1 - want[i] for i in range(2)]
        pads = [(t // 2, t - t // 2) for t in total]
    else:
        p = list(n.attrs.get("pads", [0, 0, 0, 0]))
        pads = [(p[0], p[2]), (p[1], p[3])]
    if any(lo != hi for lo, hi in pads):
        raise Unsupported(f"asymmetric padding {pads}")
    inputs = [x, w] + ([ctx.tensor(n, 2)] if ctx.has(n, 2) else [])
    ctx.set(n, ctx.emit(n, "conv_transpose2d", inputs,
                        {"stride": s, "padding": [pads[0][0], pads[1][0]], "dilation": d, "output_padding": op,
                         "groups": int(n.attrs.get("group", 1))}))


@register_onnx_op("Gemm")
def gemm(ctx: Context, n: OnnxNode) -> None:
    a = n.attrs
    if a.get("transA", 0) or a.get("alpha", 1.0) != 1.0 or a.get("beta", 1.0) != 1.0:
        raise Unsupported("Gemm with transA or alpha, beta other than 1")
    x = ctx.tensor(n, 0)
    w = _weight(ctx, n, 1, transposed=not a.get("transB", 0))
    inputs = [x, w]
    if ctx.has(n, 2):
        bias = ctx.const(n, 2)
        if bias is None or bias.size != ctx.shape(w)[0]:
            raise Unsupported("Gemm whose C is not a constant bias of one value per output")
        inputs.append(_bias(ctx, n.inputs[2], bias))
    ctx.set(n, ctx.emit(n, "linear", inputs, {}))


def _weight(ctx: Context, n: OnnxNode, i: int, transposed: bool) -> str:
    """A constant weight as the IR's linear wants it, (out, in): a [K, N] constant is named ``name^T``."""
    c = ctx.const(n, i)
    if c is None or c.ndim != 2:
        raise Unsupported("a weight operand that is not a constant matrix")
    if not transposed:
        return ctx.tensor(n, i)
    name = n.inputs[i] + "^T"
    if name not in ctx.b.tensors:
        ctx.b.add_tensor(name, c.shape[::-1], "param")
        ctx.values_from[name] = n.inputs[i]
        if n.inputs[i] in ctx.bits:
            ctx.bits[name] = ctx.bits[n.inputs[i]]
    return name


def _bias(ctx: Context, name: str, value: np.ndarray) -> str:
    if value.ndim != 1:
        bias = name + "[flat]"
        ctx.b.add_tensor(bias, (value.size,), "param")
        ctx.values_from[bias] = name
        return bias
    return ctx.b.add_tensor(name, value.shape, "param") if name not in ctx.b.tensors else name


@register_onnx_op("MatMul", "QLinearMatMul")
def matmul(ctx: Context, n: OnnxNode) -> None:
    quant = n.op_type == "QLinearMatMul"
    yi = 3 if quant else 1
    x = ctx.tensor(n, 0)
    c = ctx.const(n, yi)
    if c is not None and c.ndim == 2:
        # x @ W with a constant W: PyTorch's nn.Linear on an N-D input, exported as MatMul (+ Add)
        w = _weight(ctx, n, yi, transposed=True)
        if quant:
            qlinear_bits(ctx, n, x_zp=2, w_zp=5, y_zp=7, w=w, bias=None)
        ctx.set(n, ctx.emit(n, "linear", [x, w], {}))
        return
    y = ctx.tensor(n, yi)
    if len(ctx.shape(x)) < 2 or len(ctx.shape(y)) < 2:
        raise Unsupported("MatMul with a 1-D operand")
    ctx.set(n, ctx.emit(n, "matmul", [x, y], {}))


# ---- pooling and resampling ------------------------------------------------------------
def _pool_attrs(ctx: Context, n: OnnxNode, x) -> tuple[str, dict]:
    k = list(n.attrs["kernel_shape"])
    s, d = list(n.attrs.get("strides", [1] * len(k))), list(n.attrs.get("dilations", [1] * len(k)))
    x, pad = _pads(ctx, n, x, k, s, d)
    _spatial(n, ctx, x)
    return x, {"kernel_size": k, "stride": s, "padding": pad, "ceil_mode": bool(n.attrs.get("ceil_mode", 0))}


@register_onnx_op("MaxPool")
def max_pool(ctx: Context, n: OnnxNode) -> None:
    if len(n.outputs) > 1 and n.outputs[1]:
        raise Unsupported("MaxPool with an Indices output")
    if n.attrs.get("storage_order", 0):
        raise Unsupported("MaxPool with storage_order")
    x, attrs = _pool_attrs(ctx, n, ctx.tensor(n, 0))
    attrs["dilation"] = list(n.attrs.get("dilations", [1, 1]))
    ctx.set(n, ctx.emit(n, "max_pool2d", [x], attrs))


@register_onnx_op("AveragePool")
def avg_pool(ctx: Context, n: OnnxNode) -> None:
    raw = ctx.tensor(n, 0, pad_ok=True)
    if isinstance(raw, PendingPad) and not n.attrs.get("count_include_pad", 0):
        raise Unsupported("a zero Pad before an AveragePool that excludes padding from its count")
    x, attrs = _pool_attrs(ctx, n, raw)
    if n.attrs.get("dilations", [1, 1]) != [1, 1]:
        raise Unsupported("dilated AveragePool")
    attrs["count_include_pad"] = bool(n.attrs.get("count_include_pad", 0)) or isinstance(raw, PendingPad)
    ctx.set(n, ctx.emit(n, "avg_pool2d", [x], attrs))


@register_onnx_op("GlobalAveragePool", "GlobalMaxPool")
def global_pool(ctx: Context, n: OnnxNode) -> None:
    x = ctx.tensor(n, 0)
    _spatial(n, ctx, x)
    if n.op_type == "GlobalAveragePool":
        ctx.set(n, ctx.emit(n, "adaptive_avg_pool2d", [x], {"output_size": [1, 1]}))
    else:  # a max over the whole map is a max pooling whose window is the map
        hw = list(ctx.shape(x)[2:])
        ctx.set(n, ctx.emit(n, "max_pool2d", [x], {"kernel_size": hw, "stride": hw}))


@register_onnx_op("Resize", "Upsample")
def resize(ctx: Context, n: OnnxNode) -> None:
    x = ctx.tensor(n, 0)
    _spatial(n, ctx, x)
    shape = ctx.shape(x)
    sizes = ctx.const(n, 3) if n.op_type == "Resize" else None
    scales = ctx.const(n, 2 if n.op_type == "Resize" else 1)
    if sizes is not None and sizes.size:
        out = [int(v) for v in sizes.reshape(-1)]
    elif scales is not None and scales.size:
        out = [int(math.floor(v * s)) for v, s in zip(shape, scales.reshape(-1))]
    else:
        raise Unsupported("Resize without constant scales or sizes")
    if out[:2] != list(shape[:2]):
        raise Unsupported("Resize of the batch or channel axis")
    mode = n.attrs.get("mode", "nearest")
    coord = n.attrs.get("coordinate_transformation_mode", "half_pixel")
    if mode == "nearest":
        whole = all(o % i == 0 for o, i in zip(out[2:], shape[2:]))
        torch_like = (coord == "asymmetric" and n.attrs.get("nearest_mode", "round_prefer_floor") == "floor") or (
            coord == "half_pixel" and n.attrs.get("nearest_mode", "round_prefer_floor") == "round_prefer_floor")
        if not (whole and torch_like):  # PyTorch's nearest picks other source pixels
            ctx.inexact.append(f"{n.name}: nearest resize with {coord!r} coordinates")
        ctx.set(n, ctx.emit(n, "upsample_nearest2d", [x], {"size": out[2:]}))
    elif mode == "linear" and coord in ("half_pixel", "pytorch_half_pixel", "align_corners"):
        ctx.set(n, ctx.emit(n, "upsample_bilinear2d", [x],
                            {"size": out[2:], "align_corners": coord == "align_corners"}))
    else:
        raise Unsupported(f"Resize mode {mode!r} with coordinates {coord!r} (nearest, or linear with "
                          "half_pixel / pytorch_half_pixel / align_corners)")


@register_onnx_op("DepthToSpace", "SpaceToDepth")
def depth_space(ctx: Context, n: OnnxNode) -> None:
    x = ctx.tensor(n, 0)
    _spatial(n, ctx, x)
    r = int(n.attrs["blocksize"])
    if n.op_type == "DepthToSpace" and n.attrs.get("mode", "DCR") == "CRD":  # PyTorch's pixel shuffle
        ctx.set(n, ctx.emit(n, "pixel_shuffle", [x], {"factor": r}))
    elif n.op_type == "DepthToSpace":
        ctx.set(n, depth_to_space_dcr(ctx.b, n.outputs[0], x, r, n.name))
    else:
        ctx.set(n, space_to_depth_dcr(ctx.b, n.outputs[0], x, r, n.name))


# ---- concatenation, slicing, padding ------------------------------------------------------
