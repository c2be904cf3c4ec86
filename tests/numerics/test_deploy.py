"""Quantisation as deployed: which weights get per-channel scales, shared formats of concatenations,
calibrated ranges (hand-made graphs, figures by hand; no torch)."""

import numpy as np
import pytest

from hwsim.numerics.deploy import Quantisation, codecs_from_ranges, shared_groups, value_ranges
from hwsim.numerics.memory import channel_axes, weight_store
from tests.graph.handmade import Net


def skip_net():
    """c0 = conv(x); p = pool(c0); c1 = conv(p); u = up(c1); k = cat(u, c0); o = conv(k)."""
    return (Net("skip").input("x", 1, 2, 8, 8).conv("c0", "x", 4, k=3).pool("p", "c0").conv("c1", "p", 4, k=3)
            .up("u", "c1").cat("k", "u", "c0").conv("o", "k", 2).graph())


def test_conv_weights_get_per_channel_axes_and_biases_do_not():
    g = skip_net()
    axes = channel_axes(g)
    assert axes == {"c0.w": 0, "c1.w": 0, "o.w": 0}


def test_a_concatenation_shares_one_format_with_its_inputs():
    g = skip_net()
    groups = shared_groups(g)
    assert groups["u"] == groups["c0"] == groups["k"]
    assert len({groups["x"], groups["p"], groups["c1"], groups["o"], groups["k"]}) == 5
    ranges = {"x": (-1, 1), "c0": (-2, 0.5), "p": (0, 1), "c1": (-0.1, 0.1), "u": (-0.1, 4), "k": (-0.1, 0.5),
              "o": (0, 3)}
    codecs = codecs_from_ranges(g, ranges, 8)
    # the union of c0, u and k: max |x| = 4 -> scale 4/127 for all three
    assert codecs["c0"] == codecs["u"] == codecs["k"] and codecs["k"].scale == pytest.approx(4 / 127)
    assert codecs["c1"].scale == pytest.approx(0.1 / 127)
    asym = codecs_from_ranges(g, ranges, 8, asymmetric=True)
    assert asym["k"].scale == pytest.approx(6 / 255) and asym["k"].zero_point == round(-128 + 2 / (6 / 255))


def test_value_ranges_span_every_calibration_run():
    runs = [{"a": np.array([1.0, -2.0])}, {"a": np.array([3.0, 0.0]), "b": np.array([5.0])}]
    assert value_ranges(runs, ["a", "b", "c"]) == {"a": (-2.0, 3.0), "b": (5.0, 5.0)}


def test_a_layer_output_without_a_range_is_named():
    g = skip_net()
    with pytest.raises(KeyError, match="c1"):
        codecs_from_ranges(g, {"x": (0, 1)}, 8)


def test_weight_store_per_channel_and_per_tensor():
    g = Net("one").input("x", 1, 1, 4, 4).conv("c", "x", 2).graph()
    params = {"c.w": np.array([1.0, 0.01], np.float32).reshape(2, 1, 1, 1), "c.b": np.zeros(2, np.float32)}
    per_channel = weight_store(g, params, 8)
    per_tensor = weight_store(g, params, 8, per_channel=False)
    assert per_channel.values["c.w"].reshape(-1)[1] == pytest.approx(0.01, rel=1e-6)
    assert per_tensor.values["c.w"].reshape(-1)[1] == pytest.approx(1 / 127, rel=1e-6)
    assert per_channel.encoded["c.w"].size == per_tensor.encoded["c.w"].size == 2  # the scales are not bytes


def test_unknown_schemes_are_refused():
    with pytest.raises(ValueError, match="per-channel, per-tensor"):
        Quantisation(weights="per-row")
    with pytest.raises(ValueError, match="symmetric, asymmetric"):
        Quantisation(activations="signed")
