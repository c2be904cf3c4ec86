"""The ONNX op table, quantisation: the bit-width each tensor is stored with.

* QuantizeLinear / DequantizeLinear are the identity on the graph; the tensor they touch is
  stored at the quantised side's width (the zero point's type, or ``output_dtype``). On a
  constant (a weight or bias quantised offline) they keep it a constant at that width.
* QLinearConv / QLinearMatMul (``onnx_ops.py``) give their input, weight and output the
  widths of their zero points, and their bias 32 bits.
* ONNX Runtime's own quantised operators (domain ``com.microsoft``, which ``quantize_static``
  writes in its operator format): QLinearConcat, QLinearAdd, QLinearMul,
  QLinearGlobalAveragePool.

Every other value's width is its ONNX type (``onnx_import._stored_bits``).
"""

from __future__ import annotations

import numpy as np

from hwsim.extract.aten_table import Unsupported
from hwsim.extract.onnx_import import INT_BITS, Context, OnnxNode, register_onnx_op


def _zp_bits(ctx: Context, n: OnnxNode, i: int, default: int = 8) -> int:
    zp = ctx.const(n, i)
    if zp is None:
        return default
    return {np.dtype(np.int8): 8, np.dtype(np.uint8): 8, np.dtype(np.int16): 16,
            np.dtype(np.uint16): 16, np.dtype(np.int32): 32}.get(zp.dtype, default)


def qlinear_bits(ctx: Context, n: OnnxNode, x_zp: int, w_zp: int, y_zp: int, w: str, bias: str | None) -> None:
    ctx.quantised = True
    x = ctx.b.root(ctx.tensor(n, 0))
    ctx.bits[x] = min(ctx.bits.get(x, 32), _zp_bits(ctx, n, x_zp))
    ctx.bits[w] = _zp_bits(ctx, n, w_zp)
    if bias is not None:
        ctx.bits[bias] = 32
    ctx.bits[n.outputs[0]] = _zp_bits(ctx, n, y_zp)


# ---- quantisation ----------------------------------------------------------------------
@register_onnx_op("QuantizeLinear", "DequantizeLinear")
def quantize(ctx: Context, n: OnnxNode) -> None:
    """The identity on the graph; the tensor's stored bit-width is the quantised side's type."""
    ctx.quantised = True
    src = ctx.const(n, 0)
    if n.op_type == "QuantizeLinear":
        bits = INT_BITS.get(n.attrs.get("output_dtype", 0)) or _zp_bits(ctx, n, 2)
    else:
        bits = _dtype_bits(src.dtype) if src is not None else _zp_bits(ctx, n, 2)
    if src is not None:  # a quantised weight or bias: still a constant, stored at ``bits``
        ctx.consts[n.outputs[0]] = src
        ctx.bits[n.outputs[0]] = min(ctx.bits.get(n.inputs[0], 32), bits)
        return
    x = ctx.tensor(n, 0)
    root = ctx.b.root(x)
    ctx.bits[root] = min(ctx.bits.get(root, 32), bits)
    if n.op_type == "QuantizeLinear" and _clips_negatives(ctx, n, root):
        x = ctx.emit(n, "relu", [x], {}, name=n.outputs[0] + "/relu")
        ctx.bits[x] = bits
    ctx.set(n, x)
    if n.op_type == "QuantizeLinear":
        ctx.integer_values.add(n.outputs[0])
    elif ctx.values_from.get(ctx.b.root(x), ctx.b.root(x)) in ctx.integer_values:
        ctx.values_from[ctx.b.root(x)] = n.outputs[0]  # the reference reads the dequantised value


_SIGNED_RESULT = ("conv2d", "conv_transpose2d", "linear", "matmul", "add", "sub", "mul", "div")


def _clips_negatives(ctx: Context, n: OnnxNode, root: str) -> bool:
    """Whether this QuantizeLinear's range starts at 0 (zero point at the type's minimum) after an
    op whose result can be negative: the ReLU that ONNX Runtime's quantiser folds into the
    quantisation range. hwsim puts it back as a relu, so that the graph computes what the file
    does (and what the float network did); after pooling, resizing or concatenation of values
    that already went through such a range it clips nothing and is not written."""
    zp = ctx.const(n, 2)
    rec = ctx.b.producer.get(root)
    if zp is None or rec is None or rec.kind not in _SIGNED_RESULT or zp.size != 1:
        return False
    info = np.iinfo(zp.dtype) if np.issubdtype(zp.dtype, np.integer) else None
    return info is not None and int(zp.reshape(-1)[0]) == info.min


def _dtype_bits(dtype: np.dtype) -> int:
    return 4 if "int4" in str(dtype) else int(np.dtype(dtype).itemsize * 8)


# ---- ONNX Runtime's quantised operators (domain com.microsoft), written by quantize_static ----
@register_onnx_op("com.microsoft.QLinearConcat")
def qlinear_concat(ctx: Context, n: OnnxNode) -> None:
    """Inputs: Y_scale, Y_zero_point, then (X, X_scale, X_zero_point) per operand."""
    xs = [ctx.tensor(n, i) for i in range(2, len(n.inputs), 3)]
    _quantised_output(ctx, n, 1, xs)
    ctx.set(n, ctx.emit(n, "concat", xs, {"axis": int(n.attrs["axis"]) % len(ctx.shape(xs[0]))}))


@register_onnx_op("com.microsoft.QLinearAdd", "com.microsoft.QLinearMul")
def qlinear_binary(ctx: Context, n: OnnxNode) -> None:
    """Inputs: A, A_scale, A_zero_point, B, B_scale, B_zero_point, C_scale, C_zero_point."""
    kind = "add" if n.op_type == "QLinearAdd" else "mul"
    operands = [ctx.tensor(n, 0), ctx.tensor(n, 3)]
    _quantised_output(ctx, n, 7, [o for o in operands if ctx.b.tensors[ctx.b.root(o)].kind != "param"])
    ctx.set(n, ctx.emit(n, kind, operands, {}))


@register_onnx_op("com.microsoft.QLinearGlobalAveragePool")
def qlinear_global_pool(ctx: Context, n: OnnxNode) -> None:
    if n.attrs.get("channels_last", 0):
        raise Unsupported("channels_last")
    x = ctx.tensor(n, 0)
    if len(ctx.shape(x)) != 4:
        raise Unsupported("only 2-D pooling (input of rank 4)")
    _quantised_output(ctx, n, 4, [x])
    ctx.set(n, ctx.emit(n, "adaptive_avg_pool2d", [x], {"output_size": [1, 1]}))


def _quantised_output(ctx: Context, n: OnnxNode, y_zp: int, inputs: list[str]) -> None:
    ctx.quantised = True
    ctx.bits[n.outputs[0]] = _zp_bits(ctx, n, y_zp)
    for x in inputs:
        root = ctx.b.root(x)
        ctx.bits.setdefault(root, ctx.bits.get(root, 32))
