"""Kernels of the convolution family: conv2d, conv_transpose2d, linear, matmul, unfold.

Convolutions go through an im2col *view* (``sliding_window_view``, no copy until the
matrix product) and one batched matrix product per group; the arithmetic is float32
(numpy's sgemm), as torch's CPU kernels do it. Shapes follow torch's conventions: input
``(N, C, H, W)``, conv weight ``(O, C/groups, kh, kw)``, transposed-conv weight
``(C, O/groups, kh, kw)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def pair(v: Any, default: int = 1) -> tuple[int, int]:
    """An int or a 1-/2-element sequence as (height, width)."""
    if v is None:
        return default, default
    if isinstance(v, (list, tuple)):
        return (int(v[0]), int(v[0])) if len(v) == 1 else (int(v[0]), int(v[1]))
    return int(v), int(v)


def windows(x: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int],
            dilation: tuple[int, int]) -> np.ndarray:
    """(N, C, OH, OW, kh, kw) view of the windows of an (already padded) NCHW array."""
    (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    span = (dh * (kh - 1) + 1, dw * (kw - 1) + 1)
    view = sliding_window_view(x, span, axis=(2, 3))
    return view[:, :, ::sh, ::sw, ::dh, ::dw]


def _pad(x: np.ndarray, padding: tuple[int, int], value: float = 0.0) -> np.ndarray:
    ph, pw = padding
    if ph == 0 and pw == 0:
        return x
    return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=value)


def conv2d(x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None, stride=1, padding=0,
           dilation=1, groups: int = 1) -> np.ndarray:
    """torch.nn.functional.conv2d."""
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    g = int(groups)
    if (kh, kw) == (1, 1) and g == 1 and pair(stride) == (1, 1) and pair(padding, 0) == (0, 0):
        out = np.matmul(w.reshape(o, c), x.reshape(n, c, h * wd)).reshape(n, o, h, wd)  # pointwise
        return _bias(out, b)
    cols = windows(_pad(x, pair(padding, 0)), (kh, kw), pair(stride), pair(dilation))
    oh, ow = cols.shape[2:4]
    if cg == 1 and o == g:  # depthwise: one multiply-add per tap, no im2col copy
        out = np.zeros((n, c, oh, ow), np.float32)
        wt = w.reshape(1, c, kh, kw)
        for i in range(kh):
            for j in range(kw):
                out += cols[..., i, j] * wt[:, :, i, j, None, None]
    else:
        # (G, O/G, Cg*kh*kw) @ (N, G, Cg*kh*kw, OH*OW) -> (N, G, O/G, OH*OW): the output in NCHW order
        patches = cols.reshape(n, g, cg, oh, ow, kh, kw).transpose(0, 1, 2, 5, 6, 3, 4)
        patches = patches.reshape(n, g, cg * kh * kw, oh * ow)
        out = np.matmul(w.reshape(g, o // g, cg * kh * kw), patches).reshape(n, o, oh, ow)
    return _bias(out, b)


def _bias(out: np.ndarray, b: np.ndarray | None) -> np.ndarray:
    if b is not None:
        out = out + b.reshape(1, -1, 1, 1)
    return np.ascontiguousarray(out, dtype=np.float32)


def conv_transpose2d(x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None, stride=1, padding=0,
                     dilation=1, groups: int = 1, output_padding=0) -> np.ndarray:
    """torch.nn.functional.conv_transpose2d, as a scatter: every input pixel adds the whole filter.

    ``out[y*s + i*d - p, x*s + j*d - p] += sum_c x[c, y, x] * w[c, o, i, j]``: one matrix product
    gives every (pixel, o, i, j) term, then each tap (i, j) is added at its strided offset.
    """
    n, c, h, wd = x.shape
    _, og, kh, kw = w.shape
    g = int(groups)
    (sh, sw), (ph, pw), (dh, dw) = pair(stride), pair(padding, 0), pair(dilation)
    oph, opw = pair(output_padding, 0)
    cg = c // g
    # terms[g, n*h*w, og*kh*kw]
    xs = x.reshape(n, g, cg, h * wd).transpose(1, 0, 3, 2).reshape(g, n * h * wd, cg)
    terms = np.matmul(xs, w.reshape(g, cg, og * kh * kw)).reshape(g, n, h, wd, og, kh, kw)
    full_h = (h - 1) * sh + dh * (kh - 1) + 1 + oph
    full_w = (wd - 1) * sw + dw * (kw - 1) + 1 + opw
    full = np.zeros((n, g, og, full_h, full_w), np.float32)
    for i in range(kh):
        for j in range(kw):
            tap = terms[..., i, j].transpose(1, 0, 4, 2, 3)  # (n, g, og, h, w)
            full[:, :, :, i * dh: i * dh + (h - 1) * sh + 1: sh, j * dw: j * dw + (wd - 1) * sw + 1: sw] += tap
    out_h = (h - 1) * sh - 2 * ph + dh * (kh - 1) + oph + 1
    out_w = (wd - 1) * sw - 2 * pw + dw * (kw - 1) + opw + 1
    return _bias(full[:, :, :, ph: ph + out_h, pw: pw + out_w].reshape(n, g * og, out_h, out_w), b)


def linear(x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
    """torch.nn.functional.linear: x @ w.T + b over the last axis."""
    out = np.matmul(x, w.T)
    if b is not None:
        out = out + b
    return out.astype(np.float32, copy=False)


def matmul(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """torch.matmul of two operands of rank >= 2 (batch dimensions broadcast)."""
    return np.matmul(x, y).astype(np.float32, copy=False)


def unfold(x: np.ndarray, kernel_size=1, dilation=1, padding=0, stride=1) -> np.ndarray:
    """torch.nn.functional.unfold (im2col): (N, C*kh*kw, L), channel-major then kernel row, column."""
    n, c = x.shape[:2]
    kh, kw = pair(kernel_size)
    cols = windows(_pad(x, pair(padding, 0)), (kh, kw), pair(stride), pair(dilation))
    oh, ow = cols.shape[2:4]
    return np.ascontiguousarray(cols.transpose(0, 1, 4, 5, 2, 3)).reshape(n, c * kh * kw, oh * ow)
