"""The ``hwsim run --json`` report: Metrics as a plain, schema-versioned, deterministic JSON object.

Key names follow DESIGN.md ("Report keys"). Same Metrics, same bytes: keys sorted, no
timestamps, lists in a fixed order (layers by step, tensors in plan order, residents
biggest first). Bump ``REPORT_SCHEMA_VERSION`` when a key changes meaning or disappears;
adding a key does not bump it.
"""

from __future__ import annotations

import json
from typing import Any

from hwsim.measure import Metrics

REPORT_SCHEMA_VERSION = 1


def _layer(la) -> dict[str, Any]:
    return {
        "index": la.index, "name": la.name, "macs": la.macs, "vector_ops": la.vector_ops,
        "cycles": la.cycles, "utilisation": la.utilisation, "start": la.start, "end": la.end,
        "stall_cycles": la.stall_cycles, "dram_read_bytes": la.dram_read_bytes,
        "dram_write_bytes": la.dram_write_bytes, "dram_bytes": la.dram_read_bytes + la.dram_write_bytes,
        "streamed": la.streamed, "tiles": la.tiles, "bottleneck": la.bottleneck, "mapping": la.mapping,
    }


def _tensor(t) -> dict[str, Any]:
    return {
        "name": t.name, "bytes": t.bytes, "producer": t.producer, "last_consumer": t.last_consumer,
        "producer_step": t.producer_step, "last_consumer_step": t.last_consumer_step, "skip": t.skip,
        "address": t.address, "spilled": t.spilled, "dram_bytes": t.dram_bytes, "module": t.module,
        "held": t.held, "held_bytes": t.held_bytes,
    }


def _cascade(c, names: dict[int, str]) -> dict[str, Any]:
    return {
        "first": names[c.first], "last": names[c.last], "layers": [names[t] for t in c.layers],
        "stripes": c.stripes, "arena_bytes": c.arena_bytes, "need_bytes": c.need_bytes,
        "weight_bytes": c.weight_bytes, "weight_reread_bytes": c.weight_bytes * (c.stripes - 1),
        "reads_whole": list(c.reads), "writes_whole": list(c.writes), "ends": c.ends,
        "buffers": [{"tensor": r.tensor, "rows": r.rows, "of_rows": r.of_rows, "bytes": r.nbytes,
                     "delay_line": r.delay_line} for r in c.rolling],
    }


def _sram_peak(m: Metrics) -> dict[str, Any]:
    p = m.sram_peak
    return {
        "bytes": p.bytes, "cycle": p.cycle, "step": p.step, "layer": p.layer,
        "tensors": [{"name": r.name, "bytes": r.bytes, "address": r.address, "kind": r.kind, "skip": r.skip}
                    for r in p.tensors],
    }


def _div(a: int, b: int | None) -> float | None:
    return round(a / b, 6) if b else None


def _order(m: Metrics) -> dict[str, Any] | None:
    o = m.order
    return None if o is None else {
        "policy": o.policy, "search": o.search, "graph_order_peak_bytes": o.graph_peak_bytes,
        "peak_bytes": o.peak_bytes, "moved_layers": o.moved_layers,
    }


OPS_MEANING = {"flop_counter": "FlopCounterMode's flops of the op",
               "elements": "one per element read or written (the larger of the inputs' and the outputs' elements)"}
"""What a host op's ``ops`` count (``hwsim.graph.host``), by its ``ops_rule``."""


def _host(h, clock_hz: int) -> dict[str, Any]:
    return {"layer": h.name, "step": h.layer, "op": h.op, "module": h.module, "ops": h.ops,
            "ops_rule": h.ops_rule, "ops_meaning": OPS_MEANING.get(h.ops_rule, h.ops_rule), "cycles": h.cycles,
            "seconds": h.cycles / clock_hz, "dram_write_bytes": h.bytes_out, "dram_read_bytes": h.bytes_in,
            "dram_bytes": h.bytes_out + h.bytes_in}


def report_dict(m: Metrics) -> dict[str, Any]:
    """Every figure of one run, under DESIGN.md's key names."""
    e, b = m.energy, m.bounds
    return {
        "schema_version": REPORT_SCHEMA_VERSION,
        "graph": m.graph, "spec": m.spec, "policy": m.policy, "concat": m.concat,
        "execution": m.execution, "order": _order(m),
        "cascades": [_cascade(c, {la.index: la.name for la in m.layers}) for c in m.cascades],
        "clock_hz": m.clock_hz, "sram_bytes": m.sram_bytes,
        "datatype": {"activation_bits": m.bit_widths[0], "weight_bits": m.bit_widths[1],
                     "bias_bits": m.bit_widths[2], "from_graph": bool(m.widths_note)},
        "latency_cycles": m.latency_cycles, "latency_s": m.latency_s,
        "compute_cycles": m.compute_cycles, "stall_cycles": m.stall_cycles,
        "array_utilisation": m.array_utilisation,
        "stall_by_cause": dict(m.stall_by_cause),
        "dram_read_bytes": m.dram_read_bytes, "dram_write_bytes": m.dram_write_bytes,
        "dram_bytes_by_kind": dict(m.dram_bytes_by_kind), "spill_bytes": m.spill_bytes,
        "dram_bytes_by_tensor": [{"name": n, "bytes": v} for n, v in m.tensor_dram_bytes],
        "sram_peak_bytes": m.sram_peak_bytes, "live_peak_bytes": m.live_peak_bytes,
        "sram_peak": _sram_peak(m), "msc_bytes": m.msc_bytes,
        "energy_pj": {"total": e.total_pj, "mac": e.mac_pj, "sram": e.sram_pj, "dram": e.dram_pj,
                      "leakage": e.leakage_pj},
        "bounds": {"compute_cycles": b.compute_cycles, "dram_cycles": b.dram_cycles,
                   "roofline_cycles": b.roofline_cycles, "min_dram_cycles": b.min_dram_cycles,
                   "floor_dram_bytes": b.floor_dram_bytes, "plan_spill_bytes": b.plan_spill_bytes,
                   "spill_lp_bytes": b.spill_lp_bytes, "spill_optimum_bytes": b.spill_optimum_bytes,
                   "spill_solver_bound_bytes": b.spill_solver_bound_bytes, "spill_gap_pct": b.spill_gap_pct,
                   "dram_bound_cycles": b.dram_bound_cycles, "spill_status": b.spill_status,
                   "zero_spill_sram_bytes": b.zero_spill_sram_bytes, "host_cycles": b.host_cycles,
                   "ratios": {"latency_to_compute": _div(m.latency_cycles, b.compute_cycles),
                              "dram_to_floor": _div(m.dram_bytes, b.floor_dram_bytes),
                              "latency_to_dram_bound": _div(m.latency_cycles, b.dram_bound_cycles),
                              "sram_to_zero_spill": _div(m.sram_bytes, b.zero_spill_sram_bytes)}},
        "layers": [_layer(la) for la in m.layers],
        "tensors": [_tensor(t) for t in m.tensors],
        "host_ops": [_host(h, m.clock_hz) for h in m.hosts], "host_cycles": m.host_cycles, "host_name": m.host_name,
    }


def report_json(m: Metrics) -> str:
    """The report as JSON text: sorted keys, one-space indent, a trailing newline."""
    return json.dumps(report_dict(m), sort_keys=True, indent=1) + "\n"
