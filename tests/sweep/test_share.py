"""Plans shared between sweep points (``hwsim.sweep.share``): the same files as scheduling every
point, and exactly the schedules the sharing rule allows."""

import io

import pytest

import hwsim.pipeline
from hwsim.graph.io import write_graph
from hwsim.pipeline import plan_graph
from hwsim.spec import load_spec
from hwsim.sweep.axes import parse_axis
from hwsim.sweep.driver import SweepRequest, run_sweep
from hwsim.sweep.executors import LocalExecutor
from hwsim.sweep.grid import Point, build_grid
from hwsim.sweep.share import plan_group, run_points, shareable
from tests.schedule.test_cascade import three_convs
from tests.sweep.helpers import SPEC, graph_files

BANDWIDTHS = ("500 MB/s", "8 GB/s", "64 GB/s")
DRAM_ENERGY = ("10 pJ", "100 pJ")


@pytest.fixture
def counted(monkeypatch):
    """How many times the sweep schedules (``plan_graph`` calls)."""
    calls = []
    real = hwsim.pipeline.plan_graph

    def counting(graph, spec, where=None):
        calls.append((graph.name, spec.sram.size_bytes, spec.dram.bandwidth_bytes_per_s))
        return real(graph, spec, where)

    monkeypatch.setattr(hwsim.pipeline, "plan_graph", counting)
    return calls


def _grid(sram: str):
    axes = [("--sram", parse_axis(sram, "sram.size", "--sram")),
            ("--bandwidth", parse_axis(",".join(BANDWIDTHS), "dram.bandwidth", "--bandwidth")),
            ("energy", parse_axis(",".join(DRAM_ENERGY), "energy.dram_byte", "grid")),
            ("--execution", parse_axis("layer,cascade", "policy.execution", "--execution"))]
    return build_grid([], axes, [])


def test_sharing_plans_writes_the_same_bytes_as_scheduling_every_point(tmp_path, counted):
    # Sizes from too small for a tile (2 KiB: invalid) through streamed layers (4..32 KiB) and
    # cascades (8..32 KiB, cascade mode) to nothing streamed (64 KiB).
    three = tmp_path / "three.json"
    write_graph(three_convs().graph(), three)
    graphs = (str(three), graph_files(tmp_path / "g")[0])
    grid = _grid("2KiB,4KiB,8KiB,32KiB,64KiB")
    files = {}
    for share in (False, True):
        out = tmp_path / f"share_{share}"
        counted.clear()
        run_sweep(SweepRequest(SPEC, graphs, grid, out, share_plans=share), LocalExecutor(1), io.StringIO())
        files[share] = ((out / "results.csv").read_bytes(), (out / "summary.json").read_bytes(), len(counted))
    points = 2 * 5 * 3 * 2 * 2
    assert files[True][:2] == files[False][:2]
    assert files[False][2] == points  # every point scheduled once (an invalid one too: it fails there)
    assert files[True][2] < points  # and sharing did share
    assert b",ok," in files[True][0] and b",invalid," in files[True][0]


def _points(sram: str, execution: str) -> list[Point]:
    return [Point("three", (("sram.size", sram), ("dram.bandwidth", bw), ("energy.dram_byte", e),
                            ("policy.execution", execution)))
            for bw in BANDWIDTHS for e in DRAM_ENERGY]


@pytest.mark.parametrize("sram, execution, schedules", [
    ("64 KiB", "layer", 1),  # nothing streams: one plan for every bandwidth and energy
    ("8 KiB", "cascade", 1),  # one cascade, nothing streamed, no spill
    ("8 KiB", "layer", 3),  # a, b, c stream: a plan per bandwidth, shared by the energies
    ("2 KiB", "layer", 3),  # no tile of b fits: scheduled (and failing) once per bandwidth
])
def test_a_plan_group_is_scheduled_as_the_rule_says(counted, sram, execution, schedules):
    graph, spec = three_convs().graph(), load_spec(SPEC)
    points = _points(sram, execution)
    assert len({plan_group(p) for p in points}) == 1
    rows = run_points(graph, spec, points)
    assert len(counted) == schedules
    assert set(rows) == {p.key for p in points}
    assert {r["status"] for r in rows.values()} == ({"invalid"} if sram == "2 KiB" else {"ok"})


@pytest.mark.parametrize("sram, execution", [("64KiB", "layer"), ("8KiB", "cascade"), ("16KiB", "cascade")])
def test_a_shareable_plan_is_the_plan_of_every_bandwidth_latency_and_clock(sram, execution):
    # The claim behind sharing, checked directly: schedule at each DRAM setting, compare the plans.
    graph = three_convs().graph()
    plans = [plan_graph(graph, load_spec(SPEC, [f"sram.size={sram}", f"policy.execution={execution}", *extra])).plan
             for extra in ([], ["dram.bandwidth=100MB/s", "dram.latency=5us"], ["clock=50MHz", "dram.efficiency=30%"])]
    assert shareable(plans[0])
    assert plans[1] == plans[0] and plans[2] == plans[0]


def test_points_of_two_plan_groups_are_refused_together():
    graph, spec = three_convs().graph(), load_spec(SPEC)
    with pytest.raises(ValueError, match="one plan group"):
        run_points(graph, spec, _points("8 KiB", "layer")[:1] + _points("64 KiB", "layer")[:1])
