"""The readable summary ``hwsim run`` prints: time, stalls, DRAM traffic, SRAM peak, energy."""

from __future__ import annotations

from hwsim.measure import Metrics
from hwsim.schedule.plan import STALL_CAUSES, TRAFFIC_KINDS
from hwsim.units import format_bytes

PEAK_ROWS = 8  # residents listed at the SRAM peak
TOP_TENSORS = 5  # tensors listed by DRAM traffic


CASCADE_ROWS = 8


def _pct(part: int | float, whole: int | float) -> str:
    return f"{100 * part / whole:5.1f} %" if whole else "    - %"


def format_energy(pj: float) -> str:
    """``1234567.0`` pJ -> ``'1.235 uJ'``."""
    for unit, scale in (("J", 1e12), ("mJ", 1e9), ("uJ", 1e6), ("nJ", 1e3)):
        if abs(pj) >= scale:
            return f"{pj / scale:.3f} {unit}"
    return f"{pj:.3f} pJ"


def format_ms(seconds: float) -> str:
    """``12.75`` s -> ``'12,750.00 ms'``; ``2.25e-7`` s -> ``'0.000225 ms'``."""
    ms = seconds * 1e3
    return f"{ms:,.2f} ms" if ms >= 1 else f"{ms:.3g} ms"


def _time(m: Metrics) -> list[str]:
    b = m.bounds
    bound = "compute" if b.compute_cycles >= b.dram_cycles else "DRAM"
    lines = [
        f"  latency     {m.latency_cycles:>14,} cycles = {format_ms(m.latency_s)} "
        f"(roofline bound {b.roofline_cycles:,} cycles, {bound}-bound)",
        f"  compute     {m.compute_cycles:>14,} cycles  {_pct(m.compute_cycles, m.latency_cycles)}",
        f"  stalls      {m.stall_cycles:>14,} cycles  {_pct(m.stall_cycles, m.latency_cycles)}",
    ]
    lines += [f"    {cause:<12}{m.stall_by_cause[cause]:>12,} cycles  {_pct(m.stall_by_cause[cause], m.latency_cycles)}"
              for cause in STALL_CAUSES if m.hosts or cause != "host"]
    return lines


def _compute(m: Metrics) -> list[str]:
    """Array utilisation and the layers' bottlenecks and mappings (``hwsim.schedule.cost``)."""
    macs = sum(la.macs for la in m.layers)
    peak = m.peak_macs_per_cycle
    if not m.compute_cycles or not peak:
        return []
    lines = [f"  array       {macs:,} MACs: utilisation {_pct(macs, m.compute_cycles * peak).strip()} of compute "
             f"cycles, {_pct(macs, m.latency_cycles * peak).strip()} of latency"]
    by_bound: dict[str, list[int]] = {}
    for la in m.layers:
        entry = by_bound.setdefault(la.bottleneck or "none", [0, 0])
        entry[0], entry[1] = entry[0] + 1, entry[1] + la.cycles
    lines.append("    bottleneck  " + "; ".join(
        f"{b} {n} layers {_pct(c, m.compute_cycles).strip()}" for b, (n, c) in
        sorted(by_bound.items(), key=lambda kv: -kv[1][1])) + " of compute cycles")
    by_mapping: dict[str, int] = {}
    for la in m.layers:
        if la.mapping:
            by_mapping[la.mapping] = by_mapping.get(la.mapping, 0) + 1
    if by_mapping:
        lines.append("    mappings    " + "; ".join(f"{k} {n} layers" for k, n in by_mapping.items()))
    return lines


def _dram(m: Metrics) -> list[str]:
    lines = [f"  DRAM        {format_bytes(m.dram_bytes)} ({m.dram_bytes:,} B): read "
             f"{format_bytes(m.dram_read_bytes)}, write {format_bytes(m.dram_write_bytes)}; "
             f"spill {format_bytes(m.spill_bytes)} (weights, input and output once alone take "
             f"{m.bounds.min_dram_cycles:,} cycles)"]
    lines += [f"    {kind:<15}{m.dram_bytes_by_kind[kind]:>14,} B  {_pct(m.dram_bytes_by_kind[kind], m.dram_bytes)}"
              for kind in TRAFFIC_KINDS if m.hosts or not kind.startswith("host_")]
    return lines


HOST_OPS_MEANING = ("host ops counted as FlopCounterMode's flops where torch has a formula for the op, else one per "
                    "element read or written (the larger of its input activations' and its outputs' elements)")


def _hosts(m: Metrics) -> list[str]:
    """The host ops (``--fallback host``): what each cost the run."""
    if not m.hosts:
        return []
    out, back = sum(h.bytes_out for h in m.hosts), sum(h.bytes_in for h in m.hosts)
    cpu = f" ({m.host_name})" if m.host_name else ""
    lines = [f"  host ops    {len(m.hosts)} run on the host CPU{cpu}, the accelerator waiting: "
             f"{m.host_cycles:,} cycles = {format_ms(m.host_cycles / m.clock_hz)} "
             f"({_pct(m.host_cycles, m.latency_cycles).strip()} of latency); DRAM out {format_bytes(out)}, "
             f"back {format_bytes(back)}",
             f"    {HOST_OPS_MEANING}"]
    width = max(len(h.name) for h in m.hosts)
    for h in m.hosts:
        lines.append(f"    {h.name:<{width}}  {h.op}  at {h.module or '<top>'}: {h.ops:,} ops, {h.cycles:,} cycles; "
                     f"DRAM out {h.bytes_out:,} B (its inputs), back {h.bytes_in:,} B (its outputs)")
    return lines


def _sram(m: Metrics) -> list[str]:
    p = m.sram_peak
    lines = [
        f"  SRAM peak   {format_bytes(m.sram_peak_bytes)} of {format_bytes(m.sram_bytes)} "
        f"(allocator high-water mark); at most {format_bytes(m.live_peak_bytes)} allocated at once",
    ]
    if p.step is not None:
        lines.append(f"    most allocated at step {p.step} ({p.layer}), cycle {p.cycle:,}: "
                     f"{format_bytes(p.bytes)} in {len(p.tensors)} buffers")
        width = max(len(r.name) for r in p.tensors[:PEAK_ROWS]) if p.tensors else 0
        for r in p.tensors[:PEAK_ROWS]:
            note = "skip" if r.skip else r.kind
            lines.append(f"      {r.name:<{width}}  {format_bytes(r.bytes):>10}  {note}")
        rest = p.tensors[PEAK_ROWS:]
        if rest:
            lines.append(f"      ... {len(rest)} more, {format_bytes(sum(r.bytes for r in rest))}")
    lines.append(f"  M_sc        {format_bytes(m.msc_bytes)} ({m.msc_bytes:,} B) of skip tensors at most")
    return lines


def _order(m: Metrics) -> list[str]:
    """The layer order used, its peak of live bytes and the graph order's."""
    o = m.order
    if o is None:
        return []
    peak = f"peak of live bytes {format_bytes(o.peak_bytes)} ({o.peak_bytes:,} B)"
    if o.policy == "graph":
        return [f"  order       the graph's: {peak}"]
    how = "exact: no order has a lower peak" if o.search == "exact" else "heuristic"
    if not o.moved_layers:
        return [f"  order       {o.policy} ({how}): the graph's order kept, {peak}"]
    saved = o.graph_peak_bytes - o.peak_bytes
    return [f"  order       {o.policy} ({how}): {peak}, {format_bytes(saved)} ({_pct(saved, o.graph_peak_bytes).strip()}) "
            f"below the graph's order; {o.moved_layers} layers moved"]


def _energy(m: Metrics) -> list[str]:
    e = m.energy
    parts = [("mac", e.mac_pj), ("sram", e.sram_pj), ("dram", e.dram_pj), ("leakage", e.leakage_pj)]
    return [f"  energy      {format_energy(e.total_pj)}: "
            + ", ".join(f"{name} {format_energy(v)} ({_pct(v, e.total_pj).strip()})" for name, v in parts)]


def _top_tensors(m: Metrics) -> list[str]:
    top = [(name, moved) for name, moved in m.tensor_dram_bytes if moved][:TOP_TENSORS]
    if not top:
        return ["  no activation moved through DRAM beyond weights"]
    rows = {t.name: t for t in m.tensors}
    width = max(len(name) for name, _ in top)
    lines = ["  tensors with the most DRAM traffic (activations and input; per layer: layers.csv):"]
    for name, moved in top:
        row = rows.get(name)
        where = f"  {row.module or '<top>'}" if row is not None else "  network input"
        lines.append(f"    {name:<{width}}  {format_bytes(moved):>10}{'  skip' if row and row.skip else ''}{where}")
    return lines


def _execution(m: Metrics) -> list[str]:
    """Cascade mode: the cascades, and how each skip tensor was held."""
    if m.execution != "cascade":
        return []
    names = {la.index: la.name for la in m.layers}
    inside = sum(c.last - c.first + 1 for c in m.cascades)
    lines = [f"  cascades    {len(m.cascades)}, running {inside} of {len(m.layers)} layers in stripes "
             "(halo rows kept, not recomputed; each cascade's weights resident while it runs)"]
    for c in m.cascades[:CASCADE_ROWS]:
        lines.append(f"    {names[c.first]}..{names[c.last]} ({c.last - c.first + 1} layers): {c.stripes} stripes, "
                     f"rolling buffers {format_bytes(c.arena_bytes)}, weights {format_bytes(c.weight_bytes)} "
                     f"(re-read per stripe: +{format_bytes(c.weight_bytes * (c.stripes - 1))} DRAM); ends at {c.ends}")
    if len(m.cascades) > CASCADE_ROWS:
        lines.append(f"    ... {len(m.cascades) - CASCADE_ROWS} more (--json lists them all)")
    skips = [t for t in m.tensors if t.skip]
    if skips:
        lines.append("  skip tensors held " + "; ".join(
            f"{t.name} {'whole ' + format_bytes(t.bytes) if t.held == 'whole' else f'as a delay line of {format_bytes(t.held_bytes)} (whole {format_bytes(t.bytes)})'}"
            for t in skips))
    return lines


def _ratio(measured: int, bound: int | None) -> str:
    return "" if not bound else f" (measured {measured / bound:.2f}x)"


def _bounds(m: Metrics) -> list[str]:
    """Lower bounds beside the measured figures (``hwsim.measure.bounds``)."""
    b = m.bounds
    host = b.host_cycles  # the accelerator waits through the host ops: they add to every latency bound
    lines = ["  bounds (no schedule does better; the ratio: how far this one is)",
             f"    compute-bound latency      {b.compute_cycles + host:>14,} cycles"
             f"{' (with the host ops)' if host else ''}{_ratio(m.latency_cycles, b.compute_cycles + host)}",
             f"    DRAM floor                 {b.min_dram_cycles:>14,} cycles: weights, input and output once, "
             f"{format_bytes(b.floor_dram_bytes)}{_ratio(m.dram_bytes, b.floor_dram_bytes)}"]
    if b.spill_solver_bound_bytes is not None:
        best = (f"optimum {format_bytes(b.spill_optimum_bytes)}" if b.spill_optimum_bytes is not None
                else f"solver stopped ({b.spill_status}), bound {format_bytes(b.spill_solver_bound_bytes)}")
        gap = b.spill_gap_pct
        lines += [f"    DRAM for this mode         {b.dram_bound_cycles + host:>14,} cycles: the spill bound on top of "
                  f"weights and streamed bands{' (with the host ops)' if host else ''}"
                  f"{_ratio(m.latency_cycles, b.dram_bound_cycles + host)}",
                  f"    loads+stores besides weights: this plan {format_bytes(b.plan_spill_bytes)}, {best}"
                  + (f", LP bound {format_bytes(b.spill_lp_bytes)}" if b.spill_lp_bytes is not None else "")
                  + (f"; {gap:.1f} % above" if gap is not None else "")]
    elif b.spill_status:
        lines.append(f"    spill bound {b.spill_status}")
    if b.zero_spill_sram_bytes:
        lines.append(f"    zero-spill SRAM            {format_bytes(b.zero_spill_sram_bytes):>14} at least (peak live "
                     f"bytes in this order); this SRAM is {m.sram_bytes / b.zero_spill_sram_bytes:.2f}x it")
    return lines


def render(m: Metrics) -> str:
    """The summary as text lines."""
    head = f"{m.graph} on {m.spec} (spill policy {m.policy}, concat {m.concat}, execution {m.execution})"
    widths = [f"  {m.widths_note}"] if m.widths_note else []
    return "\n".join([head, *widths, *_time(m), *_compute(m), *_dram(m), *_sram(m), *_order(m), *_execution(m),
                      *_hosts(m), *_energy(m), *_bounds(m),
                      *_top_tensors(m)])
