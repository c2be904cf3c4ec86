"""Comparing model variants on one accelerator: the figures a hardware team asks for, side by side.

:func:`compare_variants` runs every graph on the spec (the pipeline, plus the zero-spill
search), :func:`comparison_table` lines up the figures with each one's difference to the
first graph (the baseline), :func:`render_markdown` and :mod:`hwsim.report.html` write the
report, :func:`figures` draws the PNGs. A sweep directory (``hwsim sweep -o DIR``) adds
traffic and latency against SRAM size (:func:`load_sweep`).
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from hwsim.errors import UserError
from hwsim.graph.analysis import graph_stats, live_curve, msc_curve
from hwsim.graph.ir import Graph
from hwsim.measure import Metrics
from hwsim.report.gantt import BufferRect, buffer_rects
from hwsim.spec import AcceleratorSpec
from hwsim.units import format_bytes, format_quantity

MIB = 1 << 20
FIGURES = {
    "fig_skip_memory.png": "Skip memory M_sc(t) (solid) and all live activations (dashed) at each layer step.",
    "fig_sram_gantt.png": "SRAM occupancy by address over time, one rectangle per buffer: gaps are fragmentation.",
    "fig_dram_by_kind.png": "DRAM traffic per inference, by kind.",
    "fig_sweep.png": "Spill + streamed DRAM traffic and latency against SRAM size (from the sweep); dotted: "
                     "zero-spill SRAM found by search; circled: the knee.",
}


@dataclass(frozen=True)
class Variant:
    label: str
    stats: dict[str, Any]  # graph_stats at the spec's activation bits
    metrics: Metrics
    rects: tuple[BufferRect, ...]
    zero_spill_bytes: int | None
    msc_curve: tuple[int, ...]
    live_curve: tuple[int, ...]
    other: "OtherMode | None" = None  # the same graph in the other execution mode


@dataclass(frozen=True)
class OtherMode:
    """A variant run in the execution mode the spec does not choose (layer <-> cascade)."""

    execution: str
    metrics: Metrics
    zero_spill_bytes: int | None


@dataclass(frozen=True)
class Row:
    key: str
    label: str
    unit: str
    scale: float  # value / scale is shown
    values: tuple[float | None, ...]
    points: bool = False  # differences in percentage points, not percent


def _zero_spill(graph: Graph, spec: AcceleratorSpec) -> int | None:
    from hwsim.schedule import zero_spill_sram

    try:
        return zero_spill_sram(graph, spec)
    except UserError:
        return None


def run_variant(graph: Graph, spec: AcceleratorSpec, both_modes: bool = True) -> Variant:
    """Run one graph: metrics, buffer rectangles, curves, zero-spill SRAM; with ``both_modes``
    also the metrics and zero-spill SRAM of the other execution mode (layer / cascade)."""
    from hwsim.pipeline import run

    result = run(graph, spec)
    graph = result.graph  # its layers in the order the run used (policy.order): the curves follow it
    bits = result.spec.datatype.activation_bits  # the graph's own, if it carries its file's widths
    other = None
    if both_modes:
        mode = "cascade" if spec.policy.execution == "layer" else "layer"
        flipped = dataclasses.replace(spec, policy=dataclasses.replace(spec.policy, execution=mode))
        other = OtherMode(mode, run(graph, flipped).metrics, _zero_spill(graph, flipped))
    return Variant(graph.name, graph_stats(graph, bits), result.metrics,
                   tuple(buffer_rects(result.trace, result.plan)), _zero_spill(graph, spec),
                   tuple(msc_curve(graph, bits)), tuple(live_curve(graph, bits)), other)


def _share(m: Metrics) -> float:
    return 100 * m.stall_cycles / m.latency_cycles if m.latency_cycles else 0.0


ROWS: tuple[tuple[str, str, str, float, Callable[[Variant], float | None], bool], ...] = (
    ("msc", "M_sc (skip tensors, peak)", "MiB", MIB, lambda v: v.metrics.msc_bytes, False),
    ("live_peak", "live activations, peak", "MiB", MIB, lambda v: v.stats["activation_peak_bytes"], False),
    ("sram_peak", "SRAM peak (allocator high-water)", "MiB", MIB, lambda v: v.metrics.sram_peak_bytes, False),
    ("zero_spill", "zero-spill SRAM", "MiB", MIB, lambda v: v.zero_spill_bytes, False),
    ("spill", "spill traffic (write + read)", "MiB", MIB, lambda v: v.metrics.spill_bytes, False),
    ("streamed", "streamed-layer traffic", "MiB", MIB,
     lambda v: v.metrics.dram_bytes_by_kind["streamed_read"] + v.metrics.dram_bytes_by_kind["streamed_write"], False),
    ("dram", "total DRAM traffic", "MiB", MIB, lambda v: v.metrics.dram_bytes, False),
    ("stall_share", "stall share of latency", "%", 1.0, lambda v: _share(v.metrics), True),
    ("latency", "latency", "ms", 1e-3, lambda v: v.metrics.latency_s, False),
    ("roofline", "roofline bound on latency (compute or DRAM)", "ms", 1e-3,
     lambda v: v.metrics.bounds.roofline_cycles / v.metrics.clock_hz, False),
    ("utilisation", "array utilisation (MACs over compute cycles)", "%", 1.0,
     lambda v: None if v.metrics.array_utilisation is None else 100 * v.metrics.array_utilisation, True),
    ("energy", "energy", "mJ", 1e9, lambda v: v.metrics.energy.total_pj, False),
    ("macs", "MACs", "G", 1e9, lambda v: v.stats["macs"], False),
    ("params", "parameters", "M", 1e6, lambda v: v.stats["params"], False),
)


SIZE_UNITS = (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10))


def _size_unit(values: Sequence[float | None]) -> tuple[str, float]:
    """The binary unit of a row of byte counts: the largest one its largest value reaches."""
    top = max((v for v in values if v is not None), default=0)
    return next(((unit, float(scale)) for unit, scale in SIZE_UNITS if top >= scale), ("B", 1.0))


OTHER_ROWS: tuple[tuple[str, str, str, float, Callable[[OtherMode], float | None]], ...] = (
    ("zero_spill", "zero-spill SRAM", "MiB", MIB, lambda o: o.zero_spill_bytes),
    ("sram_peak", "SRAM peak (allocator high-water)", "MiB", MIB, lambda o: o.metrics.sram_peak_bytes),
    ("spill", "spill traffic (write + read)", "MiB", MIB, lambda o: o.metrics.spill_bytes),
    ("dram", "total DRAM traffic", "MiB", MIB, lambda o: o.metrics.dram_bytes),
    ("latency", "latency", "ms", 1e-3, lambda o: o.metrics.latency_s),
)
"""Rows of the other execution mode (``<key>_<mode>``), when the variants were run in both."""


def comparison_table(variants: Sequence[Variant]) -> list[Row]:
    """One row per figure of ROWS, then of OTHER_ROWS for the other execution mode; byte rows
    in the one unit that suits their largest value."""
    table = [(key, label, unit, scale, [get(v) for v in variants], points)
             for key, label, unit, scale, get, points in ROWS]
    if variants and all(v.other is not None for v in variants):
        mode = variants[0].other.execution
        table += [(f"{key}_{mode}", f"{label}, {mode} execution", unit, scale,
                   [get(v.other) for v in variants], False) for key, label, unit, scale, get in OTHER_ROWS]
    rows = []
    for key, label, unit, scale, values, points in table:
        if unit == "MiB":
            unit, scale = _size_unit(values)
        rows.append(Row(key, label, unit, scale, tuple(values), points))
    return rows


def peak_markdown(variants: Sequence[Variant]) -> str:
    """What sets the SRAM peak of each variant, in each mode it ran in."""
    lines = ["## What sets the SRAM peak", ""]
    for v in variants:
        runs = [v.metrics] + ([v.other.metrics] if v.other is not None else [])
        for m in runs:
            p = m.sram_peak
            top = ", ".join(f"{r.name} {format_bytes(r.bytes)}{' (skip)' if r.skip else ''}" for r in p.tensors[:4])
            lines.append(f"- **{v.label}**, {m.execution} execution: {format_bytes(p.bytes)} at layer "
                         f"{p.layer}: {top}{', ...' if len(p.tensors) > 4 else ''}")
    return "\n".join(lines) + "\n"


def difference(row: Row, i: int) -> str:
    """Variant ``i`` against the first: ``-93.3 %`` (``+1.2 pp`` for shares); '' for the first."""
    base, value = row.values[0], row.values[i]
    if i == 0:
        return ""
    if base is None or value is None:
        return "n/a"
    if row.points:
        return f"{value - base:+.1f} pp"
    if base == 0:
        return "±0 %" if value == 0 else "new"
    pct = 100 * (value - base) / base
    return "±0 %" if abs(pct) < 0.05 else f"{pct:+.1f} %"


def cell(row: Row, i: int) -> str:
    value = row.values[i]
    if value is None:
        return "n/a"
    shown = value / row.scale
    if row.unit == "B":
        return f"{shown:,.0f}"
    return f"{shown:,.1f}" if row.unit in ("%", "ms") and shown >= 10 else f"{shown:,.2f}"


def spec_line(spec: AcceleratorSpec) -> str:
    return (f"{spec.name}: SRAM {format_bytes(spec.sram.size_bytes)} "
            f"(weights {spec.sram.weights}), DRAM {format_quantity(spec.dram.bandwidth_bytes_per_s, 'bandwidth')}, "
            f"{spec.compute.macs_per_cycle} MACs/cycle at {format_quantity(spec.clock_hz, 'frequency')}, "
            f"{spec.datatype.activation_bits}-bit activations, {spec.datatype.weight_bits}-bit weights ({spec.datatype.bias_bits}-bit biases), "
            f"spill policy {spec.policy.spill}, concat {spec.policy.concat}, execution {spec.policy.execution}")


def table_markdown(variants: Sequence[Variant], rows: Sequence[Row]) -> str:
    head = ["metric", "unit"]
    for i, v in enumerate(variants):
        head += [v.label] if i == 0 else [v.label, "Δ"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * 2 + "---:|" * (len(head) - 2)]
    for row in rows:
        cells = [row.label, row.unit]
        for i in range(len(variants)):
            cells += [cell(row, i)] if i == 0 else [cell(row, i), difference(row, i)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def render_markdown(spec: AcceleratorSpec, variants: Sequence[Variant], figures: Sequence[str]) -> str:
    rows = comparison_table(variants)
    parts = [
        f"# {', '.join(v.label for v in variants)} on {spec.name}", "",
        f"Accelerator {spec_line(spec)}.", "",
        f"Baseline: **{variants[0].label}**; Δ is each variant's difference to it "
        "(pp: percentage points).", "",
        table_markdown(variants, rows), "",
    ]
    parts += [peak_markdown(variants), bottleneck_markdown(variants)] + host_markdown(variants)
    for name in figures:
        parts += [f"![{FIGURES[name]}]({name})", "", f"*{FIGURES[name]}*", ""]
    parts += [definitions_markdown()]
    return "\n".join(parts)


HOST_HEAD = ("variant", "host op", "op", "module", "ops", "host cycles", "DRAM out B", "DRAM back B")


def host_rows(variants: Sequence[Variant]) -> list[tuple]:
    """One row per host op (``--fallback host``) of each variant: HOST_HEAD's columns."""
    return [(v.label, h.name, h.op, h.module or "<top>", h.ops, h.cycles, h.bytes_out, h.bytes_in)
            for v in variants for h in v.metrics.hosts]


def host_markdown(variants: Sequence[Variant]) -> list[str]:
    """The host ops section (none when no variant has one)."""
    rows = host_rows(variants)
    if not rows:
        return []
    from hwsim.report.text import HOST_OPS_MEANING

    lines = ["## Host ops (--fallback host)", "", f"Run on the host CPU while the accelerator waits; {HOST_OPS_MEANING}; "
             "DRAM out: the accelerator's stores of their inputs, back: its loads of their outputs.", "",
             "| " + " | ".join(HOST_HEAD) + " |", "|" + "---|" * len(HOST_HEAD)]
    lines += ["| " + " | ".join(f"{c:,}" if isinstance(c, int) else str(c) for c in row) + " |" for row in rows]
    return lines + [""]


def bottleneck_markdown(variants: Sequence[Variant]) -> str:
    """Where each variant's compute cycles go: by bottleneck, and the layers each bound sets."""
    lines = ["## What bounds the compute", "",
             "Compute cycles by each layer's bottleneck (`hwsim.schedule.cost`; `dram`: the layer's own DRAM "
             "bytes take longer than its compute), and the mappings chosen:", ""]
    for v in variants:
        m, by = v.metrics, {}
        for la in m.layers:
            entry = by.setdefault(la.bottleneck or "none", [0, 0])
            entry[0], entry[1] = entry[0] + 1, entry[1] + la.cycles
        shares = "; ".join(f"{b} {100 * c / m.compute_cycles:.1f} % ({n} layers)" for b, (n, c) in
                           sorted(by.items(), key=lambda kv: -kv[1][1])) if m.compute_cycles else "no compute"
        mappings: dict[str, int] = {}
        for la in m.layers:
            if la.mapping:
                mappings[la.mapping] = mappings.get(la.mapping, 0) + la.cycles
        used = ", ".join(f"{k} {100 * c / m.compute_cycles:.1f} %" for k, c in
                         sorted(mappings.items(), key=lambda kv: -kv[1])) if m.compute_cycles else ""
        lines.append(f"- **{v.label}**, {m.execution} execution: {shares}. Mappings: {used or 'none'}.")
    return "\n".join(lines) + "\n"


DEFINITIONS: tuple[tuple[str, str], ...] = (
    ("M_sc", "bytes of skip tensors live at once, at most; a skip tensor waits while the network works at "
             "another resolution (U-Net encoder outputs waiting for the decoder)."),
    ("SRAM peak", "the allocator's high-water mark, alignment and fragmentation included."),
    ("Zero-spill SRAM", "the smallest SRAM at which the graph runs with no spill and no streamed layer "
                        "(found by search)."),
    ("Execution", "layer: one layer at a time, whole tensors; cascade: chains of layers in horizontal "
                  "stripes, tensors inside a chain in rolling buffers (skips inside one: delay lines)."),
    ("Spill traffic", "activations stored to DRAM because the SRAM was full, and read back."),
    ("Streamed traffic", "layers too big for the SRAM run in tiles through DRAM."),
    ("Stall share", "time the compute engine waits (weights, reloads, stores, streaming, input, output "
                    "drain) over the latency."),
    ("Roofline bound", "the larger of the layers' compute cycles and the plan's DRAM bytes at the achieved "
                       "bandwidth: no schedule of this plan runs faster."),
    ("Array utilisation", "MACs over (compute cycles x MACs per cycle): how busy the array is while it computes."),
)


def definitions_markdown() -> str:
    return "## Definitions\n\n" + "".join(f"- **{term}**: {text}\n" for term, text in DEFINITIONS)


def comparison_json(spec: AcceleratorSpec, variants: Sequence[Variant]) -> str:
    rows = comparison_table(variants)
    data = {"spec": spec.name, "baseline": variants[0].label, "variants": [v.label for v in variants],
            "rows": [{"key": r.key, "label": r.label, "unit": r.unit, "values": list(r.values),
                      "difference": [difference(r, i) for i in range(len(variants))]} for r in rows]}
    return json.dumps(data, sort_keys=True, indent=1) + "\n"


def _cell_value(text: str) -> object:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _read_sweep(directory: Path) -> tuple[list[str], list[dict], dict]:
    where = f"--sweep {directory}"
    try:
        with open(directory / "results.csv", newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            rows = [{k: _cell_value(v) for k, v in row.items()} for row in reader]
            header = list(reader.fieldnames or [])
        summary = json.loads((directory / "summary.json").read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise UserError(f"no {Path(err.filename).name}: not a finished sweep directory", where) from None
    except (OSError, json.JSONDecodeError, csv.Error) as err:
        raise UserError(f"cannot read the sweep: {err}", where) from None
    if "sram.size_bytes" not in header or "status" not in header:
        raise UserError("results.csv has no sram.size axis (sweep with --sram)", where)
    return header[header.index("graph") + 1:header.index("status")], rows, summary


def load_sweep(directory: str | os.PathLike, graphs: Sequence[str] = ()):
    """The spill curves of a sweep directory as :class:`~hwsim.report.plots.SweepCurve`.

    Only curves of ``graphs`` when any of them is in the sweep; every curve otherwise.
    """
    from hwsim.report.plots import SweepCurve

    axes, rows, summary = _read_sweep(Path(directory))
    others = [a for a in axes if a != "sram.size_bytes"]
    wanted = {r["graph"] for r in rows} & set(graphs) or {r["graph"] for r in rows}
    curves = []
    for c in summary.get("curves", []):
        if c["graph"] not in wanted:
            continue
        ok = sorted((r for r in rows if r["graph"] == c["graph"] and r["status"] == "ok"
                     and all(r[a] == c.get("columns", {}).get(a) for a in others)), key=lambda r: r["sram.size_bytes"])
        label = c["graph"] + "".join(f", {k.rpartition('.')[2]}={v}" for k, v in c["axes"].items())
        curves.append(SweepCurve(label, [r["sram.size_bytes"] for r in ok], [r["overflow_bytes"] for r in ok],
                                 [r["latency_s"] for r in ok], c.get("zero_spill_sram_bytes"),
                                 c.get("knee_sram_bytes")))
    return [c for c in curves if c.sram_bytes]


def figures(variants: Sequence[Variant], sweep_curves: Sequence = ()) -> dict[str, bytes]:
    """The report's PNG figures by file name (the sweep figure only with sweep curves)."""
    from hwsim.report import plots

    panels = [plots.GanttPanel(v.label, v.rects, v.metrics.clock_hz, v.metrics.sram_bytes,
                               f"{v.label}: peak {format_bytes(v.metrics.sram_peak_bytes)} of "
                               f"{format_bytes(v.metrics.sram_bytes)}, {v.metrics.latency_s * 1e3:.1f} ms")
              for v in variants]
    out = {
        "fig_skip_memory.png": plots.skip_memory_png([(v.label, v.msc_curve, v.live_curve) for v in variants]),
        "fig_sram_gantt.png": plots.memory_gantt_png(panels),
        "fig_dram_by_kind.png": plots.dram_by_kind_png([(v.label, v.metrics.dram_bytes_by_kind) for v in variants]),
    }
    if sweep_curves:
        out["fig_sweep.png"] = plots.sweep_png(sweep_curves)
    return out
