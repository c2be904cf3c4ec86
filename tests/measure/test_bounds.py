"""The bounds in every report (``hwsim.measure.bounds``): worked by hand on two_waits, and never
above what was measured."""

from __future__ import annotations

import json

from hwsim.graph.analysis import tensor_bytes
from hwsim.pipeline import run
from hwsim.report.json_report import report_json
from hwsim.report.text import render
from hwsim.schedule.cost import layer_cost
from tests.schedule.helpers import make_spec, two_waits


def test_two_waits_bounds_by_hand():
    # test_optimum.test_two_waits_optimum_by_hand: at 32 B the least loads and stores besides
    # weights is 44 B (input 4, output 8, A stored and reloaded 32); the default policy
    # (optimal) makes exactly that plan.
    g = two_waits().build()
    for policy, moved in (("optimal", 44), ("lru", 60)):
        spec = make_spec(sram=32, spill=policy)
        m = run(g, spec).metrics
        b = m.bounds
        assert (b.spill_optimum_bytes, b.spill_solver_bound_bytes, b.plan_spill_bytes) == (44, 44, moved)
        assert b.spill_lp_bytes is None  # proven optimal: no LP needed
        assert b.spill_gap_pct == 100 * (moved - 44) / 44
        assert b.compute_cycles == sum(layer_cost(g, t, spec).cycles for t in range(len(g.layers)))
        weights = sum(layer.weight_bytes for layer in run(g, spec).plan.layers)
        assert b.floor_dram_bytes == weights + 4 + tensor_bytes(8, 8)  # x once, F once
        assert b.zero_spill_sram_bytes == 40  # A, B, C and E live at L3
        # never above the measured figures
        assert b.compute_cycles <= m.latency_cycles and b.dram_bound_cycles <= m.latency_cycles
        assert b.dram_bound_cycles <= b.dram_cycles and b.floor_dram_bytes <= m.dram_bytes
        d = json.loads(report_json(m))["bounds"]
        assert (d["spill_optimum_bytes"], d["plan_spill_bytes"], d["zero_spill_sram_bytes"]) == (44, moved, 40)
        assert d["ratios"]["sram_to_zero_spill"] == 32 / 40
        assert "loads+stores besides weights: this plan" in render(m)
