"""The storage codecs: SQNR against the textbook figures, exact round trips, hand-worked bytes."""

import math

import numpy as np
import pytest

from hwsim.numerics.quantize import Codec, UnsupportedBits, calibrated, codec_for, sqnr_db

N = 1_000_000


@pytest.mark.parametrize("bits", [8, 16])
def test_full_scale_sine_sqnr_is_6_02b_plus_1_76(bits):
    # the textbook figure: a full-scale sinusoid, noise of step^2/12 -> 6.02 b + 1.76 dB
    t = np.arange(N)
    x = np.sin(2 * np.pi * t * 0.1234567).astype(np.float32)
    codec = codec_for(bits, x)
    got = sqnr_db(x, codec.round_trip(x))
    assert abs(got - (6.02 * bits + 1.76)) < 0.5, got


@pytest.mark.parametrize("bits", [8, 16])
def test_full_scale_uniform_sqnr(bits):
    # a uniform signal on [-A, A]: power A^2/3, noise step^2/12 with step = A/qmax -> 20 log10(2 qmax),
    # which is 6.02 b less 0.03 dB at 8 bits (the sine's +1.76 dB comes from its lower crest factor)
    x = np.random.default_rng(1).uniform(-1, 1, N).astype(np.float32)
    codec = codec_for(bits, x)
    got = sqnr_db(x, codec.round_trip(x))
    assert abs(got - 20 * math.log10(2 * (2 ** (bits - 1) - 1))) < 0.5, got
    assert abs(got - 6.02 * bits) < 0.5


def test_eight_bit_bytes_by_hand():
    codec = calibrated(8, 2.54)  # scale 0.02
    raw = codec.encode(np.array([0.0, 0.02, -0.061, 2.54, 9.0, -9.0], np.float32))
    assert raw.dtype == np.uint8
    assert raw.view(np.int8).tolist() == [0, 1, -3, 127, 127, -127]  # -3.05 -> -3; clipped at +-127
    np.testing.assert_allclose(codec.decode(raw, (6,)), [0, 0.02, -0.06, 2.54, 2.54, -2.54], rtol=1e-6)


def test_sixteen_bit_little_endian():
    codec = Codec(16, 1.0)
    raw = codec.encode(np.array([258.0], np.float32))
    assert raw.tolist() == [2, 1]


def test_float32_round_trip_is_exact():
    x = np.random.default_rng(2).standard_normal((3, 4, 5)).astype(np.float32)
    codec = calibrated(32, 123.0)
    assert codec.nbytes(x.size) == x.size * 4
    assert np.array_equal(codec.round_trip(x), x)


def test_unsupported_bits():
    with pytest.raises(UnsupportedBits, match="12"):
        calibrated(12, 1.0)


def test_sqnr_edges():
    assert sqnr_db(np.ones(3), np.ones(3)) == math.inf
    assert sqnr_db(np.zeros(3), np.ones(3)) == -math.inf
    assert sqnr_db(np.ones(3), np.full(3, np.nan)) == -math.inf
    assert sqnr_db(np.ones(4), np.ones(4) * 1.1) == pytest.approx(20.0)


def test_per_channel_codes_by_hand():
    # axis 0: channel 0 peaks at 2 (scale 2/127), channel 1 at 0.5 (scale 0.5/127)
    w = np.array([[1.0, -2.0], [0.5, 0.25]], np.float32)
    codec = codec_for(8, w, axis=0)
    assert codec.axis == 0 and codec.scale == pytest.approx((2 / 127, 0.5 / 127))
    raw = codec.encode(w)
    assert raw.view(np.int8).tolist() == [64, -127, 127, 64]  # 63.5 -> 64 (half to even), 63.5 -> 64
    np.testing.assert_allclose(codec.decode(raw, w.shape), [[128 / 127, -2], [0.5, 64 / 254]], rtol=1e-6)


def test_per_channel_keeps_a_small_channel_that_per_tensor_loses():
    # one scale for both rows: 0.01 is 1.27 steps of 1/127 -> 1 step = 0.00787, 21 % off; its own scale: exact
    w = np.array([[1.0, -1.0], [0.01, -0.01]], np.float32)
    per_tensor = codec_for(8, w).round_trip(w)
    per_channel = codec_for(8, w, axis=0).round_trip(w)
    assert per_tensor[1, 0] == pytest.approx(1 / 127, rel=1e-6)
    assert per_channel[1, 0] == pytest.approx(0.01, rel=1e-6)


def test_asymmetric_codes_by_hand():
    from hwsim.numerics.quantize import calibrated_range

    # [0, 2.55]: scale 2.55 / 255 = 0.01, zero point -128 - 0 / 0.01 = -128; 1.0 -> 100 - 128 = -28
    codec = calibrated_range(8, 0.0, 2.55, asymmetric=True)
    assert codec.scale == pytest.approx(0.01) and codec.zero_point == -128 and codec.qmin == -128
    raw = codec.encode(np.array([0.0, 1.0, 2.55, 3.0, -1.0], np.float32))
    assert raw.view(np.int8).tolist() == [-128, -28, 127, 127, -128]
    # [-1, 3]: scale 4/255, zero point rint(-128 + 63.75) = -64; 0 stores exactly
    codec = calibrated_range(8, -1.0, 3.0, asymmetric=True)
    assert codec.zero_point == -64 and codec.round_trip(np.zeros(3, np.float32)).tolist() == [0, 0, 0]
    # a range that excludes 0 is widened to hold it (zero padding stays exact)
    assert calibrated_range(8, 1.0, 2.0, asymmetric=True).zero_point == -128
    # symmetric keeps -127..127
    assert calibrated_range(8, -1.0, 3.0).encode(np.array([-3.0], np.float32)).view(np.int8).tolist() == [-127]


@pytest.mark.parametrize("bits", [8, 16])
@pytest.mark.parametrize("asymmetric", [False, True])
def test_storing_a_stored_value_again_changes_nothing(bits, asymmetric):
    # the memory-free quantised run stores a concatenation of stored pieces again with the same
    # format: that must give the very same bytes as the pieces hold (an in-place concatenation)
    from hwsim.numerics.quantize import calibrated_range

    x = np.random.default_rng(3).standard_normal(100_000).astype(np.float32) * 7
    codec = calibrated_range(bits, float(x.min()), float(x.max()), asymmetric)
    once = codec.encode(x)
    again = codec.encode(codec.decode(once, x.shape))
    assert np.array_equal(once, again)
