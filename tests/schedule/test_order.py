"""``policy.order``: the two-branch graph of ``tests.graph.dags`` (figures worked out there by hand)
through the order, the scheduler, the pipeline, the reports, the zero-spill search and sweeps."""

import dataclasses
import json
from pathlib import Path

import pytest

from hwsim.errors import UserError
from hwsim.graph.io import load_graph
from hwsim.pipeline import run
from hwsim.report.json_report import report_json
from hwsim.report.text import render
from hwsim.schedule import schedule, zero_spill_sram
from hwsim.schedule.order import OrderSummary, order_layers
from hwsim.schedule.storage import live_piece_peak
from hwsim.sweep.axes import parse_axis
from tests.graph.dags import two_branches
from tests.schedule.helpers import chain, make_spec

GRAPH_ORDER_PEAK, LOWEST_PEAK = 2304, 1344  # r + a1 + b1; r + a1 + a2 (tests.graph.dags)


def with_order(spec, order: str):
    return dataclasses.replace(spec, policy=dataclasses.replace(spec.policy, order=order))


MEMORY = with_order(make_spec(), "memory")


def test_memory_order_finishes_a_branch_before_starting_the_other():
    ordering = order_layers(two_branches(), MEMORY)
    assert [la.name for la in ordering.graph.layers] == ["r", "a1", "a2", "b1", "b2", "j"]
    assert live_piece_peak(ordering.graph, MEMORY) == LOWEST_PEAK
    # a2 and b1 swap steps
    assert ordering.summary == OrderSummary("memory", "exact", GRAPH_ORDER_PEAK, LOWEST_PEAK, moved_layers=2)


def test_graph_order_reports_its_own_peak_and_changes_nothing():
    g = two_branches()
    ordering = order_layers(g, make_spec())
    assert ordering.graph is g
    assert (ordering.summary.search, ordering.summary.peak_bytes, ordering.summary.graph_peak_bytes) == (
        "none", GRAPH_ORDER_PEAK, GRAPH_ORDER_PEAK)


def test_a_chain_keeps_its_order():
    g = chain().build()
    ordering = order_layers(g, MEMORY)
    assert ordering.graph is g
    assert (ordering.summary.search, ordering.summary.moved_layers) == ("exact", 0)


def test_ordering_a_reordered_graph_again_gives_it_back():
    ordered = order_layers(two_branches(), MEMORY).graph
    assert order_layers(ordered, MEMORY).graph is ordered


def test_scheduler_refuses_a_graph_not_in_its_memory_order():
    with pytest.raises(ValueError, match="policy.order 'memory'"):
        schedule(two_branches(), MEMORY)
    schedule(order_layers(two_branches(), MEMORY).graph, MEMORY)


def test_run_schedules_the_reordered_graph_and_reports_both_peaks():
    result = run(two_branches(), MEMORY)
    assert [la.name for la in result.plan.layers] == ["r", "a1", "a2", "b1", "b2", "j"]
    assert [la.name for la in result.graph.layers] == ["r", "a1", "a2", "b1", "b2", "j"]
    report = json.loads(report_json(result.metrics))
    assert report["order"] == {"policy": "memory", "search": "exact", "graph_order_peak_bytes": GRAPH_ORDER_PEAK,
                               "peak_bytes": LOWEST_PEAK, "moved_layers": 2}
    line = next(s for s in render(result.metrics).splitlines() if s.strip().startswith("order"))
    assert "1,344 B" in line and "2 layers moved" in line and "exact" in line


def test_run_in_graph_order_reports_the_graph_order():
    report = json.loads(report_json(run(two_branches(), make_spec()).metrics))
    assert report["order"]["policy"] == "graph"
    assert report["order"]["peak_bytes"] == report["order"]["graph_order_peak_bytes"] == GRAPH_ORDER_PEAK


def test_zero_spill_sram_follows_the_order():
    # in the graph's order all 2304 B must be resident at b1's step: no smaller SRAM is clean;
    # in the memory order at most 1344 B of activations (plus x, 256 B, at r's step) are
    graph_order = zero_spill_sram(two_branches(), make_spec(align=1))
    memory_order = zero_spill_sram(two_branches(), with_order(make_spec(align=1), "memory"))
    assert graph_order >= GRAPH_ORDER_PEAK > memory_order >= LOWEST_PEAK


def test_sweeps_take_the_order_as_an_axis():
    assert parse_axis("graph,memory", "policy.order", "--grid").values == ("graph", "memory")
    with pytest.raises(UserError, match="memroy"):
        parse_axis("graph,memroy", "policy.order", "--grid")


def test_kbnet_memory_order_computes_the_channel_attention_after_the_attention_peak():
    # KBNet's peak (graph order) is the first block's kernel-basis attention (matmul_1); the block's
    # channel-attention vector conv2d_1 (64 channels at 1x1: 64 B) is computed before it and read
    # after it. Computed after it instead, the peak drops by those 64 B and by nothing else.
    g = load_graph(Path(__file__).resolve().parents[2] / "graphs" / "kbnet.json")
    ordering = order_layers(g, MEMORY)
    s = ordering.summary
    steps = [la.name for la in ordering.graph.layers]
    assert steps.index("conv2d_1") > steps.index("matmul_1")
    assert s.search == "exact"
    assert s.graph_peak_bytes - s.peak_bytes == g.tensor["conv2d_1"].elements == 64
    assert s.peak_bytes == live_piece_peak(ordering.graph, MEMORY)
