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
