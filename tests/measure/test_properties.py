"""Invariants on random hand-made plans (hypothesis): the simulation is never faster than
the roofline, never slower than doing everything one after the other, and its time adds up."""

from functools import lru_cache

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hwsim.measure import measure
from hwsim.schedule.plan import Buffer
from hwsim.sim import simulate
from tests.sim.handplans import PlanBuilder, chain_graph, make_spec

READS = ("weights", "input", "spill_read", "streamed_read")
WRITES = ("output", "spill_write", "streamed_write")
CAUSES = (None, "weights", "reload", "spill_store", "streamed", "input", "drain")


@lru_cache(maxsize=None)
def graph(layers):
    return chain_graph(layers)


@st.composite
def plans(draw):
    b = PlanBuilder()
    live: list[tuple[Buffer, int]] = []

    def deps():
        n = len(b.commands)
        return draw(st.lists(st.integers(0, n - 1), max_size=3, unique=True)) if n else []

    def new_buffer(prefix):
        return Buffer(f"{prefix}{len(b.commands)}", 64 * len(b.commands), draw(st.integers(1, 64)))

    layers = draw(st.integers(1, 4))
    for layer in range(layers):
        cycles = 0
        for tile in range(draw(st.integers(1, 2))):
            for _ in range(draw(st.integers(0, 2))):
                nbytes, cause = draw(st.integers(0, 3000)), draw(st.sampled_from(CAUSES))
                if draw(st.booleans()):
                    buf = new_buffer("in")
                    live.append((buf, b.load(layer, nbytes, draw(st.sampled_from(READS)), cause, deps(),
                                             allocs=[buf])))
                else:
                    b.store(layer, nbytes, draw(st.sampled_from(WRITES)), cause, deps())
            tile_cycles = draw(st.integers(0, 400))
            buf = new_buffer("out")
            live.append((buf, b.compute(layer, tile_cycles, deps(), allocs=[buf], tile=tile)))
            cycles += tile_cycles
            if live and draw(st.booleans()):
                freed, alloc_id = live.pop(draw(st.integers(0, len(live) - 1)))
                b.free(layer, [freed], sorted({alloc_id, *deps()}))
        b.layer(f"l{layer}", cycles, macs=cycles)
    return b.plan(sram_bytes=1 << 20), layers


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plans(), st.integers(1, 20), st.integers(0, 20), st.integers(1, 3))
def test_time_adds_up_and_respects_the_bounds(drawn, bytes_per_cycle, latency, channels):
    plan, layers = drawn
    spec = make_spec(bytes_per_cycle=bytes_per_cycle, latency_cycles=latency, channels=channels)
    m = measure(simulate(plan, spec), plan, spec, graph(layers))
    compute = sum(c.cycles for c in plan.commands)
    moved = sum(c.dram_bytes for c in plan.commands)
    transfers = [c for c in plan.commands if c.kind in ("load", "store")]
    assert m.compute_cycles == compute
    assert m.latency_cycles >= max(compute, -(-moved // bytes_per_cycle))
    assert m.latency_cycles >= m.bounds.roofline_cycles
    serial = compute + sum(latency + -(-c.dram_bytes // bytes_per_cycle) for c in transfers)
    assert m.latency_cycles <= serial
    assert sum(m.stall_by_cause.values()) == m.stall_cycles
    assert m.latency_cycles == m.compute_cycles + m.stall_cycles
    assert sum(m.dram_bytes_by_kind.values()) == moved
    assert m.live_peak_bytes <= m.sram_peak_bytes
