"""ONNX ``Pad``: a zero padding of H and W waits (a :class:`~hwsim.extract.frontend.PendingPad`)
for the convolution, average pooling or unfold that absorbs it, as the exporter, Vela and ONNX
Runtime fold it; any other (a reflect, edge or wrap mode, a non-zero constant, or a zero Pad
nothing absorbs: ``Context.lone_pad``) is a ``pad`` op of its own, a stored map."""

from __future__ import annotations

import numpy as np

from hwsim.extract.aten_table import Unsupported
from hwsim.extract.frontend import PendingPad
from hwsim.extract.onnx_import import Context, OnnxNode, register_onnx_op


@register_onnx_op("Pad")
def pad(ctx: Context, n: OnnxNode) -> None:
    x = ctx.tensor(n, 0)
    p = ctx.const(n, 1) if ctx.has(n, 1) else np.asarray(n.attrs.get("pads", []))
    value = ctx.const(n, 2) if ctx.has(n, 2) else np.asarray(n.attrs.get("value", 0.0))
    mode = n.attrs.get("mode", "constant")
    mode = mode.decode() if isinstance(mode, bytes) else mode
    if p is None or ctx.has(n, 3) or mode not in PAD_MODES:
        raise Unsupported("Pad of an axis list, or of a mode other than constant, reflect, edge or wrap")
    p = [int(v) for v in p.reshape(-1)]
    rank = len(ctx.shape(x))
    if rank != 4 or any(p[i] or p[i + rank] for i in (0, 1)):
        raise Unsupported("Pad of other axes than the spatial ones")
    fill = float(np.asarray(value).reshape(-1)[0]) if np.asarray(value).size else 0.0
    if mode == "constant" and fill == 0 and min(p) >= 0:  # folded into what reads it, if it can be
        ctx.set(n, PendingPad(x, (p[2], p[3], p[6], p[7]), n.name))
        return
    attrs = {"pads": [p[3], p[7], p[2], p[6]], "mode": PAD_MODES[mode]}  # torch's order: last axis first
    if mode == "constant":
        attrs["value"] = fill
    ctx.set(n, ctx.emit(n, "pad", [x], attrs))


PAD_MODES = {"constant": "constant", "reflect": "reflect", "edge": "replicate", "wrap": "circular"}
