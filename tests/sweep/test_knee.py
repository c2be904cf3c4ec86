"""The knee of a spill curve, worked out by hand, and the grouping of points into curves and searches."""

from hwsim.sweep.grid import Point
from hwsim.sweep.knee import KNEE_FRACTION, curve_group, knee, knee_verdict, search_group

MIB = 1 << 20


def test_knee_is_where_the_remaining_saving_drops_under_ten_percent():
    # overflow falls 100 -> 40 -> 12 -> 5 -> 0; range 100, limit 0 + 10 = 10:
    # 12 > 10 at 4 MiB, 5 and 0 are within it from 8 MiB on.
    curve = [(1 * MIB, 100), (2 * MIB, 40), (4 * MIB, 12), (8 * MIB, 5), (16 * MIB, 0)]
    assert KNEE_FRACTION == 0.10
    assert knee(curve) == 8 * MIB
    assert knee(list(reversed(curve))) == 8 * MIB  # order of the points does not matter


def test_a_later_bump_moves_the_knee_past_it():
    # 5 at 4 MiB is within the limit (10) but 30 at 8 MiB is not: the knee must hold for every larger size.
    curve = [(1 * MIB, 100), (2 * MIB, 40), (4 * MIB, 5), (8 * MIB, 30), (16 * MIB, 0)]
    assert knee(curve) == 16 * MIB


def test_limit_is_relative_to_the_minimum_not_to_zero():
    # range 200 - 100 = 100, limit 110: 150 at 2 MiB is above, 105 at 4 MiB within
    curve = [(1 * MIB, 200), (2 * MIB, 150), (4 * MIB, 105), (8 * MIB, 100)]
    assert knee(curve) == 4 * MIB


def test_flat_and_empty_curves():
    assert knee([(1 * MIB, 7), (2 * MIB, 7)]) == 1 * MIB
    assert knee([(4 * MIB, 0)]) == 4 * MIB
    assert knee([]) is None


def test_groups():
    a = Point("g", (("sram.size", "1 MiB"), ("dram.bandwidth", "4 GB/s"), ("datatype.activation_bits", "8")))
    b = Point("g", (("sram.size", "2 MiB"), ("dram.bandwidth", "8 GB/s"), ("datatype.activation_bits", "8")))
    c = Point("g", (("sram.size", "1 MiB"), ("dram.bandwidth", "4 GB/s"), ("datatype.activation_bits", "16")))
    # one zero-spill search serves points differing only in SRAM size and DRAM settings
    assert search_group(a) == search_group(b) != search_group(c)
    # a spill curve is one value of every axis but the SRAM size
    assert curve_group(a) != curve_group(b) and curve_group(a) != curve_group(c)
    assert curve_group(a) == curve_group(Point("g", (("sram.size", "8 MiB"),) + a.values[1:]))


def test_a_knee_at_the_last_grid_size_is_no_knee_in_range():
    # 100 -> 40 -> 5 -> 30 -> 10: range 95, limit 5 + 9.5; 30 at 8 MiB is above it, so the rule
    # lands on 16 MiB, where 10 B of overflow are left: no knee in range.
    curve = [(1 * MIB, 100), (2 * MIB, 40), (4 * MIB, 5), (8 * MIB, 30), (16 * MIB, 10)]
    found, note = knee_verdict(curve, 32 * MIB)
    assert found is None and note.startswith("no knee in range") and "16 MiB" in note


def test_a_knee_at_the_last_grid_size_where_overflow_ends_is_kept():
    # 100 -> 40 -> 5 -> 30 -> 0: the rule lands on 16 MiB, and nothing is left to save there.
    curve = [(1 * MIB, 100), (2 * MIB, 40), (4 * MIB, 5), (8 * MIB, 30), (16 * MIB, 0)]
    found, note = knee_verdict(curve, 16 * MIB)
    assert found == 16 * MIB and note.startswith("the overflow reaches zero only at the grid's largest size")


def test_a_grid_that_stops_before_zero_spill_says_so():
    # the case: overflow still falling at the largest size, zero spill far above the grid
    curve = [(4 * MIB, 900 * MIB), (8 * MIB, 600 * MIB), (16 * MIB, 320 * MIB)]
    found, note = knee_verdict(curve, 40 * MIB)
    assert found is None and "no knee in range" in note
    assert "stops before zero spill: 320 MiB of overflow at best (zero-spill SRAM 40 MiB)" in note


def test_a_knee_far_below_the_zero_spill_sram_is_explained():
    # range 1000 - 0, limit 100: 80 at 512 KiB and everything after is within it. Zero spill at
    # 24 MiB is 48x the knee: the note names the overflow left (80 B, 8.0 % of the range).
    curve = [(256 * 1024, 1000), (512 * 1024, 80), (1 * MIB, 60), (24 * MIB, 0)]
    found, note = knee_verdict(curve, 24 * MIB)
    assert found == 512 * 1024
    assert "8.0 % of the grid's range" in note and "48.0x the knee" in note


def test_flat_curves_are_explained():
    assert knee_verdict([(1 * MIB, 0), (2 * MIB, 0)], 1 * MIB) == (1 * MIB, "no overflow at any grid size")
    found, note = knee_verdict([(1 * MIB, 7), (2 * MIB, 7)], None)
    assert found == 1 * MIB and note.startswith("flat")
    assert knee_verdict([], None) == (None, "no point of this curve ran")
