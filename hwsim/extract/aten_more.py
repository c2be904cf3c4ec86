"""ATen converters for the ops U-Nets in use bring (issue 13); the op kinds' rules are in
``hwsim/graph/opkinds_more.py``.

* Norms: ``group_norm`` as one op; ``instance_norm`` with input statistics is a group norm
  with one channel per group; with running statistics (``track_running_stats``) it is a
  per-channel affine map, a ``batch_norm``.
* ``prelu``: its weight (one slope, or one per channel) is viewed as ``(1, C, 1, ...)`` so
  that it broadcasts over the channel axis.
* ``pad`` (``F.pad`` in every mode, and the explicit pad ``Conv2d(padding_mode=...)``
  puts before its convolution) is a data-movement layer of its own. A compiler may instead
  fold a zero pad into the convolution's padding (Vela does for TFLite's PAD; hwsim's ONNX
  front end does too); the PyTorch front end keeps it, so its SRAM copy shows.
* Conv1d is a 2-D convolution of height 1 (views on both sides): MACs as FlopCounterMode
  counts conv1d (output elements x in-channels/groups x kernel).
* Indexing: ``select`` is a one-row slice and a view; strided slices are ``slice`` with a
  step; ``index.Tensor`` / ``index_select`` with a constant index list on one axis is a
  ``gather``. An index computed by the model (data-dependent) is refused.
* ``stack`` is views (unsqueeze) and a ``concat``; ``amax``/``amin`` over (H, W) of a map
  is a global max pooling (``adaptive_max_pool2d`` to 1x1, a pooling layer), as a mean over
  (H, W) is a global average pooling.
* Tensors created in ``forward`` (``ones``, ``zeros``, ``full``, ``arange``, ``*_like``)
  are constants: parameters named after their node (read from DRAM like weights; the
  numerics check takes their value from the torch run).
"""

from __future__ import annotations

import math

from hwsim.extract.aten_eltwise import _dims
from hwsim.extract.aten_table import Node, Unsupported, _emit, register_aten_op
from hwsim.extract.builder import GraphBuilder
from hwsim.graph.opkinds_more import COMPARISONS


# ---- normalisation -------------------------------------------------------------------------
@register_aten_op("aten.group_norm.default")
def group_norm(b: GraphBuilder, n: Node) -> None:
    a = n.args
    if (a["weight"] is None) != (a["bias"] is None):
        raise Unsupported("group_norm with a weight but no bias (or the reverse)")
    _emit(b, n, "group_norm", [a["input"]] + [p for p in (a["weight"], a["bias"]) if p is not None],
          {"num_groups": int(a["num_groups"]), "eps": float(a["eps"])})


@register_aten_op("aten.instance_norm.default")
def instance_norm(b: GraphBuilder, n: Node) -> None:
    a = n.args
    x, w, bias = a["input"], a["weight"], a["bias"]
    if (w is None) != (bias is None):
        raise Unsupported("instance_norm with a weight but no bias (or the reverse)")
    if a["use_input_stats"]:
        channels = b.tensors[x].shape[1]
        _emit(b, n, "group_norm", [x] + [p for p in (w, bias) if p is not None],
              {"num_groups": int(channels), "eps": float(a["eps"])})
        return
    if w is None or a["running_mean"] is None:
        raise Unsupported("instance_norm with running statistics but no affine parameters")
    _emit(b, n, "batch_norm", [x, w, bias, a["running_mean"], a["running_var"]], {"eps": float(a["eps"])})


# ---- activations -----------------------------------------------------------------------------
@register_aten_op("aten.prelu.default", "aten._prelu_kernel.default")
def prelu(b: GraphBuilder, n: Node) -> None:
    x, w = n.args["self"], n.args["weight"]
    shape = b.tensors[x].shape
    slopes = b.tensors[w].elements
    if slopes > 1 and len(shape) >= 2:
        w = b.view(f"{n.name}/slopes", w, (1, slopes) + (1,) * (len(shape) - 2))
    _emit(b, n, "prelu", [x, w])


@register_aten_op("aten.mish.default", "aten.mish_.default")
def mish(b: GraphBuilder, n: Node) -> None:
    _emit(b, n, "mish", [n.args["self"]])


@register_aten_op("aten.softplus.default")
def softplus(b: GraphBuilder, n: Node) -> None:
    _emit(b, n, "softplus", [n.args["self"]], {"beta": float(n.args["beta"]), "threshold": float(n.args["threshold"])})


# ---- comparisons, logic, where ---------------------------------------------------------------
def _compare(kind: str):
    def convert(b: GraphBuilder, n: Node) -> None:
        x, y = n.args["self"], n.args["other"]
        if isinstance(y, str):
            _emit(b, n, kind, [x, y])
        else:
            _emit(b, n, kind, [x], {"scalar": float(y)})
    return convert


for _k in COMPARISONS:
    register_aten_op(f"aten.{_k}.Tensor", f"aten.{_k}.Scalar")(_compare(_k))
for _k in ("logical_and", "logical_or"):
    register_aten_op(f"aten.{_k}.default")(_compare(_k))


@register_aten_op("aten.logical_not.default", "aten.bitwise_not.default")
def logical_not(b: GraphBuilder, n: Node) -> None:
    _emit(b, n, "logical_not", [n.args["self"]])


@register_aten_op("aten.where.self", "aten.where.ScalarOther", "aten.where.ScalarSelf", "aten.where.Scalar")
def where(b: GraphBuilder, n: Node) -> None:
    a = n.args
    inputs, attrs = [a["condition"]], {}
    for key, value in (("scalar_x", a["self"]), ("scalar_y", a["other"])):
        if isinstance(value, str):
            inputs.append(value)
        else:
            attrs[key] = float(value)
    _emit(b, n, "where", inputs, attrs)


# ---- reductions --------------------------------------------------------------------------------
@register_aten_op("aten.amax.default", "aten.amin.default", "aten.max.dim", "aten.min.dim")
def extreme(b: GraphBuilder, n: Node) -> None:
    x = n.args["self"]
    shape = b.tensors[x].shape
    dims = _dims(n.args.get("dim"), len(shape))
    kind = "amax" if ("amax" in n.target or ".max." in n.target) else "amin"
    keep = bool(n.args.get("keepdim", False))
    if kind == "amax" and len(shape) == 4 and dims == [2, 3]:  # a global max pooling written by hand
        pooled = b.emit(n.name, "adaptive_max_pool2d", [x], {"output_size": [1, 1]}, n.module,
                        [(shape[0], shape[1], 1, 1)])[0]
        value = b.view(n.name + "_view", pooled, n.out_shapes[0])
    else:
        value = b.emit(n.name, kind, [x], {"dims": dims, "keepdim": keep}, n.module, n.out_shapes[:1])[0]
    b.value_of[n.name] = [value, None] if n.target in ("aten.max.dim", "aten.min.dim") else value


# ---- resampling, pooling, padding --------------------------------------------------------------
@register_aten_op("aten.upsample_bicubic2d.vec", "aten.upsample_bicubic2d.default")
def upsample_bicubic(b: GraphBuilder, n: Node) -> None:
    from hwsim.extract.aten_table import emit_resize

    emit_resize(b, n, "upsample_bicubic2d")


@register_aten_op("aten.adaptive_max_pool2d.default")
def adaptive_max_pool2d(b: GraphBuilder, n: Node) -> None:
    name = b.emit(n.name, "adaptive_max_pool2d", [n.args["self"]], {"output_size": list(n.out_shapes[0][2:])},
                  n.module, n.out_shapes[:1])[0]
    b.value_of[n.name] = [name, None]


@register_aten_op("aten.pad.default", "aten.constant_pad_nd.default", "aten.reflection_pad2d.default",
                  "aten.replication_pad2d.default", "aten.reflection_pad1d.default", "aten.replication_pad1d.default",
                  "aten._pad_circular.default")
def pad(b: GraphBuilder, n: Node) -> None:
    a = n.args
    t = n.target
    mode = a.get("mode") or ("reflect" if "reflection" in t else "replicate" if "replication" in t
                             else "circular" if "circular" in t else "constant")
    value = a.get("value")
    attrs = {"pads": [int(p) for p in a.get("pad", a.get("padding"))], "mode": mode}
    if mode == "constant":
        attrs["value"] = float(value or 0.0)
    _emit(b, n, "pad", [a["self"]], attrs)


# ---- convolution -------------------------------------------------------------------------------
@register_aten_op("aten.conv1d.default", "aten.conv1d.padding")
def conv1d(b: GraphBuilder, n: Node) -> None:
    from hwsim.extract.aten_table import _same_padding

    a = n.args
    x, w = a["input"], a["weight"]
    xs, ws = b.tensors[x].shape, b.tensors[w].shape
    if len(xs) != 3:
        raise Unsupported("conv1d on an unbatched input")
    padding = a["padding"]
    if isinstance(padding, str):
        padding = _same_padding((ws[0], ws[1], 1, ws[2]), [1, a["dilation"][0]])[1:] if padding == "same" else [0]
    x2 = b.view(f"{n.name}/x2d", x, (xs[0], xs[1], 1, xs[2]))
    w2 = b.view(f"{n.name}/w2d", w, (ws[0], ws[1], 1, ws[2]))
    out = n.out_shapes[0]
    inputs = [x2, w2] + ([a["bias"]] if a["bias"] is not None else [])
    y = b.emit(n.name, "conv2d", inputs,
               {"stride": [1, int(a["stride"][0])], "padding": [0, int(padding[0])],
                "dilation": [1, int(a["dilation"][0])], "groups": int(a["groups"])},
               n.module, [(out[0], out[1], 1, out[2])])[0]
    b.value_of[n.name] = b.view(f"{n.name}/1d", y, out)


# ---- layout: stack, flip, roll, indexing -------------------------------------------------------
@register_aten_op("aten.stack.default")
def stack(b: GraphBuilder, n: Node) -> None:
    tensors = list(n.args["tensors"])
    out = n.out_shapes[0]
    dim = int(n.args["dim"]) % len(out)
    piece = out[:dim] + (1,) + out[dim + 1:]
    views = [b.view(f"{n.name}/in{i}", t, piece) for i, t in enumerate(tensors)]
    if len(set(views)) != len(views):
        raise Unsupported("stack of one tensor with itself")
    _emit(b, n, "concat", views, {"axis": dim})


@register_aten_op("aten.flip.default")
def flip(b: GraphBuilder, n: Node) -> None:
    rank = len(n.out_shapes[0])
    _emit(b, n, "flip", [n.args["self"]], {"dims": [int(d) % rank for d in n.args["dims"]]})


@register_aten_op("aten.roll.default")
def roll(b: GraphBuilder, n: Node) -> None:
    shifts, dims = list(n.args["shifts"]), list(n.args["dims"])
    x = n.args["self"]
    if not dims:  # roll of the flattened tensor
        raise Unsupported("roll without dims (of the flattened tensor)")
    rank = len(n.out_shapes[0])
    _emit(b, n, "roll", [x], {"dims": [int(d) % rank for d in dims], "shifts": [int(s) for s in shifts]})


@register_aten_op("aten.select.int")
def select(b: GraphBuilder, n: Node) -> None:
    x = n.args["self"]
    shape = b.tensors[x].shape
    dim = int(n.args["dim"]) % len(shape)
    i = int(n.args["index"]) % shape[dim]
    kept = list(shape)
    kept[dim] = 1
    if shape[dim] == 1:
        row = x
    else:
        row = b.emit(n.name, "slice", [x], {"axis": dim, "start": i, "end": i + 1}, n.module, [tuple(kept)])[0]
    b.value_of[n.name] = b.view(f"{n.name}/view", row, n.out_shapes[0])


def _constant_indices(b: GraphBuilder, name: str) -> list[int]:
    values = b.constants.get(b.root(name)) if name is not None else None
    if values is None:
        raise Unsupported("indexing with indices computed by the model")
    return values


@register_aten_op("aten.index.Tensor")
def index(b: GraphBuilder, n: Node) -> None:
    x, indices = n.args["self"], list(n.args["indices"])
    used = [i for i, v in enumerate(indices) if v is not None]
    if len(used) != 1 or len(b.tensors[indices[used[0]]].shape) != 1:
        raise Unsupported("indexing with more than one index tensor, or a multi-dimensional one")
    axis = used[0]
    _emit(b, n, "gather", [x], {"axis": axis, "indices": _constant_indices(b, indices[axis])})


@register_aten_op("aten.index_select.default")
def index_select(b: GraphBuilder, n: Node) -> None:
    x = n.args["self"]
    axis = int(n.args["dim"]) % len(b.tensors[x].shape)
    _emit(b, n, "gather", [x], {"axis": axis, "indices": _constant_indices(b, n.args["index"])})


# ---- tensors created in forward ------------------------------------------------------------------
@register_aten_op("aten.ones.default", "aten.zeros.default", "aten.full.default", "aten.arange.default",
                  "aten.arange.start", "aten.arange.start_step", "aten.ones_like.default", "aten.zeros_like.default",
                  "aten.full_like.default", "aten.scalar_tensor.default", "aten.eye.default", "aten.linspace.default",
                  "aten.new_ones.default", "aten.new_zeros.default", "aten.new_full.default")
def constant(b: GraphBuilder, n: Node) -> None:
    shape = n.out_shapes[0]
    if math.prod(shape) == 0:
        _no_elements(b, n)
        return
    b.value_of[n.name] = b.add_tensor(n.name, shape, "param")


@register_aten_op("aten.empty.memory_format", "aten.empty_like.default", "aten.new_empty.default")
def empty(b: GraphBuilder, n: Node) -> None:
    """``torch.empty`` of no elements (smp's zero-channel stride-2 feature of encoders without
    one, e.g. timm's ConvNeXt): a tensor with no data; with elements its contents are undefined."""
    shape = n.out_shapes[0]
    if math.prod(shape) != 0:
        raise Unsupported(f"torch.empty of shape {tuple(shape)}: its contents are undefined")
    _no_elements(b, n)


def _no_elements(b: GraphBuilder, n: Node) -> None:
    """A created tensor with no elements: a tensor of the builder that no op produces, holding
    no bytes; ``cat`` drops it (``aten_table.cat``), any other reader is refused there."""
    b.value_of[n.name] = b.add_tensor(n.name, n.out_shapes[0], "param")
