"""Quantities with units: figures worked out by hand."""

from fractions import Fraction

import pytest

from hwsim.units import (
    format_bytes, format_quantity, parse_bandwidth, parse_count, parse_energy,
    parse_frequency, parse_power_per_size, parse_quantity, parse_size, parse_time, unit_kind,
)


@pytest.mark.parametrize("text, expected", [
    ("8 MiB", 8388608),            # 8 x 2^20
    ("256 KiB", 262144),           # 256 x 1024
    ("256KiB", 262144),            # spaces optional
    ("  64 B ", 64),
    ("512 kB", 512000),            # decimal prefixes are 10^3 ...
    ("2 MB", 2000000),
    ("1 GiB", 1073741824),         # ... binary ones 2^10
    ("1.5 KiB", 1536),
    ("3.75 MiB", 3932160),         # the NAFNet M_sc of the design notes
    ("1e3 B", 1000),
    ("0 B", 0),
])
def test_parse_size(text, expected):
    value = parse_size(text)
    assert value == expected
    assert type(value) is int


@pytest.mark.parametrize("text, reason", [
    ("8", "needs a unit"),
    (8388608, "needs a unit"),
    ("8 GHz", "got a frequency"),
    ("8 KB", "ambiguous"),
    ("8 Mb", "bit unit"),
    ("8 mib", "did you mean 'MiB'"),
    ("0.5 B", "whole number of bytes"),
    ("-1 KiB", "negative"),
    ("lots", "cannot read"),
    ("8 parsecs", "unknown unit"),
    (True, "expected a size"),
    (None, "expected a size"),
])
def test_parse_size_rejects(text, reason):
    with pytest.raises(ValueError, match=reason):
        parse_size(text)


def test_bandwidth_is_an_exact_integer():
    assert parse_bandwidth("12.8 GB/s") == 12_800_000_000
    assert type(parse_bandwidth("12.8 GB/s")) is int
    assert parse_bandwidth("12.8GB/s") == 12_800_000_000
    assert parse_bandwidth("400 MB/s") == 400_000_000
    assert parse_bandwidth("1 GiB/s") == 1 << 30
    assert parse_bandwidth("3.75 GB/s") == 3_750_000_000
    assert parse_bandwidth("0.5 B/s") == 0.5
    assert parse_quantity("12.8 GB/s", "bandwidth") == Fraction(12_800_000_000)
    with pytest.raises(ValueError, match="got a size"):
        parse_bandwidth("12.8 GB")


def test_frequency():
    assert parse_frequency("1 GHz") == 10**9
    assert type(parse_frequency("1 GHz")) is int
    assert parse_frequency("800 MHz") == 800_000_000
    assert parse_frequency("1.5 kHz") == 1500
    with pytest.raises(ValueError, match="got a time"):
        parse_frequency("1 ns")


def test_time_energy_and_leakage():
    assert parse_time("100 ns") == 1e-7
    assert parse_time("1 us") == parse_time("1 µs") == 1e-6
    assert parse_time("2 ms") == 0.002
    assert parse_quantity("100 ns", "time") == Fraction(1, 10**7)
    assert parse_energy("0.2 pJ") == pytest.approx(2e-13, rel=1e-15)
    assert parse_energy("1 nJ") == 1e-9
    assert parse_quantity("0.2 pJ", "energy") == Fraction(2, 10**13)
    # 0.5 mW per MiB = 0.0005 W / 1048576 B
    assert parse_power_per_size("0.5 mW/MiB") == pytest.approx(4.76837158203125e-10)
    assert parse_power_per_size("1 mW / KiB") == pytest.approx(1e-3 / 1024)
    assert parse_power_per_size("1 W/B") == 1.0
    with pytest.raises(ValueError, match="per size"):
        parse_power_per_size("0.5 mW")


def test_unit_kind():
    assert unit_kind("GHz") == "frequency"
    assert unit_kind("MiB") == "size"
    assert unit_kind("GB/s") == "bandwidth"
    assert unit_kind("mW/MiB") == "power_per_size"
    assert unit_kind("furlong") is None


def test_parse_count():
    assert parse_count(1024) == 1024
    assert parse_count("1_024") == 1024
    for bad in (8.0, True, "-1", "8 MiB", -3):
        with pytest.raises(ValueError):
            parse_count(bad)


@pytest.mark.parametrize("n, text", [
    (3932160, "3.75 MiB"), (512, "512 B"), (262144, "256 KiB"), (1536, "1.5 KiB"),
    (8388608, "8 MiB"), (1073741824, "1 GiB"), (0, "0 B"),
])
def test_format_bytes(n, text):
    assert format_bytes(n) == text


@pytest.mark.parametrize("value, kind, text", [
    (12_800_000_000, "bandwidth", "12.8 GB/s"),
    (1 << 30, "bandwidth", "1 GiB/s"),
    (500_000_000, "bandwidth", "500 MB/s"),
    (8388608, "size", "8 MiB"),
    (64, "size", "64 B"),
    (393216, "size", "384 KiB"),
    (10**9, "frequency", "1 GHz"),
    (480_000_000, "frequency", "480 MHz"),
    (1e-7, "time", "100 ns"),
    (1e-6, "time", "1 us"),
    (Fraction(2, 10**13), "energy", "0.2 pJ"),
    (4e-11, "energy", "40 pJ"),
    (0.5e-3 / 2**20, "power_per_size", "0.5 mW/MiB"),
])
def test_format_quantity_writes_the_usual_spelling(value, kind, text):
    assert format_quantity(value, kind) == text


@pytest.mark.parametrize("value, kind", [
    (123456789, "size"), (12_345_678_901, "bandwidth"), (0.1 + 0.2, "time"),
    (3.3e-13, "energy"), (1.23e-9, "power_per_size"), (999_999_999, "frequency"),
])
def test_format_quantity_round_trips(value, kind):
    back = parse_quantity(format_quantity(value, kind), kind)
    assert (back == value) if isinstance(value, int) else (float(back) == value)
