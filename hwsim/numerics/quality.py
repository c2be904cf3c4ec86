"""Quantisation quality: the quantised network against torch in float, measured and reported.

For every tensor a layer writes, and every graph output, the quantised network's stored value
(``golden.run_quantised``; the plan run's bytes equal it when the schedule check passes) is
compared with torch's float32 value:

* ``max_abs_error`` = max |q - ref|;
* ``max_rel_error`` = max_abs_error / max |ref| (0 when both are 0, inf when only ref is);
* ``sqnr_db`` = 10 log10(sum ref^2 / sum (q - ref)^2) (``quantize.sqnr_db``).

The errors accumulate along the network: a layer's figure is that of the whole quantised
network up to it, as the tensor leaves the layer, not of the layer alone. Rule of thumb: one
symmetric 8-bit rounding of a full-scale uniform signal gives 6.02 x 8 = 48 dB; outliers
(SimpleGate products, attention logits) and long chains lose from there.

Nothing here fails by default: a user asks for **thresholds** (``--min-sqnr 20dB``,
``--max-rel 1e-3``), and then a tensor (a layer's or an output) outside either fails the
quality question; the report names the first layer outside and the worst layers. The old
check's fixed thresholds (20 dB at 8 bits, 60 dB at 16) mixed this with the schedule
question, and failed NAFNet at 8 bits (SimpleGate, ~19.5 dB) on a correct schedule.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from hwsim.numerics.quantize import sqnr_db

WORST_LISTED = 5


@dataclass(frozen=True)
class Thresholds:
    """What a user asks of the quantisation: both optional (None: not asked)."""

    min_sqnr_db: float | None = None
    max_rel: float | None = None

    @property
    def asked(self) -> bool:
        return self.min_sqnr_db is not None or self.max_rel is not None

    def within(self, sqnr: float, rel: float) -> bool:
        if self.min_sqnr_db is not None and not sqnr >= self.min_sqnr_db:
            return False
        return self.max_rel is None or rel <= self.max_rel  # False for NaN

    def text(self) -> str:
        parts = ([f"SQNR >= {self.min_sqnr_db:g} dB"] if self.min_sqnr_db is not None else []) + \
                ([f"max rel err <= {self.max_rel:g}"] if self.max_rel is not None else [])
        return " and ".join(parts) if parts else "none asked (reported only)"

    def to_dict(self) -> dict:
        return {"min_sqnr_db": self.min_sqnr_db, "max_rel": self.max_rel}


def parse_sqnr(text: str) -> float:
    """``"20dB"``, ``"20 dB"`` or ``"20"`` -> 20.0 (a finite number of dB); ValueError otherwise."""
    m = re.fullmatch(r"\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(?:dB|db|DB)?\s*", text)
    if not m or not math.isfinite(float(m.group(1))):
        raise ValueError(f"{text!r} is not a level in dB, like 20dB")
    return float(m.group(1))


def parse_rel(text: str) -> float:
    """A relative error bound: a finite number > 0 (``1e-3``); ValueError otherwise."""
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a number, like 1e-3") from None
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{text!r}: a relative error bound is a finite number above 0, like 1e-3")
    return value


@dataclass(frozen=True)
class TensorCheck:
    """One tensor: its quantisation errors against torch, whether its bytes in the plan run equal
    the quantised network's (``exact``; None when not compared), and whether it passes both."""

    name: str
    max_abs_error: float
    max_rel_error: float  # max abs error / max |reference|
    sqnr_db: float
    exact: bool | None
    within: bool  # inside the thresholds (True when none was asked)

    @property
    def passed(self) -> bool:
        return self.exact is not False and self.within

    def to_dict(self) -> dict:
        return {"name": self.name, "max_abs_error": finite(self.max_abs_error),
                "max_rel_error": finite(self.max_rel_error), "sqnr_db": finite(self.sqnr_db),
                "exact": self.exact, "within_thresholds": self.within, "passed": self.passed}


def finite(x: float) -> float | str:
    """JSON has no inf or NaN: those become strings."""
    return x if math.isfinite(x) else str(x)


def compare(name: str, reference: np.ndarray, got: np.ndarray, thresholds: Thresholds,
            exact: bool | None = None) -> TensorCheck:
    """Errors of ``got`` against ``reference``, judged by ``thresholds``."""
    ref = np.asarray(reference, np.float64)
    diff = np.abs(np.asarray(got, np.float64) - ref)
    max_abs = float(diff.max()) if diff.size else 0.0
    if diff.size and np.isnan(diff).any():
        max_abs = math.nan
    peak = float(np.abs(ref).max()) if ref.size else 0.0
    rel = max_abs / peak if peak > 0 else (0.0 if max_abs == 0 else math.inf)
    sqnr = sqnr_db(ref, got)
    return TensorCheck(name, max_abs, rel, sqnr, exact, thresholds.within(sqnr, rel))
