"""Sweep axes: one spec field (or the model input) and the values it takes.

An axis is written as a comma list of items, each a single value or an inclusive range:

* ``128KiB:8MiB:x2``: geometric, start, start x 2, ... up to and including stop if hit
  (128, 256, 512, ... 8192 KiB); the factor may be fractional (``x1.5``);
* ``1MiB:4MiB:+512KiB``: arithmetic, start, start + step, ... up to and including stop;
* ``4GB/s,8GB/s,12.8GB/s`` or ``belady,lru``: a list; items may mix values and ranges.

Values carry their unit as the spec file does (``sram.size`` in bytes units, ``dram.bandwidth``
in B/s units, bit-widths as integers). Ranges need a numeric field. Each value is kept as the
canonical text the spec loader reads (``'128 KiB'``), so a point is rebuilt exactly from it.
A bad axis raises :class:`~hwsim.errors.UserError` naming the flag (or grid key) it came from.

The ``input`` axis is the input resolution of zoo models: ``HxW`` (batch and channels of the
graph), ``S`` (square, ``S x S``), or a whole shape ``1x3x256x256``; ranges of ``S`` are allowed
(``64:256:x2``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from fractions import Fraction

from hwsim.errors import UserError
from hwsim.spec.schema import FIELDS, did_you_mean, parse_value
from hwsim.units import MAX_DIGITS, format_quantity, parse_quantity, show_value

INPUT_AXIS = "input"
MAX_AXIS_VALUES = 10_000
FLAG_FIELDS = {"--sram": "sram.size", "--bandwidth": "dram.bandwidth", "--bits": "datatype.activation_bits",
               "--execution": "policy.execution"}
"""The shortcut flags of ``hwsim sweep`` and the spec field each one sweeps."""

UNIT_KINDS = ("size", "bandwidth", "frequency", "time", "energy", "power_per_size")
INTEGER_KINDS = ("positive_int", "count", "bits")
COLUMN_SUFFIX = {"size": "_bytes", "bandwidth": "_bytes_per_s", "frequency": "_hz", "time": "_s",
                 "energy": "_pj", "power_per_size": "_w_per_byte"}
"""Unit suffix of a results.csv column, by field kind (values there are in these units)."""


@dataclass(frozen=True)
class Axis:
    """A swept field (dotted spec path, or ``input``) and its values as canonical texts."""

    name: str
    values: tuple[str, ...]

    @property
    def column(self) -> str:
        """The results.csv column: the field with its unit (``sram.size_bytes``)."""
        if self.name == INPUT_AXIS:
            return INPUT_AXIS
        return self.name + COLUMN_SUFFIX.get(FIELDS[self.name].kind, "")

    def cell(self, text: str) -> object:
        """The value of ``text`` in the column's unit (bytes, B/s, Hz, s, pJ; ints; words)."""
        return text if self.name == INPUT_AXIS else parse_value(self.name, spec_value(self.name, text))

    @property
    def count(self) -> int:
        return len(self.values)

    def axis(self) -> Axis:
        return self


@dataclass(frozen=True)
class AxisPlan:
    """An axis read and checked, its values not yet written out, so that counting it costs
    nothing: each part is one canonical text or a range's exact values (with their kind)."""

    name: str
    where: str
    parts: tuple[str | tuple[tuple[Fraction, ...], str], ...]

    @property
    def count(self) -> int:
        return sum(1 if isinstance(p, str) else len(p[0]) for p in self.parts)

    def axis(self) -> Axis:
        """The axis with every value written out (refused if a value comes twice)."""
        values: list[str] = []
        for part in self.parts:
            if isinstance(part, str):
                values.append(part)
            else:
                texts = [_format(v, part[1]) for v in part[0]]
                values += [_input_value(t) for t in texts] if self.name == INPUT_AXIS else texts
        repeated = sorted(v for v, n in Counter(values).items() if n > 1)
        if repeated:
            shown = ", ".join(repeated[:5]) + (f" and {len(repeated) - 5} more" if len(repeated) > 5 else "")
            raise UserError(f"{self.name}: {shown} given more than once", self.where)
        return Axis(self.name, tuple(values))


def spec_value(name: str, text: str) -> object:
    """What the spec loader reads for this value: an int for integer fields, else the text."""
    return int(text) if name != INPUT_AXIS and FIELDS[name].kind in INTEGER_KINDS else text


def _kind(name: str) -> str:
    return "input" if name == INPUT_AXIS else FIELDS[name].kind


def _number(text: str, kind: str) -> Fraction:
    """A numeric value of ``kind`` in its base unit, exactly (ValueError if bad)."""
    if kind in UNIT_KINDS:
        return parse_quantity(text, kind)
    digits = text.strip().replace("_", "")
    if len(digits) > MAX_DIGITS or not digits.lstrip("+-").isdigit():
        raise ValueError(f"expected an integer, got {show_value(text.strip())}")
    return Fraction(int(digits))


def _format(value: Fraction, kind: str) -> str:
    if kind == "size":
        return format_quantity(round(value), kind)
    if kind in UNIT_KINDS:
        return format_quantity(value, kind)
    return str(int(value))


def _steps(start: Fraction, stop: Fraction, step_text: str, kind: str, budget: int) -> list[Fraction]:
    """The values of a range, at most ``budget`` of them (ValueError beyond: counted, never all made)."""
    step_text = step_text.strip()
    if step_text[:1] in ("x", "*"):
        try:
            factor = Fraction(step_text[1:].strip())
        except (ValueError, ZeroDivisionError):
            raise ValueError(f"bad factor {step_text!r}, e.g. 'x2'") from None
        if factor <= 1:
            raise ValueError(f"factor {step_text!r} must be above 1")
        if start <= 0:
            raise ValueError("a geometric range must start above zero")
        grow = lambda v: v * factor  # noqa: E731
    elif step_text[:1] == "+":
        step = _number(step_text[1:], kind)
        if step <= 0:
            raise ValueError(f"step {step_text!r} must be above zero")
        grow = lambda v: v + step  # noqa: E731
    else:
        raise ValueError(f"bad step {step_text!r}: write xFACTOR (x2) or +STEP (+1MiB)")
    values = [start]
    while grow(values[-1]) <= stop:
        values.append(grow(values[-1]))
        if len(values) > budget:
            raise ValueError(f"more than {MAX_AXIS_VALUES:,} values")
    return values


def _range(item: str, name: str, budget: int) -> tuple[tuple[Fraction, ...], str]:
    """A range's exact values and their kind (each in the field's range, since its ends are)."""
    kind = _kind(name)
    parts = item.split(":")
    if len(parts) != 3:
        raise ValueError(f"bad range {show_value(item)}: write START:STOP:xFACTOR or START:STOP:+STEP")
    if kind not in UNIT_KINDS + INTEGER_KINDS + ("input",):
        raise ValueError(f"{show_value(item)}: a range needs a numeric field, list the values instead")
    number_kind = "count" if kind == "input" else kind
    start, stop = _number(parts[0], number_kind), _number(parts[1], number_kind)
    for end in parts[:2]:  # in the field's range, so every value between is (and none overflows a float)
        _value(name, end)
    if stop < start:
        raise ValueError(f"range {show_value(item)} ends below its start")
    return tuple(_steps(start, stop, parts[2], number_kind, budget)), number_kind


def _input_value(text: str) -> str:
    parts = text.strip().lower().replace("×", "x").split("x")
    if len(parts) not in (1, 2, 4) or not all(p.strip().isdigit() and len(p.strip()) <= 9 and int(p) > 0
                                              for p in parts):
        raise ValueError(f"{show_value(text.strip())} is not an input size like 256, 128x192 or 1x3x256x256")
    dims = [int(p) for p in parts]
    return "x".join(map(str, dims * 2 if len(dims) == 1 else dims))


def _value(name: str, text: str) -> str:
    """The canonical text of one value (checked by the spec's own parser)."""
    if name == INPUT_AXIS:
        return _input_value(text)
    kind = FIELDS[name].kind
    if kind in UNIT_KINDS or kind in INTEGER_KINDS:
        number = _number(text, kind)
        parse_value(name, spec_value(name, _format(number, kind) if kind in INTEGER_KINDS else text.strip()))
        text = _format(number, kind)
    parse_value(name, spec_value(name, text.strip()))
    return text.strip()


def check_name(name: str, where: str) -> None:
    """Raise unless ``name`` is a spec field (dotted path) or ``input``."""
    if name != INPUT_AXIS and name not in FIELDS:
        raise UserError(f"{name!r} is not a spec field or 'input'{did_you_mean(name, [*FIELDS, INPUT_AXIS])}",
                        where)


def plan_axis(text: object, name: str, where: str) -> AxisPlan:
    """Read and check an axis of field ``name`` from ``text`` (a string, or a YAML list of
    values), at most MAX_AXIS_VALUES values, without writing its values out yet."""
    check_name(name, where)
    items = [str(v) for v in text] if isinstance(text, (list, tuple)) else str(text).split(",")
    parts: list = []
    count = 0
    try:
        if len(items) > MAX_AXIS_VALUES:
            raise ValueError(f"more than {MAX_AXIS_VALUES:,} values")
        for item in items:
            if not item.strip():
                raise ValueError(f"empty value in {show_value(str(text))}")
            parts.append(_range(item, name, MAX_AXIS_VALUES - count) if ":" in item else _value(name, item))
            count += 1 if isinstance(parts[-1], str) else len(parts[-1][0])
            if count > MAX_AXIS_VALUES:
                raise ValueError(f"more than {MAX_AXIS_VALUES:,} values")
    except ValueError as err:
        raise UserError(f"{name}: {err}", where) from None
    return AxisPlan(name, where, tuple(parts))


def parse_axis(text: object, name: str, where: str) -> Axis:
    """:func:`plan_axis`, its values written out."""
    return plan_axis(text, name, where).axis()
