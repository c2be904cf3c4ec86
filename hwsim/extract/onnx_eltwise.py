"""The ONNX op table, continued: element-wise ops, activations, reductions, normalisations.

A one-element constant operand becomes the IR's ``scalar`` attribute (as a Python number
does in the PyTorch front end); a larger constant a parameter tensor. BatchNormalization
after a convolution that nothing else reads is folded into it (``frontend.fold_batch_norm``,
the PyTorch front end's rule). The bias ``Add`` after a ``MatMul`` by a constant (PyTorch's
``nn.Linear`` on an N-D input) becomes the linear op's bias, as in the PyTorch graph.

InstanceNormalization and GroupNormalization have no IR kind; they are written as their
definition over a view (N, groups, elements per group): mean, subtract, square, mean, add
epsilon, rsqrt, multiply, then the per-channel scale and shift; all element-wise, so
they fuse into the layer before them like a hand-written LayerNorm2d does.
"""

from __future__ import annotations

import numpy as np

from hwsim.extract.aten_table import Unsupported
from hwsim.extract.frontend import fold_batch_norm
from hwsim.extract.onnx_import import Context, OnnxNode, register_onnx_op

_UNARY = {"Relu": "relu", "Sigmoid": "sigmoid", "Tanh": "tanh", "Sqrt": "sqrt", "Neg": "neg", "Exp": "exp",
          "Abs": "abs", "HardSwish": "hardswish"}
_BINARY = {"Add": "add", "Sub": "sub", "Mul": "mul", "Div": "div", "Max": "maximum", "Min": "minimum"}
_COMMUTES = {"add", "mul", "maximum", "minimum"}


@register_onnx_op(*_UNARY)
def unary(ctx: Context, n: OnnxNode) -> None:
    ctx.set(n, ctx.emit(n, _UNARY[n.op_type], [ctx.tensor(n, 0)], {}))


@register_onnx_op("Gelu")
def gelu(ctx: Context, n: OnnxNode) -> None:
    approx = n.attrs.get("approximate", "none")
    ctx.set(n, ctx.emit(n, "gelu", [ctx.tensor(n, 0)], {} if approx == "none" else {"approximate": approx}))


@register_onnx_op("HardSigmoid")
def hardsigmoid(ctx: Context, n: OnnxNode) -> None:
    if abs(n.attrs.get("alpha", 0.2) - 1 / 6) > 1e-6 or n.attrs.get("beta", 0.5) != 0.5:
        raise Unsupported("HardSigmoid other than PyTorch's (alpha 1/6, beta 0.5)")
    ctx.set(n, ctx.emit(n, "hardsigmoid", [ctx.tensor(n, 0)], {}))


@register_onnx_op("LeakyRelu")
def leaky_relu(ctx: Context, n: OnnxNode) -> None:
    ctx.set(n, ctx.emit(n, "leaky_relu", [ctx.tensor(n, 0)], {"negative_slope": float(n.attrs.get("alpha", 0.01))}))


@register_onnx_op("Clip")
def clip(ctx: Context, n: OnnxNode) -> None:
    bounds = []
    for i, key in ((1, "min"), (2, "max")):
        c = ctx.const(n, i) if ctx.has(n, i) else n.attrs.get(key)
        if ctx.has(n, i) and c is None:
            raise Unsupported("Clip with bounds computed at run time")
        bounds.append(None if c is None else float(np.asarray(c).reshape(-1)[0]))
    ctx.set(n, ctx.emit(n, "clamp", [ctx.tensor(n, 0)], {"min": bounds[0], "max": bounds[1]}))


@register_onnx_op("Reciprocal")
def reciprocal(ctx: Context, n: OnnxNode) -> None:
    ctx.set(n, ctx.emit(n, "div", [ctx.tensor(n, 0)], {"scalar": 1.0, "reverse": True}))


@register_onnx_op("Softmax")
def softmax(ctx: Context, n: OnnxNode) -> None:
    x = ctx.tensor(n, 0)
    ctx.set(n, ctx.emit(n, "softmax", [x], {"dim": int(n.attrs.get("axis", -1)) % len(ctx.shape(x))}))


@register_onnx_op("Pow")
def pow_(ctx: Context, n: OnnxNode) -> None:
    e = ctx.const(n, 1)
    if e is None or e.size != 1:
        raise Unsupported("Pow with an exponent that is not one constant")
    ctx.set(n, ctx.emit(n, "pow", [ctx.tensor(n, 0)], {"exponent": float(e.reshape(-1)[0])}))


@register_onnx_op(*_BINARY)
def binary(ctx: Context, n: OnnxNode) -> None:
    kind = _BINARY[n.op_type]
    a, b = ctx.const(n, 0), ctx.const(n, 1)
    if kind == "add" and _bias_of_linear(ctx, n):
        return
    if b is not None and b.size == 1:
        ctx.set(n, ctx.emit(n, kind, [ctx.tensor(n, 0)], {"scalar": float(b.reshape(-1)[0])}))
    elif a is not None and a.size == 1:
        attrs = {"scalar": float(a.reshape(-1)[0])} | ({} if kind in _COMMUTES else {"reverse": True})
        ctx.set(n, ctx.emit(n, kind, [ctx.tensor(n, 1)], attrs))
    else:
        ctx.set(n, ctx.emit(n, kind, [ctx.tensor(n, 0), ctx.tensor(n, 1)], {}))


def _bias_of_linear(ctx: Context, n: OnnxNode) -> bool:
    """``MatMul(x, W) + b`` with a constant 1-D ``b``: ``b`` becomes the linear op's bias."""
    for xi, ci in ((0, 1), (1, 0)):
        c, x = ctx.const(n, ci), ctx.b.value_of.get(n.inputs[xi])
        rec = ctx.b.producer.get(x) if isinstance(x, str) else None
        if c is None or rec is None or rec.kind != "linear" or len(rec.inputs) != 2 or rec.outputs != [x]:
            continue
        if c.ndim == 1 and c.shape[0] == ctx.shape(x)[-1] and ctx.b.users.get(x, 0) == 1:
            rec.inputs.append(ctx.tensor(n, ci))
            ctx.values_from[x] = n.outputs[0]  # the linear's output now holds the sum
            ctx.set(n, x)
            return True
    return False


# ---- reductions ----------------------------------------------------------------------------
def _axes(ctx: Context, n: OnnxNode, rank: int) -> list[int] | None:
    axes = ctx.const(n, 1) if ctx.has(n, 1) else n.attrs.get("axes")
    if ctx.has(n, 1) and axes is None:
        raise Unsupported("reduction axes computed at run time")
    if axes is None or np.asarray(axes).size == 0:
        if n.attrs.get("noop_with_empty_axes", 0):
            raise Unsupported("a reduction with noop_with_empty_axes")
        return None
    return sorted(int(a) % rank for a in np.asarray(axes).reshape(-1))


@register_onnx_op("ReduceMean", "ReduceSum", "ReduceL2")
def reduce(ctx: Context, n: OnnxNode) -> None:
    x = ctx.tensor(n, 0)
    shape = ctx.shape(x)
    dims = _axes(ctx, n, len(shape))
    keep = bool(n.attrs.get("keepdims", 1))
    kind = {"ReduceMean": "mean", "ReduceSum": "sum", "ReduceL2": "vector_norm"}[n.op_type]
    if kind == "mean" and len(shape) == 4 and dims == [2, 3]:
        # a global average pooling written as a mean: a pooling layer, as in the PyTorch front end
        pooled = ctx.emit(n, "adaptive_avg_pool2d", [x], {"output_size": [1, 1]},
                          name=n.outputs[0] + "/pool")
        out = shape[:2] + ((1, 1) if keep else ())
        ctx.view(n, pooled, out)
        return
    attrs = {"dims": dims, "keepdim": keep} | ({"ord": 2.0} if kind == "vector_norm" else {})
    ctx.set(n, ctx.emit(n, kind, [x], attrs))


# ---- normalisation ---------------------------------------------------------------------------
@register_onnx_op("BatchNormalization")
def batch_norm(ctx: Context, n: OnnxNode) -> None:
    if n.attrs.get("training_mode", 0) or len([o for o in n.outputs if o]) > 1:
        raise Unsupported("BatchNormalization in training mode")
    x = ctx.tensor(n, 0)
    stats = {"weight": n.inputs[1], "bias": n.inputs[2], "mean": n.inputs[3], "var": n.inputs[4],
             "eps": float(n.attrs.get("epsilon", 1e-5))}
    if fold_batch_norm(ctx.b, x, stats, n.name):
        ctx.values_from[x] = n.outputs[0]  # the convolution's output now holds the normalised value
        ctx.set(n, x)
        return
    ctx.set(n, ctx.emit(n, "batch_norm", [x] + [ctx.tensor(n, i) for i in range(1, 5)], {"eps": stats["eps"]}))


@register_onnx_op("LayerNormalization")
def layer_norm(ctx: Context, n: OnnxNode) -> None:
    if len([o for o in n.outputs if o]) > 1:
        raise Unsupported("LayerNormalization with Mean / InvStdDev outputs")
    x = ctx.tensor(n, 0)
    shape = ctx.shape(x)
    axis = int(n.attrs.get("axis", -1)) % len(shape)
    inputs = [x] + [ctx.tensor(n, i) for i in (1, 2) if ctx.has(n, i)]
    ctx.set(n, ctx.emit(n, "layer_norm", inputs, {"normalized_shape": list(shape[axis:]),
                                                  "eps": float(n.attrs.get("epsilon", 1e-5))}))


@register_onnx_op("InstanceNormalization", "GroupNormalization")
def group_norm(ctx: Context, n: OnnxNode) -> None:
    x = ctx.tensor(n, 0)
    shape = ctx.shape(x)
    c = shape[1]
    groups = c if n.op_type == "InstanceNormalization" else int(n.attrs["num_groups"])
    if len(shape) < 3 or c % groups:
        raise Unsupported(f"{n.op_type} of a tensor of shape {list(shape)} in {groups} groups")
    eps = float(n.attrs.get("epsilon", 1e-5))
    out = n.outputs[0]
    grouped = ctx.b.view(f"{out}/grouped", x, (shape[0], groups, -(-int(np.prod(shape)) // (shape[0] * groups))))

    def step(tag: str, kind: str, inputs: list[str], attrs: dict) -> str:
        return ctx.emit(n, kind, inputs, attrs, name=f"{out}/{tag}")

    mean = step("mean", "mean", [grouped], {"dims": [2], "keepdim": True})
    centred = step("centred", "sub", [grouped, mean], {})
    var = step("var", "mean", [step("square", "pow", [centred], {"exponent": 2.0})], {"dims": [2], "keepdim": True})
    inv = step("rstd", "rsqrt", [step("var_eps", "add", [var], {"scalar": eps})], {})
    normed = step("normed", "mul", [centred, inv], {})
    scale, bias = ctx.tensor(n, 1), ctx.tensor(n, 2)
    per = ctx.shape(scale)[0]
    if per == groups and groups != c:  # opset 18's per-group scale and bias
        y = ctx.b.view(f"{out}/scale_g", scale, (groups, 1))
        y = step("shift", "add", [step("scaled", "mul", [normed, y], {}), ctx.b.view(f"{out}/bias_g", bias,
                                                                                     (groups, 1))], {})
        ctx.view(n, y, shape)
        return
    back = ctx.b.view(f"{out}/ungrouped", normed, shape)
    trail = (1,) * (len(shape) - 2)
    y = step("scaled", "mul", [back, ctx.b.view(f"{out}/scale_c", scale, (c,) + trail)], {})
    ctx.set(n, ctx.emit(n, "add", [y, ctx.b.view(f"{out}/bias_c", bias, (c,) + trail)], {}))
