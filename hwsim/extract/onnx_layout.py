"""The ONNX ops that only move or view data: Concat, Split, Slice, Reshape, Flatten,
Squeeze/Unsqueeze, Transpose, GatherElements/GatherND, Identity and friends.

Views: Reshape, Flatten, Squeeze, Unsqueeze and a Transpose that keeps every axis longer
than 1 in order move no data and become views (``view_of``), as ``aten.view`` does.
The Reshape -> Transpose -> Reshape that PyTorch's exporter writes for ``pixel_unshuffle``
(and older opsets for ``pixel_shuffle``) is recognised and becomes that op, so the layer
grouping is the PyTorch extraction's.
"""

from __future__ import annotations

import math

import numpy as np

from hwsim.extract import onnx_unfold
from hwsim.extract.aten_table import Unsupported
from hwsim.extract.onnx_import import Context, OnnxNode, register_onnx_op


@register_onnx_op("Concat")
def concat(ctx: Context, n: OnnxNode) -> None:
    xs = [ctx.tensor(n, i) for i in range(len(n.inputs))]
    ctx.set(n, ctx.emit(n, "concat", xs, {"axis": int(n.attrs["axis"]) % len(ctx.shape(xs[0]))}))


def slice_into(ctx: Context, n: OnnxNode, x: str, axis: int, bounds: list[tuple[int, int]]) -> None:
    """Output i of ``n`` is ``x[start_i:end_i]`` along ``axis`` (the whole axis: x itself)."""
    for i, (start, end) in enumerate(bounds):
        if start == 0 and end == ctx.shape(x)[axis]:
            ctx.set(n, x, i)
        else:
            ctx.set(n, ctx.emit(n, "slice", [x], {"axis": axis, "start": start, "end": end}, out=i), i)


@register_onnx_op("Split")
def split(ctx: Context, n: OnnxNode) -> None:
    x = ctx.tensor(n, 0)
    rank = len(ctx.shape(x))
    axis = int(n.attrs.get("axis", 0)) % rank
    size = ctx.shape(x)[axis]
    given = ctx.const(n, 1) if ctx.has(n, 1) else n.attrs.get("split")
    if given is not None:
        sizes = [int(v) for v in np.asarray(given).reshape(-1)]
    else:
        parts = len(n.outputs)
        step = -(-size // parts)
        sizes = [min(step, size - i * step) for i in range(parts)]
    bounds, start = [], 0
    for s in sizes:
        bounds.append((start, start + s))
        start += s
    slice_into(ctx, n, x, axis, bounds)


@register_onnx_op("Slice")
def slice_(ctx: Context, n: OnnxNode) -> None:
    x = ctx.tensor(n, 0)
    shape = ctx.shape(x)
    starts, ends = ctx.const(n, 1), ctx.const(n, 2)
    axes = ctx.const(n, 3) if ctx.has(n, 3) else np.arange(len(starts.reshape(-1)))
    steps = ctx.const(n, 4) if ctx.has(n, 4) else np.ones(len(axes.reshape(-1)), dtype=np.int64)
    if starts is None or ends is None or axes is None or steps is None:
        raise Unsupported("Slice with starts, ends, axes or steps computed at run time")
    value = x
    for start, end, axis, step in zip(*(v.reshape(-1).tolist() for v in (starts, ends, axes, steps))):
        axis %= len(shape)
        if step != 1:
            raise Unsupported("strided slicing")
        size = shape[axis]
        start = max(0, start + size if start < 0 else min(start, size))
        end = max(0, end + size if end < 0 else min(end, size))
        if start == 0 and end == size:
            continue
        if value != x:
            raise Unsupported("Slice over several axes at once")
        value = ctx.emit(n, "slice", [x], {"axis": axis, "start": start, "end": end})
    ctx.set(n, value)


# ---- layout: views and permutes -------------------------------------------------------------
def _reshape_target(shape: tuple[int, ...], spec: list[int], allowzero: bool) -> tuple[int, ...]:
    out = [shape[i] if (v == 0 and not allowzero) else v for i, v in enumerate(spec)]
    if -1 in out:
        known = math.prod(v for v in out if v != -1)
        out[out.index(-1)] = math.prod(shape) // known if known else 0
    if math.prod(out) != math.prod(shape):
        raise Unsupported(f"Reshape of {list(shape)} to {spec}: element counts differ")
    return tuple(out)


@register_onnx_op("Reshape")
def reshape(ctx: Context, n: OnnxNode) -> None:
    if isinstance(raw := ctx.b.value_of.get(n.inputs[0]), onnx_unfold.PendingUnfold):
        spec = ctx.const(n, 1)
        onnx_unfold.reshape_step(ctx, n, raw, None if spec is None else [int(v) for v in spec.reshape(-1)])
        return
    x, spec = ctx.tensor(n, 0), ctx.const(n, 1)
    if spec is None:
        raise Unsupported("Reshape to a shape computed at run time")
    ctx.view(n, x, _reshape_target(ctx.shape(x), [int(v) for v in spec.reshape(-1)],
                                   bool(n.attrs.get("allowzero", 0))))


@register_onnx_op("Flatten")
def flatten(ctx: Context, n: OnnxNode) -> None:
    x = ctx.tensor(n, 0)
    shape = ctx.shape(x)
    axis = int(n.attrs.get("axis", 1)) % (len(shape) + 1)
    ctx.view(n, x, (math.prod(shape[:axis]), math.prod(shape[axis:])))


@register_onnx_op("Squeeze", "Unsqueeze")
def squeeze(ctx: Context, n: OnnxNode) -> None:
    x = ctx.tensor(n, 0)
    shape = list(ctx.shape(x))
    axes = ctx.const(n, 1) if ctx.has(n, 1) else n.attrs.get("axes")
    axes = None if axes is None else [int(a) for a in np.asarray(axes).reshape(-1)]
    if n.op_type == "Squeeze":
        keep = [i for i, v in enumerate(shape) if (v != 1 if axes is None else i not in [a % len(shape) for a in axes])]
        out = [shape[i] for i in keep]
    else:
        out, rank = list(shape), len(shape) + len(axes)
        for a in sorted(a % rank for a in axes):
            out.insert(a, 1)
    ctx.view(n, x, out)


@register_onnx_op("Transpose")
def transpose(ctx: Context, n: OnnxNode) -> None:
    if isinstance(raw := ctx.b.value_of.get(n.inputs[0]), onnx_unfold.PendingUnfold):
        onnx_unfold.transpose_step(ctx, n, raw)
        return
    x = ctx.tensor(n, 0)
    shape = ctx.shape(x)
    perm = list(n.attrs.get("perm", range(len(shape))[::-1]))
    out = tuple(shape[p] for p in perm)
    moving = [p for p in perm if shape[p] != 1]
    if moving == sorted(moving):  # only axes of length 1 move: no data moves
        ctx.view(n, x, out)
        return
    if (shuffled := _pixel_shuffle_pattern(ctx, n, x, perm)) is not None:
        ctx.view(n, shuffled, out)
        return
    ctx.set(n, ctx.emit(n, "permute", [x], {"dims": perm}))


def _pixel_shuffle_pattern(ctx: Context, n: OnnxNode, x: str, perm: list[int]) -> str | None:
    """PyTorch's pixel (un)shuffle as Reshape -> Transpose: the pixel (un)shuffle's output, or None."""
    root = ctx.b.root(x)
    if len(ctx.shape(x)) != 6 or len(ctx.shape(root)) != 4:
        return None
    nn, c, h, w = ctx.shape(root)
    six = ctx.shape(x)
    for r in range(2, 9):
        if perm == [0, 1, 3, 5, 2, 4] and six == (nn, c, h // r, r, w // r, r) and h % r == 0 == w % r:
            return ctx.emit(n, "pixel_unshuffle", [root], {"factor": r}, name=n.outputs[0] + "/pixel_unshuffle")
        if perm == [0, 1, 4, 2, 5, 3] and c % (r * r) == 0 and six == (nn, c // (r * r), r, r, h, w):
            return ctx.emit(n, "pixel_shuffle", [root], {"factor": r}, name=n.outputs[0] + "/pixel_shuffle")
    return None


@register_onnx_op("GatherElements", "GatherND")
def gather(ctx: Context, n: OnnxNode) -> None:
    """Reached only when the data is an activation (constant gathers are folded; ``Gather``,
    PyTorch's unfold, is ``onnx_unfold``'s)."""
    raise Unsupported("indexing an activation")


@register_onnx_op("Identity", "Dropout", "Cast", "CastLike")
def same(ctx: Context, n: OnnxNode) -> None:
    if n.op_type == "Dropout" and (ctx.has(n, 2) and bool(ctx.const(n, 2))):
        raise Unsupported("Dropout in training mode")
    if n.op_type == "Cast" and n.attrs.get("to") not in (1, 10, 11, 16):
        raise Unsupported("Cast to a non-float type on an activation")
    ctx.set(n, ctx.tensor(n, 0))
