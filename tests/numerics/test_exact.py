"""The schedule check's fault report on a hand-made graph (no torch): a planted overlap at 8 bits is
reported at the layer that reads the bad byte, with the byte's address and both commands, all
read off the plan by hand."""

import dataclasses

import numpy as np

from hwsim.numerics.check import check_plan
from hwsim.schedule import schedule
from tests.graph.handmade import Net
from tests.numerics.test_interpreter import Ref, random_params, spec_at


def chain():
    """a = conv(x); b = conv(a); k = cat(a, b) (copied); o = conv(k): a lives while b is made."""
    return (Net("chain").input("x", 1, 1, 4, 4).conv("a", "x", 2).conv("b", "a", 2).cat("k", "a", "b")
            .conv("o", "k", 1).graph())


def setup():
    g = chain()
    x = np.random.default_rng(5).standard_normal((1, 1, 4, 4)).astype(np.float32)
    spec = spec_at(8, "policy.concat=copy")
    return g, spec, schedule(g, spec), Ref(g, x, random_params(g))


def test_the_control_is_exact():
    g, spec, plan, ref = setup()
    report = check_plan(g, plan, spec, ref)
    assert report.passed and report.schedule_passed and report.faults == 0 and report.first_fault is None
    assert [layer.exact for layer in report.layers] == [True] * len(report.layers)


def test_a_one_byte_overlap_names_the_reader_the_byte_and_both_commands():
    g, spec, plan, ref = setup()
    (i, make_b), = [(i, c) for i, c in enumerate(plan.commands) if c.kind == "compute" and
                    any(b.name == "b" for b in c.allocs)]
    read_a = next(c for c in plan.commands[i + 1:] if c.kind == "compute" and "a" in c.reads)
    a = next(b for c in plan.commands[:i] for b in c.allocs if b.name == "a")
    b = next(x for x in make_b.allocs if x.name == "b")
    # a and b hold 2 x 4 x 4 = 32 bytes each at 8 bits: b placed at a + 31, its first byte is a's last
    moved = dataclasses.replace(b, address=a.address + 31)
    bad = dataclasses.replace(plan, commands=plan.commands[:i] + (
        dataclasses.replace(make_b, allocs=tuple(moved if x is b else x for x in make_b.allocs)),)
        + plan.commands[i + 1:])
    report = check_plan(g, bad, spec, ref)
    f = report.first_fault
    assert not report.passed and report.first_divergent_layer == g.layers[read_a.layer].name == "k"
    assert (f.access, f.tensor, f.space, f.lo, f.hi, f.command, f.producer) == (
        "reads", "a", "sram", a.address + 31, a.address + 32, read_a.id, make_b.id)
    assert f.differing == 1  # b's first code is not a's last (seed 5), so one byte is wrong
    assert f"command {make_b.id} (compute, layer b)" in f.text()
