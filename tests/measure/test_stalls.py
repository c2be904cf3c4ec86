"""Stall accounting on hand-built plans: measured totals and per-cause stalls, worked by hand."""

import dataclasses

import pytest

from hwsim.measure.stalls import account_stalls, measured_totals
from hwsim.schedule.plan import Buffer
from hwsim.sim import simulate
from hwsim.sim.trace import Event
from tests.sim.handplans import PlanBuilder, make_spec, prefetch_chain


def account(builder, **spec):
    plan = builder.plan()
    return account_stalls(simulate(plan, make_spec(**spec)), plan)


@pytest.mark.parametrize("cause", ["weights", "reload", "input", "streamed"])
def test_a_load_the_compute_waits_for(cause):
    b = PlanBuilder()
    b.load(0, 1000, "weights", cause)      # 5 + 1000 / 10 = 105 cycles
    b.compute(0, 100, deps=[0])
    a = account(b)
    assert (a.latency_cycles, a.compute_cycles, a.stall_cycles) == (205, 100, 105)
    assert a.by_cause[cause] == 105 and sum(a.by_cause.values()) == 105
    assert a.by_layer == {0: 105}


def test_cause_defaults_to_what_the_traffic_kind_implies():
    b = PlanBuilder()
    b.load(0, 1000, "spill_read")          # no cause given: a reload
    b.compute(0, 100, deps=[0])
    assert account(b).by_cause["reload"] == 105


def test_prefetched_weights_only_the_first_layer_waits_then_the_output_drains():
    a = account(prefetch_chain())
    # x 0..25, w0 25..40: the first layer waits 40; w0 (the load that ended last) is charged
    # from its issue, 25..40 = 15 weights, and before its issue it waited on the one channel
    # behind x: 0..25 = 25 input. Layers run 40..190 back to back; the output store 190..225
    # is the drain
    assert (a.latency_cycles, a.compute_cycles, a.stall_cycles) == (225, 150, 75)
    assert a.by_cause == {"weights": 15, "reload": 0, "spill_store": 0, "streamed": 0, "input": 25, "drain": 35,
                          "host": 0}


def test_a_wait_is_split_along_the_transfers_that_held_it():
    b = PlanBuilder()
    b.load(0, 100, "weights", "weights")   # 0..15
    b.load(0, 200, "input", "input")       # 15..40: issued when the weights freed the channel
    b.compute(0, 10, deps=[0, 1])
    assert account(b).by_cause == {"weights": 15, "reload": 0, "spill_store": 0, "streamed": 0, "input": 25,
                                   "drain": 0, "host": 0}


def test_a_weight_load_waiting_behind_a_spill_store_is_charged_to_the_store():
    # One channel. Layer 0 computes 0..10 and its output is spilled 10..115 (1000 B: 5 + 100).
    # Layer 1's weights (ready at 10, after the store in program order) get the channel when
    # the store releases it, 115..140 (200 B: 5 + 20); layer 1 computes 140..150. Its wait
    # 10..140 is 105 spill_store (the channel held by the store) + 25 weights (its own transfer).
    b = PlanBuilder()
    c0 = b.compute(0, 10)
    b.store(0, 1000, "spill_write", "spill_store", deps=[c0])
    w1 = b.load(1, 200, "weights", "weights", deps=[c0])
    b.compute(1, 10, deps=[c0, w1])
    a = account(b)
    assert (a.latency_cycles, a.stall_cycles) == (150, 130)
    assert a.by_cause == {"weights": 25, "reload": 0, "spill_store": 105, "streamed": 0, "input": 0, "drain": 0,
                          "host": 0}
    assert a.by_layer == {1: 130}


def test_same_cycle_requests_are_served_in_program_order():
    # The weight load comes first in program order: ready at 10 together with the store, it
    # takes the channel first (10..35), the store follows (35..140) and is the drain; the
    # engines' order of arrival does not decide it.
    b = PlanBuilder()
    c0 = b.compute(0, 10)
    w1 = b.load(1, 200, "weights", "weights", deps=[c0])
    b.store(0, 1000, "spill_write", "spill_store", deps=[c0])
    b.compute(1, 10, deps=[c0, w1])
    plan = b.plan()
    trace = simulate(plan, make_spec())
    assert [(e.command, e.start, e.end) for e in trace.events if e.kind in ("load", "store")] == [
        (1, 10, 35), (2, 35, 140)]
    a = account_stalls(trace, plan)
    assert a.by_cause["weights"] == 25 and a.by_cause["drain"] == 140 - 45


def test_waiting_for_space_is_charged_to_the_store_that_freed_it():
    a_buf, c_buf = Buffer("a", 0, 500), Buffer("c", 0, 500)
    b = PlanBuilder()
    b.compute(0, 100, allocs=[a_buf])                            # 0..100
    b.store(0, 500, "spill_write", "spill_store", deps=[0])      # 100..155
    b.free(0, [a_buf], deps=[1])                                 # 155
    b.compute(1, 100, deps=[0, 2], allocs=[c_buf])               # 155..255
    a = account(b)
    assert a.by_cause["spill_store"] == 55 and a.by_layer == {1: 55}
    assert (a.latency_cycles, a.stall_cycles) == (255, 55)


def test_drain_only():
    b = PlanBuilder()
    b.compute(0, 100)
    b.store(0, 1000, "output", "drain", deps=[0])   # 100..205
    a = account(b)
    assert a.by_cause["drain"] == 105 and a.stall_cycles == 105 and a.latency_cycles == 205


def test_measured_totals_from_events_alone():
    ev = [Event(0, "compute", "compute", 0, 10, 30), Event(1, "load", "dma_read", 0, 0, 50),
          Event(2, "compute", "compute", 1, 40, 45)]
    # busy 20 + 5; idle 0..10, 30..40, 45..50
    assert measured_totals(tuple(ev)) == (50, 25, 25)


def test_a_trace_that_contradicts_itself_is_an_internal_error():
    plan = prefetch_chain().plan()
    trace = simulate(plan, make_spec())
    # move the second layer 10 cycles later: no dependency explains the gap
    events = tuple(dataclasses.replace(e, start=e.start + 10, end=e.end + 10) if e.command == 5 else e
                   for e in trace.events)
    with pytest.raises(RuntimeError, match="no dependency finished"):
        account_stalls(dataclasses.replace(trace, events=events), plan)
    # make two compute events overlap
    events = tuple(dataclasses.replace(e, start=e.start - 10) if e.command == 5 else e for e in trace.events)
    with pytest.raises(RuntimeError, match="before the previous compute ended"):
        account_stalls(dataclasses.replace(trace, events=events), plan)


def test_transfers_that_release_each_other_in_no_time_end_the_walk():
    # Two loads that take no time, both at cycle 10 (B after A), and a compute after B that
    # starts at 10 after an idle 0..10. Walking back: B waited for A (its dependency, done at
    # 10); A was issued when B released the channel at 10: each holds the other, no time
    # passes. The walk stops there and charges the gap to the transfer it came back to (B).
    b = PlanBuilder()
    b.load(0, 0, "weights", "weights")
    b.load(0, 0, "input", "input", deps=[0])
    b.compute(0, 10, deps=[1])
    plan = b.plan()
    trace = simulate(plan, make_spec())
    events = tuple(dataclasses.replace(e, start=10, end=10 if e.kind == "load" else 20) for e in trace.events)
    a = account_stalls(dataclasses.replace(trace, events=events), plan)
    assert (a.latency_cycles, a.compute_cycles, a.stall_cycles) == (20, 10, 10)
    assert a.by_cause["input"] == 10 and sum(a.by_cause.values()) == 10
