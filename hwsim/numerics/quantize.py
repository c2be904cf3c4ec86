"""How a tensor is stored in bytes at the spec's bit-width, and how close it comes back.

* 32 bits: float32, little-endian, as is.
* 8 and 16 bits: signed integers (little-endian) ``q`` with a scale ``s`` and a zero point ``z``,
  ``q = clip(round(x / s) + z, qmin, qmax)``, decoded as ``(q - z) * s`` (``round`` is half to
  even, numpy's ``rint``). Two forms, as TFLite/TOSA int8 and Arm Vela define them:

  - **symmetric** (``z = 0``): ``s = max|x| / (2^(b-1) - 1)`` and ``q`` in
    ``[-(2^(b-1) - 1), 2^(b-1) - 1]`` (the most negative code unused, so that ``-x`` is exact);
    weights always, activations by default;
  - **asymmetric** (activations, on request): the range ``[lo, hi]`` (widened to contain 0, so
    zero padding is exact) maps onto ``[-2^(b-1), 2^(b-1) - 1]``: ``s = (hi - lo) / (2^b - 1)``,
    ``z = clip(round(-2^(b-1) - lo / s), qmin, qmax)``.

  A codec has one scale (per tensor) or one per index of an ``axis`` (**per channel**: a
  convolution's weights, one scale per output channel, as Vela, TFLite and TensorRT store
  them). The scales and the zero point travel with the tensor, as hardware keeps them in a
  register or a tensor descriptor: they are not part of the SRAM image.

Other bit-widths are not modelled (:class:`UnsupportedBits`).

``sqnr_db(reference, values)`` = 10 log10(sum ref^2 / sum (values - ref)^2): +inf when the two
are equal, -inf when the reference is all zero and the values are not.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

SUPPORTED_BITS = (8, 16, 32)
_INT_TYPES = {8: np.dtype("<i1"), 16: np.dtype("<i2")}
_FLOAT = np.dtype("<f4")


class UnsupportedBits(ValueError):
    """A bit-width the numerics check cannot store."""


@dataclass(frozen=True)
class Codec:
    """The storage format of one tensor: ``bits`` per element and, below 32 bits, its ``scale``
    (a float, or a tuple of floats along ``axis``) and ``zero_point``."""

    bits: int
    scale: float | tuple[float, ...] = 1.0
    zero_point: int = 0
    axis: int | None = None  # per-channel: the axis ``scale`` runs along
    asymmetric: bool = False  # codes span [-2^(b-1), 2^(b-1) - 1] around ``zero_point``

    @property
    def qmax(self) -> int:
        return 2 ** (self.bits - 1) - 1

    @property
    def qmin(self) -> int:
        """-qmax when symmetric; -2^(b-1) with a zero point (the asymmetric form)."""
        return -self.qmax - 1 if self.asymmetric else -self.qmax

    @property
    def dtype(self) -> np.dtype:
        return _FLOAT if self.bits == 32 else _INT_TYPES[self.bits]

    def nbytes(self, elements: int) -> int:
        return elements * self.bits // 8

    def _scale(self, shape: tuple[int, ...]) -> np.ndarray | np.float32:
        if self.axis is None:
            return np.float32(self.scale)
        s = np.asarray(self.scale, np.float32)
        view = [1] * len(shape)
        view[self.axis] = s.size
        return s.reshape(view)

    def encode(self, values: np.ndarray) -> np.ndarray:
        """The bytes (a uint8 array) that store ``values``."""
        if self.bits == 32:
            data = np.ascontiguousarray(values, dtype=_FLOAT)
        else:
            values = np.asarray(values, np.float32)
            q = values / self._scale(values.shape)
            np.rint(q, out=q)
            if self.zero_point:
                q += np.float32(self.zero_point)
            np.clip(q, self.qmin, self.qmax, out=q)
            nan = np.isnan(q)
            if nan.any():
                q[nan] = self.zero_point  # a NaN (poison upstream) stores as 0
            data = q.astype(self.dtype)
        return data.reshape(-1).view(np.uint8)

    def decode(self, raw: np.ndarray, shape: tuple[int, ...], copy: bool = True) -> np.ndarray:
        """The float32 values stored in ``raw`` (uint8), shaped ``shape`` (at 32 bits a view of
        ``raw`` when ``copy`` is False: only for bytes that will not change)."""
        data = np.ascontiguousarray(raw).view(self.dtype).reshape(shape)
        if self.bits == 32:
            return data.astype(np.float32, copy=copy)
        q = data.astype(np.float32)
        if self.zero_point:
            q -= np.float32(self.zero_point)
        return q * self._scale(tuple(shape))

    def round_trip(self, values: np.ndarray) -> np.ndarray:
        return self.decode(self.encode(values), np.shape(values))


def check_bits(bits: int, what: str = "activation") -> None:
    if bits not in SUPPORTED_BITS:
        raise UnsupportedBits(f"{what} bits {bits}: the numerics check stores 8-, 16- or 32-bit values only")


def _symmetric_scale(bits: int, max_abs: float) -> float:
    max_abs = float(max_abs)
    if not math.isfinite(max_abs) or max_abs <= 0:
        return 1.0  # an all-zero tensor: any scale stores it exactly
    return max_abs / (2 ** (bits - 1) - 1)


def calibrated(bits: int, max_abs: float) -> Codec:
    """The symmetric per-tensor codec of a tensor whose largest magnitude is ``max_abs``."""
    check_bits(bits)
    return Codec(32) if bits == 32 else Codec(bits, _symmetric_scale(bits, max_abs))


def calibrated_range(bits: int, lo: float, hi: float, asymmetric: bool = False) -> Codec:
    """The per-tensor codec of a tensor whose values span ``[lo, hi]`` (symmetric unless asked)."""
    check_bits(bits)
    if bits == 32:
        return Codec(32)
    if not asymmetric:
        return calibrated(bits, max(abs(lo), abs(hi)))
    lo, hi = min(float(lo), 0.0), max(float(hi), 0.0)
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi == lo:
        return Codec(bits, 1.0, 0, None, True)
    qmin = -(2 ** (bits - 1))
    scale = (hi - lo) / (2 ** bits - 1)
    zero = int(np.clip(np.rint(qmin - lo / scale), qmin, 2 ** (bits - 1) - 1))
    return Codec(bits, scale, zero, None, True)


def codec_for(bits: int, values: np.ndarray, axis: int | None = None) -> Codec:
    """The symmetric codec calibrated on ``values`` themselves: per tensor, or per index of ``axis``."""
    check_bits(bits)
    if bits == 32:
        return Codec(32)
    if axis is None or np.ndim(values) == 0:
        return calibrated(bits, float(np.abs(values).max()) if np.size(values) else 0.0)
    moved = np.moveaxis(np.abs(np.asarray(values, np.float32)), axis, 0).reshape(np.shape(values)[axis], -1)
    peaks = moved.max(axis=1) if moved.shape[1] else np.zeros(moved.shape[0])
    return Codec(bits, tuple(_symmetric_scale(bits, p) for p in peaks), 0, axis)


def sqnr_db(reference: np.ndarray, values: np.ndarray) -> float:
    """Signal-to-quantisation-noise ratio of ``values`` against ``reference``, in dB."""
    ref = np.asarray(reference, np.float64)
    noise = float(np.sum((np.asarray(values, np.float64) - ref) ** 2))
    signal = float(np.sum(ref ** 2))
    if math.isnan(noise):
        return -math.inf
    if noise == 0:
        return math.inf
    if signal == 0:
        return -math.inf
    return 10 * math.log10(signal / noise)
