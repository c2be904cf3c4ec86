"""``Program``: the relocation of provisional addresses moves those addresses and nothing else."""

from __future__ import annotations

from dataclasses import replace

from hwsim.schedule.lower import Action, Decisions, commands_of, lower
from hwsim.schedule.plan import Buffer, Plan
from hwsim.schedule.program import Program


def test_relocation_moves_only_provisional_addresses_and_keeps_every_other_field():
    # a load into "a" (provisional, at 100) and a weight block "w" (its own space, at 7), a
    # compute reading both and writing "b" (provisional, at 0), then the frees. Relocated by
    # +1000, the plan must be the one lowered from the same actions written at 1100 and 1000.
    def actions(a_at: int, b_at: int) -> list[Action]:
        a = Buffer("a", a_at, 64, "sram", "activation", "a")
        w = Buffer("w", 7, 32, "weights", "weights")
        b = Buffer("b", b_at, 64, "sram", "activation", "b")
        return [Action("load", 0, allocs=(a,), tensor="a", dram_bytes=64, traffic="input", cause="input"),
                Action("load", 0, allocs=(w,), tensor="w", dram_bytes=32, traffic="weights", cause="weights"),
                Action("compute", 0, allocs=(b,), reads=("a", "w"), cycles=9),
                Action("free", 0, frees=(a, w)), Action("store", 0, reads=("b",), tensor="b", dram_bytes=64,
                                                        traffic="output", cause="drain"),
                Action("free", 0, frees=(b,))]

    program = Program("sram")
    for action in actions(100, 0):
        program.emit(action.kind, action.layer, **{k: v for k, v in action._asdict().items()
                                                   if k not in ("kind", "layer", "after")})
    program.relocate(lambda address: address + 1000)
    outline = Plan("g", "s", (), (), (), 4096)
    plan = lower(Decisions(program.finish(), outline, *program.relocation()))
    assert plan == replace(outline, commands=commands_of(actions(1100, 1000)))
    assert [b.address for c in plan.commands for b in c.allocs] == [1100, 7, 1000]


def test_free_and_compute_make_the_actions_emit_makes():
    # the positional shortcuts must fill the same fields as emit's keywords (a field out of
    # place, say cycles landing in dram_bytes, would change the plan's timing and traffic)
    a, b = Buffer("a", 0, 64, "sram", "activation", "a"), Buffer("b", 64, 32, "sram", "activation", "b")
    fast, slow = Program(), Program()
    assert fast.compute(3, (b,), ("a", "w"), 17) == slow.emit("compute", 3, allocs=(b,), reads=("a", "w"), cycles=17)
    assert fast.free(4, (a, b)) == slow.emit("free", 4, frees=(a, b))
    assert fast.finish() == slow.finish()
    assert fast.traffic() == slow.traffic() == {}
