"""A numpy kernel for every op kind of ``hwsim.graph.opkinds.OP_KINDS``.

``run_op(kind, inputs, attrs)`` computes one op: ``inputs`` are float32 arrays in the op's
input order (tensors only; scalars travel in ``attrs``), the result is the op's single
output as a float32 array of the shape :func:`hwsim.graph.opkinds.infer_shapes` gives.
Kernels are torch-free and follow torch's semantics (the tests compare each with torch).
The families live in ``kernels_conv.py``, ``kernels_resample.py`` and
``kernels_eltwise.py``; this module is the table.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import numpy as np

from hwsim.numerics import kernels_conv as kc
from hwsim.numerics import kernels_eltwise as ke
from hwsim.numerics.kernels_more import MORE_KERNELS
from hwsim.numerics import kernels_resample as kr

Kernel = Callable[[Sequence[np.ndarray], Mapping[str, Any]], np.ndarray]


class MissingKernel(LookupError):
    """An op kind the interpreter has no kernel for."""


def _opt(xs: Sequence[np.ndarray], i: int) -> np.ndarray | None:
    return xs[i] if len(xs) > i else None


def _conv(xs, a):
    return kc.conv2d(xs[0], xs[1], _opt(xs, 2), a.get("stride", 1), a.get("padding", 0),
                     a.get("dilation", 1), a.get("groups", 1))


def _conv_t(xs, a):
    return kc.conv_transpose2d(xs[0], xs[1], _opt(xs, 2), a.get("stride", 1), a.get("padding", 0),
                               a.get("dilation", 1), a.get("groups", 1), a.get("output_padding", 0))


def _layer_norm(xs, a):
    return ke.layer_norm(xs[0], _opt(xs, 1), _opt(xs, 2), tuple(a["normalized_shape"]), float(a.get("eps", 1e-5)))


KERNELS: dict[str, Kernel] = {
    "conv2d": _conv,
    "conv_transpose2d": _conv_t,
    "linear": lambda xs, a: kc.linear(xs[0], xs[1], _opt(xs, 2)),
    "matmul": lambda xs, a: kc.matmul(xs[0], xs[1]),
    "unfold": lambda xs, a: kc.unfold(xs[0], a["kernel_size"], a.get("dilation", 1), a.get("padding", 0),
                                      a.get("stride", 1)),
    "pixel_shuffle": lambda xs, a: kr.pixel_shuffle(xs[0], a["factor"]),
    "pixel_unshuffle": lambda xs, a: kr.pixel_unshuffle(xs[0], a["factor"]),
    "upsample_nearest2d": lambda xs, a: kr.upsample_nearest2d(xs[0], a["size"], a.get("scales")),
    "upsample_bilinear2d": lambda xs, a: kr.upsample_bilinear2d(xs[0], a["size"], a.get("align_corners", False),
                                                                a.get("scales")),
    "max_pool2d": lambda xs, a: kr.max_pool2d(xs[0], a["kernel_size"], a.get("stride"), a.get("padding", 0),
                                              a.get("dilation", 1), a.get("ceil_mode", False)),
    "avg_pool2d": lambda xs, a: kr.avg_pool2d(xs[0], a["kernel_size"], a.get("stride"), a.get("padding", 0),
                                              a.get("ceil_mode", False), a.get("count_include_pad", True)),
    "adaptive_avg_pool2d": lambda xs, a: kr.adaptive_avg_pool2d(xs[0], a["output_size"]),
    "concat": lambda xs, a: kr.concat(*xs, axis=a["axis"]),
    "slice": lambda xs, a: kr.slice_(xs[0], a["axis"], a["start"], a["end"], a.get("step", 1)),
    "mean": lambda xs, a: ke.reduce_("mean", xs[0], a),
    "sum": lambda xs, a: ke.reduce_("sum", xs[0], a),
    "vector_norm": lambda xs, a: ke.reduce_("vector_norm", xs[0], a),
    "softmax": lambda xs, a: ke.softmax(xs[0], a["dim"]),
    "layer_norm": _layer_norm,
    "batch_norm": lambda xs, a: ke.batch_norm(*xs[:5], eps=float(a.get("eps", 1e-5))),
    "permute": lambda xs, a: ke.permute(xs[0], a["dims"]),
}
KERNELS.update({k: (lambda f: lambda xs, a: np.asarray(f(xs[0], a), np.float32))(f) for k, f in ke.UNARY.items()})
KERNELS.update({k: (lambda k: lambda xs, a: ke.binary(k, list(xs), a))(k) for k in ke.BINARY})
KERNELS.update(MORE_KERNELS)


def run_op(kind: str, inputs: Sequence[np.ndarray], attrs: Mapping[str, Any]) -> np.ndarray:
    """The output of one op of ``kind`` on float32 ``inputs``."""
    kernel = KERNELS.get(kind)
    if kernel is None:
        raise MissingKernel(f"no numerics kernel for op kind {kind!r}")
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        return kernel(inputs, attrs)
