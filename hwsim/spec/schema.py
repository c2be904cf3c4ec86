"""The accelerator YAML schema: every key by dotted path, and how each value is read.

:data:`SCHEMA` is the single table the loader validates against, ``--set`` checks paths
against and the report writes back from. A value parser takes a YAML value and returns the
Python value (ints for bytes, Hz and counts; floats for seconds, picojoules and W/B) or
raises :class:`ValueError` with a short reason; the loader adds the file and the key.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from fractions import Fraction
from types import MappingProxyType
from typing import Callable, Mapping, Sequence

from hwsim.spec import model as m
from hwsim.units import EXAMPLES, show_value, parse_count, parse_quantity, parse_size

REQUIRED = "required"


@dataclass(frozen=True)
class Field:
    """One YAML key: its value kind, its default (a YAML value, ``required`` or None for
    optional without default) and, for ``choice``, the allowed words."""

    kind: str
    default: object = REQUIRED
    choices: tuple[str, ...] = ()


SCHEMA: tuple[tuple[str, Field], ...] = (
    ("name", Field("name")),
    ("clock", Field("frequency")),
    ("compute.macs_per_cycle", Field("positive_int")),
    ("compute.vector_ops_per_cycle", Field("positive_int")),
    ("compute.array.rows", Field("positive_int")),
    ("compute.array.cols", Field("positive_int")),
    ("compute.array.rows_over", Field("choice", choices=m.ARRAY_DIMS)),
    ("compute.array.cols_over", Field("choice", choices=m.ARRAY_DIMS)),
    ("sram.size", Field("size")),
    ("sram.alignment", Field("size", "64 B")),
    ("sram.weights", Field("choice", "shared", m.WEIGHT_PLACEMENTS)),
    ("sram.weight_buffer", Field("size", None)),
    ("dram.bandwidth", Field("bandwidth")),
    ("dram.latency", Field("time")),
    ("dram.channels", Field("positive_int", 1)),
    ("datatype.activation_bits", Field("bits")),
    ("datatype.weight_bits", Field("bits")),
    ("policy.order", Field("choice", "graph", m.ORDER_POLICIES)),
    ("policy.spill", Field("choice", "optimal", m.SPILL_POLICIES)),
    ("policy.prefetch", Field("count", 1)),
    ("policy.concat", Field("choice", "inplace", m.CONCAT_MODES)),
    ("policy.execution", Field("choice", "layer", m.EXECUTION_MODES)),
    ("policy.solver_time", Field("time", "60 s")),
    ("energy.mac", Field("energy")),
    ("energy.sram_byte", Field("energy")),
    ("energy.dram_byte", Field("energy")),
    ("energy.vector_op", Field("energy", None)),
    ("energy.sram_leakage", Field("power_per_size", "0 mW/MiB")),
)
"""Every YAML key by dotted path. ``energy.vector_op`` defaults to ``energy.mac``;
``sram.weight_buffer`` is required exactly when ``sram.weights`` is ``separate``."""

FIELDS: Mapping[str, Field] = MappingProxyType(dict(SCHEMA))
SECTIONS = ("", "compute", "compute.array", "sram", "dram", "datatype", "policy", "energy")
OPTIONAL_SECTIONS = ("compute.array", "policy")
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
    return value.strip()


def _parse_positive_int(value: object) -> int:
    number = parse_count(value)
    if number < 1:
        raise ValueError(f"must be a positive integer, got {number}")
    return number


def _parse_bits(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 32:
        raise ValueError(f"must be an integer from 1 to 32, got {show_value(value)}")
    return value


def _parse_frequency(value: object) -> int:
    hz = parse_quantity(value, "frequency")
    _positive(hz, value)
    if hz.denominator != 1:
        raise ValueError(f"{show_value(value)} is not a whole number of Hz")
    return int(hz)


def _parse_size(value: object) -> int:
    nbytes = parse_size(value)
    _positive(nbytes, value)
    return nbytes


def _parse_bandwidth(value: object) -> int:
    rate = round(parse_quantity(value, "bandwidth"))
    _positive(rate, value)
    return rate


def _parse_energy_pj(value: object) -> float:
    return float(parse_quantity(value, "energy") * 10**12)


_PARSERS: Mapping[str, Callable[[object], object]] = MappingProxyType({
    "name": _parse_name,
    "positive_int": _parse_positive_int,
    "count": parse_count,
    "bits": _parse_bits,
    "frequency": _parse_frequency,
    "size": _parse_size,
    "bandwidth": _parse_bandwidth,
    "time": lambda value: float(parse_quantity(value, "time")),
    "energy": _parse_energy_pj,
    "power_per_size": lambda value: float(parse_quantity(value, "power_per_size")),
})


def parse_value(key: str, value: object) -> object:
    """The Python value of field ``key`` given its YAML ``value`` (ValueError if bad)."""
    field = FIELDS[key]
    if value is None:
        example = EXAMPLES.get(field.kind)
        raise ValueError("no value given" + (f", e.g. '{example}'" if example else ""))
    if field.kind != "choice":
        return _PARSERS[field.kind](value)
    if value in field.choices:
        return value
    allowed = ", ".join(field.choices)
    if key == "policy.order" and value in m.RESERVED_ORDER_POLICIES:
        raise ValueError(f"'{value}' is reserved and not implemented yet, use {allowed}")
    hint = did_you_mean(value, field.choices) if isinstance(value, str) else ""
    raise ValueError(f"unknown value {show_value(value)}{hint}, expected one of {allowed}")
