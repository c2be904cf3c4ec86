"""measure() on the hand-built three-layer plan: every figure worked out by hand."""

import dataclasses

import pytest

from hwsim.measure import measure
from hwsim.schedule import schedule
from hwsim.sim import simulate
from hwsim.spec.model import EnergySpec
from tests.schedule.helpers import make_spec as cascade_spec
from tests.schedule.test_cascade import three_convs
from tests.sim.handplans import chain_graph, make_spec, prefetch_chain

ENERGY = EnergySpec(mac_pj=1.0, sram_byte_pj=0.5, dram_byte_pj=10.0, vector_op_pj=0.25,
                    sram_leakage_w_per_byte=1e-6)


@pytest.fixture(scope="module")
def metrics():
    plan = prefetch_chain().plan(sram_bytes=1400)
    spec = make_spec(sram_bytes=1400, energy=ENERGY)
    return measure(simulate(plan, spec), plan, spec, chain_graph(3))


def test_time(metrics):
    assert (metrics.latency_cycles, metrics.compute_cycles, metrics.stall_cycles) == (225, 150, 75)
    assert metrics.latency_s == pytest.approx(225e-9)
    # the first layer's 40-cycle wait: w0's own transfer 25..40, and 0..25 behind the input
    # on the one channel (tests/measure/test_stalls.py works the chain out)
    assert metrics.stall_by_cause["weights"] == 15 and metrics.stall_by_cause["input"] == 25
    assert metrics.stall_by_cause["drain"] == 35


def test_dram(metrics):
    assert metrics.dram_bytes_by_kind == {"weights": 300, "input": 200, "output": 300, "spill_write": 0,
                                          "spill_read": 0, "streamed_read": 0, "streamed_write": 0,
                                          "host_write": 0, "host_read": 0}
    assert (metrics.dram_read_bytes, metrics.dram_write_bytes, metrics.spill_bytes) == (500, 300, 0)
    assert metrics.tensor_dram_bytes == (("l2", 300), ("x", 200))


def test_sram_peak(metrics):
    # buffers end at address 1400 at most; 800 B allocated at once, first at cycle 55 when the
    # last layer's weights arrive: x 200, l0 300, three weight blocks of 100
    assert (metrics.sram_peak_bytes, metrics.live_peak_bytes) == (1400, 800)
    peak = metrics.sram_peak
    assert (peak.bytes, peak.cycle, peak.step, peak.layer) == (800, 55, 2, "l2")
    assert [(r.name, r.bytes, r.kind) for r in peak.tensors] == [
        ("l0", 300, "activation"), ("x", 200, "activation"), ("weights:l0", 100, "weights"),
        ("weights:l1", 100, "weights"), ("weights:l2", 100, "weights")]


def test_energy(metrics):
    e = metrics.energy
    assert e.mac_pj == pytest.approx(3 * 1000 * 1.0 + 3 * 100 * 0.25)         # MACs + vector ops
    # array: l0 reads x 200 + weights 100 and writes 300; l1, l2 read 300 + 100, write 300:
    # 600 + 700 + 700 = 2000; DMA: 800 B written into or read out of SRAM
    assert e.sram_pj == pytest.approx((2000 + 800) * 0.5)
    assert e.dram_pj == pytest.approx(800 * 10.0)
    assert e.leakage_pj == pytest.approx(1e-6 * 1400 * 225e-9 * 1e12)          # W/B x B x s -> pJ
    assert e.total_pj == pytest.approx(3075 + 1400 + 8000 + 315)


def test_bounds(metrics):
    b = metrics.bounds
    assert (b.compute_cycles, b.dram_cycles, b.roofline_cycles) == (150, 80, 150)
    # weights 300 + input 256 + output 256 (the graph's tensors at 8 bits) = 812 B -> 81.2 -> 82
    assert b.min_dram_cycles == 82
    assert metrics.latency_cycles >= b.roofline_cycles


def test_layers_and_tensors(metrics):
    rows = [(la.name, la.cycles, la.start, la.end, la.stall_cycles, la.dram_read_bytes, la.dram_write_bytes)
            for la in metrics.layers]
    assert rows == [("l0", 50, 40, 90, 40, 300, 0), ("l1", 50, 90, 140, 0, 100, 0),
                    ("l2", 50, 140, 190, 0, 100, 300)]
    t = {x.name: x for x in metrics.tensors}
    assert (t["l0"].producer, t["l0"].last_consumer, t["l2"].dram_bytes, t["l0"].dram_bytes) == ("l0", "l1", 300, 0)
    assert metrics.msc_bytes == 0   # a chain has no skip tensor


def test_layer_cycles_must_match_the_plan():
    builder = prefetch_chain()
    builder.layers[1] = dataclasses.replace(builder.layers[1], compute_cycles=60)
    plan = builder.plan()
    spec = make_spec()
    with pytest.raises(RuntimeError, match="l1"):
        measure(simulate(plan, spec), plan, spec, chain_graph(3))


def test_a_cascade_is_measured_part_by_part_and_parts_that_do_not_add_up_are_refused():
    # three 3x3 convolutions in 8 stripes (tests/schedule/test_cascade.py): 24 parts in 3 commands
    g = three_convs().graph()
    spec = cascade_spec(sram=8 * 1024, execution="cascade")
    plan = schedule(g, spec)
    trace = simulate(plan, spec)
    m = measure(trace, plan, spec, g)
    assert [la.cycles for la in m.layers] == [la.compute_cycles for la in plan.layers]
    assert [la.tiles for la in m.layers] == [8, 8, 8]
    first, second, last = (e for e in trace.events if e.kind == "compute")
    a0 = plan.commands[first.command].parts[0]
    assert (m.layers[0].start, m.layers[1].start) == (first.start, first.start + a0.cycles)  # b follows a in stripe 0
    assert m.layers[2].end == last.end and m.layers[0].end == second.end  # a's last part ends the second command
    cmd = plan.commands[second.command]
    longer = (cmd.parts[0]._replace(cycles=cmd.parts[0].cycles + 1),) + cmd.parts[1:]
    bad = dataclasses.replace(plan, commands=tuple(dataclasses.replace(c, parts=longer) if c is cmd else c
                                                   for c in plan.commands))
    with pytest.raises(RuntimeError, match="its parts take"):
        measure(simulate(bad, spec), bad, spec, g)


def test_a_layer_whose_own_dram_bytes_take_longer_than_its_compute_is_dram_bound():
    from hwsim.measure.metrics import _bottleneck
    from hwsim.schedule.plan import LayerPlan
    from tests.sim.handplans import make_spec
    layer = LayerPlan(0, "l0", 0, 0, 50, 0, bottleneck="mac_array", mapping="m")
    spec = make_spec()  # 10 B per cycle: 500 B take 50 cycles, 510 B 51
    assert _bottleneck(layer, 500, spec) == "mac_array"
    assert _bottleneck(layer, 510, spec) == "dram"
    assert _bottleneck(layer, 0, spec) == "mac_array"
