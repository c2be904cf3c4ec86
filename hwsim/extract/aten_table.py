"""The ATen op table: how each ATen target of ``torch.export``'s graph becomes IR ops.

Converters are registered by target name (``aten.conv2d.default``, or the packet name
``aten.conv2d`` for every overload) with :func:`register_aten_op`, so this module needs no
torch. Each receives the builder and a :class:`Node` whose tensor arguments are already
IR tensor names, and either emits ops, records a view or an identity, or reports the
node unsupported. Shapes come from the export's fake tensors.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

from hwsim.extract.builder import GraphBuilder

CONVERTERS: dict[str, Callable[[GraphBuilder, "Node"], None]] = {}


@dataclass
class Node:
    name: str
    target: str
    args: dict[str, Any]  # schema argument name -> value (IR tensor names for tensors)
    out_shapes: list[tuple[int, ...]]
    module: str


class Unsupported(Exception):
    """This node's form is outside what hwsim models (the walker reports it with its module)."""


def register_aten_op(*targets: str):
    def deco(fn):
        for t in targets:
            CONVERTERS[t] = fn
        return fn
    return deco


def _emit(b: GraphBuilder, n: Node, kind: str, inputs: list[str], attrs: dict | None = None) -> None:
    b.value_of[n.name] = b.emit(n.name, kind, inputs, attrs or {}, n.module, n.out_shapes)[0]


def _tensors(*vals) -> list[str]:
    return [v for v in vals if v is not None]


# ---- convolution and matrix products ----------------------------------------------------
@register_aten_op("aten.conv2d.default", "aten.conv2d.padding")
def conv2d(b: GraphBuilder, n: Node) -> None:
    a = n.args
    padding = a["padding"]
    if isinstance(padding, str):
        padding = _same_padding(b.tensors[a["weight"]].shape, a["dilation"]) if padding == "same" else [0, 0]
    _emit(b, n, "conv2d", _tensors(a["input"], a["weight"], a["bias"]),
          {"stride": list(a["stride"]), "padding": list(padding), "dilation": list(a["dilation"]),
           "groups": int(a["groups"])})


def _same_padding(w_shape, dilation) -> list[int]:
    d = list(dilation) * (2 // len(dilation)) if len(dilation) < 2 else list(dilation)
    pads = [d[i] * (w_shape[2 + i] - 1) for i in range(2)]
    if any(p % 2 for p in pads):
        raise Unsupported("padding='same' with an even kernel (asymmetric padding)")
    return [p // 2 for p in pads]


@register_aten_op("aten.convolution.default")
def convolution(b: GraphBuilder, n: Node) -> None:
    a = n.args
    if len(b.tensors[a["input"]].shape) != 4:
        raise Unsupported("only 2-D convolutions")
    attrs = {"stride": list(a["stride"]), "padding": list(a["padding"]), "dilation": list(a["dilation"]),
             "groups": int(a["groups"])}
    if a["transposed"]:
        attrs["output_padding"] = list(a["output_padding"])
    _emit(b, n, "conv_transpose2d" if a["transposed"] else "conv2d",
          _tensors(a["input"], a["weight"], a["bias"]), attrs)


@register_aten_op("aten.conv_transpose2d.input")
def conv_transpose2d(b: GraphBuilder, n: Node) -> None:
    a = n.args
    _emit(b, n, "conv_transpose2d", _tensors(a["input"], a["weight"], a["bias"]),
          {"stride": list(a["stride"]), "padding": list(a["padding"]), "dilation": list(a["dilation"]),
           "output_padding": list(a["output_padding"]), "groups": int(a["groups"])})


@register_aten_op("aten.linear.default")
def linear(b: GraphBuilder, n: Node) -> None:
    a = n.args
    _emit(b, n, "linear", _tensors(a["input"], a["weight"], a["bias"]))


@register_aten_op("aten.matmul.default", "aten.bmm.default", "aten.mm.default")
def matmul(b: GraphBuilder, n: Node) -> None:
    x, y = n.args["self"], n.args.get("other", n.args.get("mat2"))
    if len(b.tensors[x].shape) < 2 or len(b.tensors[y].shape) < 2:
        raise Unsupported("matmul with a 1-D operand")
    _emit(b, n, "matmul", [x, y])


@register_aten_op("aten.im2col.default")
def im2col(b: GraphBuilder, n: Node) -> None:
    a = n.args
    _emit(b, n, "unfold", [a["self"]], {k: list(a[k]) for k in ("kernel_size", "dilation", "padding", "stride")})


# ---- resampling and pooling ---------------------------------------------------------------
@register_aten_op("aten.pixel_shuffle.default")
def pixel_shuffle(b: GraphBuilder, n: Node) -> None:
    _emit(b, n, "pixel_shuffle", [n.args["self"]], {"factor": int(n.args["upscale_factor"])})


@register_aten_op("aten.pixel_unshuffle.default")
def pixel_unshuffle(b: GraphBuilder, n: Node) -> None:
    _emit(b, n, "pixel_unshuffle", [n.args["self"]], {"factor": int(n.args["downscale_factor"])})


def _scales(a: dict) -> list[float] | None:
    s = a.get("scale_factors")
    if s is None and a.get("scales_h") is not None:
        s = [a["scales_h"], a["scales_w"]]
    return None if s is None else [float(v) for v in s]


def emit_resize(b: GraphBuilder, n: Node, kind: str) -> None:
    """An ``upsample_*2d`` op of ``kind`` to the node's output size (its scales kept when given;
    ``align_corners`` for the interpolating kinds)."""
    x = n.args.get("input", n.args.get("self"))
    attrs = {"size": list(n.out_shapes[0][2:])}
    if kind != "upsample_nearest2d":
        attrs["align_corners"] = bool(n.args["align_corners"])
    if (s := _scales(n.args)) is not None:
        attrs["scales"] = s
    _emit(b, n, kind, [x], attrs)


@register_aten_op("aten.upsample_nearest2d.vec", "aten.upsample_nearest2d.default")
def upsample_nearest(b: GraphBuilder, n: Node) -> None:
    emit_resize(b, n, "upsample_nearest2d")


@register_aten_op("aten.upsample_bilinear2d.vec", "aten.upsample_bilinear2d.default")
def upsample_bilinear(b: GraphBuilder, n: Node) -> None:
    emit_resize(b, n, "upsample_bilinear2d")


@register_aten_op("aten.max_pool2d.default", "aten.max_pool2d_with_indices.default")
def max_pool2d(b: GraphBuilder, n: Node) -> None:
    a = n.args
    attrs = {"kernel_size": list(a["kernel_size"]), "stride": list(a["stride"] or a["kernel_size"]),
             "padding": list(a["padding"]), "dilation": list(a["dilation"]), "ceil_mode": bool(a["ceil_mode"])}
    name = b.emit(n.name, "max_pool2d", [a["self"]], attrs, n.module, n.out_shapes[:1])[0]
    b.value_of[n.name] = name if len(n.out_shapes) == 1 else [name, None]


@register_aten_op("aten.avg_pool2d.default")
def avg_pool2d(b: GraphBuilder, n: Node) -> None:
    a = n.args
    if a.get("divisor_override") is not None:
        raise Unsupported("avg_pool2d with divisor_override")
    _emit(b, n, "avg_pool2d", [a["self"]],
          {"kernel_size": list(a["kernel_size"]), "stride": list(a["stride"] or a["kernel_size"]),
           "padding": list(a["padding"]), "ceil_mode": bool(a["ceil_mode"]),
           "count_include_pad": bool(a["count_include_pad"])})


@register_aten_op("aten.adaptive_avg_pool2d.default")
def adaptive_avg_pool2d(b: GraphBuilder, n: Node) -> None:
    _emit(b, n, "adaptive_avg_pool2d", [n.args["self"]], {"output_size": list(n.out_shapes[0][2:])})


# ---- concatenation and slicing ---------------------------------------------------------------
@register_aten_op("aten.cat.default")
def cat(b: GraphBuilder, n: Node) -> None:
    """A concatenation; parts with no elements (an empty created tensor) add nothing and are
    dropped, and a concatenation left with one part is that part."""
    parts = [t for t in n.args["tensors"] if math.prod(b.tensors[t].shape) > 0]
    if not parts:
        raise Unsupported("a concatenation of empty tensors")
    if len(parts) == 1:
        b.value_of[n.name] = parts[0]
        return
    _emit(b, n, "concat", parts, {"axis": int(n.args["dim"])})


def _slice_into(b: GraphBuilder, n: Node, x: str, axis: int, bounds: list[tuple[int, int]]) -> list[str]:
    shape = b.tensors[x].shape
    axis %= len(shape)
    names = []
    for i, (start, end) in enumerate(bounds):
        if start == 0 and end == shape[axis]:
            names.append(x)
            continue
        out = list(shape)
        out[axis] = end - start
        name = n.name if len(bounds) == 1 else f"{n.name}_{i}"
        names.append(b.emit(name, "slice", [x], {"axis": axis, "start": start, "end": end}, n.module, [out])[0])
    return names


@register_aten_op("aten.slice.Tensor")
def slice_(b: GraphBuilder, n: Node) -> None:
    a = n.args
    x = a["self"]
    size = b.tensors[x].shape[a["dim"]]
    start, end, step = a["start"] or 0, a["end"], a["step"] or 1
    start = max(0, start + size if start < 0 else min(start, size))
    end = size if end is None else max(0, end + size if end < 0 else min(end, size))
    if step != 1:
        if start >= end:
            raise Unsupported("an empty slice")
        shape = list(b.tensors[x].shape)
        shape[a["dim"] % len(shape)] = -(-(end - start) // step)
        _emit(b, n, "slice", [x], {"axis": a["dim"] % len(shape), "start": start, "end": end, "step": step})
        return
    b.value_of[n.name] = _slice_into(b, n, x, a["dim"], [(start, end)])[0]


@register_aten_op("aten.chunk.default", "aten.split.Tensor", "aten.split_with_sizes.default", "aten.tensor_split.sections")
def split(b: GraphBuilder, n: Node) -> None:
    a = n.args
    axis = a["dim"]
    sizes = [s[axis] for s in n.out_shapes]
    bounds, start = [], 0
    for s in sizes:
        bounds.append((start, start + s))
        start += s
    b.value_of[n.name] = _slice_into(b, n, a["self"], axis, bounds)


# ---- layout: views (no data moved) and permutes ----------------------------------------------
@register_aten_op("aten.view.default", "aten.reshape.default", "aten._unsafe_view.default",
                  "aten.flatten.using_ints", "aten.unflatten.int", "aten.squeeze.dim", "aten.squeeze.dims",
                  "aten.squeeze.default", "aten.unsqueeze.default", "aten.view_as.default",
                  "aten.reshape_as.default", "aten.expand.default", "aten.expand_as.default")
def view(b: GraphBuilder, n: Node) -> None:
    x = n.args["self"]
    src = b.tensors[x]
    if math.prod(n.out_shapes[0]) != src.elements:
        raise Unsupported("expand that broadcasts (copies) data")
    b.value_of[n.name] = b.view(n.name, x, n.out_shapes[0])


@register_aten_op("aten.clone.default", "aten.contiguous.default", "aten.alias.default", "aten.detach.default",
                  "aten.dropout.default", "aten.to.dtype", "aten.to.dtype_layout", "aten._to_copy.default",
                  "aten.lift_fresh_copy.default", "aten.type_as.default", "aten.feature_dropout.default",
                  "aten.identity.default")
def same(b: GraphBuilder, n: Node) -> None:
    x = n.args.get("self", n.args.get("input"))
    if n.args.get("train"):
        raise Unsupported("dropout in training mode (call model.eval())")
    b.value_of[n.name] = x


@register_aten_op("aten.permute.default", "aten.transpose.int", "aten.t.default", "aten.swapaxes.default")
def permute(b: GraphBuilder, n: Node) -> None:
    x = n.args["self"]
    rank = len(b.tensors[x].shape)
    if "dims" in n.args:
        dims = [d % rank for d in n.args["dims"]]
    else:
        d0, d1 = (n.args.get("dim0", 0) % rank, n.args.get("dim1", 1) % rank) if rank else (0, 0)
        dims = list(range(rank))
        dims[d0], dims[d1] = dims[d1], dims[d0]
    if dims == sorted(dims):
        b.value_of[n.name] = x
        return
    _emit(b, n, "permute", [x], {"dims": dims})
