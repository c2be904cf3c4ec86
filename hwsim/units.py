"""Quantities with their unit written in the value: ``8 MiB``, ``12.8 GB/s``, ``1 GHz``.

Every parser reads a number (``12.8``, ``1e3``, ``.5``), optional spaces, then a unit, and
computes exactly (with :class:`fractions.Fraction`), so ``12.8 GB/s`` is 12 800 000 000 B/s
and ``100 ns`` is exactly 1e-7 s before any float is made.

=============  ================================================  ==========================
kind           units (case-sensitive)                            parser → unit, type
=============  ================================================  ==========================
size           B, kB MB GB TB (10^3..), KiB MiB GiB TiB (2^10..)  :func:`parse_size` → bytes, int
bandwidth      any size unit + ``/s``                             :func:`parse_bandwidth` → B/s
frequency      Hz kHz MHz GHz                                     :func:`parse_frequency` → Hz
time           s ms us µs ns ps                                   :func:`parse_time` → s, float
energy         J mJ uJ µJ nJ pJ fJ                                :func:`parse_energy` → J, float
power_per_size W mW uW µW nW, ``/`` and a size unit               :func:`parse_power_per_size`
                                                                  → W per byte, float
throughput     op/s kop/s Mop/s Gop/s Top/s (``ops/s`` ... too)   operations per second, exact
=============  ================================================  ==========================

Bandwidth and frequency come back as ``int`` when the value is a whole number (it almost
always is) and as ``float`` otherwise. Sizes must be whole bytes. Sizes are bytes only: a
bit unit (``Mb``) and the ambiguous ``KB`` are refused with a hint. A bare number is refused
("needs a unit"); counts are plain integers, read by :func:`parse_count`. Negative values
are refused everywhere, and so is a number of more than :data:`MAX_DIGITS` digits or with
an exponent beyond +-:data:`MAX_EXPONENT` (exact arithmetic on ``1e99999999`` would take
minutes; the spec's ranges refuse such values anyway). A bad value raises
:class:`ValueError` with a short message (no key, no file: the caller adds those).

Writing back: :func:`format_bytes` for people (``3.75 MiB``, rounded), and
:func:`format_quantity` for files (``12.8 GB/s``, exact: parsing it gives the value back).
"""

from __future__ import annotations

import re
import reprlib
from decimal import Decimal
from fractions import Fraction
from types import MappingProxyType
from typing import Mapping

_BINARY = {"KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40}
_DECIMAL = {"kB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12}
SIZE_UNITS: Mapping[str, int] = MappingProxyType({"B": 1, **_BINARY, **_DECIMAL})
FREQUENCY_UNITS: Mapping[str, int] = MappingProxyType(
    {"Hz": 1, "kHz": 10**3, "MHz": 10**6, "GHz": 10**9}
)
TIME_UNITS: Mapping[str, Fraction] = MappingProxyType({
    "s": Fraction(1), "ms": Fraction(1, 10**3), "us": Fraction(1, 10**6),
    "µs": Fraction(1, 10**6), "μs": Fraction(1, 10**6), "ns": Fraction(1, 10**9),
    "ps": Fraction(1, 10**12),
})
ENERGY_UNITS: Mapping[str, Fraction] = MappingProxyType({
    "J": Fraction(1), "mJ": Fraction(1, 10**3), "uJ": Fraction(1, 10**6),
    "µJ": Fraction(1, 10**6), "nJ": Fraction(1, 10**9), "pJ": Fraction(1, 10**12),
    "fJ": Fraction(1, 10**15),
})
POWER_UNITS: Mapping[str, Fraction] = MappingProxyType({
    "W": Fraction(1), "mW": Fraction(1, 10**3), "uW": Fraction(1, 10**6),
    "µW": Fraction(1, 10**6), "nW": Fraction(1, 10**9),
})

OP_RATE_UNITS: Mapping[str, int] = MappingProxyType({
    f"{prefix}{op}/s": factor for prefix, factor in (("", 1), ("k", 10**3), ("M", 10**6), ("G", 10**9), ("T", 10**12))
    for op in ("op", "ops")
})
"""Operations per second (a host CPU's throughput, ``host.ops_per_second``)."""

KINDS = ("size", "bandwidth", "frequency", "time", "energy", "power_per_size", "throughput")
EXAMPLES: Mapping[str, str] = MappingProxyType({
    "size": "8 MiB", "bandwidth": "12.8 GB/s", "frequency": "1 GHz", "time": "100 ns",
    "energy": "0.2 pJ", "power_per_size": "0.5 mW/MiB", "throughput": "200 Mop/s",
})
_NUMBER = re.compile(r"\s*([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE]([+-]?\d+))?)\s*(.*?)\s*$")
MAX_DIGITS = 100
MAX_EXPONENT = 1000
_BITS = re.compile(r"^[kKMGT]?i?b$")


def show_value(value: object) -> str:
    """A short repr for error messages (long strings and big lists are cut)."""
    return reprlib.repr(value)


def _unit_table(kind: str) -> dict[str, Fraction]:
    """Every unit of one kind, with its factor to the base unit (B, B/s, Hz, s, J, W/B)."""
    if kind == "size":
        return {u: Fraction(f) for u, f in SIZE_UNITS.items()}
    if kind == "bandwidth":
        return {f"{u}/s": Fraction(f) for u, f in SIZE_UNITS.items()}
    if kind == "frequency":
        return {u: Fraction(f) for u, f in FREQUENCY_UNITS.items()}
    if kind == "time":
        return dict(TIME_UNITS)
    if kind == "energy":
        return dict(ENERGY_UNITS)
    if kind == "power_per_size":
        return {f"{p}/{s}": pf / sf for p, pf in POWER_UNITS.items()
                for s, sf in SIZE_UNITS.items()}
    if kind == "throughput":
        return {u: Fraction(f) for u, f in OP_RATE_UNITS.items()}
    raise ValueError(f"unknown quantity kind {kind!r}")


def unit_kind(unit: str) -> str | None:
    """The kind a unit belongs to (``'GHz'`` → ``'frequency'``), or None."""
    unit = unit.replace(" ", "")
    return next((k for k in KINDS if unit in _unit_table(k)), None)


def _unit_problem(unit: str, kind: str, table: Mapping[str, Fraction]) -> str:
    """Why ``unit`` is not a unit of ``kind``, with a hint."""
    other = unit_kind(unit)
    if other is not None:
        return (f"expected a {kind.replace('_', ' ')} such as '{EXAMPLES[kind]}', "
                f"got a {other.replace('_', ' ')} ('{unit}')")
    head = unit.split("/")[0]
    if kind == "power_per_size" and unit in POWER_UNITS:
        return f"'{unit}' is a power, give it per size, e.g. '{EXAMPLES[kind]}'"
    if head == "KB":
        return "ambiguous unit 'KB': write 'KiB' (1024 B) or 'kB' (1000 B)"
    if _BITS.match(head) and head != "B":
        return f"'{head}' is a bit unit, sizes are in bytes, e.g. 'MB' or 'MiB'"
    folded = {u.casefold(): u for u in table}
    if unit.casefold() in folded:
        return f"unknown unit '{unit}' (did you mean '{folded[unit.casefold()]}'?)"
    return f"unknown unit '{unit}' for a {kind.replace('_', ' ')}, e.g. '{EXAMPLES[kind]}'"


def parse_quantity(text: object, kind: str) -> Fraction:
    """Parse ``text`` as a quantity of ``kind``; exact value in the base unit.

    Base units: bytes, bytes per second, Hz, seconds, joules, watts per byte.
    """
    table = _unit_table(kind)
    if isinstance(text, bool) or not isinstance(text, (str, int, float)):
        raise ValueError(f"expected a {kind.replace('_', ' ')} such as '{EXAMPLES[kind]}'")
    if not isinstance(text, str):
        raise ValueError(f"needs a unit, e.g. '{EXAMPLES[kind]}'")
    match = _NUMBER.fullmatch(text)
    if match is None:
        raise ValueError(f"cannot read {show_value(text)}, expected e.g. '{EXAMPLES[kind]}'")
    _check_size_of_number(match.group(1), match.group(2), text)
    number, unit = Fraction(match.group(1)), re.sub(r"\s*/\s*", "/", match.group(3))
    if not unit:
        raise ValueError(f"needs a unit, e.g. '{EXAMPLES[kind]}'")
    if unit not in table:
        raise ValueError(_unit_problem(unit, kind, table))
    if number < 0:
        raise ValueError(f"must not be negative ({show_value(text.strip())})")
    return number * table[unit]


def _check_size_of_number(number: str, exponent: str | None, text: str) -> None:
    digits = sum(c.isdigit() for c in number) - (sum(c.isdigit() for c in exponent) if exponent else 0)
    if digits > MAX_DIGITS or (exponent is not None and len(exponent.lstrip("+-0")) > len(str(MAX_EXPONENT))) \
            or (exponent is not None and abs(int(exponent)) > MAX_EXPONENT):
        raise ValueError(f"cannot read {show_value(text.strip())}: a number has at most {MAX_DIGITS} digits "
                         f"and an exponent from -{MAX_EXPONENT} to {MAX_EXPONENT}")


def _int_if_whole(value: Fraction) -> int | float:
    return int(value) if value.denominator == 1 else float(value)


def parse_size(text: object) -> int:
    """A size in bytes: ``parse_size('8 MiB') == 8388608``; also a CLI argument type."""
    value = parse_quantity(text, "size")
    if value.denominator != 1:
        raise ValueError(f"{show_value(str(text).strip())} is not a whole number of bytes")
    return int(value)


def parse_bandwidth(text: object) -> int | float:
    """Bytes per second: ``parse_bandwidth('12.8 GB/s') == 12_800_000_000``."""
    return _int_if_whole(parse_quantity(text, "bandwidth"))


def parse_frequency(text: object) -> int | float:
    """Hertz: ``parse_frequency('800 MHz') == 800_000_000``."""
    return _int_if_whole(parse_quantity(text, "frequency"))


def parse_time(text: object) -> float:
    """Seconds: ``parse_time('100 ns') == 1e-07``."""
    return float(parse_quantity(text, "time"))


def parse_energy(text: object) -> float:
    """Joules: ``parse_energy('0.2 pJ') == 2e-13``."""
    return float(parse_quantity(text, "energy"))


def parse_power_per_size(text: object) -> float:
    """Watts per byte, e.g. SRAM leakage: ``'1 mW/KiB'`` → ``1e-3 / 1024``."""
    return float(parse_quantity(text, "power_per_size"))


def parse_count(value: object) -> int:
    """A plain non-negative integer: ``1024``, ``'1024'`` or ``'1_024'`` (not 8.0, not True)."""
    if isinstance(value, bool):
        raise ValueError(f"expected an integer, got {show_value(value)}")
    if isinstance(value, int):
        result = value
    elif isinstance(value, str) and re.fullmatch(r"\s*\d[\d_]*\s*", value):
        digits = value.strip().replace("_", "").lstrip("0")
        if len(digits) > MAX_DIGITS:
            raise ValueError(f"an integer of {len(digits)} digits (at most {MAX_DIGITS})")
        result = int(digits or "0")
    else:
        raise ValueError(f"expected an integer, got {show_value(value)}")
    if result < 0:
        raise ValueError(f"must not be negative ({result})")
    return result


def format_bytes(n: int) -> str:
    """Human-readable binary size, at most two decimals: ``3932160`` → ``'3.75 MiB'``."""
    for unit in ("TiB", "GiB", "MiB", "KiB"):
        if abs(n) >= SIZE_UNITS[unit]:
            text = f"{n / SIZE_UNITS[unit]:.2f}".rstrip("0").rstrip(".")
            return f"{text} {unit}"
    return f"{n} B"


_WRITE_BACK_UNITS: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "size": ("TiB", "GiB", "MiB", "KiB", "TB", "GB", "MB", "kB", "B"),
    "bandwidth": ("GB/s", "MB/s", "kB/s", "GiB/s", "MiB/s", "KiB/s", "TB/s", "B/s"),
    "frequency": ("GHz", "MHz", "kHz", "Hz"),
    "time": ("ns", "us", "ms", "s", "ps"),
    "energy": ("pJ", "nJ", "uJ", "mJ", "J"),
    "power_per_size": ("mW/MiB", "W/MiB", "mW/KiB", "W/KiB", "mW/B", "W/B"),
    "throughput": ("Gop/s", "Mop/s", "kop/s", "Top/s", "op/s"),
})
_ZERO_UNIT = MappingProxyType({
    "size": "B", "bandwidth": "B/s", "frequency": "Hz", "time": "s", "energy": "pJ",
    "power_per_size": "mW/MiB", "throughput": "op/s",
})


def _terminating_decimal(value: Fraction) -> str | None:
    """``value`` written out exactly in decimal (``'12.8'``), or None if its decimal never ends."""
    den, scale = value.denominator, 0
    for prime in (2, 5):
        while den % prime == 0:
            den //= prime
    if den != 1:
        return None
    while (value * 10**scale).denominator != 1:
        scale += 1
    digits = str(abs(value.numerator * 10**scale // value.denominator)).rjust(scale + 1, "0")
    text = f"{digits[:-scale]}.{digits[-scale:]}".rstrip("0") if scale else digits
    return ("-" if value < 0 else "") + text


def _shortest_decimal(value: Fraction, factor: Fraction, target: object) -> str:
    """The shortest decimal d with d * factor reading back as ``target``."""
    exact = isinstance(target, (int, Fraction))
    if exact:  # d = target / factor is the only one: write it out if it ends
        return _terminating_decimal(value) or repr(float(value))
    for digits in range(1, 18):
        text = format(Decimal(f"{float(value):.{digits - 1}e}").normalize(), "f")
        back = Fraction(text) * factor
        if (back == target) if exact else (float(back) == target):
            return text
    return repr(float(value))


def format_quantity(value: int | float | Fraction, kind: str) -> str:
    """Write a quantity back with its unit so that parsing gives the same value.

    ``format_quantity(12_800_000_000, 'bandwidth') == '12.8 GB/s'``;
    ``format_quantity(8388608, 'size') == '8 MiB'``. Picks the shortest spelling, then
    one without a leading ``0.``, then the conventional unit (``100 ns``, ``0.2 pJ``).
    """
    exact = value if isinstance(value, (int, Fraction)) else Fraction(repr(float(value)))
    if exact == 0:
        return f"0 {_ZERO_UNIT[kind]}"
    table = _unit_table(kind)
    spellings = []
    for rank, unit in enumerate(_WRITE_BACK_UNITS[kind]):
        text = _shortest_decimal(exact / table[unit], table[unit], value)
        spellings.append((len(text), text.startswith("0."), rank, text, unit))
    _, _, _, text, unit = min(spellings)
    return f"{text} {unit}"
