"""The accelerator YAML schema: every key by dotted path, how each value is read, and its range.

:data:`SCHEMA` is the single table the loader validates against, ``--set`` checks paths
against and the report writes back from. A value parser takes a YAML value and returns the
Python value (ints for bytes, Hz and counts; floats for seconds, picojoules and W/B) or
raises :class:`ValueError` with a short reason; the loader adds the file and the key.

Every number has a plausible range, checked on the exact value before any float is made (so
``1e400 J`` is an error, not an overflow, and ``1e-400 s`` is not silently 0). The ranges are
wide: they hold every real accelerator and refuse only what no hardware has.

========================  =====================================  ==============================
key                       range                                  why the bounds
========================  =====================================  ==============================
clock                     1 kHz .. 100 GHz                       slow MCUs .. beyond any chip
compute.macs_per_cycle,   1 .. 16777216 (2^24)                   a scalar MAC .. a wafer
compute.array.rows/cols,
sram.port_bytes
compute.vector_ops...,    1/1024 .. 2^24 (int, decimal or p/q)   a slow scalar unit .. a wafer
compute.output_elem...
dram.efficiency           above 0 % .. 100 % (or 0 .. 1)         a share of the peak
dram.turnaround           0, or 1 ps .. 1 ms
sram.size,                1 B .. 1 TiB                           .. beyond wafer-scale SRAM
sram.weight_buffer
sram.alignment            1 B .. 1 MiB (a power of two)          a byte .. a large page
dram.bandwidth            1 kB/s .. 1000 TB/s                    .. beyond any HBM stack
dram.latency              0, or 1 ps .. 1 ms                     ideal, or a gate delay .. slow flash
dram.channels             1 .. 64
datatype.*_bits           1 .. 32
policy.prefetch           0 .. 1000 (layers ahead)
policy.solver_time        1 ms .. 86400 s                        a day of wall-clock time
energy.mac, .vector_op,   0, or 0.001 fJ .. 1 uJ                 free, or near Landauer's limit ..
energy.sram_byte,                                                a millijoule per thousand ops
energy.dram_byte
energy.sram_leakage       0, or 1 nW/TiB .. 1 W/KiB
host.ops_per_second       1 op/s .. 1000 Top/s                   a slow MCU .. beyond any CPU
host.per_op               0, or 1 ns .. 1 s                      a call's overhead .. a stalled OS
name, host.name           1 .. 1024 printable characters         printed in reports and errors
========================  =====================================  ==============================
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from fractions import Fraction
from types import MappingProxyType
from typing import Callable, Mapping, Sequence

from hwsim.errors import name_problem
from hwsim.spec import model as m
from hwsim.units import EXAMPLES, show_value, parse_count, parse_quantity

REQUIRED = "required"


@dataclass(frozen=True)
class Field:
    """One YAML key: its value kind, its default (a YAML value, ``required`` or None for
    optional without default), for ``choice`` the allowed words, and for a number its range
    ``low`` .. ``high`` (quantity texts in the file's units, or ints; 0 also when ``zero``)."""

    kind: str
    default: object = REQUIRED
    choices: tuple[str, ...] = ()
    low: str | int | None = None
    high: str | int | None = None
    zero: bool = False


_MAX_UNITS = 2**24
_ENERGY = {"low": "0.001 fJ", "high": "1 uJ", "zero": True}

SCHEMA: tuple[tuple[str, Field], ...] = (
    ("name", Field("name")),
    ("clock", Field("frequency", low="1 kHz", high="100 GHz")),
    ("compute.macs_per_cycle", Field("positive_int", low=1, high=_MAX_UNITS)),
    ("compute.vector_ops_per_cycle", Field("rate", low=1 / 1024, high=_MAX_UNITS)),
    ("compute.output_elements_per_cycle", Field("rate", None, low=1 / 1024, high=_MAX_UNITS)),
    ("compute.array.rows", Field("positive_int", low=1, high=_MAX_UNITS)),
    ("compute.array.cols", Field("positive_int", low=1, high=_MAX_UNITS)),
    ("compute.array.rows_over", Field("choice", None, m.ARRAY_DIMS)),
    ("compute.array.cols_over", Field("choice", None, m.ARRAY_DIMS)),
    ("compute.array.mappings", Field("mappings", None)),
    ("sram.size", Field("size", low="1 B", high="1 TiB")),
    ("sram.alignment", Field("size", "64 B", low="1 B", high="1 MiB")),
    ("sram.weights", Field("choice", "shared", m.WEIGHT_PLACEMENTS)),
    ("sram.weight_buffer", Field("size", None, low="1 B", high="1 TiB")),
    ("sram.port_bytes", Field("positive_int", None, low=1, high=_MAX_UNITS)),
    ("dram.bandwidth", Field("bandwidth", low="1 kB/s", high="1000 TB/s")),
    ("dram.latency", Field("time", low="1 ps", high="1 ms", zero=True)),
    ("dram.channels", Field("positive_int", 1, low=1, high=64)),
    ("dram.efficiency", Field("share", "100 %")),
    ("dram.turnaround", Field("time", "0 s", low="1 ps", high="1 ms", zero=True)),
    ("datatype.activation_bits", Field("bits")),
    ("datatype.weight_bits", Field("bits")),
    ("datatype.bias_bits", Field("bits", 32)),
    ("datatype.widths", Field("choice", "graph", m.WIDTH_SOURCES)),
    ("policy.order", Field("choice", "graph", m.ORDER_POLICIES)),
    ("policy.spill", Field("choice", "optimal", m.SPILL_POLICIES)),
    ("policy.prefetch", Field("count", 1, low=0, high=1000)),
    ("policy.concat", Field("choice", "inplace", m.CONCAT_MODES)),
    ("policy.execution", Field("choice", "layer", m.EXECUTION_MODES)),
    ("policy.solver_time", Field("time", "60 s", low="1 ms", high="86400 s")),
    ("policy.eltwise", Field("choice", "fused", m.ELTWISE_MODES)),
    ("policy.transposed_conv", Field("choice", "sub_pixel", m.TRANSPOSED_CONV_MODES)),
    ("policy.stream_objective", Field("choice", "latency", m.STREAM_OBJECTIVES)),
    ("energy.mac", Field("energy", **_ENERGY)),
    ("energy.sram_byte", Field("energy", **_ENERGY)),
    ("energy.dram_byte", Field("energy", **_ENERGY)),
    ("energy.vector_op", Field("energy", None, **_ENERGY)),
    ("energy.sram_leakage", Field("power_per_size", "0 mW/MiB", low="1 nW/TiB", high="1 W/KiB", zero=True)),
    ("host.name", Field("name", None)),
    ("host.ops_per_second", Field("throughput", None, low="1 op/s", high="1000 Top/s")),
    ("host.per_op", Field("time", None, low="1 ns", high="1 s", zero=True)),
)
"""Every YAML key by dotted path. ``energy.vector_op`` defaults to ``energy.mac``;
``sram.weight_buffer`` is required exactly when ``sram.weights`` is ``separate``; the ``host``
section (optional: the host CPU that runs the ops of ``--fallback host``) needs
``ops_per_second`` or ``per_op`` or both."""

FIELDS: Mapping[str, Field] = MappingProxyType(dict(SCHEMA))
SECTIONS = ("", "compute", "compute.array", "sram", "dram", "datatype", "policy", "energy", "host")
OPTIONAL_SECTIONS = ("compute.array", "policy", "host")
UNIT_KINDS = ("size", "bandwidth", "frequency")
"""Field kinds whose value may also be given as a plain int (bytes, B/s, Hz) in code."""


def fields_of(section: str) -> list[str]:
    """Dotted keys of the fields directly in a section."""
    return [k for k in FIELDS if k.rpartition(".")[0] == section]


def keys_of(section: str) -> list[str]:
    """Keys allowed directly in a section: its fields and its sub-sections."""
    children = [s for s in SECTIONS if s and s.rpartition(".")[0] == section]
    return [k.rpartition(".")[2] for k in fields_of(section) + children]


def did_you_mean(word: str, options: Sequence[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest option, or an empty string."""
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


# --- value parsers: YAML value -> Python value, or ValueError with a short reason ---

def _positive(value: Fraction | int, text: object) -> None:
    if value <= 0:
        raise ValueError(f"must be greater than zero, got {show_value(str(text).strip())}")


def _parse_name(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("must be a non-empty string")
    reason = name_problem(value.strip())
    if reason is not None:
        raise ValueError(reason)
    return value.strip()


def _parse_positive_int(value: object) -> int:
    number = parse_count(value)
    if number < 1:
        raise ValueError(f"must be a positive integer, got {number}")
    return number


def _parse_rate(value: object) -> Fraction:
    """A positive number of things per cycle: an int, a decimal (``1.5``) or ``p/q`` (``4/3``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"must be a number (an integer, a decimal or p/q), got {show_value(value)}")
    try:
        rate = Fraction(str(value).strip()) if isinstance(value, str) else Fraction(repr(value))
    except (ValueError, ZeroDivisionError):
        raise ValueError(f"must be a number (an integer, a decimal or p/q), got {show_value(value)}") from None
    if rate <= 0:
        raise ValueError(f"must be greater than zero, got {show_value(value)}")
    return rate


def _parse_share(value: object) -> Fraction:
    """A share above 0 and at most 1: ``85 %`` or ``0.85``."""
    text = str(value).strip() if not isinstance(value, bool) and isinstance(value, (int, float, str)) else None
    if text is None:
        raise ValueError(f"must be a share such as '85 %' or 0.85, got {show_value(value)}")
    percent = text.endswith("%")
    try:
        share = Fraction(text.rstrip("%").strip()) / (100 if percent else 1)
    except (ValueError, ZeroDivisionError):
        raise ValueError(f"must be a share such as '85 %' or 0.85, got {show_value(value)}") from None
    if not 0 < share <= 1:
        raise ValueError(f"must be above 0 % and at most 100 %, got {show_value(value)}")
    return share


def _parse_mappings(value: object) -> list:
    """Checked in full by the loader once rows and cols are known (``hwsim.spec.mappings``)."""
    if not isinstance(value, list):
        raise ValueError("must be a list of mappings (name, ops, rows_over, cols_over, steps)")
    return value


def _parse_bits(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 32:
        raise ValueError(f"must be an integer from 1 to 32, got {show_value(value)}")
    return value


def _whole_hz(hz: Fraction, text: object) -> int:
    if hz.denominator != 1:
        raise ValueError(f"{show_value(text)} is not a whole number of Hz")
    return int(hz)


def _whole_bytes(nbytes: Fraction, text: object) -> int:
    if nbytes.denominator != 1:
        raise ValueError(f"{show_value(str(text).strip())} is not a whole number of bytes")
    return int(nbytes)


_PARSERS: Mapping[str, Callable[[object], object]] = MappingProxyType({
    "name": _parse_name,
    "positive_int": _parse_positive_int,
    "count": parse_count,
    "bits": _parse_bits,
    "rate": _parse_rate,
    "share": _parse_share,
    "mappings": _parse_mappings,
})
_POSITIVE = ("size", "bandwidth", "frequency", "throughput")
"""Quantity kinds that must be above zero whatever their range says."""
_FINISH: Mapping[str, Callable[[Fraction, object], object]] = MappingProxyType({
    "frequency": _whole_hz,
    "size": _whole_bytes,
    "bandwidth": lambda rate, text: round(rate),
    "time": lambda seconds, text: float(seconds),
    "energy": lambda joules, text: float(joules * 10**12),
    "power_per_size": lambda w_per_byte, text: float(w_per_byte),
    "throughput": lambda rate, text: rate,
})
"""Quantity kind -> the exact value (in range) as the spec holds it: ints, or floats of s, pJ, W/B (an
operation rate: the exact Fraction)."""


def _bound(kind: str, bound: str | int) -> Fraction | int:
    return parse_quantity(bound, kind) if isinstance(bound, str) else bound


def _check_range(field: Field, exact: Fraction | int, text: object) -> None:
    """Raise unless ``exact`` lies in the field's range (see the module docstring)."""
    if field.low is None or (field.zero and exact == 0):
        return
    if not _bound(field.kind, field.low) <= exact <= _bound(field.kind, field.high):
        shown = show_value(text.strip() if isinstance(text, str) else text)
        raise ValueError(f"must be {'0 or ' if field.zero else ''}from {field.low} to {field.high}, got {shown}")


def parse_value(key: str, value: object) -> object:
    """The Python value of field ``key`` given its YAML ``value`` (ValueError if bad)."""
    field = FIELDS[key]
    if value is None:
        example = EXAMPLES.get(field.kind)
        raise ValueError("no value given" + (f", e.g. '{example}'" if example else ""))
    if field.kind in _FINISH:
        exact = parse_quantity(value, field.kind)
        if field.kind in _POSITIVE:
            _positive(exact, value)
        _check_range(field, exact, value)
        return _FINISH[field.kind](exact, value)
    if field.kind != "choice":
        parsed = _PARSERS[field.kind](value)
        _check_range(field, parsed, value)
        return parsed
    if value in field.choices:
        return value
    allowed = ", ".join(field.choices)
    if key == "policy.order" and value in m.RESERVED_ORDER_POLICIES:
        raise ValueError(f"'{value}' is reserved and not implemented yet, use {allowed}")
    hint = did_you_mean(value, field.choices) if isinstance(value, str) else ""
    raise ValueError(f"unknown value {show_value(value)}{hint}, expected one of {allowed}")
