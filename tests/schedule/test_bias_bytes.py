"""Biases stored and moved at ``datatype.bias_bits`` (32 by default), every other parameter at
``weight_bits``: figures worked out by hand.

A 3x3 convolution from 16 to 32 channels at 8 bits: 32 x 16 x 9 = 4,608 weight bytes, and
32 biases x 4 B = 128 B (TFLite int8 and Vela keep int32 biases), 4,736 B in all; at
``bias_bits: 8`` the same layer moves 4,608 + 32 = 4,640 B.
"""

import numpy as np
import pytest

from hwsim.graph.analysis import bias_params, graph_stats
from hwsim.numerics.memory import weight_store
from hwsim.schedule import schedule, verify_plan
from hwsim.schedule.cascade import plan_cascades
from tests.graph.handmade import Net
from tests.schedule.helpers import make_spec, traffic


def conv_16_to_32(bias=True):
    return Net().input("x", 1, 16, 8, 8).conv("c", "x", 32, k=3, bias=bias)


@pytest.mark.parametrize("bias_bits, weights", [(32, 4608 + 32 * 4), (8, 4608 + 32), (16, 4608 + 32 * 2)])
def test_a_conv_moves_its_weights_at_weight_bits_and_its_bias_at_bias_bits(bias_bits, weights):
    g = conv_16_to_32().graph()
    spec = make_spec(bias_bits=bias_bits)
    plan = schedule(g, spec)
    assert verify_plan(plan, spec, g) == []
    assert traffic(plan)["weights"] == weights
    assert [la.weight_bytes for la in plan.layers] == [weights]


def test_a_conv_without_bias_moves_its_weights_only():
    g = conv_16_to_32(bias=False).graph()
    assert traffic(schedule(g, make_spec(bias_bits=32)))["weights"] == 4608


def test_shared_sram_holds_the_32_bit_bias():
    # weights in the shared SRAM: x (1,024 B) + c (2,048 B) + the layer's weights (4,736 B)
    g = conv_16_to_32().graph()
    fits = make_spec(sram=1024 + 2048 + 4736, weights="shared", bias_bits=32)
    plan = schedule(g, fits)
    assert verify_plan(plan, fits, g) == [] and plan.sram_peak_bytes == 1024 + 2048 + 4736


def test_only_the_bias_operand_is_a_bias():
    # a per-channel scale multiplied in (shape 1x32x1x1, NAFNet's beta) is a weight, not a bias
    net = conv_16_to_32()
    net._t("scale", (1, 32, 1, 1), "param")
    net.binary("m", "mul", "c", "scale")
    g = net.graph()
    assert bias_params(g) == frozenset({"c.b"})
    assert traffic(schedule(g, make_spec(bias_bits=32)))["weights"] == 4608 + 128 + 32
    assert graph_stats(g, 8)["bias_params"] == 32


def test_the_cascade_counts_biases_at_bias_bits():
    # two 3x3 convs 16 -> 32 -> 32 in one cascade: (4,608 + 128) + (9,216 + 128) B of weights
    # (4 KiB: x whole (1 KiB) and the output d (2 KiB) leave c to rolling rows)
    g = conv_16_to_32().conv("d", "c", 32, k=3).graph()
    cascades = plan_cascades(g, 8, 8, 4096, 1, weight_buffer=1 << 20, bias_bits=32)
    assert [(c.first, c.last, c.weight_bytes) for c in cascades] == [(0, 1, 4736 + 9344)]
    at_8 = plan_cascades(g, 8, 8, 4096, 1, weight_buffer=1 << 20, bias_bits=8)
    assert [c.weight_bytes for c in at_8] == [4640 + 9248]


def test_the_numerics_weight_image_holds_the_bias_at_32_bits():
    # the image the plan's weight load moves: 4,608 int8 weights then 32 float32 biases
    g = conv_16_to_32().graph()
    rng = np.random.default_rng(0)
    params = {"c.w": rng.standard_normal((32, 16, 3, 3)).astype(np.float32),
              "c.b": rng.standard_normal(32).astype(np.float32)}
    image = weight_store(g, params, 8, bias_bits=32).image(g, 0)
    assert image.raw.size == 4736
    assert [(name, at, n) for name, at, n in image.entries] == [("c.w", 0, 4608), ("c.b", 4608, 128)]
    decoded = weight_store(g, params, 8, bias_bits=32).decode(g, image, image.raw)
    assert np.array_equal(decoded["c.b"], params["c.b"])  # float32 at 32 bits: exact


def test_the_spec_reads_bias_bits_with_a_32_bit_default():
    from pathlib import Path

    from hwsim.errors import UserError
    from hwsim.spec import load_spec

    preset = Path(__file__).resolve().parents[2] / "accelerators" / "mcu_256k.yaml"
    assert "bias_bits" not in preset.read_text()
    assert load_spec(preset).datatype.bias_bits == 32
    assert load_spec(preset, ["datatype.bias_bits=16"]).datatype.bias_bits == 16
    with pytest.raises(UserError, match="bias_bits"):
        load_spec(preset, ["datatype.bias_bits=40"])
