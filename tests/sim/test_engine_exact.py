"""The engine's state machines (``hwsim.sim.engine``) against the same engine written as one
generator process per engine (``tests/sim/process_engine.py``): every command must start and
end at the same cycle, and every streamed layer's tiles be timed alike, on random plans
(zero-cycle computes and zero-latency DRAM included, where same-cycle order matters most) and
on scheduled zoo plans with streamed layers."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from hwsim.schedule.plan import Buffer
from hwsim.sim import simulate
from tests.sim.handplans import PlanBuilder, make_spec
from tests.sim.process_engine import ProcessRun


def random_plan(rng: random.Random):
    """Loads, stores, computes and frees with random deps on earlier commands; every buffer a load
    or compute allocates is freed by a free that depends on it."""
    b, live = PlanBuilder(), []
    for i in range(rng.randint(1, 40)):
        deps = sorted(rng.sample(range(i), min(i, rng.choice([0, 1, 1, 2, 3])))) if i else []
        kind = rng.choice(["load", "load", "store", "compute", "compute", "free"])
        if kind == "free" and live:
            buffer, made = live.pop(rng.randrange(len(live)))
            b.free(0, [buffer], deps=sorted(set(deps) | {made}))
        elif kind == "free":
            b.free(0, [], deps=deps)
        elif kind == "store":
            b.store(0, rng.choice([1, 7, 64, 300]), "spill_write", "spill", deps=deps)
        else:
            buffer = Buffer(f"b{i}", 64 * i, 64)
            if kind == "load":
                made = b.load(0, rng.choice([1, 7, 64, 300]), "input", "input", deps=deps, allocs=[buffer])
            else:
                made = b.compute(0, rng.choice([0, 0, 1, 3, 20]), deps=deps, allocs=[buffer])
            live.append((buffer, made))
    return b.plan()


def random_spec(rng: random.Random):
    spec = make_spec(bytes_per_cycle=rng.choice([1, 8, 1000]), latency_cycles=rng.choice([0, 0, 1, 5]),
                     channels=rng.choice([1, 2, 3]))
    return replace(spec, dram=replace(spec.dram, turnaround_s=rng.choice([0, 2e-9])))


def assert_same_times(plan, spec) -> None:
    trace, reference = simulate(plan, spec), ProcessRun(plan, spec)
    times = {e.command: (e.start, e.end) for e in trace.events}
    assert times == {i: (reference.starts[i], reference.ends[i]) for i in range(len(plan.commands))}
    for e in trace.events:
        if e.kind == "tiles":
            timing = reference.timings[e.command]
            assert e.compute_span == (timing.compute_start, timing.compute_end)
            assert e.stalls == tuple(sorted(timing.stalls.items())) and e.first_wait == timing.first_wait


@pytest.mark.parametrize("seed", range(3))
def test_random_plans_run_as_with_processes(seed):
    rng = random.Random(seed)
    for _ in range(150):
        assert_same_times(random_plan(rng), random_spec(rng))


@pytest.mark.parametrize("name,changes", [
    ("lunet", {"sram.size": 128 << 10}),
    ("unet_sat", {"sram.size": 256 << 10, "dram.latency": "0 ns", "dram.channels": 3}),
    ("lunet", {"sram.size": 256 << 10, "policy.execution": "cascade", "dram.channels": 1}),
])
def test_zoo_plans_with_streamed_layers_run_as_with_processes(name, changes):
    from pathlib import Path

    from hwsim.graph.io import load_graph
    from hwsim.schedule import schedule
    from hwsim.spec import load_spec, with_overrides

    root = Path(__file__).resolve().parents[2]
    spec = with_overrides(load_spec(root / "accelerators" / "edge_npu.yaml"), changes)
    plan = schedule(load_graph(root / "graphs" / f"{name}.json"), spec)
    assert any(c.kind == "tiles" for c in plan.commands)  # the runs' meeting is exercised
    assert_same_times(plan, spec)
