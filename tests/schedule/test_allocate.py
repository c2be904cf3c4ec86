"""Placement at real addresses: hand-worked peaks, fragmentation, and the independent checker."""

import random

from hypothesis import given, settings, strategies as st

from hwsim.schedule.allocate import Allocator, check_allocation, place_live_ranges


def test_live_ranges_peak_by_hand():
    # a [0,100) steps 0-1; b [100,150) 1-2; at step 2 a's bytes are free and c (100) fits
    # them; at step 3 b is gone, d goes on top of c: the peak is 150, never 200.
    ranges = [(0, 1, 100), (1, 2, 50), (2, 3, 100), (3, 4, 50)]
    addresses, peak = place_live_ranges(ranges)
    assert addresses == [0, 100, 0, 100]
    assert peak == 150
    assert check_allocation([(s, e, a, n) for (s, e, n), a in zip(ranges, addresses)], 150) == []


def test_fragmentation_peak_above_live_bytes():
    # a 0-2 and c 1-2 pin [0,40) and [60,100); b (20) 0-0 leaves a 20-byte hole between them
    # at step 1; d (30) at step 1 fits no hole and goes on top: peak 130 > live bytes 110.
    ranges = [(0, 2, 40), (0, 0, 20), (0, 2, 40), (1, 2, 30)]
    addresses, peak = place_live_ranges(ranges)
    assert addresses == [0, 40, 60, 100]
    assert peak == 130


def test_request_fails_although_free_bytes_suffice():
    a = Allocator(300)
    assert [a.alloc(n, 100) for n in "abc"] == [0, 100, 200]
    a.free("a")
    a.free("c")
    assert a.free_bytes() == 200
    assert a.alloc("d", 150) is None  # holes: [0,100) and [200,300)
    assert a.alloc("e", 100) == 0  # best fit prefers the hole to the tail


def test_best_fit_and_first_fit():
    for fit, expected in (("best", 150), ("first", 0)):
        a = Allocator(1000, fit=fit)
        for name, size in (("a", 100), ("b", 50), ("c", 50), ("d", 50)):
            a.alloc(name, size)
        a.free("a")
        a.free("c")  # holes [0,100) and [150,200)
        assert a.alloc("x", 40) == expected


def test_alignment_rounds_sizes_and_addresses():
    a = Allocator(1000, 64)
    assert a.alloc("a", 1) == 0
    assert a.alloc("b", 65) == 64
    assert a.size("b") == 128
    assert (a.in_use, a.high_water) == (192, 192)
    a.free("a")
    assert a.alloc("c", 64) == 0


def test_frees_merge_and_lower_the_top():
    a = Allocator(100)
    for name in "abcd":
        a.alloc(name, 25)
    a.free("b")
    a.free("c")  # merges with b's hole: [25,75)
    assert a.alloc("e", 50) == 25
    a.free("e")
    a.free("d")  # the top comes down to 25, the hole is gone
    assert a.alloc("f", 75) == 25
    assert a.high_water == 100


def test_placement_does_not_depend_on_capacity():
    def run(capacity):
        a = Allocator(capacity)
        out = [a.alloc("a", 30), a.alloc("b", 10), a.alloc("c", 30)]
        a.free("b")
        out += [a.alloc("d", 8), a.alloc("e", 20)]
        return out, a.high_water

    assert run(90) == run(10_000) == ([0, 30, 40, 30, 70], 90)


def test_checker_finds_clashes_and_overflow():
    assert check_allocation([(0, 3, 0, 10), (4, 5, 0, 10), (0, 5, 10, 5)], 15) == []
    problems = check_allocation([(0, 3, 0, 10), (3, 5, 5, 10)], 100)
    assert problems == ["intervals 0 and 1 overlap in steps and addresses"]
    assert len(check_allocation([(0, 0, 90, 20)], 100)) == 1


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 10**6), st.sampled_from([1, 16, 64]), st.sampled_from(["best", "first"]))
def test_random_sequences_never_overlap(seed, alignment, fit):
    rng = random.Random(seed)
    a = Allocator(4096, alignment, fit)
    live, intervals, top = {}, [], 0
    for step in range(200):
        if live and rng.random() < 0.45:
            name = rng.choice(sorted(live))
            address, size, start = live.pop(name)
            a.free(name)
            intervals.append((start, step, address, size))
        else:
            name = f"t{step}"
            address = a.alloc(name, rng.randint(1, 700))
            if address is not None:
                assert address % alignment == 0
                live[name] = (address, a.size(name), step + 1)
                top = max(top, address + a.size(name))
    intervals += [(start, 10**6, address, size) for address, size, start in live.values()]
    assert check_allocation(intervals, 4096) == []
    assert a.high_water == top
    assert a.in_use == sum(size for _, size, _ in live.values())
