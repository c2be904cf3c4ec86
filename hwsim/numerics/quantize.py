"""How a tensor is stored in bytes at the spec's bit-width, and how close it comes back.

* 32 bits: float32, little-endian, as is.
* 8 and 16 bits: signed integers (little-endian) with a **per-tensor symmetric scale**
  ``scale = max|x| / (2^(b-1) - 1)``: ``q = clip(round(x / scale), -(2^(b-1) - 1), 2^(b-1) - 1)``,
  decoded as ``q * scale``. The scale is calibrated once, from the tensor's values in the
  torch reference run (activations) or from the parameter itself (weights), and travels
  with the tensor, as hardware keeps it in a register or a tensor descriptor: it is not
  part of the SRAM image.

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
    """The storage format of one tensor: ``bits`` per element and, below 32 bits, its ``scale``."""

    bits: int
    scale: float = 1.0

    @property
    def qmax(self) -> int:
        return 2 ** (self.bits - 1) - 1

    @property
    def dtype(self) -> np.dtype:
        return _FLOAT if self.bits == 32 else _INT_TYPES[self.bits]

    def nbytes(self, elements: int) -> int:
        return elements * self.bits // 8

    def encode(self, values: np.ndarray) -> np.ndarray:
        """The bytes (a uint8 array) that store ``values``."""
        if self.bits == 32:
            data = np.ascontiguousarray(values, dtype=_FLOAT)
        else:
            q = np.asarray(values, np.float32) / np.float32(self.scale)
            np.rint(q, out=q)
            np.clip(q, -self.qmax, self.qmax, out=q)
            nan = np.isnan(q)
            if nan.any():
                q[nan] = 0  # a NaN (poison upstream) stores as 0
            data = q.astype(self.dtype)
        return data.reshape(-1).view(np.uint8)

    def decode(self, raw: np.ndarray, shape: tuple[int, ...], copy: bool = True) -> np.ndarray:
        """The float32 values stored in ``raw`` (uint8), shaped ``shape`` (at 32 bits a view of
        ``raw`` when ``copy`` is False: only for bytes that will not change)."""
        data = np.ascontiguousarray(raw).view(self.dtype).reshape(shape)
        if self.bits == 32:
            return data.astype(np.float32, copy=copy)
        return data.astype(np.float32) * np.float32(self.scale)

    def round_trip(self, values: np.ndarray) -> np.ndarray:
        return self.decode(self.encode(values), np.shape(values))


def check_bits(bits: int, what: str = "activation") -> None:
    if bits not in SUPPORTED_BITS:
        raise UnsupportedBits(f"{what} bits {bits}: the numerics check stores 8-, 16- or 32-bit values only")


def calibrated(bits: int, max_abs: float) -> Codec:
    """The codec of a tensor whose largest magnitude is ``max_abs`` (per-tensor symmetric)."""
    check_bits(bits)
    if bits == 32:
        return Codec(32)
    max_abs = float(max_abs)
    if not math.isfinite(max_abs) or max_abs <= 0:
        return Codec(bits, 1.0)  # an all-zero tensor: any scale stores it exactly
    return Codec(bits, max_abs / (2 ** (bits - 1) - 1))


def codec_for(bits: int, values: np.ndarray) -> Codec:
    """The codec calibrated on ``values`` themselves."""
    return calibrated(bits, float(np.abs(values).max()) if np.size(values) else 0.0)


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
