"""Constant folding of ONNX nodes (``onnx_import``): a node whose inputs are all constants is
evaluated at import time (ONNX's reference evaluator), as are Shape and Size of a tensor whose
shape hwsim knows, so that shape arithmetic (PyTorch's exports are full of it) never reaches
the op table. QuantizeLinear and DequantizeLinear are never folded: the bit-widths are read
from them, even on constants."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from hwsim.extract.onnx_import import Context, OnnxNode

NOT_FOLDED = {"QuantizeLinear", "DequantizeLinear"}


def _constant_value(node, n: OnnxNode) -> np.ndarray:
    from onnx import numpy_helper

    if len(n.attrs) == 1:
        (key, v), = n.attrs.items()
        if key == "value":
            return numpy_helper.to_array(node.attribute[0].t)
        if key in ("value_float", "value_floats"):
            return np.asarray(v, dtype=np.float32)
        if key in ("value_int", "value_ints"):
            return np.asarray(v, dtype=np.int64)
    from onnx.reference import ReferenceEvaluator

    return np.asarray(ReferenceEvaluator(node).run(None, {})[0])


def fold(ctx: Context, node, n: OnnxNode) -> bool:
    """Evaluate ``node`` when all its inputs are constant (or it asks only for a known shape)."""
    if n.op_type == "Constant":
        ctx.consts[n.outputs[0]] = _constant_value(node, n)
        return True
    if n.op_type in ("Shape", "Size") and isinstance(ctx.b.value_of.get(n.inputs[0]), str):
        shape = np.array(ctx.shape(ctx.b.value_of[n.inputs[0]]), dtype=np.int64)
        if n.op_type == "Size":
            ctx.consts[n.outputs[0]] = np.array(math.prod(shape), dtype=np.int64)
        else:
            start, end = n.attrs.get("start", 0), n.attrs.get("end", len(shape))
            ctx.consts[n.outputs[0]] = shape[start:end]
        return True
    if n.op_type in NOT_FOLDED or not all(not i or i in ctx.consts for i in n.inputs):
        return False
    from onnx.reference import ReferenceEvaluator

    feeds = {i: ctx.consts[i] for i in n.inputs if i}
    try:
        values = ReferenceEvaluator(node).run(None, feeds)
    except Exception:
        return False  # left to the op table, which reports it if it cannot take it
    for name, v in zip(n.outputs, values):
        ctx.consts[name] = np.asarray(v)
    return True
