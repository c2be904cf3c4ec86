"""ATen converters for element-wise ops, reductions and normalisations (see aten_table.py).

Batch norm right after a convolution whose output nothing else reads is folded into it,
as deployment compilers do: the convolution keeps its weight's shape, gains a bias if it
had none, and records the batch-norm parameters it absorbed in ``attrs["folded_bn"]`` so
that the numerics check can rebuild the folded values.
"""

from __future__ import annotations

from hwsim.extract.aten_table import Node, Unsupported, _emit, register_aten_op
from hwsim.extract.builder import GraphBuilder

_UNARY = {
    "relu": "relu", "gelu": "gelu", "sigmoid": "sigmoid", "tanh": "tanh", "sqrt": "sqrt", "rsqrt": "rsqrt",
    "neg": "neg", "exp": "exp", "abs": "abs", "silu": "silu", "hardswish": "hardswish",
    "hardsigmoid": "hardsigmoid", "sin": "sin", "cos": "cos",
}


def _unary(kind: str):
    def convert(b: GraphBuilder, n: Node) -> None:
        attrs = {}
        if kind == "gelu" and n.args.get("approximate", "none") != "none":
            attrs["approximate"] = n.args["approximate"]
        _emit(b, n, kind, [n.args["self"]], attrs)
    return convert


for _name, _kind in _UNARY.items():
    register_aten_op(f"aten.{_name}.default", f"aten.{_name}_.default")(_unary(_kind))


@register_aten_op("aten.clamp.default", "aten.hardtanh.default", "aten.relu6.default")
def clamp(b: GraphBuilder, n: Node) -> None:
    a = n.args
    lo = a.get("min", a.get("min_val", 0.0 if "relu6" in n.target else None))
    hi = a.get("max", a.get("max_val", 6.0 if "relu6" in n.target else None))
    _emit(b, n, "clamp", [a["self"]], {"min": lo, "max": hi})


@register_aten_op("aten.leaky_relu.default")
def leaky_relu(b: GraphBuilder, n: Node) -> None:
    _emit(b, n, "leaky_relu", [n.args["self"]], {"negative_slope": float(n.args["negative_slope"])})


@register_aten_op("aten.pow.Tensor_Scalar")
def pow_(b: GraphBuilder, n: Node) -> None:
    _emit(b, n, "pow", [n.args["self"]], {"exponent": float(n.args["exponent"])})


def _binary(kind: str):
    def convert(b: GraphBuilder, n: Node) -> None:
        a = n.args
        x, y = a["self"], a.get("other")
        alpha = a.get("alpha", 1)
        if a.get("rounding_mode") is not None:
            raise Unsupported("division with a rounding mode")
        attrs: dict = {}
        if alpha not in (None, 1):
            attrs["alpha"] = float(alpha)
        if isinstance(y, str) and isinstance(x, str):
            _emit(b, n, kind, [x, y], attrs)
        elif isinstance(x, str):
            _emit(b, n, kind, [x], {**attrs, "scalar": float(y)})
        else:
            raise Unsupported("an element-wise op without a tensor operand")
    return convert


for _name in ("add", "sub", "mul", "div", "maximum", "minimum"):
    register_aten_op(f"aten.{_name}.Tensor", f"aten.{_name}.Scalar", f"aten.{_name}.default",
                     f"aten.{_name}_.Tensor", f"aten.{_name}.Tensor_mode")(_binary(_name))


@register_aten_op("aten.rsub.Scalar", "aten.rsub.Tensor")
def rsub(b: GraphBuilder, n: Node) -> None:
    a = n.args
    if not isinstance(a["other"], (int, float)) or a.get("alpha", 1) != 1:
        raise Unsupported("rsub with a tensor or alpha")
    _emit(b, n, "sub", [a["self"]], {"scalar": float(a["other"]), "reverse": True})


# ---- reductions --------------------------------------------------------------------------
def _dims(dim, rank: int) -> list[int] | None:
    if dim is None or (isinstance(dim, (list, tuple)) and len(dim) == 0):
        return None
    dims = [dim] if isinstance(dim, int) else list(dim)
    return sorted(d % rank for d in dims)


@register_aten_op("aten.mean.dim", "aten.mean.default", "aten.sum.dim_IntList", "aten.sum.default")
def mean(b: GraphBuilder, n: Node) -> None:
    x = n.args["self"]
    shape = b.tensors[x].shape
    dims = _dims(n.args.get("dim"), len(shape))
    kind = "mean" if "mean" in n.target else "sum"
    if kind == "mean" and len(shape) == 4 and dims == [2, 3]:
        # a global average pooling written by hand: a pooling layer, not a per-pixel reduction
        pooled = b.emit(n.name, "adaptive_avg_pool2d", [x], {"output_size": [1, 1]}, n.module,
                        [(shape[0], shape[1], 1, 1)])[0]
        b.value_of[n.name] = b.view(n.name + "_view", pooled, n.out_shapes[0])
        return
    _emit(b, n, kind, [x], {"dims": dims, "keepdim": bool(n.args.get("keepdim", False))})


@register_aten_op("aten.linalg_vector_norm.default", "aten.norm.ScalarOpt_dim")
def vector_norm(b: GraphBuilder, n: Node) -> None:
    x = n.args["self"]
    dims = _dims(n.args.get("dim"), len(b.tensors[x].shape))
    order = n.args.get("ord", n.args.get("p", 2))
    _emit(b, n, "vector_norm", [x], {"dims": dims, "keepdim": bool(n.args.get("keepdim", False)),
                                     "ord": 2.0 if order is None else float(order)})


@register_aten_op("aten.softmax.int", "aten._softmax.default")
def softmax(b: GraphBuilder, n: Node) -> None:
    _emit(b, n, "softmax", [n.args["self"]], {"dim": int(n.args["dim"])})


# ---- normalisation -------------------------------------------------------------------------
@register_aten_op("aten.layer_norm.default")
def layer_norm(b: GraphBuilder, n: Node) -> None:
    a = n.args
    inputs = [a["input"]] + [p for p in (a["weight"], a["bias"]) if p is not None]
    if (a["weight"] is None) != (a["bias"] is None):
        raise Unsupported("layer_norm with a weight but no bias (or the reverse)")
    _emit(b, n, "layer_norm", inputs, {"normalized_shape": list(a["normalized_shape"]), "eps": float(a["eps"])})


@register_aten_op("aten.batch_norm.default", "aten._native_batch_norm_legit_no_training.default")
def batch_norm(b: GraphBuilder, n: Node) -> None:
    a = n.args
    x = a["input"]
    if a.get("training"):
        raise Unsupported("batch norm in training mode (call model.eval())")
    stats = {"weight": a["weight"], "bias": a["bias"], "mean": a["running_mean"], "var": a["running_var"],
             "eps": float(a["eps"])}
    if stats["mean"] is None or stats["var"] is None:
        raise Unsupported("batch norm without running statistics")
    conv = b.producer.get(x)
    if conv is not None and conv.kind in ("conv2d", "conv_transpose2d") and b.users.get(x) == 1 and conv.outputs == [x]:
        _fold(b, conv, stats, n)
        b.value_of[n.name] = x
        return
    if stats["weight"] is None or stats["bias"] is None:
        raise Unsupported("unfolded batch norm without affine parameters")
    _emit(b, n, "batch_norm", [x, stats["weight"], stats["bias"], stats["mean"], stats["var"]],
          {"eps": stats["eps"]})


def _fold(b: GraphBuilder, conv, stats: dict, n: Node) -> None:
    cout = b.tensors[conv.outputs[0]].shape[1]
    if len(conv.inputs) == 2:
        bias = b.add_tensor(f"{conv.module or conv.name}.folded_bias", (cout,), "param")
        conv.inputs.append(bias)
        conv.attrs["folded_bias_is_new"] = True
    conv.attrs["folded_bn"] = {k: v for k, v in stats.items() if v is not None}
    conv.attrs["folded_bn_module"] = n.module
