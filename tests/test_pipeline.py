"""The whole pipeline (schedule -> verify -> simulate -> measure) on graphs worked out by hand,
and its invariants on random graphs and accelerators."""

from __future__ import annotations

import dataclasses

from hypothesis import given, settings, HealthCheck, strategies as st

from hwsim.errors import UserError
from hwsim.graph.analysis import layer_io, tensor_bytes
from hwsim.measure import measure
from hwsim.schedule import schedule, verify_plan
from hwsim.sim import simulate
from hwsim.spec.model import DramSpec
from tests.schedule.helpers import chain, make_spec, u_one_skip
from tests.schedule.test_properties import build, specs


def run(graph, spec):
    plan = schedule(graph, spec)
    assert verify_plan(plan, spec, graph) == []
    return measure(simulate(plan, spec), plan, spec, graph)


def test_chain_latency_and_stalls_by_hand():
    # x (4x4x4 = 64 B) -> l0 -> l1 (1x1 convs with bias: 20 B of weights each, 256 MACs each).
    # 16 MACs/cycle: 16 cycles a layer. 1 GHz, 100 ns latency, one DMA channel serialises all
    # transfers; at 16 B/cycle a transfer of n bytes takes 100 + ceil(n/16) cycles.
    g = chain(channels=4, size=4, layers=2).build()
    spec = make_spec(macs_per_cycle=16)
    m = run(g, spec)
    # w0 [0,102) x [102,206) -> l0 [206,222); w1 (prefetched) [206,308) -> l1 [308,324);
    # the output store [324,428). l0's wait: x's own transfer [102,206) is input, before it x
    # queued behind w0 on the one channel, [0,102) weights; l1's [222,308) is w1's, weights.
    assert m.latency_cycles == 428 and m.compute_cycles == 32
    assert m.stall_by_cause == {"input": 104, "weights": 102 + 308 - 222, "drain": 104,
                                "reload": 0, "spill_store": 0, "streamed": 0, "host": 0}
    # at 4 B/cycle: w0 [0,105), x [105,221) -> l0 [221,237); w1 [221,326) -> l1 [326,342); store 116
    slow = dataclasses.replace(spec, dram=DramSpec(4 * 10**9, 1e-7, 1))
    m = run(g, slow)
    assert m.latency_cycles == 458
    assert (m.stall_by_cause["input"], m.stall_by_cause["weights"], m.stall_by_cause["drain"]) == (
        116, 105 + 326 - 237, 116)


def test_u_skip_spill_costs_a_store_and_a_reload_by_hand():
    # u_one_skip (tests/schedule/helpers.py): every transfer is <= 16 B, so 101 cycles; the one
    # channel is busy back to back but for one-cycle waits on computes.
    g = u_one_skip().build()
    roomy = run(g, make_spec(sram=64, macs_per_cycle=16))
    # transfers: w_e, x, w_m, w_n, w_d, output = 6 x 101, plus w_m waiting for layer e's
    # compute (1) and the output store waiting for layer d's (1)
    assert roomy.latency_cycles == 6 * 101 + 2 and roomy.spill_bytes == 0
    tight = run(g, make_spec(sram=40, macs_per_cycle=16))
    # at 40 B the skip e (16 B) is stored and reloaded: 8 transfers, plus waits on computes:
    # the store on layer e (1), the reload on layer n (2), the output store on layer d (1)
    assert tight.latency_cycles == 8 * 101 + 4
    assert tight.spill_bytes == 32 and tight.stall_by_cause["reload"] == 101
    assert tight.compute_cycles == roomy.compute_cycles == 1 + 1 + 2 + 2 + 1 + 1


SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(seed=st.integers(0, 10**6), fields=specs(), fraction=st.sampled_from([0.3, 0.6, 1.0, 4.0]),
       bandwidth=st.sampled_from([10**8, 10**9, 16 * 10**9]))
def test_latency_respects_the_bounds(seed, fields, fraction, bandwidth):
    g = build(seed)
    try:
        peak = schedule(g, make_spec(sram=1 << 40, **fields)).sram_peak_bytes
        spec = dataclasses.replace(make_spec(sram=max(16, int(peak * fraction)), **fields),
                                   dram=DramSpec(bandwidth, 5e-8, 1))
        plan = schedule(g, spec)
    except UserError:
        return  # SRAM or weight buffer too small for one tile of some layer: a user error, tested elsewhere
    m = measure(simulate(plan, spec), plan, spec, g)
    dram = sum(m.dram_bytes_by_kind.values())
    bytes_per_cycle = bandwidth / spec.clock_hz
    assert m.latency_cycles >= m.compute_cycles
    assert m.latency_cycles >= dram / bytes_per_cycle - 1
    assert m.latency_cycles == m.compute_cycles + m.stall_cycles == m.compute_cycles + sum(m.stall_by_cause.values())
    bits = spec.datatype
    # biases (the third operand of a convolution or linear op) at bias_bits, the rest at weight_bits
    biases = {g.root(op.inputs[2]) for op in g.ops if op.kind in ("conv2d", "conv_transpose2d", "linear")
              and len(op.inputs) > 2}
    weights = sum(tensor_bytes(g.tensor[p].elements, bits.bias_bits if p in biases else bits.weight_bits)
                  for io in layer_io(g) for p in io.params)
    inputs = sum(tensor_bytes(g.tensor[i].elements, bits.activation_bits) for i in g.inputs)
    assert m.dram_read_bytes >= weights + inputs


def test_loading_the_cli_and_pipeline_loads_no_heavy_optional_library():
    # every hwsim command pays for what loading hwsim.cli loads: networkx (a third of a second),
    # scipy (the spill solver), torch, matplotlib, onnx are loaded only where they are used
    import subprocess
    import sys

    heavy = ("networkx", "scipy", "torch", "matplotlib", "onnx")
    probe = f"import sys, hwsim.cli, hwsim.pipeline; print([m for m in {heavy!r} if m in sys.modules])"
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"
