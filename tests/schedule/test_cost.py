"""The layer cost model: every figure worked out by hand from the formulas in
``hwsim.schedule.cost`` and ``hwsim.spec.mappings`` (and, for the Ethos-U-like mappings, from
Vela 5.2's ``_estimate_conv_cycles`` on the same shapes)."""

from dataclasses import replace
from fractions import Fraction

import pytest

from hwsim.schedule.cost import Loops, layer_cost, split_cycles
from hwsim.spec.mappings import ArrayMapping, legacy_mapping
from hwsim.spec.model import ArraySpec, ComputeSpec, PolicySpec, SramSpec
from tests.graph.handmade import Net
from tests.schedule.helpers import make_spec

ARRAY = ArraySpec(32, 32, (legacy_mapping(32, 32, "input_channels", "output_channels"),))
SPEC = make_spec(array=ARRAY, vector_ops_per_cycle=256)

# An Ethos-U55-256-like array: 8 rows over input channels, 32 columns over 2x2 pixels x 8
# output channels; depthwise on the columns only, taps in steps of 4.
U55_CONV = ArrayMapping("conv", ("dense",), (("input_channels", 8),), (("output_pixels", 4), ("output_channels", 8)))
U55_DW = ArrayMapping("depthwise", ("depthwise",), (), (("output_pixels", 4), ("output_channels", 8)),
                      (("kernel_taps", 4),))
U55 = make_spec(array=ArraySpec(8, 32, (U55_CONV, U55_DW)), macs_per_cycle=256, vector_ops_per_cycle=8,
                weights="shared")


def u55(output=4, vector=Fraction(4, 3), port=None, eltwise="fused", transposed="sub_pixel"):
    """The U55-like spec with its output stage, vector unit, SRAM port and policies set."""
    return replace(U55, compute=replace(U55.compute, output_elements_per_cycle=output, vector_ops_per_cycle=vector),
                   sram=replace(U55.sram, port_bytes_per_cycle=port),
                   policy=replace(U55.policy, eltwise=eltwise, transposed_conv=transposed))


def test_first_layer_uses_three_of_32_rows():
    # conv 3 -> 64, 3x3, 64x64 output: 1 group x ceil(3/32)=1 x ceil(64/32)=2 x 4096 px x 9 taps
    g = Net().input("x", 1, 3, 64, 64).conv("c", "x", 64, k=3, bias=False).build()
    cost = layer_cost(g, 0, SPEC)
    assert cost.macs == 3 * 64 * 9 * 4096 == 7_077_888
    assert cost.mac_cycles == cost.cycles == 2 * 4096 * 9 == 73_728
    assert cost.utilisation == pytest.approx(3 / 32)  # 7,077,888 / (73,728 x 1024)
    assert (cost.bottleneck, cost.mapping) == ("mac_array", "input_channels x output_channels")


def test_depthwise_conv_on_a_channel_mapping_uses_one_mac():
    # the legacy mapping runs every op class; depthwise folds 64 groups into 64 output
    # channels of one input channel: ceil(1/32) x ceil(64/32)=2 x 1024 px x 9 taps
    g = Net().input("x", 1, 64, 32, 32).conv("c", "x", 64, k=3, groups=64, bias=False).build()
    cost = layer_cost(g, 0, SPEC)
    assert cost.mac_cycles == 2 * 1024 * 9 == 18_432
    assert cost.macs == 589_824
    assert cost.utilisation == pytest.approx(1 / 32)


def test_fastest_legal_mapping_is_chosen_per_layer():
    # rows over output pixels: ceil(4096/32)=128 x ceil(64/32)=2 x 3 input channels x 9 taps = 6912,
    # against 73,728 for the channel mapping: the pixel mapping is chosen for the first layer
    pixels = legacy_mapping(32, 32, "output_pixels", "output_channels")
    spec = make_spec(array=ArraySpec(32, 32, (ARRAY.mappings[0], replace(pixels, name="pixels"))))
    g = Net().input("x", 1, 3, 64, 64).conv("c", "x", 64, k=3, bias=False).build()
    cost = layer_cost(g, 0, spec)
    assert (cost.mac_cycles, cost.mapping) == (128 * 2 * 3 * 9, "pixels")
    assert cost.utilisation == pytest.approx(1.0)
    # a 64 -> 64 layer on 64x64: channels 2 x 2 x 4096 x 9 = 147,456; pixels 128 x 2 x 64 x 9
    # = 147,456 too: the tie goes to the first listed
    g = Net().input("x", 1, 64, 64, 64).conv("c", "x", 64, k=3, bias=False).build()
    assert layer_cost(g, 0, spec).mapping == "input_channels x output_channels"


def test_ideal_array_divides_macs():
    g = Net().input("x", 1, 3, 8, 8).conv("c", "x", 5, k=3, bias=False).build()
    cost = layer_cost(g, 0, make_spec(array=None))
    assert cost.macs == 3 * 5 * 9 * 64 == 8640
    assert cost.mac_cycles == 9  # ceil(8640 / 1024)
    assert cost.mapping == "ideal"


def test_linear_and_matmul_mapping():
    net = Net().input("x", 1, 10, 64)
    net._t("w", (48, 64), "param")
    net.op("y", "linear", ["x", "w"], (1, 10, 48))
    g = net.build()
    # in_features 64 over rows: 2; out_features 48 over columns: 2; 10 rows of x
    assert layer_cost(g, 0, SPEC).mac_cycles == 2 * 2 * 10
    net = Net().input("a", 2, 8, 40).input("b", 2, 40, 16)
    net.op("c", "matmul", ["a", "b"], (2, 8, 16))
    g = net.build()
    # K = 40 over rows: 2; N = 16 over columns: 1; batch x M = 16 in time
    assert layer_cost(g, 0, SPEC).mac_cycles == 2 * 1 * 16


def _transposed(k: int, pad: int, out_pad: int):
    net = Net().input("x", 1, 64, 8, 8)
    net._t("w", (64, 32, k, k), "param")
    net.op("t", "conv_transpose2d", ["x", "w"], (1, 32, 16, 16), stride=[2, 2], padding=[pad, pad],
           output_padding=[out_pad, out_pad])
    return net.build()


def test_transposed_conv_sub_pixel_and_zero_insertion():
    # 2x2 stride 2, 64 -> 32 channels, 8x8 -> 16x16: ceil(64/32)=2 x ceil(32/32)=1 x 256 output px
    g = _transposed(2, 0, 0)
    sub = layer_cost(g, 0, SPEC)
    assert sub.macs == 64 * 64 * 32 * 4 == 524_288
    assert sub.mac_cycles == 2 * 1 * 256 * 1 == 512  # sub-pixel: ceil(2/2)^2 = 1 tap per phase
    assert sub.utilisation == pytest.approx(1.0)
    zero = layer_cost(g, 0, replace(SPEC, policy=replace(SPEC.policy, transposed_conv="zero_insertion")))
    assert zero.mac_cycles == 2 * 1 * 256 * 4 == 2048  # the whole 2x2 kernel over the zero-filled grid
    assert zero.utilisation == pytest.approx(0.25)
    # 3x3 stride 2, padding 1, output padding 1: sub-pixel ceil(3/2)^2 = 4 taps, zero insertion 9
    g = _transposed(3, 1, 1)
    assert layer_cost(g, 0, SPEC).mac_cycles == 2 * 256 * 4 == 2048
    zero_spec = replace(SPEC, policy=PolicySpec(transposed_conv="zero_insertion"))
    assert layer_cost(g, 0, zero_spec).mac_cycles == 2 * 256 * 9 == 4608


def test_depthwise_3x3_steps_of_four_taps_on_u55_like_array():
    # 64 channels, 32x32 output, 3x3: ceil(1024/4)=256 pixel blocks x ceil(64/8)=8 channel blocks
    # x ceil(9/4) x 4 = 12 tap cycles = 24,576 (Vela: 4 x 256 ublocks x 3 steps x 8 = 24,576)
    g = Net().input("x", 1, 64, 32, 32).conv("c", "x", 64, k=3, groups=64, bias=False).build()
    cost = layer_cost(g, 0, u55())
    assert (cost.mac_cycles, cost.cycles, cost.mapping) == (24_576, 24_576, "depthwise")
    assert cost.output_cycles == 65_536 // 4 == 16_384  # below the array's: mac-bound
    assert cost.bottleneck == "mac_array"
    assert cost.utilisation == pytest.approx(589_824 / (24_576 * 256)) == 3 / 32


def test_narrow_1x1_conv_is_bound_by_the_output_stage():
    # conv 16 -> 8, 1x1, 32x32: ceil(16/8)=2 x ceil(1024/4)=256 x ceil(8/8)=1 x 1 tap = 512 cycles;
    # output stage 8 x 1024 = 8192 elements at 4 per cycle = 2048 cycles
    g = Net().input("x", 1, 16, 32, 32).conv("c", "x", 8, bias=False).build()
    cost = layer_cost(g, 0, u55(port=16))
    assert (cost.mac_cycles, cost.output_cycles, cost.cycles) == (512, 2048, 2048)
    assert cost.bottleneck == "output_stage"
    assert cost.sram_cycles == -(-(16 * 1024 + 8 * 16 + 8 * 1024) // 16) == 1544  # in + weights + out, 16 B/cycle
    # at 8 B per cycle the SRAM port binds instead: 24,704 B / 8 = 3088 cycles
    slow = layer_cost(g, 0, u55(port=8))
    assert (slow.cycles, slow.bottleneck) == (3088, "sram_port")


def test_elementwise_add_as_its_own_pass():
    # conv 8 -> 8 1x1 on 16x16, + x, ReLU. Separate: the conv's main part takes
    # max(mac ceil(8/8) x ceil(256/4) x 1 = 64, output 2048 / 4 = 512) = 512 (the ReLU rides
    # the output stage); the add is a pass of 2048 ops at 4/3 per cycle = 1536: 2048 in all.
    net = Net().input("x", 1, 8, 16, 16).conv("c", "x", 8, bias=False)
    net.op("a", "add", ["c", "x"], (1, 8, 16, 16))
    g = net.relu("r", "a").build()
    assert len(g.layers) == 1
    cost = layer_cost(g, 0, u55(eltwise="separate"))
    assert (cost.mac_cycles, cost.pass_cycles, cost.cycles) == (64, 1536, 512 + 1536)
    assert cost.bottleneck == "vector_unit"  # 1536 of the 2048 cycles
    # fused: add and ReLU are 4096 ops in the pipelined epilogue: ceil(4096 x 3/4) = 3072
    fused = layer_cost(g, 0, u55(eltwise="fused"))
    assert (fused.pass_cycles, fused.cycles, fused.bottleneck) == (0, 3072, "vector_unit")


def test_vector_unit_bounds_a_pooling_layer_and_a_layer_takes_a_cycle():
    g = Net().input("x", 1, 8, 8, 8).pool("p", "x").cat("c", "p", "p").build()
    pool = layer_cost(g, 0, SPEC)
    # 8 x 4 x 4 outputs x 2x2 window = 512 comparisons at 256 per cycle
    assert (pool.mac_cycles, pool.vector_cycles, pool.cycles, pool.utilisation) == (0, 2, 2, 0.0)
    cat = layer_cost(g, 1, SPEC)  # an in-place concatenation moves no data
    assert (cat.cycles, cat.bottleneck) == (1, "none")


def test_concatenation_copied_through_the_output_stage():
    # copy: 2 x 128 = 256 elements out at 4 per cycle = 64; 512 B at 8 B per cycle = 64 too
    g = Net().input("x", 1, 8, 8, 8).pool("p", "x").cat("c", "p", "p").build()
    spec = u55(port=8)
    spec = replace(spec, policy=replace(spec.policy, concat="copy"))
    cost = layer_cost(g, 1, spec)
    assert (cost.output_cycles, cost.sram_cycles, cost.cycles) == (64, 64, 64)


def test_epilogue_is_pipelined_with_the_array():
    # conv 32 -> 32 1x1 on 4x4 (16 cycles) + relu (512 ops / 8 per cycle = 64 cycles)
    g = Net().input("x", 1, 32, 4, 4).conv("c", "x", 32, bias=False).relu("r", "c").build()
    cost = layer_cost(g, 0, replace(SPEC, compute=ComputeSpec(1024, 8, ARRAY)))
    assert (cost.mac_cycles, cost.vector_cycles, cost.cycles) == (16, 64, 64)


def test_mapping_cycles_formula():
    loops = Loops(groups=2, input_channels=33, output_channels=7, output_pixels=10, kernel_taps=9)
    assert ARRAY.mappings[0].cycles(loops.groups, loops.dims()) == 2 * 2 * 1 * 10 * 9
    # U55 conv: ceil(33/8)=5 x ceil(10/4)=3 x ceil(7/8)=1 x 9 taps, twice
    assert U55_CONV.cycles(2, loops.dims()) == 2 * 5 * 3 * 1 * 9
    # U55 depthwise (walked: 33 input channels, 9 taps in steps of 4 -> 12)
    assert U55_DW.cycles(1, loops.dims()) == 33 * 3 * 1 * 12


def test_separate_weight_buffer_reads_no_weights_through_the_sram_port():
    g = Net().input("x", 1, 16, 32, 32).conv("c", "x", 8, bias=False).build()
    spec = u55(port=8)
    spec = replace(spec, sram=SramSpec(1 << 20, 1, "separate", 1 << 20, 8))
    assert layer_cost(g, 0, spec).sram_cycles == (16 * 1024 + 8 * 1024) // 8 == 3072


def test_split_cycles_add_up():
    parts = [split_cycles(10, a, b, 7) for a, b in [(0, 2), (2, 3), (3, 7)]]
    assert parts == [3, 2, 5] and sum(parts) == 10  # ceil(20/7)=3, ceil(30/7)=5, 10


def test_cycles_per_step_multiplies_a_mappings_cycles_and_is_checked():
    from hwsim.spec.mappings import mapping_to_dict, parse_mappings

    entry = {"name": "pooling", "ops": ["pooling"], "rows_over": "none",
             "cols_over": {"output_pixels": 4, "output_channels": 8}, "steps": {"kernel_taps": 4},
             "cycles_per_step": 4}
    problems: list[str] = []
    extra = [{"name": "dw", "ops": ["dense", "depthwise"], "rows_over": "none", "cols_over": "output_channels"}]
    (pool, _) = parse_mappings([entry] + extra, 8, 32, "compute.array.mappings", problems)
    assert problems == []
    # a 2x2 window over 1 x 8 x 4 x 4 outputs: 16 / 4 pixel steps x 8 / 8 channel steps x 4 taps x 4 cycles
    assert pool.cycles(1, {"input_channels": 1, "output_channels": 8, "output_pixels": 16, "kernel_taps": 4}) == 64
    assert mapping_to_dict(pool, 8, 32)["cycles_per_step"] == 4
    parse_mappings([dict(entry, cycles_per_step=0)] + extra, 8, 32, "compute.array.mappings", problems)
    assert problems == ["compute.array.mappings[0].cycles_per_step: must be an integer from 1 to 1024, got 0"]
