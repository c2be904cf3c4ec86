"""Offline placement: hand-worked packings, the recording SRAM, and the packer's invariants.

Blocks are ``(first step, last step, bytes)``, both steps included; two blocks that share a
step must not overlap. ``pack`` places, lowest first, the block that can go lowest (just
above the highest block placed in any of its steps); ties: largest area (bytes x steps),
then latest last step, then first given.
"""

import random
from pathlib import Path

from hypothesis import assume, example, given, settings, strategies as st

from hwsim.schedule import schedule, verify_plan
from hwsim.schedule.allocate import check_allocation, place_live_ranges
from hwsim.schedule import exact_packing
from hwsim.schedule.exact_packing import pack_exact
from hwsim.schedule.placement import live_peak as placement_live_peak
from hwsim.schedule.placement import (
    Reservations, overflow, pack, pack_by_lifetime, pack_by_size, pack_perturbed, replay,
)
from hwsim.schedule.scheduler import Walk, build_context
from tests.schedule.helpers import make_spec
from tests.schedule.test_properties import build


def live_peak(blocks) -> int:
    """The most bytes of blocks sharing one step: no placement can go below it."""
    steps = max(e for _, e, _ in blocks) + 1
    return max(sum(n for s, e, n in blocks if s <= t <= e) for t in range(steps))


def test_pack_reaches_the_live_peak_where_best_fit_fragments():
    # The fragmentation case of test_allocate: a 0-2 and c 0-2 (40 B each), b 0-0 (20 B),
    # d 1-2 (30 B). Best fit in order puts b between a and c, and d, which needs b's 20 B
    # and 10 more, on top: 130 B. Lowest first: a and c (area 120, last step 2) tie, a is
    # given first: a [0,40); everything else now goes at 40 at the lowest; c (120) [40,80);
    # then d (area 60) and b (20) go at 80: d [80,110), b [80,100) (step 0 only). 110 B, the
    # live peak (a + c + d at steps 1-2).
    blocks = [(0, 2, 40), (0, 0, 20), (0, 2, 40), (1, 2, 30)]
    assert place_live_ranges(blocks)[1] == 130
    addresses, peak = pack(blocks)
    assert addresses == [0, 80, 40, 80]
    assert peak == 110 == live_peak(blocks)
    assert check_allocation([(s, e, a, n) for (s, e, n), a in zip(blocks, addresses)], peak) == []


def test_pack_can_lose_to_best_fit_in_order():
    # X 0-0 and Y 2-2 (192 B), A 0-1 and B 1-2 (64 B): 256 B at steps 0 and 2. Lowest first:
    # X and Y tie on area (192), Y ends later: Y [0,192), then X [0,192). A and B go at 192
    # and tie (area 128): B ends later, [192,256) for steps 1-2; A shares step 1 with B:
    # [256,320). Best fit in order: X [0,192), A [192,256); X is freed; B (64) takes the
    # best hole, X's: [0,64); A is freed, its bytes merge with X's rest: [64,256) holds Y.
    # The recording SRAM keeps the lower of the two (Reservations.place).
    blocks = [(0, 0, 192), (0, 1, 64), (1, 2, 64), (2, 2, 192)]
    assert pack(blocks) == ([0, 256, 192, 0], 320)
    events = [0, 1, ~0, 2, ~1, 3, ~2, ~3]
    assert replay(events, [n for _, _, n in blocks], 1) == ([0, 192, 0, 64], 256)


def test_reservations_record_ticks_refuse_bytes_and_move_addresses():
    sram = Reservations(100)
    sram.at_step(0)
    assert sram.alloc("a", 40) == 0
    assert sram.alloc("b", 50) == 40
    assert sram.alloc("c", 20) is None  # 110 B > 100 B: refused, though no hole is needed
    sram.free("b")  # an eviction: what step 0 reserves next starts a new tick (1)
    assert sram.alloc("late", 10) == 90  # a fresh virtual range: b's bytes are not reused
    sram.free("late")
    sram.at_step(1)  # tick 2
    assert sram.alloc("d", 60) == 100
    sram.free("a")
    sram.at_step(2)  # tick 3
    sram.free("d")
    assert sram.blocks() == [(0, 2, 40), (0, 0, 50), (1, 1, 10), (2, 3, 60)]
    # Lowest first: a and d tie on area (120); d ends later: [0,60) for ticks 2-3. a (ticks
    # 0-2) can then go no lower than 60; b (tick 0) [0,50); late (tick 1, never with b)
    # [0,10); a [60,100). 100 B: a + d at tick 2. (Best fit in order ties at 100: a [0,40),
    # b [40,90), freed, late [40,50), freed, d [40,100); the packing is kept.)
    assert sram.place() == sram.high_water == 100
    assert (sram.real(0), sram.real(39), sram.real(40), sram.real(90 + 5), sram.real(100 + 5)) == (60, 99, 0, 5, 5)


def test_reservations_align_and_close_what_is_left():
    sram = Reservations(1 << 20, alignment=64)
    sram.at_step(0)
    assert (sram.alloc("a", 1), sram.alloc("b", 65)) == (0, 64)
    assert (sram.size("b"), sram.in_use) == (128, 192)
    sram.at_step(3)
    assert sram.blocks() == [(0, 3, 64), (0, 3, 128)]  # still reserved: up to the last step


blocks_strategy = st.lists(
    st.tuples(st.integers(0, 12), st.integers(0, 4), st.integers(1, 300)).map(lambda x: (x[0], x[0] + x[1], x[2])),
    min_size=1, max_size=40)


def lowest_first(blocks, weights=None) -> tuple[list[int], int]:
    """The module docstring's rule read literally: every round, each block not placed yet could
    go just above the highest block placed in any of its steps; the lowest goes, ties by
    the larger weight (default: area), then the later last step, then first given."""
    weights = [n * (e - s + 1) for s, e, n in blocks] if weights is None else weights
    addresses, left = [0] * len(blocks), set(range(len(blocks)))
    placed: list[tuple[int, int, int, int]] = []  # (first, last, address, bytes)

    def lowest(i):
        s, e, _ = blocks[i]
        return max([a + n for s2, e2, a, n in placed if s2 <= e and s <= e2], default=0)

    while left:
        i = min(left, key=lambda i: (lowest(i), -weights[i], -blocks[i][1], i))
        addresses[i] = lowest(i)
        placed.append((blocks[i][0], blocks[i][1], addresses[i], blocks[i][2]))
        left.remove(i)
    return addresses, max([a + n for *_, a, n in placed], default=0)


@settings(max_examples=200, deadline=None)
@given(blocks_strategy, st.randoms(use_true_random=False))
def test_pack_places_as_the_rule_says(blocks, rng):
    assert pack(blocks) == lowest_first(blocks)
    weights = [rng.choice((1.0, 2.0, rng.random())) for _ in blocks]  # ties among the weights too
    assert pack(blocks, weights) == lowest_first(blocks, weights)


@settings(max_examples=200, deadline=None)
@given(blocks_strategy)
def test_packings_never_overlap_and_respect_the_bound(blocks):
    addresses, peak = pack(blocks)
    assert check_allocation([(s, e, a, n) for (s, e, n), a in zip(blocks, addresses)], peak) == []
    assert peak == max(a + n for (_, _, n), a in zip(blocks, addresses))
    assert peak >= live_peak(blocks) == placement_live_peak(blocks)  # the scheduler's count, step by step here
    assert pack(blocks) == (addresses, peak)  # deterministic
    for other in (pack_by_size, pack_by_lifetime, lambda b: pack_perturbed(b, live_peak(b))):
        addresses, peak = other(blocks)
        assert check_allocation([(s, e, a, n) for (s, e, n), a in zip(blocks, addresses)], peak) == []
        assert peak >= live_peak(blocks)
    assert pack_perturbed(blocks, live_peak(blocks)) == (addresses, peak)  # a fixed seed: deterministic
    assert pack_perturbed(blocks, live_peak(blocks), tries=0) is None


def test_the_exact_packing_puts_short_blocks_on_either_side_of_a_long_one():
    # A 1-2 (1 B), B 0-0 (3 B), C 2-3 (3 B), D 0-1 (1 B): 4 B live at steps 0 (B + D) and 2
    # (A + C). Lowest first: C (area 6) [0,3), B (3) [0,3); A and D tie (area 2), A ends later:
    # at step 2 C tops 3, so A [3,4); D shares step 0 with B (top 3) and step 1 with A (top
    # 4): [4,5), 5 B. By size: B [0,3) then C [0,3), then A [3,4), D [4,5): 5 B too. Within
    # 4 B, A and D must sit on opposite sides (at step 1 they meet): D above B at step 0, so
    # D [3,4); then A below C: A [0,1), C [1,4).
    blocks = [(1, 2, 1), (0, 0, 3), (2, 3, 3), (0, 1, 1)]
    assert pack(blocks)[1] == pack_by_size(blocks)[1] == 5
    addresses, peak = pack_exact(blocks, 4)
    assert (addresses, peak) == ([0, 0, 1, 3], 4)
    assert check_allocation([(s, e, a, n) for (s, e, n), a in zip(blocks, addresses)], peak) == []
    assert pack_exact(blocks, 3) is None  # below the live peak: nothing fits
    assert pack_exact([(0, 0, 5)], 4) is None


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 6), st.integers(0, 3), st.integers(1, 8))
                .map(lambda x: (x[0], x[0] + x[1], 16 * x[2])), min_size=1, max_size=10))
def test_exact_packings_fit_never_overlap_and_keep_the_alignment(blocks):
    capacity = live_peak(blocks) + 16
    found = pack_exact(blocks, capacity, 16)
    assume(found is not None)  # the solver may stop at its limits: then nothing is claimed
    addresses, peak = found
    assert peak <= capacity and all(a % 16 == 0 for a in addresses)
    assert check_allocation([(s, e, a, n) for (s, e, n), a in zip(blocks, addresses)], peak) == []


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 10**6), st.sampled_from([1, 16, 64]))
def test_recorded_walks_place_within_their_bytes(seed, alignment):
    """Random reserve/release sequences, step by step: the placement never overlaps two blocks
    that share a step and is never above best fit in program order."""
    rng = random.Random(seed)
    sram = Reservations(1 << 30, alignment)
    live, virtual = [], []
    for step in range(rng.randint(1, 15)):
        sram.at_step(step)
        for _ in range(rng.randint(0, 3)):
            name = f"b{len(virtual)}"
            virtual.append(sram.alloc(name, rng.randint(1, 500)))
            live.append(name)
        for name in rng.sample(live, rng.randint(0, len(live))):
            sram.free(name)
            live.remove(name)
    blocks = sram.blocks()
    if not blocks:
        return
    peak = sram.place()
    assert peak <= place_live_ranges(blocks, alignment=alignment)[1]  # best fit in program order
    placed = [(s, e, sram.real(v), n) for (s, e, n), v in zip(blocks, virtual)]
    assert check_allocation(placed, peak) == []
    assert all(a % alignment == 0 for _, _, a, _ in placed)


def test_a_packing_above_the_sram_is_retried_with_slack_before_placing_online(monkeypatch):
    # A random layered graph (the property tests' seed 10) on which, one alignment step below
    # the unlimited run's high-water mark, every request of the walk fits as bytes but no
    # greedy packing places its blocks within the SRAM (prefetches and weight chunks fill it
    # to the byte; the perturbed restarts do place them, so they are switched off here). The
    # scheduler walks again with prefetches and chunks leaving the overshoot free: that
    # packs, so nothing spills (the online placement would evict), and the plan verifies.
    from hwsim.schedule import placement

    g = build(10)
    fields = dict(align=16, weights="shared", prefetch=1, concat="inplace", bits=4)
    peak = schedule(g, make_spec(sram=1 << 40, **fields)).sram_peak_bytes
    spec = make_spec(sram=peak - 16, **fields)
    walk = Walk(build_context(g, spec), offline=True)
    for t in range(len(g.layers)):
        walk.step(t)
    assert walk.place()  # with the restarts
    monkeypatch.setattr(placement, "PERTURBED_TRIES", 0)
    walk = Walk(build_context(g, spec), offline=True)
    for t in range(len(g.layers)):
        walk.step(t)
    assert not walk.place() and walk.mem.sram.high_water > spec.sram.size_bytes
    plan = schedule(g, spec)
    assert not any(c.traffic in ("spill_write", "spill_read") for c in plan.commands)
    assert verify_plan(plan, spec, g) == [] and plan.sram_peak_bytes <= spec.sram.size_bytes


def test_longest_lived_first_puts_the_short_blocks_on_either_side():
    # The four blocks above, longest-lived first (then largest, then earliest): C (steps 2-3,
    # 3 B) [0,3); D (0-1, 1 B) meets nothing placed: [0,1); A (1-2) meets D at step 1 and C
    # at step 2: above both, [3,4); B (0-0) meets D only: [1,4). 4 B, the live peak.
    blocks = [(1, 2, 1), (0, 0, 3), (2, 3, 3), (0, 1, 1)]
    assert pack_by_lifetime(blocks) == ([3, 1, 0, 0], 4)


def test_overflow_names_the_steps_that_hold_a_block_up():
    # Capacity 60. A (steps 0-2, 40 B) at 0, D (0-0, 10 B) at 40, B (1-1, 10 B) at 40, C (1-2,
    # 20 B) at 50: C reaches 70, 10 B above; to lie within 60 it must start at 40. At step 1
    # the blocks below it reach 50 (B on A): B's step holds it up by 10 B. At step 2 only A is
    # below, up to 40: nothing to give up there. ``whole``: every step of C's life, by how
    # far C sits above 40 (10 B). D lies within the capacity and holds nothing up.
    blocks = [(0, 2, 40), (0, 0, 10), (1, 1, 10), (1, 2, 20)]
    addresses = [0, 40, 40, 50]
    assert check_allocation([(s, e, a, n) for (s, e, n), a in zip(blocks, addresses)], 70) == []
    assert overflow(blocks, addresses, 60) == {1: 10}
    assert overflow(blocks, addresses, 60, whole=True) == {1: 10, 2: 10}
    assert overflow(blocks, addresses, 70) == {}


def test_reservations_report_overflow_by_layer_step():
    # Steps 0 and 1; in step 1 a release then a reservation split it into two ticks (1, 2).
    # Capacity 30 B: x (10 B) ticks 0-2; y (20 B) ticks 0-1, released; z (20 B) tick 2. The
    # packings put x and y or z side by side, 30 B: nothing above. The same blocks placed by
    # hand with z at 15 reach 35 B: z must start at 10 at the latest, and x below it reaches
    # only 10, so nothing holds it up (it was misplaced); ``whole``: z sits 5 B above 10 in
    # tick 2, reported for step 1.
    sram = Reservations(30)
    sram.at_step(0)
    sram.alloc("x", 10), sram.alloc("y", 20)
    sram.at_step(1)
    sram.free("y")
    sram.alloc("z", 20)
    assert sram.blocks() == [(0, 2, 10), (0, 1, 20), (2, 2, 20)]
    assert sram.place() == 30 and sram.overflow() == {}
    sram._real = [0, 10, 15]  # a worse placement, by hand
    assert sram.overflow() == {}
    assert sram.overflow(whole=True) == {1: 5}


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 10**6), st.sampled_from([1, 16]), st.booleans(), st.booleans())
@example(1206, 1, False, True)  # the heuristics overshoot (9 blocks), the exact packing fits
@example(1206, 1, True, False)
@example(6411, 16, False, True)  # the same with 21 blocks
def test_a_remembered_placement_is_the_placement_made_afresh(seed, alignment, first_exact, then_exact):
    """``Reservations.place`` with a memo: the same reservations placed a second time, with or
    without the exact packing, get what a placement made afresh gets (addresses, peak and
    whether the exact packing stopped), whatever the first placement asked. The capacity is
    the live peak, so the heuristics often overshoot and the exact packing matters (its clock
    limit is lifted: a loaded machine must not make the two exact packings differ)."""
    def reservations() -> Reservations:
        rng = random.Random(seed)
        sram, live = Reservations(1 << 30, alignment), []
        for step in range(rng.randint(1, 8)):
            sram.at_step(step)
            for _ in range(rng.randint(0, 3)):
                live.append(f"b{len(sram.blocks())}")
                sram.alloc(live[-1], rng.randint(1, 64) * alignment)
            for name in rng.sample(live, rng.randint(0, len(live))):
                sram.free(name)
                live.remove(name)
        sram.capacity = live_peak(sram.blocks()) if sram.blocks() else 1
        return sram

    assume(reservations().blocks())
    memo: dict = {}
    limit, exact_packing.EXACT_SECONDS = exact_packing.EXACT_SECONDS, 600.0
    try:
        reservations().place(first_exact, memo)
        fresh, remembered = reservations(), reservations()
        assert remembered.place(then_exact, memo) == fresh.place(then_exact)
    finally:
        exact_packing.EXACT_SECONDS = limit
    assert [remembered.real(a) for a in remembered._virtual] == [fresh.real(a) for a in fresh._virtual]
    assert remembered.exact_stopped == fresh.exact_stopped


def test_the_placement_search_makes_no_walk_or_packing_twice_and_plans_the_same(monkeypatch):
    """NAFNet (``graphs/nafnet.json``) at 795 KiB, layer mode, policy ``optimal``: the greedy
    packings of the optimum's evictions overshoot (the busiest step is 192 B below the SRAM and
    a 256 KiB block lands on top), and the walks made again with quiet steps or local margins
    (``repack.locally``) reserve the same blocks several times. With its memos the search
    packs each set of blocks once and makes fewer walks, and the plan is the one made without
    them, command for command."""
    from hwsim.graph.io import load_graph
    from hwsim.schedule import repack, walk as walk_module
    from hwsim.spec import load_spec, with_overrides

    root = Path(__file__).resolve().parents[2]
    graph = load_graph(root / "graphs" / "nafnet.json")
    spec = with_overrides(load_spec(str(root / "accelerators" / "edge_npu.yaml")),
                          {"sram.size": "795KiB", "policy.execution": "layer"})
    packed, walks = [], [0]
    real_place, real_init = Reservations._place, walk_module.Walk.__init__

    def counting_place(self, blocks, exact):
        packed.append((tuple(blocks), tuple(self._events), exact))
        return real_place(self, blocks, exact)

    def counting_init(self, *args, **kwargs):
        walks[0] += 1
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(Reservations, "_place", counting_place)
    monkeypatch.setattr(walk_module.Walk, "__init__", counting_init)
    plan = schedule(graph, spec)
    remembered = (len(packed), walks[0])
    assert len(set(packed)) == len(packed)  # no packing made twice

    class Forgets(dict):
        def __setitem__(self, key, value):
            pass

    class Forgetful(repack.Tried):
        def __init__(self):
            super().__init__()
            self.walks, self.packings = Forgets(), Forgets()

    monkeypatch.setattr("hwsim.schedule.scheduler.Tried", Forgetful)
    packed.clear()
    walks[0] = 0
    afresh = schedule(graph, spec)
    assert len(set(packed)) < len(packed)  # the search does repeat itself without the memos
    assert remembered[0] < len(packed) and remembered[1] < walks[0]
    assert afresh.commands == plan.commands and afresh.notes == plan.notes
