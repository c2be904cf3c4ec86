"""``Program``: the relocation of provisional addresses keeps everything else of an action."""

from __future__ import annotations

from dataclasses import fields, replace

from hwsim.schedule.lower import Action
from hwsim.schedule.plan import Buffer
from hwsim.schedule.program import Program


def test_relocate_moves_only_provisional_addresses_and_keeps_every_other_field():
    moving = Buffer("a", 100, 64, "sram", "activation", "a")
    staying = Buffer("w", 7, 32, "weights", "weights")
    program = Program("sram")
    values = {f.name: f"<{f.name}>" for f in fields(Action)}  # a distinct value in every field
    values.update(kind="compute", layer=3, after=(1,), allocs=(moving, staying), frees=(moving,))
    program._actions.append(Action(**values))
    program.relocate(lambda address: address + 1000)
    (action,) = program.finish()
    placed = Buffer("a", 1100, 64, "sram", "activation", "a")
    assert action == replace(Action(**values), allocs=(placed, staying), frees=(placed,))
