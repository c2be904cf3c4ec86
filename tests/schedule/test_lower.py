"""``lower``: decisions -> commands with every dependency of the plan contract, worked by hand."""

import pytest

from hwsim.schedule.lower import Action, commands_of
from hwsim.schedule.plan import Buffer
from hwsim.schedule.verify import verify_plan

from tests.schedule.test_verify import good_commands, plan_of

X, W = Buffer("x", 0, 100), Buffer("weights:l0", 100, 50, role="weights")
Y = Buffer("y", 150, 100)
Z = Buffer("z", 0, 120)  # reuses x's bytes (0..100) and 20 of the weights' (100..120)


def test_dependencies_derived_by_hand():
    actions = [
        Action("load", 0, allocs=(X,), tensor="x", dram_bytes=100, traffic="input", cause="input"),   # 0
        Action("load", 0, allocs=(W,), tensor="weights:l0", dram_bytes=50, traffic="weights",
               cause="weights"),                                                                     # 1
        Action("compute", 0, allocs=(Y,), reads=("x", "weights:l0"), cycles=10),                     # 2
        Action("store", 0, reads=("y",), tensor="y", dram_bytes=100, traffic="spill_write",
               cause="spill_store"),                                                                 # 3
        Action("free", 0, frees=(X, W)),                                                             # 4
        Action("compute", 1, allocs=(Z,), reads=("y",), cycles=5),                                   # 5
        Action("free", 1, frees=(Y,)),                                                               # 6
        Action("load", 2, after=(3,), allocs=(Buffer("y", 200, 100),), tensor="y", dram_bytes=100,
               traffic="spill_read", cause="reload"),                                                # 7
    ]
    deps = [c.deps for c in commands_of(actions)]
    assert deps == [
        (),
        (),
        (0, 1),        # reads x (load 0) and the weights (load 1)
        (2,),          # stores y: its writer
        (0, 1, 2),     # frees x and the weights: their writers and their last reader
        (2, 4),        # previous compute; z's bytes were x's and the weights': their free
        (2, 3, 5),     # y's writer, its store, its last reader
        (3, 6),        # after the store that wrote it (the decision), after the free of its old copy (same name)
    ]


def test_later_chunk_writes_make_the_free_wait():
    # a layer in two weight chunks: the second compute writes the output the first allocated,
    # so the output's free (and any reader) follows the second compute
    actions = [Action("compute", 0, allocs=(Y,), cycles=3),
               Action("compute", 0, writes=("y",), cycles=3),
               Action("store", 0, reads=("y",), tensor="y", dram_bytes=100, traffic="output", cause="drain"),
               Action("free", 0, frees=(Y,))]
    assert [c.deps for c in commands_of(actions)] == [(), (0,), (1,), (1, 2)]


@pytest.mark.parametrize("actions, message", [
    ([Action("compute", 0, allocs=(X,)), Action("compute", 0, allocs=(Buffer("x", 500, 10),))], "allocated twice"),
    ([Action("compute", 0, allocs=(X,)), Action("compute", 0, allocs=(Z,))], "overlaps a live buffer"),
    ([Action("compute", 0, reads=("x",))], "not allocated"),
    ([Action("free", 0, frees=(X,))], "not allocated"),
])
def test_lowering_refuses_what_no_schedule_may_do(actions, message):
    with pytest.raises(AssertionError, match=message):
        commands_of(actions)


def test_lowering_the_verifiers_hand_plan_gives_its_commands():
    # the verifier's hand-written plan (its deps worked out by hand), as decisions
    hand = good_commands()
    actions = [Action(c.kind, c.layer, allocs=c.allocs, frees=c.frees, reads=c.reads, tensor=c.tensor,
                      dram_bytes=c.dram_bytes, traffic=c.traffic, cycles=c.cycles, cause=c.cause) for c in hand]
    lowered = commands_of(actions)
    assert lowered == tuple(hand)
    assert verify_plan(plan_of(lowered)) == []
