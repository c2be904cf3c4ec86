"""The plan interpreter on hand-made graphs (no torch): values worked out by hand, and the plan run
equal to the golden dict run bit for bit, with and without spills."""

import numpy as np
import pytest

from hwsim.numerics.check import activation_codecs, check_plan
from hwsim.numerics.interpreter import run_layers, run_plan
from hwsim.numerics.memory import weight_store
from hwsim.schedule import schedule, verify_plan
from hwsim.schedule.search import live_piece_peak, with_sram
from hwsim.spec import load_spec
from tests.graph.handmade import Net, attention_block, two_level_u


def spec_at(bits: int, *extra: str):
    return load_spec("accelerators/edge_npu.yaml", [f"datatype.activation_bits={bits}",
                                                    f"datatype.weight_bits={bits}", *extra])


def random_params(graph, seed=0):
    rng = np.random.default_rng(seed)
    return {t.name: rng.uniform(-0.5, 0.5, t.shape).astype(np.float32) for t in graph.tensors if t.kind == "param"}


class Ref:
    """A reference made from the float golden run (stands in for torch here)."""

    def __init__(self, graph, x, params):
        self.params = params
        self.values = run_layers(graph, {graph.inputs[0]: x}, params)


def test_a_conv_relu_through_8_bit_sram_by_hand():
    g = Net("tiny").input("x", 1, 1, 2, 2).conv("c", "x", 1).relu("r", "c").graph()
    x = np.array([-1.0, 0.0, 1.0, 2.0], np.float32).reshape(1, 1, 2, 2)
    params = {"c.w": np.full((1, 1, 1, 1), 2.0, np.float32), "c.b": np.ones(1, np.float32)}
    ref = Ref(g, x, params)
    np.testing.assert_allclose(ref.values["r"].reshape(-1), [0, 1, 3, 5])
    spec = spec_at(8)
    plan = schedule(g, spec)
    codecs = activation_codecs(g, ref.values, 8)
    run = run_plan(g, plan, weight_store(g, params, 8), codecs, {"x": x}, spec)
    # x stored with scale 2/127: -1 -> -63.5 -> -64 (half to even), 1 -> 63.5 -> 64, 2 -> 127:
    #   x = [-128/127, 0, 128/127, 2]; w = 2 and b = 1 are exact (each its own max)
    # r = relu(2x + 1) = [0, 1, 1 + 256/127, 5], stored with scale 5/127:
    #   1 -> 25.4 -> 25; 3.0157 -> 76.6 -> 77; 5 -> 127
    want = np.array([0, 25, 77, 127]) * 5 / 127
    np.testing.assert_allclose(run.layer_values[0]["r"].reshape(-1), want, rtol=1e-6)
    np.testing.assert_allclose(run.outputs["r"].reshape(-1), want, rtol=1e-6)


@pytest.mark.parametrize("make", [two_level_u, attention_block])
@pytest.mark.parametrize("bits", [32, 16, 8])
@pytest.mark.parametrize("room", ["roomy", "tight"])
def test_plan_run_equals_golden_run(make, bits, room):
    g = make().graph()
    x = np.random.default_rng(7).standard_normal(g.tensor[g.inputs[0]].shape).astype(np.float32)
    params = random_params(g)
    ref = Ref(g, x, params)
    spec = spec_at(bits)
    if room == "tight":
        spec = with_sram(spec, live_piece_peak(g, spec) * 3 // 4 // 64 * 64)
    plan = schedule(g, spec)
    assert verify_plan(plan, spec, g) == []
    codecs = activation_codecs(g, ref.values, bits)
    weights = weight_store(g, params, bits)
    golden = run_layers(g, {g.inputs[0]: x}, weights.values, codecs)
    run = run_plan(g, plan, weights, codecs, {g.inputs[0]: x}, spec)
    assert run.notes == []
    for values in run.layer_values.values():
        for name, v in values.items():
            np.testing.assert_array_equal(v, golden[name], err_msg=name)
    for name, v in run.outputs.items():
        np.testing.assert_array_equal(v, golden[g.root(name)])
    report = check_plan(g, plan, spec, ref)
    assert report.passed, report.first_divergent_layer
    if room == "tight" and bits == 32 and make is two_level_u:
        assert report.spills > 0 and report.reloads > 0


def test_a_compute_that_does_not_list_an_input_among_its_reads_fails():
    import dataclasses

    g = two_level_u().graph()
    x = np.random.default_rng(1).standard_normal((1, 4, 16, 16)).astype(np.float32)
    params = random_params(g)
    ref = Ref(g, x, params)
    spec = spec_at(32)
    plan = schedule(g, spec)
    # the compute of layer e1 names a buffer nothing allocated instead of its input: the layer gets no operand
    i, c = next((i, c) for i, c in enumerate(plan.commands) if c.kind == "compute" and c.layer == 1)
    bad = dataclasses.replace(plan, commands=plan.commands[:i] + (dataclasses.replace(
        c, reads=tuple("ghost" if r == c.reads[0] else r for r in c.reads)),) + plan.commands[i + 1:])
    report = check_plan(g, bad, spec, ref)
    assert not report.passed and report.first_divergent_layer == g.layers[1].name
    assert any("does not list" in n for n in report.notes)
