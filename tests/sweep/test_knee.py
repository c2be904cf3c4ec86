"""The knee of a spill curve, worked out by hand, and the grouping of points into curves and searches."""

from hwsim.sweep.grid import Point
from hwsim.sweep.knee import KNEE_FRACTION, curve_group, knee, search_group

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
