"""The scheduler on tiny hand-built graphs: every figure below is worked out by hand.

Unless a test says otherwise, specs are 8-bit, alignment 1 B, weights in a separate 1 MiB
buffer (so SRAM figures are activations only), Belady, prefetch 1, in-place concat.

Placement (see ``scheduler``): a walk that needs no eviction is placed offline, by
``placement.pack`` over the blocks' lifetimes in steps (lowest first; ties: largest
bytes x steps, then latest last step); a walk that needs one is placed online, best fit
in program order (``allocate``).
"""

import pytest

from hwsim.errors import UserError
from hwsim.graph.analysis import live_curve
from hwsim.schedule.expand import expand
from hwsim.schedule import schedule, verify_plan, zero_spill_sram
from tests.graph.handmade import Net
from tests.schedule.helpers import (
    ancestors, chain, concat_wait, diamond, make_spec, moved, traffic, two_waits, u_one_skip,
)


def run(net, **spec):
    g = net.build()
    s = make_spec(**spec)
    plan = schedule(g, s)
    assert verify_plan(plan, s, g) == []
    return plan


def test_chain_fits_exactly():
    # x, l0, l1, l2 are 64 B each; two are live at every step: 128 B, no spill.
    plan = run(chain(), sram=128)
    assert plan.sram_peak_bytes == 128
    assert traffic(plan) == {"input": 64, "output": 64, "weights": 3 * (16 + 4)}
    first = plan.commands[[c.kind for c in plan.commands].index("load", 1)]
    assert (first.tensor, first.traffic, first.cause) == ("x", "input", "input")
    drain = [c for c in plan.commands if c.traffic == "output"]
    assert [(c.tensor, c.cause) for c in drain] == [("l2", "drain")]
    assert plan.commands[-1].kind == "free" and plan.commands[-1].deps[-1] == drain[0].id


def test_chain_one_byte_short_streams_every_layer():
    # Each layer needs 128 B whole: all three stream. A tensor is 64 B, 16 B a row (1x1
    # convs: no halo). These layers take a cycle or two and every transfer 100 cycles of
    # DRAM latency: double-buffered tiles (more, shorter bands) would only add transfers, so
    # each layer keeps one tile slot per banded tensor (see test_stream for the other case).
    # L0 reads x (only in DRAM) and writes l0: keeping l0 whole leaves 63 B, 16h <= 63 ->
    # h = 3, two bands, evened out to 2 rows each; it moves only x's bands (64 B): banding
    # l0 would also write it and read it back (+128 B). L1: keeping l0 (resident) whole and
    # banding l1 out costs 64 + 64 B; keeping l1 and banding l0 costs a store and a read of
    # l0, the same bytes: the tie keeps the input (no store). L2: l1 is in DRAM only;
    # loading it whole (64) or reading it in bands (64) tie, l2 goes out once either way:
    # the input is kept. So x is read once (input), l1 written once and read back once, l2
    # is output; l0 never leaves SRAM. Peak: 64 B kept + a 32 B tile.
    plan = run(chain(), sram=127)
    assert [(layer.streamed, layer.tiles) for layer in plan.layers] == [(True, 2)] * 3
    assert traffic(plan) == {"input": 64, "streamed_write": 64, "streamed_read": 64, "output": 64,
                             "weights": 60}
    assert [(c.kind, c.tensor, c.dram_bytes) for c in plan.commands if c.traffic == "streamed_read"] == [
        ("load", "l1", 64)]
    assert "l0" not in {c.tensor for c in plan.commands if c.traffic}
    assert plan.sram_peak_bytes == 96
    assert {c.cause for c in plan.commands if c.traffic and c.traffic != "weights"} == {"streamed"}


def test_u_skip_is_spilled_and_reloaded():
    # u_one_skip at 40 B: at L2, e (16) + p (4) + m (32) = 52 B do not fit even as bytes, so
    # the walk needs an eviction and is placed online. L0: x [0,16), e [16,32). x freed.
    # L1: p (4) into x's hole [0,4). L2: m (32) fits no hole ([4,16) is 12 B) nor the tail
    # (32 + 32 > 40): evict e (the only candidate), dirty and read at L4: stored. The top
    # falls to 4 and m takes [4,36).
    # L3: n into [0,4); no room to prefetch e (16). L4: e reloaded into [4,20), s [20,36).
    plan = run(u_one_skip(), sram=40)
    assert moved(plan, "spill_write") == ["e"] and moved(plan, "spill_read") == ["e"]
    assert traffic(plan) == {"input": 16, "spill_write": 16, "spill_read": 16, "output": 16, "weights": 29}
    reload = next(c for c in plan.commands if c.traffic == "spill_read")
    assert (reload.cause, reload.layer, reload.allocs[0].address) == ("reload", 4, 4)
    assert plan.sram_peak_bytes == 36
    rows = {t.name: t for t in plan.tensors}
    assert rows["e"].skip and rows["e"].spilled and rows["e"].dram_bytes == 32
    assert not rows["m"].skip and rows["m"].address == 4


def test_u_zero_spill_sram_is_the_live_peak():
    # Live bytes peak at 52 (e + p + m at L2). With unlimited SRAM nothing is evicted, so the
    # SRAM is placed offline. Blocks, with the steps that reserve and release them (a layer's
    # inputs are released at their last reader's step), bytes and area (bytes x steps):
    #   x 0-0 16 B (16)   e 0-4 16 B (80)   p 1-2 4 B (8)    m 2-3 32 B (64)
    #   n 3-4 4 B (8)     s 4-5 16 B (32)   d 5-5 16 B (16)
    # Lowest first: everything can go at 0; e has the largest area: [0,16) for steps 0-4.
    # Only d (step 5) can still go at 0: [0,16). Then at 16 (the top of e) x, p, m, n and s
    # can go; m has the largest area: [16,48) for steps 2-3. At 16 still: s (steps 4-5,
    # area 32) [16,32), then x (step 0) [16,32). p (steps 1-2) and n (steps 3-4) now go at
    # 48, the top of m; same area, n ends later: n [48,52), then p [48,52) (they share no
    # step). The high-water mark is 52, the live peak. (Best fit in program order needs 64:
    # m goes on top at [32,64) because x's freed 16 B are cut by p at [0,4).)
    # At 51 B the walk needs an eviction at L2 (52 B at once), is placed online and spills e.
    g = u_one_skip().build()
    assert max(live_curve(g, 8)) == 52
    plan = schedule(g, make_spec(sram=1 << 30))
    assert plan.sram_peak_bytes == 52
    assert {t.name: t.address for t in plan.tensors} == {"e": 0, "p": 48, "m": 16, "n": 48, "s": 16, "d": 0}
    assert zero_spill_sram(g, make_spec()) == 52
    assert moved(schedule(g, make_spec(sram=51)), "spill_write") == ["e"]
    assert moved(schedule(g, make_spec(sram=52)), "spill_write") == []


@pytest.mark.parametrize("policy, victims, note", [
    # 32 B: at L2 x (4 B, still read), B (8), A (16) and C (8) are 36 B at once, so the
    # walk needs an eviction and is placed online.
    # Belady: at L2 (C needs 8 B, tail 28 + 8 > 32) A is needed last (L4): A goes, C takes
    # its place [12,20). At L4 A (16) takes the hole [0,16) of [0,20) and F (8) fits nowhere:
    # no victim left, so SRAM is emptied (E stored) and A, E, F are placed from 0.
    ("belady", ["A", "E"], True),
    ("largest", ["A", "E"], True),
    # LRU: B was used longest ago (L0): B goes and C takes its hole [0,8). At L3 B comes back
    # and needs room: A goes. At L4 A fits the hole [0,16) exactly and F goes on top.
    ("lru", ["B", "A"], False),
])
def test_spill_policies_choose_different_victims(policy, victims, note):
    plan = run(two_waits(), sram=32, spill=policy)
    assert moved(plan, "spill_write") == victims
    assert moved(plan, "spill_read") == victims
    assert traffic(plan)["spill_write"] == 24
    assert any("no hole fits" in n for n in plan.notes) == note


def test_diamond_streams_its_last_layer_reading_what_is_resident_in_place():
    # d = conv(a) + b needs a, b and d (32 B each, 8 B a row): 96 B. At 95 B it streams.
    # a and b are resident and fit beside d's tile (64 + 8h <= 95 -> h = 3, two bands,
    # evened out to 2 rows; one slot: a DMA-bound layer, as in the chain above): they are
    # read in place, never stored, and only d goes out, in 2 bands of 16 B (the graph
    # output). Peak: a + b + a 16 B tile.
    assert traffic(run(diamond(), sram=96)) == {"input": 32, "output": 32, "weights": 18}
    plan = run(diamond(), sram=95)
    assert [(layer.streamed, layer.tiles) for layer in plan.layers] == [(False, 1), (False, 1), (True, 2)]
    assert traffic(plan) == {"input": 32, "output": 32, "weights": 18}
    plan = expand(plan)  # the per-tile commands of the streamed layer
    assert not [c for c in plan.commands if c.kind == "store" and c.tensor in ("a", "b")]
    assert [c.dram_bytes for c in plan.commands if c.traffic == "output"] == [16, 16]
    assert plan.sram_peak_bytes == 80


def test_diamond_moves_out_only_what_does_not_fit():
    # At 70 B, L1 (a + b = 64 B) still runs whole. L2 keeping a (32) leaves 38 B: b and d
    # tiles take 8h + 8h -> h = 2, two bands. Keeping a or b costs the same (the other is
    # stored, 32 B, and read in bands, 32 B; d goes out, 32 B); keeping neither costs 64 B
    # more, and keeping both leaves no room. The tie keeps a, the first. b, dirty, is stored
    # when its resident life ends (after L1) because L2 reads it from DRAM: a store forced
    # by a streamed layer, so streamed traffic, never a spill.
    plan = run(diamond(), sram=70)
    assert [layer.streamed for layer in plan.layers] == [False, False, True]
    assert traffic(plan) == {"input": 32, "streamed_write": 32, "streamed_read": 32, "output": 32, "weights": 18}
    plan = expand(plan)  # the per-tile commands of the streamed layer
    stores = [(c.tensor, c.traffic, c.cause, c.dram_bytes) for c in plan.commands if c.kind == "store"]
    assert stores[0] == ("b", "streamed_write", "streamed", 32)
    assert [(c.tensor, c.dram_bytes) for c in plan.commands if c.traffic == "streamed_read"] == [("b", 16)] * 2
    assert plan.sram_peak_bytes == 64


def test_inplace_concat_with_a_spilled_input():
    # concat_wait at 48 B, in place: cat's storage (16 B) holds a at +0 and b at +8.
    # x (16), cat (16) and y (32) are needed at L1: 64 B, so the walk evicts, placed online.
    # L0: x [0,16), cat [16,32). L1: y (32) does not fit on top (64 > 48): cat is evicted,
    # a stored. L2: cat comes back into x's hole [0,16), b written at 8. L3 moves no data.
    # L4: a reloaded into [0,8); d on top at 16.
    plan = run(concat_wait(), sram=48)
    assert plan.concat == "inplace"
    assert plan.aliases == (("cat", ("a", "b"), 0),)
    assert traffic(plan) == {"input": 16, "spill_write": 8, "spill_read": 8, "output": 8, "weights": 78}
    computes = {c.layer: c for c in plan.commands if c.kind == "compute"}
    assert computes[3].reads == ()  # the concat
    assert set(computes[4].reads) == {"a", "b", "weights:d"}
    b = next(x for x in computes[2].allocs if x.name == "b")
    a = next(c for c in plan.commands if c.traffic == "spill_read").allocs[0]
    assert (a.address, b.address) == (0, 8)
    assert plan.sram_peak_bytes == 48


def test_inplace_concat_needs_less_sram_than_copy():
    # x (8) -> a (8) -> b (8); cat(a, b) -> d. In place: cat's storage (16 B) is reserved at
    # L0 (a is written into it) and released at L3; x is 8 B at L0, d 8 B at L3. Placed
    # offline: cat (area 64) [0,16), then x and d at 16: peak 24. Copied: a and b (16)
    # plus cat (16) are live at L2: peak 32. (Blocks x 0-0, a 0-2, b 1-2, d 3-3 of 8 B and
    # cat 2-3 of 16 B; lowest first: cat (area 32) [0,16), x [0,8); then a (24) [16,24),
    # d [16,24) at step 3, b [24,32).)
    net = Net().input("x", 1, 2, 2, 2).conv("a", "x", 2).conv("b", "a", 2).cat("cat", "a", "b").conv("d", "cat", 2)
    assert run(net, sram=1 << 20).sram_peak_bytes == 24
    copied = run(net, sram=1 << 20, concat="copy")
    assert copied.sram_peak_bytes == 32
    assert copied.aliases == () and copied.concat == "copy"


def test_channel_slices_are_views():
    # a (1x4x2x2); s0 = a[:, 2:4] is a view 8 B into a; layer (s1 = a[:, 0:2]) * s0 reads a.
    net = Net().input("x", 1, 4, 2, 2).conv("a", "x", 4)
    net.op("s0", "slice", ["a"], (1, 2, 2, 2), axis=1, start=2, end=4)
    net.op("s1", "slice", ["a"], (1, 2, 2, 2), axis=1, start=0, end=2)
    net.binary("m", "mul", "s1", "s0").conv("o", "m", 2)
    plan = run(net)
    assert plan.aliases == (("s0", ("a",), 8),)
    reads = [c.reads for c in plan.commands if c.kind == "compute"]
    assert reads[1:3] == [(), ("a",)]
    # Placed offline: a (16 B, steps 0-2, area 48) [0,16) under x (step 0), m (steps 2-3)
    # and o (step 3, at 0 since a is gone): s0 sits 8 B into a.
    assert next(t for t in plan.tensors if t.name == "s0").address == 0 + 8


def test_weights_in_chunks_when_shared_sram_is_short():
    # conv 8 -> 8 1x1 without bias: 64 B of weights; x and a take 64 of 96 B, leaving 32:
    # chunks of 4 output channels (32 B), loaded one after the other, one compute each.
    g = Net().input("x", 1, 8, 2, 2).conv("a", "x", 8, bias=False).build()
    for spec in (make_spec(sram=96, weights="shared"), make_spec(sram=64, weight_buffer=32)):
        plan = schedule(g, spec)
        assert verify_plan(plan, spec, g) == []
        assert [(c.tensor, c.dram_bytes) for c in plan.commands if c.traffic == "weights"] == [
            ("weights:a@chunk0", 32), ("weights:a@chunk1", 32)]
        assert plan.layers[0].tiles == 2 and not plan.layers[0].streamed
        assert [c.tile for c in plan.commands if c.kind == "compute"] == [0, 1]


def test_weights_of_the_next_layer_load_during_this_one():
    g = chain().build()
    for prefetch, before in ((1, True), (0, False)):
        plan = schedule(g, make_spec(sram=4096, weights="shared", prefetch=prefetch))
        load = next(c for c in plan.commands if c.tensor == "weights:l1")
        compute0 = next(c for c in plan.commands if c.kind == "compute" and c.layer == 0)
        assert (load.id < compute0.id) == before
        assert (compute0.id not in ancestors(plan, load.id)) == before  # the DMA overlaps compute 0
        assert load.allocs[0].space == "sram" and load.cause == "weights"


def test_halo_rows_are_read_again():
    # 3x3 conv on 1x1x8x8 (8 B a row) at 56 B: a band of h output rows reads h + 2 input
    # rows: 8(h + 2) + 8h <= 56 -> h = 2. Bands read rows [0,3) [1,5) [3,7) [5,8): 14 rows.
    g = Net().input("x", 1, 1, 8, 8).conv("c", "x", 1, k=3, bias=False).build()
    plan = expand(schedule(g, make_spec(sram=56)))
    assert [c.dram_bytes for c in plan.commands if c.traffic == "input"] == [24, 32, 32, 24]
    assert traffic(plan)["output"] == 64 and plan.layers[0].tiles == 4


def test_global_pooling_streams_its_input_rows():
    # gap of 1x4x8x8 (32 B a row) at 100 B: the 4 B output stays resident, bands of h input
    # rows take 32h <= 96 -> h = 3: 96 + 96 + 64 B read (one slot: a DMA-bound layer).
    g = Net().input("x", 1, 4, 8, 8).gap("g", "x").build()
    plan = expand(schedule(g, make_spec(sram=100)))
    assert [c.dram_bytes for c in plan.commands if c.traffic == "input"] == [96, 96, 64]
    assert traffic(plan)["output"] == 4


def test_a_layer_that_cannot_fit_one_row_names_itself():
    # 3x3 conv 64 -> 64 on 8x8: a row is 512 B; one band reads 3 rows and writes one: 2,048 B.
    g = Net().input("x", 1, 64, 8, 8).conv("c", "x", 64, k=3, bias=False).build()
    with pytest.raises(UserError, match=r"layer 'c' needs 2,048 B for one tile, SRAM is 1,000 B"):
        schedule(g, make_spec(sram=1000))


def test_alignment_and_plan_records():
    plan = run(chain(size=3, channels=1), sram=1 << 20, align=64)  # 9 B tensors take 64 B
    assert all(b.address % 64 == 0 and b.size == 64 for c in plan.commands for b in c.allocs if b.space == "sram")
    assert plan.sram_peak_bytes == 128
    assert [t.name for t in plan.tensors] == ["l0", "l1", "l2"]
    assert [(t.producer, t.last_consumer, t.bytes) for t in plan.tensors] == [(0, 1, 9), (1, 2, 9), (2, 2, 9)]
    assert plan.policy == "belady" and plan.sram_bytes == 1 << 20


def test_victim_queue_orders_by_policy():
    from hwsim.schedule.spill import Candidate, VictimQueue

    blocks = [Candidate("near", next_use=3, last_use=2, size=10, skip=False),
              Candidate("far", next_use=9, last_use=1, size=5, skip=False),
              Candidate("skip", next_use=5, last_use=0, size=8, skip=True)]
    expected = {"belady": ["far", "skip", "near"], "lru": ["skip", "far", "near"],
                "largest": ["near", "skip", "far"], "skip_first": ["skip", "far", "near"]}
    # "near" re-described as needed at step 20, "far" protected:
    after = {"belady": "near", "lru": "skip", "largest": "near", "skip_first": "skip"}
    for policy, order in expected.items():
        queue = VictimQueue(policy)
        for c in blocks:
            queue.push(c)
        queue.push(Candidate("near", next_use=20, last_use=2, size=10, skip=False))
        assert queue.pop({"far"}) == after[policy]
        queue = VictimQueue(policy)
        for c in blocks:
            queue.push(c)
        assert [queue.pop(set()) for _ in range(4)] == order + [None]
        queue = VictimQueue(policy)  # the blocks given first (the optimum's evictions) go first
        for c in blocks:
            queue.push(c)
        assert queue.pop(set(), first=frozenset({"near", "skip"})) == [b for b in order if b != "far"][0]


def test_skip_tensors_are_marked_for_skip_first():
    from hwsim.schedule.scheduler import build_context

    ctx = build_context(u_one_skip().build(), make_spec(spill="skip_first"))
    assert ctx.usage.skip_storages == {"e"}
