"""PyTorch's ``F.unfold`` (im2col) as the TorchScript exporter writes it, read back as one ``unfold`` op.

``torch.onnx.export`` has no Im2Col node; it writes ``F.unfold(x, k, dilation=d, padding=p,
stride=s)`` as (torch/onnx/symbolic_opset11.py ``im2col``)::

    Pad(x, p)                                   # (B, C, H + 2p_h, W + 2p_w); left out when p = 0
    Gather(axis=2, rows)                        # rows[i, j] = i * d_h + j * s_h: (B, C, k_h, L_h, W_p)
    Gather(axis=4, cols)                        # cols[i, j] = i * d_w + j * s_w: (B, C, k_h, L_h, k_w, L_w)
    Transpose(perm=[0, 1, 2, 4, 3, 5])          # (B, C, k_h, k_w, L_h, L_w)
    Reshape(B, C * k_h * k_w, L_h * L_w)        # unfold's (B, C k_h k_w, L)

with the index tensors computed from ``Shape`` and ``Range`` nodes that the importer folds to
constants. Each step here checks its part of the pattern (the index arithmetic exactly, the
axes, the permutation, the final shape) and carries a :class:`PendingUnfold`; the Reshape
emits the same ``unfold`` op as the PyTorch front end (``aten.im2col``), so MACs, layers,
skips and M_sc are the PyTorch extraction's. Any other gather of an activation, or a node
reading the pattern half way, is reported as unsupported. onnx-simplifier and Stream's ONNX
front end have no such rule (they keep the gathers); Vela has no unfold at all.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from hwsim.extract.aten_table import Unsupported
from hwsim.extract.frontend import PendingPad
from hwsim.extract.onnx_import import Context, OnnxNode, register_onnx_op

UNFOLD_PERM = [0, 1, 2, 4, 3, 5]


@dataclass(frozen=True)
class PendingUnfold:
    """Part of an unfold pattern: ``source`` (an IR tensor), its zero ``pads`` (top, left, bottom,
    right), the gathered ``rows`` and ``cols`` as (kernel, stride, dilation, blocks), and whether
    the pattern's Transpose came."""

    source: str
    pads: tuple[int, int, int, int]
    node: str
    rows: tuple[int, int, int, int] | None = None
    cols: tuple[int, int, int, int] | None = None
    transposed: bool = False


def _window(index: np.ndarray | None, padded: int) -> tuple[int, int, int, int]:
    """(kernel, stride, dilation, blocks) of a (kernel, blocks) index tensor ``i * d + j * s``."""
    if index is None or index.ndim != 2 or not np.issubdtype(index.dtype, np.integer):
        raise Unsupported("indexing an activation by a computed or non-2-D index (not PyTorch's unfold)")
    k, blocks = index.shape
    s = int(index[0, 1] - index[0, 0]) if blocks > 1 else 1
    d = int(index[1, 0] - index[0, 0]) if k > 1 else 1
    want = np.arange(k)[:, None] * d + np.arange(blocks)[None, :] * s
    if k < 1 or blocks < 1 or s < 1 or d < 1 or not np.array_equal(index, want) or int(want.max()) >= padded:
        raise Unsupported("indexing an activation other than PyTorch's unfold (rows i * dilation + j * stride)")
    return k, s, d, blocks


@register_onnx_op("Gather")
def gather(ctx: Context, n: OnnxNode) -> None:
    """Reached only when the data is an activation (constant gathers are folded): one step of
    the unfold pattern, or unsupported."""
    raw = ctx.b.value_of.get(n.inputs[0])
    axis = int(n.attrs.get("axis", 0))
    if isinstance(raw, (str, PendingPad)) and axis == 2:
        src, pads = (raw, (0, 0, 0, 0)) if isinstance(raw, str) else (raw.source, raw.pads)
        shape = ctx.shape(src)
        if len(shape) != 4:
            raise Unsupported("indexing an activation of rank other than 4 (not PyTorch's unfold)")
        rows = _window(ctx.const(n, 1), shape[2] + pads[0] + pads[2])
        ctx.set(n, PendingUnfold(src, pads, n.name, rows=rows))
        return
    if isinstance(raw, PendingUnfold) and raw.cols is None and axis == 4:
        shape = ctx.shape(raw.source)
        cols = _window(ctx.const(n, 1), shape[3] + raw.pads[1] + raw.pads[3])
        ctx.set(n, replace(raw, cols=cols))
        return
    raise Unsupported("indexing an activation other than PyTorch's unfold pattern (Pad, Gather rows, Gather "
                      "columns, Transpose, Reshape)")


def transpose_step(ctx: Context, n: OnnxNode, raw: PendingUnfold) -> None:
    """The pattern's Transpose: the two gathered kernel axes next to each other."""
    if raw.cols is None or raw.transposed or list(n.attrs.get("perm", [])) != UNFOLD_PERM:
        raise Unsupported("a Transpose inside PyTorch's unfold pattern other than perm [0, 1, 2, 4, 3, 5]")
    ctx.set(n, replace(raw, transposed=True))


def reshape_step(ctx: Context, n: OnnxNode, raw: PendingUnfold, target: list[int] | None) -> None:
    """The pattern's last Reshape: emits the ``unfold`` op (symmetric zero padding only)."""
    if not raw.transposed or target is None:
        raise Unsupported("a Reshape inside PyTorch's unfold pattern before its Transpose, or to a computed shape")
    top, left, bottom, right = raw.pads
    if top != bottom or left != right:
        raise Unsupported(f"unfold with asymmetric padding {list(raw.pads)}")
    (kh, sh, dh, lh), (kw, sw, dw, lw) = raw.rows, raw.cols
    attrs = {"kernel_size": [kh, kw], "dilation": [dh, dw], "padding": [top, left], "stride": [sh, sw]}
    out = ctx.emit(n, "unfold", [raw.source], attrs)
    bsz, chans = ctx.shape(raw.source)[:2]
    shape = ctx.shape(out)
    if shape[2] != lh * lw:
        raise Unsupported(f"unfold pattern gathers {lh} x {lw} blocks, the unfold rule gives {shape[2]}")
    want = [bsz, chans * kh * kw, lh * lw]
    spec = [want[i] if v in (0, -1) else v for i, v in enumerate(target)] if len(target) == 3 else target
    if spec != want or target.count(-1) > 1:
        raise Unsupported(f"the unfold pattern's Reshape to {target} is not (B, C k k, L) = {list(shape)}")
    ctx.set(n, out)
