"""Axis parsing: ranges worked out by hand, lists, units, and bad axes naming their flag."""

import pytest

from hwsim.errors import UserError
from hwsim.sweep.axes import parse_axis

KIB, MIB = 1 << 10, 1 << 20


def cells(text, field="sram.size"):
    axis = parse_axis(text, field, "--sram")
    return [axis.cell(v) for v in axis.values]


def test_geometric_range_is_inclusive():
    assert cells("128KiB:1MiB:x2") == [128 * KIB, 256 * KIB, 512 * KIB, 1024 * KIB]


def test_geometric_range_stops_below_an_unreached_stop():
    assert cells("128KiB:1000KiB:x2") == [128 * KIB, 256 * KIB, 512 * KIB]


def test_fractional_factor():
    assert cells("100KiB:300KiB:x1.5") == [100 * KIB, 150 * KIB, 225 * KIB]


def test_arithmetic_range():
    assert cells("1MiB:3MiB:+512KiB") == [MIB, MIB + 512 * KIB, 2 * MIB, 2 * MIB + 512 * KIB, 3 * MIB]


def test_single_value_and_mixed_list():
    assert cells("64KiB") == [64 * KIB]
    assert cells("64KiB,1MiB:2MiB:x2, 8 MiB") == [64 * KIB, MIB, 2 * MIB, 8 * MIB]


def test_canonical_texts_and_columns():
    axis = parse_axis("4GB/s,12.8GB/s", "dram.bandwidth", "--bandwidth")
    assert axis.values == ("4 GB/s", "12.8 GB/s")
    assert axis.column == "dram.bandwidth_bytes_per_s"
    assert [axis.cell(v) for v in axis.values] == [4_000_000_000, 12_800_000_000]
    assert parse_axis("128KiB", "sram.size", "--sram").column == "sram.size_bytes"


def test_integer_and_choice_fields():
    assert cells("8,16", "datatype.activation_bits") == [8, 16]
    assert cells("0:3:+1", "policy.prefetch") == [0, 1, 2, 3]
    assert cells("belady,lru", "policy.spill") == ["belady", "lru"]
    assert cells(["lru", "belady"], "policy.spill") == ["lru", "belady"]  # a YAML list, order kept


def test_input_axis():
    assert parse_axis("64:256:x2", "input", "--grid").values == ("64x64", "128x128", "256x256")
    assert parse_axis("128x192, 1x3x32x32", "input", "--grid").values == ("128x192", "1x3x32x32")


@pytest.mark.parametrize("text, field, words", [
    ("128KiB:1MiB", "sram.size", ["bad range"]),
    ("1MiB:128KiB:x2", "sram.size", ["ends below its start"]),
    ("128KiB:1MiB:x1", "sram.size", ["must be above 1"]),
    ("128KiB:1MiB:x0.5", "sram.size", ["must be above 1"]),
    ("128KiB:1MiB:+0B", "sram.size", ["above zero"]),
    ("128KiB:1MiB:2", "sram.size", ["bad step"]),
    ("lots", "sram.size", ["sram.size"]),
    ("128 KB", "sram.size", ["KiB"]),
    ("4Gb/s", "sram.size", ["bit unit"]),
    ("1MiB,1MiB", "sram.size", ["more than once"]),
    ("1MiB,,2MiB", "sram.size", ["empty value"]),
    ("1B:1GiB:+1B", "sram.size", ["more than 10,000"]),
    ("8:64:x2", "datatype.activation_bits", ["1 to 32"]),
    ("lru:belady:x2", "policy.spill", ["numeric"]),
    ("lru,fifo", "policy.spill", ["fifo"]),
    ("1MiB", "sram.sise", ["sram.size"]),
    ("0x3", "input", ["input size"]),
])
def test_bad_axes_name_the_flag(text, field, words):
    with pytest.raises(UserError) as info:
        parse_axis(text, field, "--sram")
    assert info.value.where == "--sram"
    assert all(w in str(info.value) for w in words), str(info.value)
