"""Kernels of the op kinds of ``hwsim/graph/opkinds_more.py`` (issue 13), torch's semantics.

* ``pad``: ``F.pad``'s modes map onto numpy's (constant, reflect, replicate = edge,
  circular = wrap); negative constant padding crops.
* ``upsample_bicubic2d``: torch's ``upsample_bicubic2d`` (``UpSample.h``): the source
  coordinate is ``scale * (dst + 0.5) - 0.5`` (not clamped, unlike bilinear) or
  ``dst * (in - 1) / (out - 1)`` with ``align_corners``; four taps at ``floor(src) - 1 ..
  floor(src) + 2``, clamped to the edge, weighted by Keys' cubic convolution with A = -0.75.
* ``group_norm``: statistics per (sample, group) over the group's channels and the whole map,
  in float64 (biased variance, as torch).
* Comparisons and logical ops give 0.0 / 1.0 (a bool tensor stored as a number); ``where``
  takes any non-zero condition as true.
"""

from __future__ import annotations

import numpy as np

from hwsim.graph.opkinds_more import pad_amounts
from hwsim.numerics.kernels_conv import pair
from hwsim.numerics.kernels_resample import _scale, _scales, adaptive_pool2d

_CUBIC_A = -0.75


def _f32(x) -> np.ndarray:
    return np.ascontiguousarray(x, dtype=np.float32)


def pad(x: np.ndarray, pads, mode: str = "constant", value: float = 0.0) -> np.ndarray:
    amounts = pad_amounts(x.shape, pads)
    crop = tuple(slice(max(-lo, 0), n - max(-hi, 0)) for n, (lo, hi) in zip(x.shape, amounts))
    x = x[crop]
    grow = [(max(lo, 0), max(hi, 0)) for lo, hi in amounts]
    if mode == "constant":
        return _f32(np.pad(x, grow, constant_values=np.float32(value)))
    return _f32(np.pad(x, grow, mode={"reflect": "reflect", "replicate": "edge", "circular": "wrap"}[mode]))


def _cubic_taps(in_size: int, out_size: int, scale, align_corners: bool):
    """(indices (out, 4), weights (out, 4)) of one axis."""
    s = float(_scale(in_size, out_size, scale, align_corners))
    dst = np.arange(out_size, dtype=np.float64)
    src = dst * s if align_corners else s * (dst + 0.5) - 0.5
    i = np.floor(src)
    t = (src - i).astype(np.float32).astype(np.float64)  # torch computes the fraction in float32
    a = _CUBIC_A

    def near(d):  # |d| <= 1
        return ((a + 2) * d - (a + 3)) * d * d + 1

    def far(d):  # 1 < |d| < 2
        return ((a * d - 5 * a) * d + 8 * a) * d - 4 * a

    weights = np.stack([far(t + 1), near(t), near(1 - t), far(2 - t)], axis=1)
    idx = np.clip(i.astype(np.int64)[:, None] + np.arange(-1, 3)[None, :], 0, in_size - 1)
    return idx, weights


def upsample_bicubic2d(x: np.ndarray, size, align_corners: bool = False, scales=None) -> np.ndarray:
    oh, ow = pair(size)
    sh, sw = _scales(scales)
    ri, rw = _cubic_taps(x.shape[2], oh, sh, bool(align_corners))
    ci, cw = _cubic_taps(x.shape[3], ow, sw, bool(align_corners))
    x64 = x.astype(np.float64)
    rows = np.einsum("nchkw,hk->nchw", x64[:, :, ri, :], rw)  # (N, C, OH, W)
    return _f32(np.einsum("nchwk,wk->nchw", rows[:, :, :, ci], cw))


def adaptive_max_pool2d(x: np.ndarray, output_size) -> np.ndarray:
    """The cells of adaptive average pooling, their maximum."""
    return adaptive_pool2d(x, output_size, lambda cell: cell.max(axis=(2, 3)))


def gather(x: np.ndarray, axis: int, indices) -> np.ndarray:
    return _f32(np.take(x, [int(i) for i in indices], axis=int(axis)))


def group_norm(x: np.ndarray, weight=None, bias=None, num_groups: int = 1, eps: float = 1e-5) -> np.ndarray:
    n, c = x.shape[:2]
    g = x.astype(np.float64).reshape(n, int(num_groups), -1)
    mean = g.mean(axis=2, keepdims=True)
    var = ((g - mean) ** 2).mean(axis=2, keepdims=True)
    out = ((g - mean) / np.sqrt(var + eps)).reshape(x.shape)
    shape = (1, c) + (1,) * (x.ndim - 2)
    if weight is not None:
        out = out * weight.astype(np.float64).reshape(shape)
    if bias is not None:
        out = out + bias.astype(np.float64).reshape(shape)
    return _f32(out)


def softplus(x: np.ndarray, beta: float = 1.0, threshold: float = 20.0) -> np.ndarray:
    x64 = x.astype(np.float64)
    bx = x64 * beta
    soft = np.log1p(np.exp(np.minimum(bx, 700.0))) / beta
    return _f32(np.where(bx > threshold, x64, soft))


def mish(x: np.ndarray) -> np.ndarray:
    x64 = x.astype(np.float64)
    return _f32(x64 * np.tanh(np.logaddexp(0.0, x64)))


_COMPARE = {"gt": np.greater, "lt": np.less, "ge": np.greater_equal, "le": np.less_equal, "eq": np.equal,
            "ne": np.not_equal, "logical_and": lambda a, b: (a != 0) & (b != 0),
            "logical_or": lambda a, b: (a != 0) | (b != 0)}


def compare(kind: str, xs, attrs) -> np.ndarray:
    """``x op y`` as 0.0 / 1.0; ``y`` may be ``attrs['scalar']`` (``reverse``: scalar op x)."""
    x = xs[0]
    y = xs[1] if len(xs) > 1 else np.float32(attrs["scalar"])
    if attrs.get("reverse"):
        x, y = y, x
    return _f32(_COMPARE[kind](x, y))


def where(xs, attrs) -> np.ndarray:
    rest = list(xs[1:])
    a = np.float32(attrs["scalar_x"]) if "scalar_x" in attrs else rest.pop(0)
    b = np.float32(attrs["scalar_y"]) if "scalar_y" in attrs else rest.pop(0)
    return _f32(np.where(xs[0] != 0, a, b))


def extreme(kind: str, x: np.ndarray, attrs) -> np.ndarray:
    dims = attrs.get("dims")
    axes = tuple(range(x.ndim)) if dims is None else tuple(int(d) % x.ndim for d in dims)
    fn = np.max if kind == "amax" else np.min
    return _f32(fn(x, axis=axes, keepdims=bool(attrs.get("keepdim", False))))


def prelu(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    return _f32(np.where(x > 0, x, w * x))


MORE_KERNELS = {
    "pad": lambda xs, a: pad(xs[0], a["pads"], a.get("mode", "constant"), float(a.get("value", 0.0))),
    "upsample_bicubic2d": lambda xs, a: upsample_bicubic2d(xs[0], a["size"], a.get("align_corners", False),
                                                           a.get("scales")),
    "adaptive_max_pool2d": lambda xs, a: adaptive_max_pool2d(xs[0], a["output_size"]),
    "gather": lambda xs, a: gather(xs[0], a["axis"], a["indices"]),
    "group_norm": lambda xs, a: group_norm(xs[0], xs[1] if len(xs) > 1 else None, xs[2] if len(xs) > 2 else None,
                                           int(a["num_groups"]), float(a.get("eps", 1e-5))),
    "prelu": lambda xs, a: prelu(xs[0], xs[1]),
    "mish": lambda xs, a: mish(xs[0]),
    "softplus": lambda xs, a: softplus(xs[0], float(a.get("beta", 1.0)), float(a.get("threshold", 20.0))),
    "logical_not": lambda xs, a: _f32(xs[0] == 0),
    "where": lambda xs, a: where(xs, a),
    "amax": lambda xs, a: extreme("amax", xs[0], a),
    "amin": lambda xs, a: extreme("amin", xs[0], a),
    "flip": lambda xs, a: _f32(np.flip(xs[0], [int(d) for d in a["dims"]])),
    "roll": lambda xs, a: _f32(np.roll(xs[0], [int(s) for s in a["shifts"]], [int(d) for d in a["dims"]])),
    **{k: (lambda k: lambda xs, a: compare(k, xs, a))(k) for k in _COMPARE},
}
"""Op kind -> kernel, merged into ``kernels.KERNELS``."""
