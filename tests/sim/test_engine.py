"""The simulator on hand-built plans: every figure below is worked out by hand in the comments.

make_spec(): 10 B per cycle, 5 cycles of DRAM latency, so a transfer of N bytes takes 5 + N/10.
"""


import dataclasses

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hwsim.schedule.plan import Buffer
from hwsim.sim import simulate
from tests.measure.test_properties import plans
from tests.sim.handplans import PlanBuilder, chain_plan, make_spec, prefetch_chain


def times(trace):
    return {e.command: (e.start, e.end) for e in trace.events}


def test_compute_waits_for_its_load():
    b = PlanBuilder()
    b.load(0, 1000, "weights", "weights")          # 5 + 100 = 105 cycles
    b.compute(0, 100, deps=[0])
    trace = simulate(b.plan(), make_spec())
    assert times(trace) == {0: (0, 105), 1: (105, 205)}


def test_read_and_write_share_the_bus():
    b = PlanBuilder()
    b.load(0, 1000, "weights", "weights")          # 100 cycles of data
    b.store(0, 500, "spill_write", "spill_store")   # 50 cycles of data
    # two channels: the latencies overlap (0..5), then the bus carries one after the other
    assert times(simulate(b.plan(), make_spec(channels=2))) == {0: (0, 105), 1: (0, 155)}
    # one channel: one transfer in flight at a time, each pays its own latency
    assert times(simulate(b.plan(), make_spec(channels=1))) == {0: (0, 105), 1: (105, 160)}


def test_channels_let_one_engine_overlap_its_latencies():
    b = PlanBuilder()
    b.load(0, 1000, "weights", "weights")
    b.load(0, 1000, "weights", "weights")
    assert times(simulate(b.plan(), make_spec(channels=2))) == {0: (0, 105), 1: (0, 205)}
    assert times(simulate(b.plan(), make_spec(channels=1))) == {0: (0, 105), 1: (105, 210)}


def test_waiting_transfers_get_the_bus_in_program_order():
    b = PlanBuilder()
    b.load(0, 1000, "weights", "weights")                        # 0: bus 5..105
    b.compute(0, 1)                                              # 1: 0..1
    b.store(0, 100, "spill_write", "spill_store", deps=[1])      # 2: issued at 1, asks for the bus at 6
    b.load(0, 100, "weights", "weights")                         # 3: issued at 0, asks for the bus at 5
    t = times(simulate(b.plan(), make_spec(channels=3)))
    # at 105 both wait; the earlier command in program order goes first, whoever asked first
    assert t[0] == (0, 105) and t[2] == (1, 115) and t[3] == (0, 125)


def test_prefetch_overlaps_compute_and_the_output_drains():
    trace = simulate(prefetch_chain().plan(), make_spec())
    assert times(trace) == {
        0: (0, 25), 1: (25, 40), 2: (40, 90), 3: (40, 55), 4: (90, 90), 5: (90, 140),
        6: (55, 70), 7: (140, 140), 8: (140, 190), 9: (190, 190), 10: (190, 225), 11: (225, 225),
    }
    assert [e.command for e in trace.events] == [0, 1, 2, 3, 6, 4, 5, 7, 8, 9, 10, 11]  # (start, id)
    load_x = trace.events[0]
    assert (load_x.engine, load_x.dram_bytes, load_x.traffic, load_x.tensor) == ("dma_read", 200, "input", "x")


def test_occupancy_samples_by_hand():
    trace = simulate(prefetch_chain().plan(), make_spec())
    # x 200, weights 100 each, layer outputs 300 each; one sample per allocating or freeing event
    assert [(s.cycle, s.sram_bytes) for s in trace.occupancy] == [
        (0, 200), (25, 300), (40, 600), (40, 700), (55, 800),
        (90, 500), (90, 800), (140, 400), (140, 700), (190, 300), (225, 0),
    ]


def test_allocation_waits_for_the_free_after_a_spill_store():
    a, c = Buffer("a", 0, 500), Buffer("c", 0, 500)
    b = PlanBuilder()
    b.compute(0, 100, allocs=[a])                              # 0: 0..100
    b.store(0, 500, "spill_write", "spill_store", deps=[0])    # 1: 100..155
    b.free(0, [a], deps=[1])                                   # 2: at 155
    b.compute(1, 100, deps=[0, 2], allocs=[c])                 # 3: 155..255
    trace = simulate(b.plan(), make_spec())
    assert times(trace) == {0: (0, 100), 1: (100, 155), 2: (155, 155), 3: (155, 255)}
    assert [(s.cycle, s.sram_bytes) for s in trace.occupancy] == [(0, 500), (155, 0), (155, 500)]


def test_separate_weight_buffer_is_counted_apart():
    b = PlanBuilder()
    b.load(0, 100, "weights", "weights", allocs=[Buffer("weights:l0", 0, 128, "weights", "weights")])
    b.compute(0, 10, deps=[0], allocs=[Buffer("l0", 0, 64)])
    trace = simulate(b.plan(), make_spec(weight_buffer_bytes=1024))
    assert [(s.sram_bytes, s.weight_bytes) for s in trace.occupancy] == [(0, 128), (64, 128)]


def test_free_without_deps_runs_at_time_zero_and_zero_cycle_compute_takes_no_time():
    buf = Buffer("a", 0, 64)
    b = PlanBuilder()
    b.compute(0, 0, allocs=[buf])
    b.free(0, [buf], deps=[0])
    b.free(0, [], deps=[])
    trace = simulate(b.plan(), make_spec())
    assert times(trace) == {0: (0, 0), 1: (0, 0), 2: (0, 0)}


def test_bad_plans_are_internal_errors():
    b = PlanBuilder()
    b.free(0, [Buffer("never", 0, 64)])
    with pytest.raises(RuntimeError, match="not allocated"):
        simulate(b.plan(), make_spec())
    b = PlanBuilder()
    b.compute(0, 10, deps=[0])
    with pytest.raises(RuntimeError, match="earlier commands"):
        simulate(b.plan(), make_spec())


def test_same_plan_same_trace():
    plan = chain_plan(50)
    assert simulate(plan, make_spec(channels=2)) == simulate(plan, make_spec(channels=2))


def test_chain_runs_at_the_compute_rate_once_weights_are_prefetched():
    # input 512 B: 5 + 52 (51.2 rounded up), first weights 256 B: 5 + 26, so the first layer
    # waits 88 cycles; then 100 per layer, the next weights (31 cycles) arriving meanwhile;
    # the output store (5 + 52) ends the run
    trace = simulate(chain_plan(20), make_spec())
    computes = [e for e in trace.events if e.kind == "compute"]
    assert computes[0].start == 88
    assert [e.start for e in computes] == [88 + 100 * i for i in range(20)]
    assert trace.events[-1].end == 88 + 2000 + 5 + 52



def test_turnaround_is_paid_when_the_bus_changes_direction_and_efficiency_slows_transfers():
    from dataclasses import replace
    from fractions import Fraction

    from tests.sim.handplans import PlanBuilder
    # 10 B/cycle peak at 50 % efficiency = 5 B/cycle; latency 5; turnaround 3 ns = 3 cycles.
    spec = make_spec()
    spec = replace(spec, dram=replace(spec.dram, efficiency=Fraction(1, 2), turnaround_s=3e-9))
    b = PlanBuilder()
    b.load(0, 100, "input", "input")                  # 0..25: 5 + 100 / 5
    b.load(0, 100, "weights", "weights")              # 25..50: same direction, no turnaround
    b.store(0, 100, "output", "drain", deps=[0])      # 50..78: 5 + 20 + 3 (read -> write)
    b.load(0, 50, "weights", "weights", deps=[2])     # 78..96: 5 + 50 / 5 + 3 (write -> read)
    plan = b.plan()
    trace = simulate(plan, spec)
    assert [(e.start, e.end) for e in trace.events] == [(0, 25), (25, 50), (50, 78), (78, 96)]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plans(), st.integers(1, 20), st.integers(1, 20))
def test_a_plan_simulated_again_runs_as_a_fresh_copy_of_it(drawn, first_rate, second_rate):
    # the engines' queues and the frees' wiring are kept on the plan after its first run (a
    # sweep simulates one plan at each bandwidth): a later run must not see the first's
    # counted-down frees, nor a queue it consumed
    plan, _ = drawn
    for rate in (first_rate, second_rate, first_rate):
        spec = make_spec(bytes_per_cycle=rate)
        assert simulate(plan, spec) == simulate(dataclasses.replace(plan), spec)
    assert "sim_shape" in plan.__dict__["_measure_memo"]
