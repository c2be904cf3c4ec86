"""What measure keeps per plan (hwsim.measure.facts): the same figures on a plan measured again
under another trace as on a fresh copy of it, tables that match independent counts, and the
tie rule of the stall attribution worked by hand."""

import dataclasses
import pickle

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hwsim.measure import measure
from hwsim.measure.facts import plan_facts
from hwsim.measure.stalls import account_stalls
from hwsim.schedule import schedule
from hwsim.schedule.plan import Buffer
from hwsim.sim import simulate
from tests.graph.handmade import two_level_u
from tests.measure.test_properties import graph, plans
from tests.schedule.helpers import make_spec as schedule_spec
from tests.sim.handplans import PlanBuilder, make_spec


def fresh(plan):
    """The same plan as a new object, with nothing measured on it yet."""
    return dataclasses.replace(plan)


@pytest.mark.parametrize("execution", ["layer", "cascade"])
@pytest.mark.parametrize("sram", [3 * 1024, 64 * 1024])
def test_a_plan_measured_under_several_bandwidths_gives_what_a_fresh_copy_gives(execution, sram):
    # the two-level U (16x16 maps, 1-2 KiB each at 8 bits) at 3 KiB spills and streams
    g = two_level_u().build()
    base = schedule_spec(sram=sram, execution=execution)
    plan = schedule(g, base)
    for bandwidth in (10**9, 4 * 10**9, 16 * 10**9):  # a sweep's bandwidths of one plan
        spec = dataclasses.replace(base, dram=dataclasses.replace(base.dram, bandwidth_bytes_per_s=bandwidth))
        trace = simulate(plan, spec)
        again = measure(trace, plan, spec, g)  # the plan's tables kept from the measures before
        alone = measure(trace, fresh(plan), spec, g)
        assert repr(again) == repr(alone) and again == alone
    assert "_measure_memo" in plan.__dict__  # the tables were kept, and used above


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plans(), st.integers(1, 20), st.integers(1, 20))
def test_random_plans_measure_alike_with_or_without_their_kept_tables(drawn, first_rate, second_rate):
    plan, layers = drawn
    for rate in (first_rate, second_rate):
        spec = make_spec(bytes_per_cycle=rate)
        trace = simulate(plan, spec)
        assert repr(measure(trace, plan, spec, graph(layers))) == repr(measure(trace, fresh(plan), spec,
                                                                              graph(layers)))


def test_the_tables_match_independent_counts_and_stay_with_their_plan():
    g = two_level_u().build()
    spec = schedule_spec(sram=3 * 1024, execution="layer")
    plan = schedule(g, spec)
    measure(simulate(plan, spec), plan, spec, g)
    facts = plan_facts(plan)
    assert facts.decided_bytes == plan.decided_bytes() > 0  # spills at 3 KiB
    moved = 0
    for c in plan.commands:
        if c.kind in ("load", "store", "tiles"):
            moved += c.dram_bytes
    assert facts.moved_bytes == moved
    ends = [b.address + b.size for c in plan.commands for b in c.allocs if b.space == "sram"]
    assert facts.high_water == max(ends)
    assert [t[0] for t in facts.timeline] == [c.id for c in plan.commands if c.kind in ("compute", "host", "tiles")]
    assert list(facts.transfers) == [c.id for c in plan.commands if c.kind in ("load", "store", "tiles")]
    # a changed plan is a new object with nothing kept; a measured plan still pickles, equal to itself
    assert "_measure_memo" not in dataclasses.replace(plan, notes=("changed",)).__dict__
    assert pickle.loads(pickle.dumps(plan)) == plan


def _tie(first_id_kind: str):
    """Loads x (input) and w (weights) both 0..10, a free after w, and a compute at 10..20
    that waits 0..10 on x and on the free (or on both loads): a tie at cycle 10."""
    b = PlanBuilder()
    x = Buffer("x", 0, 100)
    w = Buffer("w", 100, 100)
    b.load(0, 100, "input", "input", allocs=[x])  # 0
    b.load(0, 100, "weights", "weights", allocs=[w])  # 1
    if first_id_kind == "free":
        b.free(0, [w], deps=[1])  # 2: the free has the larger id
        b.compute(0, 10, deps=[0, 2], reads=["x"])  # 3
    else:
        b.compute(0, 10, deps=[0, 1], reads=["x", "w"])  # 2: two loads
    b.layer("l0", 10)
    plan = b.plan()
    trace = simulate(plan, make_spec(channels=2))
    timed = tuple(dataclasses.replace(e, start=10 if e.kind in ("free", "compute") else 0,
                                      end=20 if e.kind == "compute" else 10) for e in trace.events)
    return account_stalls(dataclasses.replace(trace, events=timed), plan)


def test_a_load_that_ends_with_a_free_is_what_blocked_though_the_free_came_later():
    # by id the free (2) would win and lead to w: 10 cycles of weights; a transfer beats a free
    a = _tie("free")
    assert a.by_cause["input"] == 10 and a.by_cause["weights"] == 0 and a.stall_cycles == 10


def test_of_two_loads_ending_together_the_later_command_is_what_blocked():
    a = _tie("loads")
    assert a.by_cause["weights"] == 10 and a.by_cause["input"] == 0 and a.stall_cycles == 10
