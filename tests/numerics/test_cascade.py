"""Cascaded plans run stripe by stripe through the memory image (no torch): the hand-made graphs
of ``tests/schedule/test_cascade.py`` at 32 bits, equal to the golden layer-by-layer run bit for
bit, and planted faults (a ring one row short, a dropped stripe, a truncated weight load) caught
at the layer that first reads the missing bytes.

Sizes at 32 bits (4 B an element) are those of the 8-bit scheduler tests times four: in three
3x3 convolutions on a 1x1x32x32 input, x and c take 4 KiB, a and b (16 channels) 2 KiB a row.
"""

import dataclasses

import numpy as np
import pytest

from hwsim.numerics.check import activation_codecs, check_plan
from hwsim.numerics.interpreter import Machine, run_layers
from hwsim.numerics.memory import weight_store
from hwsim.schedule import schedule, verify_plan
from tests.graph.handmade import Net
from tests.numerics.test_interpreter import Ref, random_params
from tests.schedule.helpers import make_spec
from tests.schedule.test_cascade import pooled_block, three_convs, u_one_level


def pooled_end() -> Net:
    """c0 = conv3x3(x) 16 ch; a = conv3x3(c0) 8 ch; g = global pool(a); s = conv1x1(g): the pooling
    closes the cascade of c0 and a, driven by a's rows, and its 1x1 output leaves it whole."""
    return (Net("gap").input("x", 1, 1, 32, 32).conv("c0", "x", 16, k=3).conv("a", "c0", 8, k=3)
            .gap("g", "a").conv("s", "g", 8))


# graph, SRAM bytes at 32 bits, cascades (first, last, stripes) the scheduler makes there
CASES = {
    "three_convs": (three_convs, 32 * 1024, [(0, 2, 8)]),
    "u_one_level": (u_one_level, 4 * (2 * 1024 + 26 * 128), [(0, 4, 8)]),
    "pooled_block": (pooled_block, 48 * 1024, [(0, 1, 8), (3, 4, 4)]),
    "pooled_end": (pooled_end, 24 * 1024, [(0, 2, 8)]),
}


def setup(name: str, sram: int | None = None):
    make, size, _ = CASES[name]
    g = make().graph()
    spec = make_spec(sram=sram or size, bits=32, weight_bits=32, execution="cascade")
    plan = schedule(g, spec)
    x = np.random.default_rng(7).standard_normal(g.tensor[g.inputs[0]].shape).astype(np.float32)
    return g, spec, plan, Ref(g, x, random_params(g)), x


def machine_run(g, spec, plan, ref, x):
    codecs = activation_codecs(g, ref.values, 32)
    weights = weight_store(g, ref.params, 32)
    m = Machine(g, plan, weights, codecs, spec)
    return m, m.run({g.inputs[0]: x}), run_layers(g, {g.inputs[0]: x}, weights.values, codecs)


@pytest.mark.parametrize("name", CASES)
def test_cascaded_plan_equals_the_golden_run_bit_for_bit(name):
    g, spec, plan, ref, x = setup(name)
    assert verify_plan(plan, spec, g) == []
    assert [(c.first, c.last, c.stripes) for c in plan.cascades] == CASES[name][2]
    _, run, golden = machine_run(g, spec, plan, ref, x)
    assert run.notes == []
    assert sorted(run.layer_values) == list(range(len(g.layers)))
    for values in run.layer_values.values():
        for tensor, v in values.items():
            np.testing.assert_array_equal(v, golden[tensor], err_msg=tensor)
    for out, v in run.outputs.items():
        np.testing.assert_array_equal(v, golden[g.root(out)])
    report = check_plan(g, plan, spec, ref)
    assert report.passed and report.first_divergent_layer is None and not report.notes


def test_the_rings_hold_one_row_a_slot_for_every_channel():
    # a and b keep 6 rows (a stripe of 4 plus two halo rows, tests/schedule/test_cascade.py), 2 KiB
    # each: slot k at byte 2048 * k. After the last stripe a's rows 26..31 sit in slots
    # 26 mod 6 = 2, 3, 4, 5, 0, 1, each holding the row of all 16 channels (16 x 32 floats).
    g, spec, plan, ref, x = setup("three_convs")
    rings = {b.tensor: b for cmd in plan.commands for b in cmd.allocs if b.tensor}
    assert {t: (b.rows, b.size) for t, b in rings.items()} == {"a": (6, 6 * 2048), "b": (6, 6 * 2048)}
    m, _, golden = machine_run(g, spec, plan, ref, x)
    for r in range(26, 32):
        raw = m.mem.read("sram", rings["a"].address + (r % 6) * 2048, 2048)
        np.testing.assert_array_equal(raw.view(np.float32).reshape(1, 16, 32), golden["a"][:, :, r, :])


def test_a_global_pooling_closing_a_cascade_sums_rows_of_every_stripe():
    # driven by a's 32 rows, 4 a stripe: its 1x1 output is finished, and written, at stripe 7
    g, spec, plan, ref, x = setup("pooled_end")
    (c,) = plan.cascades
    assert c.rows == (32, 32, 32) and c.writes == ("g",) and [r.tensor for r in c.rolling] == ["c0", "a"]
    report = check_plan(g, _without_part(plan, 2, 3), spec, ref)  # the pooling never sees a's rows 12..15
    assert not report.passed and report.first_divergent_layer == "g"


def _without_part(plan, layer, stripe):
    """``plan`` without the part of ``layer`` in ``stripe`` (and without its command if it had no other)."""
    (i, cmd), = [(i, cmd) for i, cmd in enumerate(plan.commands) if (layer, stripe) in {p[:2] for p in cmd.parts}]
    parts = tuple(p for p in cmd.parts if p[:2] != (layer, stripe))
    kept = (dataclasses.replace(cmd, parts=parts, cycles=sum(p.cycles for p in parts)),) if parts else ()
    return dataclasses.replace(plan, commands=plan.commands[:i] + kept + plan.commands[i + 1:])


def _replaced(plan, index, command):
    return dataclasses.replace(plan, commands=plan.commands[:index] + (command,) + plan.commands[index + 1:])


def _shorter_ring(plan, tensor: str):
    """``plan`` with the ring of ``tensor`` one row shorter (its Buffer and its RollingBuffer)."""
    (c,) = [c for c in plan.cascades if any(r.tensor == tensor for r in c.rolling)]
    r = next(r for r in c.rolling if r.tensor == tensor)
    row = r.nbytes // r.rows

    def shrink(b):
        return dataclasses.replace(b, rows=b.rows - 1, size=b.size - row) if b.tensor == tensor else b

    commands = tuple(dataclasses.replace(cmd, allocs=tuple(map(shrink, cmd.allocs)),
                                         frees=tuple(map(shrink, cmd.frees))) for cmd in plan.commands)
    rolling = tuple(dataclasses.replace(x, rows=x.rows - 1, nbytes=x.nbytes - row) if x is r else x
                    for x in c.rolling)
    cascades = tuple(dataclasses.replace(x, rolling=rolling) if x is c else x for x in plan.cascades)
    return dataclasses.replace(plan, commands=commands, cascades=cascades)


@pytest.mark.parametrize("tensor, reader", [("a", "b"), ("b", "c")])
def test_a_ring_one_row_short_is_caught_at_its_reader(tensor, reader):
    # b's rows [o0, o1) need a's rows [o0 - 1, o1 + 1). With 5 slots for a, stripe 0 writes a's
    # rows 0..5 and row 5 lands on row 0, which b's row 0 needs. With 5 for b, stripe 1 writes
    # b's rows 5..8 over rows 0..3, and c's rows 4..7 need b's row 3.
    g, spec, plan, ref, _ = setup("three_convs")
    report = check_plan(g, _shorter_ring(plan, tensor), spec, ref)
    assert not report.passed and report.first_divergent_layer == reader
    assert [layer.passed for layer in report.layers][: "abc".index(reader)] == [True] * "abc".index(reader)


def test_every_ring_of_the_u_one_row_short_is_caught_at_one_of_its_readers():
    # e is a delay line (read by the pooling and, later, by the add); p, m, s are stripe + halo
    g, spec, plan, ref, _ = setup("u_one_level")
    (c,) = plan.cascades
    assert {r.tensor: r.rows for r in c.rolling} == {"e": 8, "p": 4, "m": 3, "s": 6}
    readers = {"e": {"p", "u"}, "p": {"m"}, "m": {"u"}, "s": {"d"}}  # layers by name (u: the upsampling + add)
    for tensor in readers:
        report = check_plan(g, _shorter_ring(plan, tensor), spec, ref)
        assert not report.passed and report.first_divergent_layer in readers[tensor], tensor


@pytest.mark.parametrize("layer", [0, 1, 2])
def test_a_dropped_stripe_is_caught_at_its_layer_with_exactly_its_rows_missing(layer):
    # progress (tests/schedule/test_cascade.py): stripe 2 makes a's rows 10..13, b's 9..12, c's 8..11
    g, spec, plan, ref, x = setup("three_convs")
    bad = _without_part(plan, layer, 2)
    report = check_plan(g, bad, spec, ref)
    name = "abc"[layer]
    assert not report.passed and report.first_divergent_layer == name
    _, run, _ = machine_run(g, spec, bad, ref, x)
    missing = np.flatnonzero(np.isnan(run.layer_values[layer][name]).any(axis=(0, 1, 3)))
    assert missing.tolist() == list(range(10 - layer, 14 - layer))


@pytest.mark.parametrize("keep, first", [(640 + 9280, "c"), (640 + 100, "b"), (8, "a")])
def test_a_truncated_cascade_weight_load_is_caught_at_the_first_layer_it_cuts(keep, first):
    # the block is a's image (16 x 1 x 3 x 3 weights + 16 biases = 640 B), b's (16 x 16 x 9 + 16 =
    # 9280 B), c's (16 x 9 + 1 = 580 B) in that order: 10500 B in one load
    g, spec, plan, ref, _ = setup("three_convs")
    (i, load), = [(i, cmd) for i, cmd in enumerate(plan.commands) if cmd.traffic == "weights"]
    assert load.dram_bytes == 640 + 9280 + 580 and load.layer == 0 and load.allocs[0].name == "weights:a"
    report = check_plan(g, _replaced(plan, i, dataclasses.replace(load, dram_bytes=keep)), spec, ref)
    assert not report.passed and report.first_divergent_layer == first
