"""The verifier catches each broken plan invariant (plans written by hand, then broken)."""

import dataclasses

from hypothesis import given, settings
from hypothesis import strategies as st

from hwsim.schedule import schedule, verify_plan
from hwsim.schedule.plan import Buffer, Command, LayerPlan, Plan
from tests.schedule.helpers import make_spec, u_one_skip
from tests.schedule.test_cascade import three_convs

X, A, B = Buffer("x", 0, 10), Buffer("a", 10, 10), Buffer("b", 0, 10)


def good_commands():
    """x -> a -> b in 20 B; b reuses x's bytes after x's free."""
    return [
        Command(0, "load", "dma_read", 0, (), tensor="x", dram_bytes=10, traffic="input", allocs=(X,), cause="input"),
        Command(1, "compute", "compute", 0, (0,), cycles=5, allocs=(A,), reads=("x",)),
        Command(2, "free", "none", 0, (0, 1), frees=(X,)),
        Command(3, "compute", "compute", 1, (1, 2), cycles=5, allocs=(B,), reads=("a",)),
        Command(4, "free", "none", 1, (1, 3), frees=(A,)),
        Command(5, "store", "dma_write", 1, (3,), tensor="b", dram_bytes=10, traffic="output", reads=("b",),
                cause="drain"),
        Command(6, "free", "none", 1, (3, 5), frees=(B,)),
    ]


def plan_of(commands, sram=20):
    layers = (LayerPlan(0, "l0", 0, 0, 5, 0), LayerPlan(1, "l1", 0, 0, 5, 0))
    return Plan("hand", "hand", tuple(commands), layers, (), sram)


def changed(index, **fields):
    commands = good_commands()
    commands[index] = dataclasses.replace(commands[index], **fields)
    return plan_of(commands)


def test_a_good_plan_passes():
    assert verify_plan(plan_of(good_commands())) == []


def test_overlapping_live_buffers():
    problems = verify_plan(changed(3, allocs=(Buffer("b", 5, 10),)))
    assert any("overlaps a buffer still allocated" in p for p in problems)


def test_reuse_without_depending_on_the_free():
    problems = verify_plan(changed(3, deps=(1,)))
    assert any("does not depend directly on free 2" in p for p in problems)


def test_capacity():
    assert any("outside" in p for p in verify_plan(plan_of(good_commands(), sram=15)))
    too_many = good_commands()[:2] + [Command(2, "load", "dma_read", 0, (), tensor="y", dram_bytes=1,
                                              traffic="input", cause="input", allocs=(Buffer("y", 20, 5),))]
    assert any("outside" in p for p in verify_plan(plan_of(too_many)))


def test_reading_what_is_not_resident():
    problems = verify_plan(changed(3, reads=("a", "x")))
    assert any("reads 'x', which is not allocated" in p for p in problems)


def test_reading_without_depending_on_the_producer():
    problems = verify_plan(changed(1, deps=()))
    assert any("without depending on command 0" in p for p in problems)


def test_freeing_before_the_last_reader():
    problems = verify_plan(changed(4, deps=(1,)))
    assert any("frees 'a' without depending on command 3" in p for p in problems)


def test_malformed_deps_and_kinds():
    assert verify_plan(changed(3, deps=(1, 2, 5)))
    assert verify_plan(changed(0, engine="compute"))
    assert verify_plan(changed(5, cause="bored"))


def test_buffers_left_allocated():
    problems = verify_plan(plan_of(good_commands()[:6]))
    assert problems == ["1 buffers never freed: ['b']"]


def test_reload_without_a_store():
    commands = good_commands()
    commands[0] = dataclasses.replace(commands[0], traffic="spill_read", cause="reload")
    assert any("without depending on a store" in p for p in verify_plan(plan_of(commands)))


def test_every_dependency_that_orders_reuse_is_needed():
    """u_one_skip at 40 B placed online (see test_scheduler): p [0,4) reuses x's bytes, m [4,36)
    reuses x's and e's, the reloaded e [4,20) reuses m's. Dropping any of those deps breaks the plan."""
    g = u_one_skip().build()
    spec = make_spec(sram=40)
    plan = schedule(g, spec, online=True)
    assert verify_plan(plan, spec, g) == []

    def allocating(name, nth=0):
        return [c for c in plan.commands if any(b.name == name for b in c.allocs)][nth]

    def freeing(name, nth=0):
        return [c for c in plan.commands if any(b.name == name for b in c.frees)][nth]

    for command, free in ((allocating("p"), freeing("x")), (allocating("m"), freeing("x")),
                          (allocating("m"), freeing("e")), (allocating("e", 1), freeing("m"))):
        assert free.id in command.deps
        broken = list(plan.commands)
        broken[command.id] = dataclasses.replace(command, deps=tuple(d for d in command.deps if d != free.id))
        assert any("does not depend directly on free" in p
                   for p in verify_plan(dataclasses.replace(plan, commands=tuple(broken)), spec, g))


def test_layers_must_read_their_inputs():
    g = u_one_skip().build()
    plan = schedule(g, make_spec(sram=40))
    broken = [dataclasses.replace(c, reads=()) if c.kind == "compute" and c.layer == 4 else c for c in plan.commands]
    problems = verify_plan(dataclasses.replace(plan, commands=tuple(broken)), None, g)
    assert any("computes without reading 'e'" in p for p in problems)


def test_a_cascade_must_run_each_layer_in_each_stripe_once_in_order():
    # three 3x3 convolutions in 8 stripes (tests/schedule/test_cascade.py): parts a, b, c per stripe
    g = three_convs().graph()
    spec = make_spec(sram=8 * 1024, execution="cascade")
    plan = schedule(g, spec)
    assert verify_plan(plan, spec, g) == []
    i, cmd = next((i, c) for i, c in enumerate(plan.commands) if len(c.parts) > 2)

    def with_parts(parts, cycles=None):
        new = dataclasses.replace(cmd, parts=parts, cycles=sum(p.cycles for p in parts) if cycles is None else cycles)
        return dataclasses.replace(plan, commands=plan.commands[:i] + (new,) + plan.commands[i + 1:])

    dropped = with_parts(cmd.parts[:1] + cmd.parts[2:])
    swapped = with_parts(cmd.parts[:1] + (cmd.parts[2], cmd.parts[1]) + cmd.parts[3:])
    assert any("stripes with rows, once, in order" in p for p in verify_plan(dropped))
    assert any("stripes with rows, once, in order" in p for p in verify_plan(swapped))
    assert any("do not add up" in p for p in verify_plan(with_parts(cmd.parts, cmd.cycles + 1)))
    stray = cmd.parts[0]._replace(reads=cmd.parts[0].reads + ("y",))
    assert any("does not list" in p for p in verify_plan(with_parts((stray,) + cmd.parts[1:])))


@given(st.lists(st.tuples(st.integers(0, 60), st.integers(1, 20)), min_size=1, max_size=25))
@settings(max_examples=200, deadline=None)
def test_the_byte_owners_follow_every_claim(claims):
    # An independent counter: a byte map of who claimed each byte last. After every claim the
    # verifier's intervals must hold exactly that map, and before it, ``span`` must name exactly
    # the intervals holding any of its bytes.
    from hwsim.schedule.verify import _Occupants

    occupants, owner = _Occupants(), {}
    for key, (lo, size) in enumerate(claims):
        hi = lo + size
        i, j = occupants.span(lo, hi)
        assert {k for _, _, k in occupants.items[i:j]} == {owner[a] for a in range(lo, hi) if a in owner}
        occupants.claim(lo, hi, key, (i, j))
        owner.update(dict.fromkeys(range(lo, hi), key))
        held = {a: k for a_lo, a_hi, k in occupants.items for a in range(a_lo, a_hi)}
        assert held == owner
        assert occupants.starts == sorted(occupants.starts) == [a for a, _, _ in occupants.items]
