"""Accelerator YAML → :class:`AcceleratorSpec`, with every problem reported at once.

Reading goes: file → YAML (safe, duplicate keys recorded with their lines; ``yaml_io``) →
``--set`` overrides applied to the raw mapping → validation against the schema (missing and
unknown keys, units, ranges, cross-field rules; ``schema``) → frozen dataclasses. Any
problem raises one :class:`~hwsim.errors.UserError` naming the file and every dotted key
at fault. :func:`spec_to_dict` writes a spec back as the canonical YAML-able mapping.
"""

from __future__ import annotations

import copy
from fractions import Fraction
from pathlib import Path
from typing import Mapping, Sequence

from hwsim.errors import UserError
from hwsim.spec import model as m
from hwsim.spec.mappings import legacy_mapping, mapping_to_dict, parse_mappings
from hwsim.spec.schema import (
    FIELDS, OPTIONAL_SECTIONS, REQUIRED, SCHEMA, SECTIONS, UNIT_KINDS, did_you_mean,
    fields_of, keys_of, parse_value,
)
from hwsim.spec.yaml_io import load_yaml_text, read_yaml
from hwsim.units import EXAMPLES, format_quantity, show_value


# --- overrides ---

def _no_such_field(key: str) -> str:
    if key in SECTIONS:
        return f"--set {key}: is a section, set one of its keys ({', '.join(fields_of(key))})"
    return f"--set {key}: no such field{did_you_mean(key, list(FIELDS))}"


def _set_path(doc: dict, key: str, value: object) -> str | None:
    """Put ``value`` at dotted ``key`` in ``doc``; a problem message if it cannot."""
    *parents, last = key.split(".")
    target = doc
    for depth, part in enumerate(parents):
        if target.get(part) is None:
            target[part] = {}
        if not isinstance(target[part], dict):
            where = ".".join(parents[: depth + 1])
            return f"--set {key}: cannot apply, '{where}' in the file is not a mapping"
        target = target[part]
    target[last] = value
    return None


def _parse_override(text: str) -> tuple[str, object]:
    """``'sram.size=256KiB'`` → ``('sram.size', '256KiB')``; value read as a YAML scalar."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ValueError(f"--set {text}: expected KEY=VALUE, e.g. sram.size=256KiB")
    if key not in FIELDS:
        raise ValueError(_no_such_field(key))
    try:
        value, _ = load_yaml_text(raw, f"--set {key}") if raw.strip() else (None, [])
    except UserError as err:
        raise ValueError(f"--set {key}: cannot read the value {show_value(raw)} ({err.what})") from None
    if value is None:
        raise ValueError(f"--set {key}: no value after '='")
    if isinstance(value, (dict, list)):
        raise ValueError(f"--set {key}: expected a single value, got {raw!r}")
    return key, value


def _apply(doc: dict, changes: Sequence[tuple[str, object]], problems: list[str]) -> set[str]:
    applied = set()
    for key, value in changes:
        problem = _set_path(doc, key, value)
        if problem:
            problems.append(problem)
        else:
            applied.add(key)
    return applied


BITS_FIELDS = frozenset({"datatype.activation_bits", "datatype.weight_bits", "datatype.bias_bits"})

# --- validation ---

def _sections(doc: dict, problems: list[str]) -> dict[str, dict]:
    """The mapping of every section present (``policy`` defaults to an empty one)."""
    found: dict[str, dict] = {"": doc}
    for path in SECTIONS[1:]:
        parent_path, _, key = path.rpartition(".")
        parent = found.get(parent_path)
        if parent is None:
            continue
        if key not in parent:
            if path == "policy":
                found[path] = {}
            elif path not in OPTIONAL_SECTIONS:
                needed = [k.rpartition(".")[2] for k in fields_of(path)
                          if FIELDS[k].default == REQUIRED]
                problems.append(f"{path}: missing section (needs {', '.join(needed)})")
            continue
        value = {} if parent[key] is None else parent[key]
        if isinstance(value, dict):
            found[path] = value
        else:
            problems.append(f"{path}: must be a mapping of keys "
                            f"({', '.join(keys_of(path))}), got {type(value).__name__}")
    return found


def _unknown_keys(sections: Mapping[str, dict], problems: list[str]) -> None:
    for path, mapping in sections.items():
        allowed = keys_of(path)
        for key in mapping:
            if key not in allowed:
                dotted = f"{path}.{key}" if path else str(key)
                hint = did_you_mean(key, allowed) if isinstance(key, str) else ""
                problems.append(f"{dotted}: unknown key{hint}")


def _values(sections: Mapping[str, dict], overridden: set[str],
            problems: list[str]) -> dict[str, object]:
    """Parsed value of every field whose section is present (defaults filled in)."""
    values: dict[str, object] = {}
    for key, field in SCHEMA:
        section_path, _, name = key.rpartition(".")
        section = sections.get(section_path)
        label = f"--set {key}" if key in overridden else key
        if section is None:
            continue
        if name not in section:
            if field.default == REQUIRED:
                example = EXAMPLES.get(field.kind)
                problems.append(f"{key}: missing" + (f", e.g. '{example}'" if example else ""))
            elif field.default is not None:
                values[key] = parse_value(key, field.default)
            continue
        try:
            values[key] = parse_value(key, section[name])
        except ValueError as err:
            problems.append(f"{label}: {err}")
    return values


def _cross_checks(values: Mapping[str, object], sections: Mapping[str, dict],
                  problems: list[str]) -> None:
    """Rules between fields, checked only where the fields themselves are valid."""
    v = values
    if "compute.array" in sections:
        rows, cols, macs = (v.get(k) for k in (
            "compute.array.rows", "compute.array.cols", "compute.macs_per_cycle"))
        if None not in (rows, cols, macs) and rows * cols != macs:
            problems.append(f"compute.macs_per_cycle: {macs} is not compute.array rows x "
                            f"cols = {rows} x {cols} = {rows * cols}")
        _array_mappings(v, sections["compute.array"], problems)
    alignment, size = v.get("sram.alignment"), v.get("sram.size")
    if alignment is not None and alignment & (alignment - 1):
        problems.append(f"sram.alignment: {alignment} B is not a power of two")
    elif None not in (alignment, size) and alignment > size:
        problems.append(f"sram.alignment: {alignment} B is larger than sram.size")
    weights, has_buffer = v.get("sram.weights"), "weight_buffer" in sections.get("sram", {})
    if weights == "separate" and not has_buffer:
        problems.append("sram.weight_buffer: missing, needed when sram.weights is 'separate'")
    if weights == "shared" and has_buffer:
        problems.append("sram.weight_buffer: only allowed when sram.weights is 'separate'")
    host = sections.get("host")
    if host is not None and "ops_per_second" not in host and "per_op" not in host:
        problems.append("host: needs ops_per_second (e.g. '200 Mop/s') or per_op (e.g. '50 us') or both")


def _array_mappings(v: dict, section: Mapping, problems: list[str]) -> None:
    """Check the array's mappings, given as a list (``mappings``) or as the legacy single
    ``rows_over`` / ``cols_over`` pair (exactly one of the two forms), and put the parsed
    tuple at ``v["compute.array.mapping_list"]``."""
    rows, cols = v.get("compute.array.rows"), v.get("compute.array.cols")
    legacy = [k for k in ("rows_over", "cols_over") if k in section]
    if "mappings" in section:
        if legacy:
            problems.append(f"compute.array.{legacy[0]}: give the mappings list or rows_over/cols_over, not both")
        elif "compute.array.mappings" in v:
            v["compute.array.mapping_list"] = parse_mappings(v["compute.array.mappings"], rows, cols,
                                                             "compute.array.mappings", problems)
        return
    if len(legacy) < 2:
        problems.append("compute.array.mappings: missing (or the legacy pair rows_over and cols_over)")
        return
    over = v.get("compute.array.rows_over")
    if over is not None and over == v.get("compute.array.cols_over"):
        problems.append(f"compute.array: rows_over and cols_over are both '{over}' "
                        "(the two sides must run over different loop dimensions)")
    elif None not in (over, v.get("compute.array.cols_over"), rows, cols):
        v["compute.array.mapping_list"] = (legacy_mapping(rows, cols, over, v["compute.array.cols_over"]),)


def _build(v: Mapping[str, object]) -> m.AcceleratorSpec:
    array = None
    if "compute.array.rows" in v:
        array = m.ArraySpec(v["compute.array.rows"], v["compute.array.cols"], v["compute.array.mapping_list"])
    return m.AcceleratorSpec(
        name=v["name"],
        clock_hz=v["clock"],
        compute=m.ComputeSpec(v["compute.macs_per_cycle"], _int_if_whole(v["compute.vector_ops_per_cycle"]), array,
                              _int_if_whole(v.get("compute.output_elements_per_cycle"))),
        sram=m.SramSpec(v["sram.size"], v["sram.alignment"], v["sram.weights"],
                        v.get("sram.weight_buffer", 0), v.get("sram.port_bytes")),
        dram=m.DramSpec(v["dram.bandwidth"], v["dram.latency"], v["dram.channels"], v["dram.efficiency"],
                        v["dram.turnaround"]),
        datatype=m.DatatypeSpec(v["datatype.activation_bits"], v["datatype.weight_bits"],
                                v["datatype.bias_bits"], v["datatype.widths"]),
        policy=m.PolicySpec(v["policy.order"], v["policy.spill"], v["policy.prefetch"],
                            v["policy.concat"], v["policy.execution"], v["policy.solver_time"],
                            v["policy.eltwise"], v["policy.transposed_conv"], v["policy.stream_objective"]),
        energy=m.EnergySpec(v["energy.mac"], v["energy.sram_byte"], v["energy.dram_byte"],
                            v.get("energy.vector_op", v["energy.mac"]),
                            v["energy.sram_leakage"]),
        host=_host(v),
    )


def _host(v: Mapping[str, object]) -> m.HostSpec | None:
    if not any(k in v for k in ("host.name", "host.ops_per_second", "host.per_op")):
        return None
    return m.HostSpec(v.get("host.name"), v.get("host.ops_per_second"), v.get("host.per_op", 0.0))


def _int_if_whole(rate: Fraction | None) -> int | Fraction | None:
    return int(rate) if rate is not None and rate.denominator == 1 else rate


def _rate_text(rate: int | Fraction) -> int | str:
    return rate if isinstance(rate, int) else f"{rate.numerator}/{rate.denominator}"


def _validate(data: object, where: str, changes: Sequence[tuple[str, object]],
              problems: list[str]) -> m.AcceleratorSpec:
    """Check a raw mapping (after overrides) and build the spec, or raise all problems."""
    if data is None:
        raise UserError(f"empty file, expected a mapping with keys {', '.join(keys_of(''))}",
                        where)
    if not isinstance(data, dict):
        raise UserError(f"top level must be a mapping (name: ..., clock: ...), "
                        f"got {type(data).__name__}", where)
    if {"schema_version", "ops"} <= data.keys():
        raise UserError("this is a graph file (JSON), expected an accelerator spec (YAML); "
                        "commands take the SPEC first, then the GRAPH", where)
    doc = copy.deepcopy(data)
    keys = {key for key, _ in changes}
    if keys & BITS_FIELDS and "datatype.widths" not in keys:  # an explicit width wins over a graph's
        changes = [*changes, ("datatype.widths", "spec")]
    overridden = _apply(doc, changes, problems)
    sections = _sections(doc, problems)
    _unknown_keys(sections, problems)
    values = _values(sections, overridden, problems)
    _cross_checks(values, sections, problems)
    if problems:
        raise UserError("; ".join(problems), where)
    return _build(values)


def _check_sequence(overrides: Sequence[str]) -> None:
    if isinstance(overrides, str):
        raise TypeError("overrides must be a sequence of 'KEY=VALUE' strings, not a string")


def _parse_overrides(overrides: Sequence[str],
                     problems: list[str]) -> list[tuple[str, object]]:
    changes = []
    for text in overrides:
        try:
            changes.append(_parse_override(text))
        except ValueError as err:
            problems.append(str(err))
    return changes


# --- public API ---

def load_spec(path: str | Path, overrides: Sequence[str] = ()) -> m.AcceleratorSpec:
    """Read, override (``KEY=VALUE`` strings, e.g. ``sram.size=256KiB``) and validate."""
    _check_sequence(overrides)
    where = str(path)
    data, problems = read_yaml(Path(path), where)
    changes = _parse_overrides(overrides, problems)
    return _validate(data, where, changes, problems)


def spec_from_dict(data: Mapping, where: str = "<spec>",
                   overrides: Sequence[str] = ()) -> m.AcceleratorSpec:
    """Validate a mapping shaped like the YAML file (``where`` names it in errors)."""
    _check_sequence(overrides)
    problems: list[str] = []
    changes = _parse_overrides(overrides, problems)
    return _validate(dict(data) if isinstance(data, Mapping) else data, where, changes,
                     problems)


def with_overrides(spec: m.AcceleratorSpec,
                   changes: Mapping[str, object]) -> m.AcceleratorSpec:
    """A copy of ``spec`` with dotted-key changes, validated like the file (for sweeps).

    ``with_overrides(spec, {"sram.size": "256 KiB", "policy.spill": "lru"})``. Going
    through :func:`spec_to_dict` rather than ``dataclasses.replace`` keeps every rule
    (units, ranges, rows x cols) in force. Integers are accepted as bytes, B/s or Hz for
    size, bandwidth and clock fields.
    """
    problems = [_no_such_field(key) for key in changes if key not in FIELDS]
    pairs = []
    for key, value in changes.items():
        kind = FIELDS[key].kind if key in FIELDS else None
        if kind in UNIT_KINDS and isinstance(value, int) and not isinstance(value, bool):
            value = format_quantity(value, kind)
        if key in FIELDS:
            pairs.append((key, value))
    return _validate(spec_to_dict(spec), f"spec '{spec.name}'", pairs, problems)


def spec_to_dict(spec: m.AcceleratorSpec) -> dict:
    """The canonical YAML-able mapping of a spec, units written out (``'8 MiB'``).

    Loading it again gives an equal spec.
    """
    compute: dict = {"macs_per_cycle": spec.compute.macs_per_cycle,
                     "vector_ops_per_cycle": _rate_text(spec.compute.vector_ops_per_cycle)}
    if spec.compute.output_elements_per_cycle is not None:
        compute["output_elements_per_cycle"] = _rate_text(spec.compute.output_elements_per_cycle)
    if spec.compute.array is not None:
        a = spec.compute.array
        compute["array"] = {"rows": a.rows, "cols": a.cols, "mappings": [mapping_to_dict(x, a.rows, a.cols) for x in a.mappings]}
    sram: dict = {"size": format_quantity(spec.sram.size_bytes, "size"),
                  "alignment": format_quantity(spec.sram.alignment_bytes, "size"),
                  "weights": spec.sram.weights}
    if spec.sram.separate_weights:
        sram["weight_buffer"] = format_quantity(spec.sram.weight_buffer_bytes, "size")
    if spec.sram.port_bytes_per_cycle is not None:
        sram["port_bytes"] = spec.sram.port_bytes_per_cycle
    e = spec.energy
    host = _host_dict(spec.host)
    pj = lambda value: format_quantity(Fraction(repr(value)) / 10**12, "energy")  # noqa: E731
    return {
        "name": spec.name,
        "clock": format_quantity(spec.clock_hz, "frequency"),
        "compute": compute,
        "sram": sram,
        "dram": {"bandwidth": format_quantity(spec.dram.bandwidth_bytes_per_s, "bandwidth"),
                 "latency": format_quantity(spec.dram.latency_s, "time"),
                 "channels": spec.dram.channels,
                 "efficiency": f"{spec.dram.efficiency.numerator}/{spec.dram.efficiency.denominator}",
                 "turnaround": format_quantity(spec.dram.turnaround_s, "time")},
        "datatype": {"activation_bits": spec.datatype.activation_bits,
                     "weight_bits": spec.datatype.weight_bits, "bias_bits": spec.datatype.bias_bits,
                     "widths": spec.datatype.widths},
        "policy": {"order": spec.policy.order, "spill": spec.policy.spill,
                   "prefetch": spec.policy.prefetch, "concat": spec.policy.concat,
                   "execution": spec.policy.execution,
                   "solver_time": format_quantity(spec.policy.solver_seconds, "time"),
                   "eltwise": spec.policy.eltwise, "transposed_conv": spec.policy.transposed_conv,
                   "stream_objective": spec.policy.stream_objective},
        "energy": {"mac": pj(e.mac_pj), "vector_op": pj(e.vector_op_pj),
                   "sram_byte": pj(e.sram_byte_pj), "dram_byte": pj(e.dram_byte_pj),
                   "sram_leakage": format_quantity(e.sram_leakage_w_per_byte,
                                                   "power_per_size")},
        **({"host": host} if host else {}),
    }


def _host_dict(host: m.HostSpec | None) -> dict:
    if host is None:
        return {}
    out: dict = {}
    if host.name is not None:
        out["name"] = host.name
    if host.ops_per_second is not None:
        out["ops_per_second"] = format_quantity(host.ops_per_second, "throughput")
    if host.per_op_s or host.ops_per_second is None:
        out["per_op"] = format_quantity(host.per_op_s, "time")
    return out
