"""The spec's ``host:`` section (the host CPU of ``--fallback host``): figures and every mistake."""

from fractions import Fraction

import pytest

from hwsim.cli import main
from hwsim.spec import load_spec, spec_from_dict, spec_to_dict
from tests.spec.test_load import BASE, error_of, write

HOST = BASE + """\
host:
  name: Cortex-M55
  ops_per_second: 250 Mop/s
  per_op: 40 us
"""


def test_host_figures_and_cycles_by_hand(tmp_path):
    spec = load_spec(write(tmp_path, HOST))
    assert spec.host.name == "Cortex-M55"
    assert spec.host.ops_per_second == Fraction(250_000_000) and spec.host.per_op_s == pytest.approx(40e-6)
    # 40 us + 1,000,000 ops / 250 Mop/s = 40 us + 4 ms = 4.04 ms at 1 GHz
    assert spec.host_cycles(1_000_000) == 4_040_000
    assert spec.host_cycles(1) == 40_004  # 40 us + 4 ns
    assert spec_from_dict(spec_to_dict(spec)) == spec


def test_either_figure_alone(tmp_path):
    rate = load_spec(write(tmp_path, BASE + "host:\n  ops_per_second: 3 Gop/s\n"))
    assert rate.host_cycles(10) == 4  # 10 / 3e9 s = 3.33 ns: a started cycle is a cycle
    fixed = load_spec(write(tmp_path, BASE + "host:\n  per_op: 1 ms\n"))
    assert fixed.host_cycles(10**9) == 1_000_000
    assert spec_from_dict(spec_to_dict(rate)) == rate and spec_from_dict(spec_to_dict(fixed)) == fixed


def test_no_host_section_is_none_and_cannot_time_a_host_op(tmp_path):
    spec = load_spec(write(tmp_path, BASE))
    assert spec.host is None and "host" not in spec_to_dict(spec)
    with pytest.raises(ValueError):
        spec.host_cycles(1)


@pytest.mark.parametrize("section, message", [
    ("host:\n  name: cpu\n", "host: needs ops_per_second (e.g. '200 Mop/s') or per_op (e.g. '50 us') or both"),
    ("host: {}\n", "host: needs ops_per_second"),
    ("host:\n  ops_per_second: 0 op/s\n", "host.ops_per_second: must be greater than zero, got '0 op/s'"),
    ("host:\n  ops_per_second: 200 MHz\n", "host.ops_per_second: expected a throughput such as '200 Mop/s', "
                                           "got a frequency ('MHz')"),
    ("host:\n  ops_per_second: 200\n", "host.ops_per_second: needs a unit, e.g. '200 Mop/s'"),
    ("host:\n  ops_per_second: 2000 Top/s\n", "host.ops_per_second: must be from 1 op/s to 1000 Top/s"),
    ("host:\n  per_op: -5 us\n", "host.per_op: must not be negative"),
    ("host:\n  per_op: 5 s\n", "host.per_op: must be 0 or from 1 ns to 1 s"),
    ("host:\n  per_ops: 5 us\n", "host.per_ops: unknown key (did you mean 'per_op'?)"),
    ("host: 5\n", "host: must be a mapping of keys"),
])
def test_mistakes_name_the_file_and_the_field(tmp_path, section, message):
    path = write(tmp_path, BASE + section)
    err = error_of(path)
    assert err.startswith(f"{path}: ") and message in err and "\n" not in err


def test_the_cli_reports_a_bad_host_field_in_one_line(tmp_path, capsys):
    path = write(tmp_path, BASE + "host:\n  ops_per_second: fast\n")
    assert main(["run", str(path), "graphs/unet.json"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"hwsim: error: {path}: host.ops_per_second: ") and err.count("\n") == 1
