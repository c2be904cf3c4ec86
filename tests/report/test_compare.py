"""The comparison table (differences worked out by hand), its Markdown and JSON, and the memory Gantt data."""

import json

import pytest

from hwsim.graph.analysis import graph_stats
from hwsim.pipeline import run
from hwsim.report.compare import (
    FIGURES, OTHER_ROWS, ROWS, Row, cell, comparison_json, comparison_table, difference, render_markdown,
    run_variant,
)
from hwsim.report.gantt import buffer_rects
from hwsim.spec import load_spec
from tests.report.variants import variant_graphs
from tests.sweep.helpers import SPEC


@pytest.fixture(scope="module")
def spec():
    return load_spec(SPEC, ["sram.size=4KiB"])


@pytest.fixture(scope="module")
def variants(spec):
    return [run_variant(g, spec) for g in variant_graphs()]


def row(values, points=False, unit="KiB", scale=1024.0):
    return Row("k", "label", unit, scale, tuple(values), points)


@pytest.mark.parametrize("values, points, expected", [
    ((4, 1), False, "-75.0 %"),
    ((4, 5), False, "+25.0 %"),
    ((3, 3), False, "±0 %"),
    ((0, 0), False, "±0 %"),
    ((0, 5), False, "new"),
    ((4, None), False, "n/a"),
    ((10.0, 12.5), True, "+2.5 pp"),
    ((10.0, 9.0), True, "-1.0 pp"),
])
def test_difference_to_the_baseline(values, points, expected):
    r = row(values, points)
    assert difference(r, 0) == ""
    assert difference(r, 1) == expected


def test_cells():
    assert cell(row((3072, 0)), 0) == "3.00"
    assert cell(row((None,)), 0) == "n/a"
    assert cell(row((392.13,), unit="ms", scale=1.0), 0) == "392.1"
    assert cell(row((1234,), unit="B", scale=1.0), 0) == "1,234"


def test_table_of_the_hand_built_variants(variants):
    table = {r.key: r for r in comparison_table(variants)}
    assert list(table) == [key for key, *_ in ROWS] + [f"{key}_cascade" for key, *_ in OTHER_ROWS]
    # M_sc: e1 (8 x 16 x 16 = 2 KiB) and e2 (16 x 8 x 8 = 1 KiB) wait for the decoder; no skip, no M_sc
    assert table["msc"].values == (3072, 0)
    assert (table["msc"].unit, cell(table["msc"], 0), difference(table["msc"], 1)) == ("KiB", "3.00", "-100.0 %")
    stats = [graph_stats(g, 8) for g in variant_graphs()]
    assert table["macs"].values == tuple(s["macs"] for s in stats)
    assert table["params"].values == tuple(s["params"] for s in stats)
    for key, attr in (("sram_peak", "sram_peak_bytes"), ("spill", "spill_bytes"), ("dram", "dram_bytes")):
        assert table[key].values == tuple(getattr(v.metrics, attr) for v in variants)
    assert table["latency"].values == tuple(v.metrics.latency_s for v in variants)
    assert all(v.zero_spill_bytes and v.zero_spill_bytes >= v.stats["activation_peak_bytes"] for v in variants)
    # the cascade rows are the same figures of runs in cascade mode, never above layer mode's traffic
    cascade = [run(g, load_spec(SPEC, ["sram.size=4KiB", "policy.execution=cascade"])).metrics
               for g in variant_graphs()]
    assert table["dram_cascade"].values == tuple(m.dram_bytes for m in cascade)
    assert all(c <= layer for c, layer in zip(table["dram_cascade"].values, table["dram"].values))
    assert table["zero_spill_cascade"].values == tuple(v.other.zero_spill_bytes for v in variants)


def test_markdown_and_json(spec, variants):
    md = render_markdown(spec, variants, list(FIGURES))
    assert md.startswith("# u2, u2_noskip on edge-npu")
    for _, label, *_ in ROWS:
        assert f"| {label} |" in md
    for _, label, *_ in OTHER_ROWS:
        assert f"| {label}, cascade execution |" in md
    assert "## What sets the SRAM peak" in md and "- **u2_noskip**, cascade execution: " in md
    assert all(f"]({name})" in md for name in FIGURES)
    data = json.loads(comparison_json(spec, variants))
    assert data["baseline"] == "u2" and data["variants"] == ["u2", "u2_noskip"]
    msc = next(r for r in data["rows"] if r["key"] == "msc")
    assert msc["values"] == [3072, 0] and msc["difference"] == ["", "-100.0 %"]


@pytest.mark.parametrize("sram", ["2KiB", "8KiB"])
def test_gantt_rectangles_never_overlap_and_stay_in_the_sram(sram):
    result = run(variant_graphs()[0], SPEC, [f"sram.size={sram}"])
    rects = buffer_rects(result.trace, result.plan)
    assert len(rects) == sum(1 for c in result.plan.commands for b in c.allocs if b.space == "sram")
    assert all(0 <= r.address and r.address + r.size <= result.plan.sram_bytes for r in rects)
    assert all(r.start <= r.end for r in rects)
    timed = [r for r in rects if r.end > r.start]
    for i, a in enumerate(timed):
        for b in timed[i + 1:]:
            overlap_time = a.start < b.end and b.start < a.end
            overlap_addr = a.address < b.address + b.size and b.address < a.address + a.size
            assert not (overlap_time and overlap_addr), (a, b)
    assert {r.kind for r in rects} >= {"skip", "activation", "weights"}
