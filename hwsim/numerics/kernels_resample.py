"""Kernels that move or pool pixels: pixel (un)shuffle, nearest / bilinear upsampling, pooling,
concatenation, slicing.

Coordinate rules are torch's CPU kernels' (``UpSample.h``, ``Pool.h``), computed in float32
where torch computes in float32, so that indices agree exactly.
"""

from __future__ import annotations

import numpy as np

from hwsim.numerics.kernels_conv import pair, windows


def pixel_shuffle(x: np.ndarray, factor: int) -> np.ndarray:
    n, c, h, w = x.shape
    r = int(factor)
    out = x.reshape(n, c // (r * r), r, r, h, w).transpose(0, 1, 4, 2, 5, 3)
    return np.ascontiguousarray(out).reshape(n, c // (r * r), h * r, w * r)


def pixel_unshuffle(x: np.ndarray, factor: int) -> np.ndarray:
    n, c, h, w = x.shape
    r = int(factor)
    out = x.reshape(n, c, h // r, r, w // r, r).transpose(0, 1, 3, 5, 2, 4)
    return np.ascontiguousarray(out).reshape(n, c * r * r, h // r, w // r)


def _scale(in_size: int, out_size: int, scale: float | None, align_corners: bool) -> np.float32:
    """torch's ``area_pixel_compute_scale``: source step per output pixel."""
    if align_corners:
        return np.float32((in_size - 1) / (out_size - 1)) if out_size > 1 else np.float32(0)
    if scale is not None and scale > 0:
        return np.float32(1.0 / scale)
    return np.float32(in_size / out_size)


def _nearest_index(in_size: int, out_size: int, scale: float | None) -> np.ndarray:
    """torch's ``nearest_idx``: floor(dst * scale), clamped (float32 product, as torch)."""
    dst = np.arange(out_size)
    if out_size == in_size:
        return dst
    if out_size == 2 * in_size:
        return dst >> 1
    s = _scale(in_size, out_size, scale, False)
    return np.minimum(np.floor(dst.astype(np.float32) * s).astype(np.int64), in_size - 1)


def _scales(attrs_scales) -> tuple[float | None, float | None]:
    if attrs_scales is None:
        return None, None
    return float(attrs_scales[0]), float(attrs_scales[-1])


def upsample_nearest2d(x: np.ndarray, size, scales=None) -> np.ndarray:
    oh, ow = pair(size)
    sh, sw = _scales(scales)
    rows = _nearest_index(x.shape[2], oh, sh)
    cols = _nearest_index(x.shape[3], ow, sw)
    return np.ascontiguousarray(x[:, :, rows][:, :, :, cols])


def _linear_taps(in_size: int, out_size: int, scale: float | None, align_corners: bool):
    """(i0, i1, weight0, weight1) per output index, as torch's ``compute_indices_weights_linear``."""
    s = _scale(in_size, out_size, scale, align_corners)
    dst = np.arange(out_size, dtype=np.float32)
    if align_corners:
        src = s * dst
    else:
        src = np.maximum(s * (dst + np.float32(0.5)) - np.float32(0.5), np.float32(0))
    i0 = np.floor(src).astype(np.int64)
    i0 = np.minimum(i0, in_size - 1)
    i1 = i0 + (i0 < in_size - 1)
    w1 = np.clip(src - i0.astype(np.float32), 0, 1).astype(np.float32)
    return i0, i1, np.float32(1) - w1, w1


def upsample_bilinear2d(x: np.ndarray, size, align_corners: bool = False, scales=None) -> np.ndarray:
    oh, ow = pair(size)
    sh, sw = _scales(scales)
    r0, r1, rw0, rw1 = _linear_taps(x.shape[2], oh, sh, bool(align_corners))
    c0, c1, cw0, cw1 = _linear_taps(x.shape[3], ow, sw, bool(align_corners))
    top = x[:, :, r0]
    bottom = x[:, :, r1]
    rw0, rw1 = rw0[:, None], rw1[:, None]
    out = (rw0 * (cw0 * top[..., c0] + cw1 * top[..., c1])
           + rw1 * (cw0 * bottom[..., c0] + cw1 * bottom[..., c1]))
    return np.ascontiguousarray(out, dtype=np.float32)


def pool_size(size: int, k: int, s: int, p: int, d: int, ceil: bool) -> int:
    """Output size of a pooling window sweep (torch's ``pooling_output_shape``)."""
    num = size + 2 * p - d * (k - 1) - 1
    out = (-(-num // s) if ceil else num // s) + 1
    if ceil and (out - 1) * s >= size + p:
        out -= 1
    return out


def _pool_windows(x: np.ndarray, k, s, p, d, ceil: bool, fill: float) -> np.ndarray:
    """(N, C, OH, OW, kh, kw) windows, padded with ``fill`` (past the end too, for ceil mode)."""
    h, w = x.shape[2:]
    out = [pool_size((h, w)[i], k[i], s[i], p[i], d[i], ceil) for i in range(2)]
    need = [(out[i] - 1) * s[i] + d[i] * (k[i] - 1) + 1 for i in range(2)]
    extra = [max(0, need[i] - ((h, w)[i] + 2 * p[i])) for i in range(2)]
    padded = np.pad(x, ((0, 0), (0, 0), (p[0], p[0] + extra[0]), (p[1], p[1] + extra[1])),
                    constant_values=fill)
    return windows(padded, k, s, d)[:, :, :out[0], :out[1]]


def max_pool2d(x: np.ndarray, kernel_size, stride=None, padding=0, dilation=1,
               ceil_mode: bool = False) -> np.ndarray:
    k = pair(kernel_size)
    s = pair(stride) if stride else k
    cols = _pool_windows(x, k, s, pair(padding, 0), pair(dilation), bool(ceil_mode), -np.inf)
    return np.ascontiguousarray(cols.max(axis=(4, 5)))


def _avg_divisors(size: int, out: int, k: int, s: int, p: int, include_pad: bool) -> np.ndarray:
    """Per output index, the divisor of one axis (torch's avg_pool2d ``pool_size`` rule)."""
    start = np.arange(out) * s - p
    end = np.minimum(start + k, size + p)
    if include_pad:
        return (end - start).astype(np.float64)
    return (np.minimum(end, size) - np.maximum(start, 0)).astype(np.float64)


def avg_pool2d(x: np.ndarray, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True) -> np.ndarray:
    k = pair(kernel_size)
    s = pair(stride) if stride else k
    p = pair(padding, 0)
    cols = _pool_windows(x, k, s, p, (1, 1), bool(ceil_mode), 0.0)
    sums = cols.sum(axis=(4, 5), dtype=np.float64)
    oh, ow = sums.shape[2:]
    dh = _avg_divisors(x.shape[2], oh, k[0], s[0], p[0], bool(count_include_pad))
    dw = _avg_divisors(x.shape[3], ow, k[1], s[1], p[1], bool(count_include_pad))
    return (sums / (dh[:, None] * dw[None, :])).astype(np.float32)


def adaptive_avg_pool2d(x: np.ndarray, output_size) -> np.ndarray:
    return adaptive_pool2d(x, output_size, lambda cell: cell.mean(axis=(2, 3), dtype=np.float64))


def adaptive_pool2d(x: np.ndarray, output_size, reduce) -> np.ndarray:
    """``reduce`` of each output cell: cell i covers input [floor(i*in/out), ceil((i+1)*in/out))."""
    oh, ow = pair(output_size)
    h, w = x.shape[2:]
    out = np.empty(x.shape[:2] + (oh, ow), np.float32)
    for i in range(oh):
        r0, r1 = (i * h) // oh, -(-((i + 1) * h) // oh)
        for j in range(ow):
            c0, c1 = (j * w) // ow, -(-((j + 1) * w) // ow)
            out[:, :, i, j] = reduce(x[:, :, r0:r1, c0:c1])
    return out


def concat(*xs: np.ndarray, axis: int) -> np.ndarray:
    return np.concatenate(xs, axis=int(axis))


def slice_(x: np.ndarray, axis: int, start: int, end: int, step: int = 1) -> np.ndarray:
    index = [slice(None)] * x.ndim
    index[int(axis)] = slice(int(start), int(end), int(step))
    return np.ascontiguousarray(x[tuple(index)])

