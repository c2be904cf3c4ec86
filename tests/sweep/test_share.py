"""Plans shared between sweep points (``hwsim.sweep.share``): the same files as scheduling every
point, exactly the schedules the guards allow, and a plan reused only where it is the point's own.

The guard figures of ``three_convs`` at 8 KiB, by hand (edge_npu: 1 GHz, DRAM efficiency 85 %,
latency 100 ns = 100 cycles). Layer c reads b (16 channels x 32 rows of 512 B, in DRAM: layer b
streamed it out) through a 3x3 kernel and writes the graph output c (1 KiB). In one slot it runs
3 bands of 11, 11, 10 rows, reading 12 + 13 + 11 rows: 36 x 512 + 1024 = 19,456 B, 3 x 2 = 6 tile
transfers; in two slots 7 bands of 5 rows (the last 2), reading 6 + 5 x 7 + 3 = 44 rows: 23,552
B, 14 transfers. Its compute: 32 x 32 outputs x 16 x 9 MACs / 1024 MACs per cycle = 4,608
cycles.

* 8 GB/s: a transfer of n bytes takes ceil(n x 5 / 34) cycles. One slot: 2,862 + 600 + 4,608 =
  8,070; two: max(4,608, 3,464 + 1,400) + 4,608 // 7 = 4,864 + 658 = 5,522: two slots.
* 500 MB/s: ceil(n x 40 / 17) cycles. One slot: 45,779 + 600 + 4,608 = 50,987; two: 55,417 +
  1,400 + 658 = 57,475: one slot. The guard flips between the two bandwidths.
"""

import dataclasses
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
from hwsim.schedule.guards import SlotChoice, SlotGuard, all_hold, layer_time, prefer_two
from hwsim.sweep.run import run_point
from hwsim.sweep.share import plan_group, reusable, run_points, _plan
from tests.schedule.test_cascade import three_convs
from tests.sweep.helpers import SPEC, graph_files

BANDWIDTHS = ("500 MB/s", "8 GB/s", "64 GB/s")
DRAM_ENERGY = ("10 pJ", "100 pJ")


@pytest.fixture
def counted(monkeypatch):
    """How many times the sweep schedules (``plan_graph`` calls)."""
    calls = []
    real = hwsim.pipeline.plan_graph

    def counting(graph, spec, where=None, guards=None):
        calls.append((graph.name, spec.sram.size_bytes, spec.dram.bandwidth_bytes_per_s))
        return real(graph, spec, where, guards)

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
    files, outcomes = {}, {}
    for share in (False, True):
        out = tmp_path / f"share_{share}"
        counted.clear()
        outcomes[share] = run_sweep(SweepRequest(SPEC, graphs, grid, out, share_plans=share), LocalExecutor(1),
                                    io.StringIO())
        files[share] = ((out / "results.csv").read_bytes(), (out / "summary.json").read_bytes(), len(counted))
    points, groups = 2 * 5 * 3 * 2 * 2, 2 * 5 * 2  # plan groups: graph x SRAM x execution
    assert files[True][:2] == files[False][:2]
    assert files[False][2] == points == outcomes[False].schedules  # every point scheduled once
    assert outcomes[True].schedules == files[True][2]  # the count the sweep reports is the scheduler's
    # Both kinds of sharing happened: three's 8 KiB layer-mode group streams at every bandwidth,
    # its guard for c flips between 500 MB/s and 8 GB/s (module docstring) and holds at 64 GB/s.
    assert groups < outcomes[True].schedules < points // 2
    assert outcomes[True].plans_reused > 0
    assert outcomes[True].schedules + outcomes[True].plans_reused == groups * len(BANDWIDTHS)
    assert b",ok," in files[True][0] and b",invalid," in files[True][0]


def _points(sram: str, execution: str, objective: str = "latency") -> list[Point]:
    return [Point("three", (("sram.size", sram), ("dram.bandwidth", bw), ("energy.dram_byte", e),
                            ("policy.execution", execution), ("policy.stream_objective", objective)))
            for bw in BANDWIDTHS for e in DRAM_ENERGY]


def _decided(plan):
    """``plan`` without the one figure of it that is a measurement: the spill solver's seconds."""
    bounds = plan.spill_bounds
    return plan if bounds is None else dataclasses.replace(plan, spill_bounds=dataclasses.replace(bounds, seconds=0.0))


def _plan_at(sram: str, *extra: str, execution: str = "layer"):
    spec = load_spec(SPEC, [f"sram.size={sram}", f"policy.execution={execution}", *extra])
    guards: list = []
    return _decided(plan_graph(three_convs().graph(), spec, guards=guards).plan), tuple(guards), spec


@pytest.mark.parametrize("sram, execution, objective, schedules", [
    ("64 KiB", "layer", "latency", 1),  # nothing streams: one plan for every bandwidth and energy
    ("8 KiB", "cascade", "latency", 1),  # one cascade, nothing streamed, no spill
    ("8 KiB", "layer", "latency", 2),  # a, b, c stream; c's slots flip between 500 MB/s and 8 GB/s
    ("8 KiB", "layer", "traffic", 1),  # one slot moves fewer bytes for c at every bandwidth
    ("2 KiB", "layer", "latency", 1),  # no tile of b fits: the same failure at every bandwidth
])
def test_a_plan_group_is_scheduled_as_the_guards_say(counted, sram, execution, objective, schedules):
    graph, spec = three_convs().graph(), load_spec(SPEC)
    points = _points(sram, execution, objective)
    assert len({plan_group(p) for p in points}) == 1
    run = run_points(graph, spec, points)
    assert len(counted) == run.schedules == schedules
    assert run.reused == len(BANDWIDTHS) - schedules
    assert run.rows == {p.key: run_point(graph, spec, p) for p in points}  # each point's own run
    assert {r["status"] for r in run.rows.values()} == ({"invalid"} if sram == "2 KiB" else {"ok"})


def test_the_guard_of_layer_c_has_the_hand_counted_ingredients_and_flips():
    # Module docstring: c's bytes, transfers and tiles for one and two slots, and the outcomes.
    _, guards, slow = _plan_at("8KiB", "dram.bandwidth=500MB/s")
    _, fast_guards, fast = _plan_at("8KiB", "dram.bandwidth=8GB/s")
    c = [g for g in guards if g.layer == 2]
    assert {(g.cycles, g.one.own, g.one.transfers, g.one.tiles, g.two.own, g.two.transfers, g.two.tiles)
            for g in c} == {(4608, 19456, 6, 3, 23552, 14, 7)}
    assert not c[0].two_slots
    assert [layer_time(c[0].one, 1, 4608, fast.dram_transfer_cycles, 100),
            layer_time(c[0].two, 2, 4608, fast.dram_transfer_cycles, 100)] == [8070, 5522]
    assert [layer_time(c[0].one, 1, 4608, slow.dram_transfer_cycles, 100),
            layer_time(c[0].two, 2, 4608, slow.dram_transfer_cycles, 100)] == [50987, 57475]
    assert all(g.two_slots for g in fast_guards if g.layer == 2)
    assert all_hold(guards, slow) and not all_hold(guards, fast)


def test_a_plan_whose_guard_flips_is_not_reused():
    graph = three_convs().graph()
    slow = load_spec(SPEC, ["sram.size=8KiB", "dram.bandwidth=500MB/s"])
    fast = load_spec(SPEC, ["sram.size=8KiB", "dram.bandwidth=64GB/s"])
    made = _plan(graph, slow)
    assert made.guards and not reusable(made, fast)
    assert reusable(made, slow)
    # The refusal matters: the plan scheduled at 64 GB/s is another plan (c in 7 bands, not 3).
    other = plan_graph(graph, fast).plan
    assert [la.tiles for la in other.layers] != [la.tiles for la in made.planned.plan.layers]
    assert other.layers[2].tiles == 7 and made.planned.plan.layers[2].tiles == 3


def test_ties_go_the_way_the_scheduler_takes_them():
    # One transfer per byte (transfer(n) = n), no latency: one slot 100 + 300 = 400 cycles; two
    # slots max(100, 360) + 100 // 4 = 385 with 360 bytes, 400 with 375 bytes: a tie, two slots.
    one = SlotChoice(own=300, transfers=2, tiles=2, traffic=300)
    for own, wins in ((360, True), (375, True), (376, False)):
        two = SlotChoice(own=own, transfers=4, tiles=4, traffic=own)
        assert prefer_two("latency", 100, two, one, lambda n: n, 0) is wins
        assert SlotGuard(0, "latency", 100, two, one, wins).holds(lambda n: n, 0)
        assert not SlotGuard(0, "latency", 100, two, one, not wins).holds(lambda n: n, 0)
    # traffic: fewer bytes first (two slots never win moving more), then time
    two = SlotChoice(own=300, transfers=4, tiles=4, traffic=301)
    assert not prefer_two("traffic", 100, two, one, lambda n: n, 0)
    assert prefer_two("traffic", 100, dataclasses.replace(two, traffic=300), one, lambda n: n, 0)


SETTINGS = ([], ["dram.bandwidth=500MB/s"], ["dram.bandwidth=2GB/s", "dram.latency=1us"],
            ["dram.bandwidth=64GB/s"], ["clock=50MHz", "dram.efficiency=30%"], ["clock=2GHz"])


@pytest.mark.parametrize("sram, execution, objective", [
    ("4KiB", "layer", "latency"), ("8KiB", "layer", "latency"), ("16KiB", "layer", "latency"),
    ("16KiB", "layer", "traffic"), ("8KiB", "cascade", "latency"), ("32KiB", "layer", "latency")])
def test_where_the_guards_hold_the_plan_is_the_one_scheduled_there(sram, execution, objective):
    # The claim behind sharing, checked directly: schedule at every DRAM/clock setting, and
    # wherever one setting's guards hold under another's spec, the two plans are equal.
    made = [_plan_at(sram, f"policy.stream_objective={objective}", *extra, execution=execution)
            for extra in SETTINGS]
    held = 0
    for plan, guards, _ in made:
        for other, _, spec in made:
            if all_hold(guards, spec):
                held += 1
                assert other == plan
    assert held > len(SETTINGS)  # not only each setting with itself


def test_a_plan_with_host_ops_is_reused_only_at_its_host_cycles():
    # The host op's cycles are a figure of the plan, read from the clock (``AcceleratorSpec.host_cycles``).
    from tests.schedule.test_host import host_spec, net

    graph = net().build()
    base = load_spec(SPEC, host_spec())
    made = _plan(graph, base)
    assert made.planned.plan.hosts and made.failed is None
    assert reusable(made, load_spec(SPEC, [*host_spec(), "dram.bandwidth=1GB/s"]))
    assert not reusable(made, load_spec(SPEC, [*host_spec(), "clock=500MHz"]))
    points = [Point("host_u", (("clock", clock), ("dram.bandwidth", "1GB/s"))) for clock in ("1GHz", "500MHz")]
    run = run_points(graph, base, points)
    assert run.schedules == 2
    assert run.rows == {p.key: run_point(graph, base, p) for p in points}


def test_points_of_two_plan_groups_are_refused_together():
    graph, spec = three_convs().graph(), load_spec(SPEC)
    with pytest.raises(ValueError, match="one plan group"):
        run_points(graph, spec, _points("8 KiB", "layer")[:1] + _points("64 KiB", "layer")[:1])


def test_a_plan_group_works_out_its_streamed_layers_once(monkeypatch):
    """Within a plan group (``run_points``: ``tiling.remembered_shapes``) the schedule at 8 GB/s
    reuses the ways to run each streamed layer worked out at 500 MB/s (the same SRAM, layout
    and tensors in DRAM) and chooses only the tile slots again, which flip for layer c (module
    docstring): no layer's choices are worked out twice, and the plan is the one scheduled
    afresh at 8 GB/s (c in 7 bands, not 3)."""
    from hwsim.schedule import tiling

    graph = three_convs().graph()
    slow = load_spec(SPEC, ["sram.size=8KiB", "dram.bandwidth=500MB/s"])
    fast = load_spec(SPEC, ["sram.size=8KiB", "dram.bandwidth=8GB/s"])
    afresh = plan_graph(three_convs().graph(), fast).plan  # another graph: it remembers nothing of this one
    made, real = [], tiling._Shape.__init__
    monkeypatch.setattr(tiling._Shape, "__init__", lambda self, *a: made.append(a[1]) or real(self, *a))
    with tiling.remembered_shapes():
        plan_graph(graph, slow)
        first = len(made)
        remembered = plan_graph(graph, fast).plan
    assert first > 0 and len(made) == first == len(set(made))
    assert remembered.layers[2].tiles == 7 and remembered.commands == afresh.commands
