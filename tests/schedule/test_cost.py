"""The MAC-array mapping model, with cycle counts worked out by hand."""

import pytest

from hwsim.schedule.cost import Loops, array_cycles, layer_cost, split_cycles
from hwsim.spec.model import ArraySpec, ComputeSpec
from tests.graph.handmade import Net

ARRAY = ArraySpec(32, 32, "input_channels", "output_channels")
COMPUTE = ComputeSpec(1024, 256, ARRAY)


def test_first_layer_uses_three_of_32_rows():
    # conv 3 -> 64, 3x3, 64x64 output: 1 group x ceil(3/32)=1 x ceil(64/32)=2 x 4096 px x 9 taps
    g = Net().input("x", 1, 3, 64, 64).conv("c", "x", 64, k=3, bias=False).build()
    cost = layer_cost(g, 0, COMPUTE)
    assert cost.macs == 3 * 64 * 9 * 4096 == 7_077_888
    assert cost.mac_cycles == 2 * 4096 * 9 == 73_728
    assert cost.utilisation == pytest.approx(3 / 32)  # 7,077,888 / (73,728 x 1024)


def test_depthwise_conv_uses_one_mac():
    # 64 groups x ceil(1/32) x ceil(1/32) x 1024 px x 9 taps
    g = Net().input("x", 1, 64, 32, 32).conv("c", "x", 64, k=3, groups=64, bias=False).build()
    cost = layer_cost(g, 0, COMPUTE)
    assert cost.mac_cycles == 64 * 1024 * 9 == 589_824
    assert cost.macs == 589_824
    assert cost.utilisation == pytest.approx(1 / 1024)


def test_laying_pixels_over_rows_fills_the_array_for_the_first_layer():
    # rows over output pixels: ceil(4096/32)=128 x ceil(64/32)=2 x 3 input channels x 9 taps
    array = ArraySpec(32, 32, "output_pixels", "output_channels")
    g = Net().input("x", 1, 3, 64, 64).conv("c", "x", 64, k=3, bias=False).build()
    cost = layer_cost(g, 0, ComputeSpec(1024, 256, array))
    assert cost.mac_cycles == 128 * 2 * 3 * 9 == 6912
    assert cost.utilisation == pytest.approx(1.0)


def test_ideal_array_divides_macs():
    g = Net().input("x", 1, 3, 8, 8).conv("c", "x", 5, k=3, bias=False).build()
    cost = layer_cost(g, 0, ComputeSpec(1024, 256, None))
    assert cost.macs == 3 * 5 * 9 * 64 == 8640
    assert cost.mac_cycles == 9  # ceil(8640 / 1024)


def test_linear_and_matmul_mapping():
    net = Net().input("x", 1, 10, 64)
    net._t("w", (48, 64), "param")
    net.op("y", "linear", ["x", "w"], (1, 10, 48))
    g = net.build()
    # in_features 64 over rows: 2; out_features 48 over columns: 2; 10 rows of x
    assert layer_cost(g, 0, COMPUTE).mac_cycles == 2 * 2 * 10
    net = Net().input("a", 2, 8, 40).input("b", 2, 40, 16)
    net.op("c", "matmul", ["a", "b"], (2, 8, 16))
    g = net.build()
    # K = 40 over rows: 2; N = 16 over columns: 1; batch x M = 16 in time
    assert layer_cost(g, 0, COMPUTE).mac_cycles == 2 * 1 * 16


def test_transposed_conv_maps_over_input_pixels():
    net = Net().input("x", 1, 64, 8, 8)
    net._t("w", (64, 32, 2, 2), "param")
    net.op("t", "conv_transpose2d", ["x", "w"], (1, 32, 16, 16), stride=[2, 2])
    g = net.build()
    cost = layer_cost(g, 0, COMPUTE)
    # ceil(64/32)=2 x ceil(32/32)=1 x 64 input pixels x 4 taps; MACs 64 x 64 x 32 x 4
    assert cost.mac_cycles == 2 * 64 * 4 == 512
    assert cost.macs == 524_288
    assert cost.utilisation == pytest.approx(1.0)


def test_vector_unit_bounds_a_pooling_layer_and_a_layer_takes_a_cycle():
    g = Net().input("x", 1, 8, 8, 8).pool("p", "x").cat("c", "p", "p").build()
    pool = layer_cost(g, 0, COMPUTE)
    # 8 x 4 x 4 outputs x 2x2 window = 512 comparisons at 256 per cycle
    assert (pool.mac_cycles, pool.vector_cycles, pool.cycles, pool.utilisation) == (0, 2, 2, 0.0)
    assert layer_cost(g, 1, COMPUTE).cycles == 1  # concatenation moves data, costs no ops


def test_epilogue_is_pipelined_with_the_array():
    # conv 32 -> 32 1x1 on 4x4 (16 cycles) + relu (512 ops / 8 per cycle = 64 cycles)
    g = Net().input("x", 1, 32, 4, 4).conv("c", "x", 32, bias=False).relu("r", "c").build()
    cost = layer_cost(g, 0, ComputeSpec(1024, 8, ARRAY))
    assert (cost.mac_cycles, cost.vector_cycles, cost.cycles) == (16, 64, 64)


def test_array_cycles_formula():
    loops = Loops(groups=2, input_channels=33, output_channels=7, output_pixels=10, kernel_taps=9)
    assert array_cycles(loops, ARRAY) == 2 * 2 * 1 * 10 * 9


def test_split_cycles_add_up():
    parts = [split_cycles(10, a, b, 7) for a, b in [(0, 2), (2, 3), (3, 7)]]
    assert parts == [3, 2, 5] and sum(parts) == 10  # ceil(20/7)=3, ceil(30/7)=5, 10
