"""Loading accelerator YAML: hand-worked figures, and every kind of mistake reported."""

import dataclasses
from fractions import Fraction

import pytest
import yaml

from hwsim.errors import UserError
from hwsim.spec import load_spec, spec_from_dict, spec_to_dict, with_overrides

BASE = """\
name: test-npu
clock: 1 GHz
compute:
  macs_per_cycle: 1024
  vector_ops_per_cycle: 64
  array: {rows: 32, cols: 32, rows_over: input_channels, cols_over: output_channels}
sram:
  size: 8 MiB
dram:
  bandwidth: 12.8 GB/s
  latency: 100 ns
datatype:
  activation_bits: 8
  weight_bits: 8
energy:
  mac: 0.2 pJ
  sram_byte: 1 pJ
  dram_byte: 40 pJ
  sram_leakage: 0.5 mW/MiB
"""


def write(tmp_path, text, name="npu.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def edit(text, old, new):
    assert old in text, old
    return text.replace(old, new)


def error_of(path, overrides=()):
    with pytest.raises(UserError) as info:
        load_spec(path, overrides)
    return str(info.value)


def test_base_figures(tmp_path):
    spec = load_spec(write(tmp_path, BASE))
    assert spec.name == "test-npu"
    assert spec.clock_hz == 10**9
    assert spec.sram.size_bytes == 8 * 1024 * 1024
    assert spec.dram.bandwidth_bytes_per_s == 12_800_000_000
    assert spec.dram.latency_s == 1e-7
    assert spec.dram_latency_cycles() == 100            # 100 ns at 1 GHz
    assert spec.dram_bytes_per_cycle() == 12.8
    assert spec.dram_transfer_cycles(128) == 10         # 128 B / 12.8 B per cycle
    assert spec.dram_transfer_cycles(129) == 11         # a part-cycle is a cycle
    assert spec.peak_ops_per_s() == 2 * 1024 * 10**9
    assert spec.energy.mac_pj == 0.2
    assert spec.energy.dram_byte_pj == 40.0
    assert spec.energy.sram_leakage_w_per_byte == pytest.approx(0.5e-3 / 2**20)
    # 0.5 mW/MiB x 8 MiB = 4 mW; for 1 ns that is 4 pJ
    assert spec.sram_leakage_pj_per_cycle() == pytest.approx(4.0)
    assert spec.compute.array.macs == 1024


def test_latency_cycles_are_exact(tmp_path):
    path = write(tmp_path, BASE)
    # in floats 61e-9 * 1e9 = 61.00000000000001, which would round up to 62
    assert load_spec(path, ["dram.latency=61 ns"]).dram_latency_cycles() == 61
    assert load_spec(path, ["dram.latency=35 ns", "clock=800 MHz"]).dram_latency_cycles() == 28
    assert load_spec(path, ["dram.latency=0.5 ns"]).dram_latency_cycles() == 1


def test_defaults(tmp_path):
    spec = load_spec(write(tmp_path, BASE))
    assert dataclasses.astuple(spec.policy) == ("graph", "optimal", 1, "inplace", "layer", 60.0, "fused", "sub_pixel", "latency")
    assert spec.sram.alignment_bytes == 64
    assert spec.sram.weights == "shared" and spec.sram.weight_buffer_bytes == 0
    assert spec.dram.channels == 1
    assert spec.energy.vector_op_pj == spec.energy.mac_pj
    no_array = load_spec(write(tmp_path, edit(
        BASE, "  array: {rows: 32, cols: 32, rows_over: input_channels, "
              "cols_over: output_channels}\n", "")))
    assert no_array.compute.array is None


def test_byte_helpers(tmp_path):
    spec = load_spec(write(tmp_path, BASE), ["datatype.activation_bits=3"])
    assert spec.datatype.activation_bytes(10) == 4      # ceil(30 / 8)
    assert spec.datatype.weight_bytes(10) == 10
    assert spec.sram.aligned(65) == 128 and spec.sram.aligned(64) == 64


def test_separate_weight_buffer(tmp_path):
    text = edit(BASE, "  size: 8 MiB\n",
                "  size: 8 MiB\n  weights: separate\n  weight_buffer: 512 KiB\n")
    spec = load_spec(write(tmp_path, text))
    assert spec.sram.separate_weights and spec.sram.weight_buffer_bytes == 524288
    assert spec.sram.total_bytes == 8 * 2**20 + 524288


def test_duplicate_key_is_reported_with_lines(tmp_path):
    path = write(tmp_path, edit(BASE, "  size: 8 MiB\n", "  size: 8 MiB\n  size: 4 MiB\n"))
    message = error_of(path)
    assert message.startswith(f"{path}: ")
    assert "sram.size: duplicate key (lines 8 and 9)" in message


def test_duplicate_key_in_flow_mapping(tmp_path):
    path = write(tmp_path, edit(BASE, "rows: 32, cols: 32,", "rows: 32, rows: 16, cols: 32,"))
    assert "compute.array.rows: duplicate key" in error_of(path)


def test_unknown_key_suggests_the_close_one(tmp_path):
    path = write(tmp_path, edit(BASE, "  bandwidth:", "  bandwid:"))
    message = error_of(path)
    assert "dram.bandwid: unknown key (did you mean 'bandwidth'?)" in message
    assert "dram.bandwidth: missing" in message


@pytest.mark.parametrize("old, new, expected", [
    ("size: 8 MiB", "size: 8388608", "sram.size: needs a unit, e.g. '8 MiB'"),
    ("size: 8 MiB", "size: 0 B", "sram.size: must be greater than zero"),
    ("size: 8 MiB", "size: 8 GHz", "sram.size: expected a size"),
    ("latency: 100 ns", "latency: 100 MHz", "dram.latency: expected a time"),
    ("clock: 1 GHz", "clock: 1", "clock: needs a unit"),
    ("activation_bits: 8", "activation_bits: 0", "datatype.activation_bits: must be an "
                                                 "integer from 1 to 32"),
    ("activation_bits: 8", "activation_bits: 33", "datatype.activation_bits: must be"),
    ("weight_bits: 8", "weight_bits: 8.5", "datatype.weight_bits: must be an integer"),
    ("weight_bits: 8", "weight_bits: true", "datatype.weight_bits: must be an integer"),
    ("macs_per_cycle: 1024", "macs_per_cycle: 1000",
     "compute.macs_per_cycle: 1000 is not compute.array rows x cols = 32 x 32 = 1024"),
    ("cols_over: output_channels", "cols_over: input_channels", "compute.array: rows_over "
                                                                "and cols_over are both"),
    ("rows_over: input_channels", "rows_over: batch", "compute.array.rows_over: unknown"),
    ("size: 8 MiB", "size: 8 MiB\n  alignment: 48 B", "sram.alignment: 48 B is not a power"),
    ("size: 8 MiB", "size: 64 B\n  alignment: 128 B", "sram.alignment: 128 B is larger"),
    ("size: 8 MiB", "size: 8 MiB\n  weights: separate", "sram.weight_buffer: missing"),
    ("size: 8 MiB", "size: 8 MiB\n  weight_buffer: 1 MiB", "sram.weight_buffer: only allowed"),
    ("size: 8 MiB", "size: 8 MiB\n  weights: both", "sram.weights: unknown value 'both'"),
    ("sram_leakage: 0.5 mW/MiB", "sram_leakage: 0.5 mW", "energy.sram_leakage: 'mW' is a "
                                                         "power"),
    ("mac: 0.2 pJ", "mac: -0.2 pJ", "energy.mac: must not be negative"),
    ("  latency: 100 ns\n", "  latency: 100 ns\n  channels: 0\n", "dram.channels: must be"),
])
def test_each_mistake_names_file_and_key(tmp_path, old, new, expected):
    path = write(tmp_path, edit(BASE, old, new))
    message = error_of(path)
    assert message.startswith(f"{path}: ")
    assert expected in message


@pytest.mark.parametrize("policy, expected", [
    ("{order: memroy}", "policy.order: unknown value 'memroy' (did you mean 'memory'?)"),
    ("{order: random}", "policy.order: unknown value 'random'"),
    ("{spill: lr}", "policy.spill: unknown value 'lr' (did you mean 'lru'?)"),
    ("{concat: glue}", "policy.concat: unknown value 'glue'"),
    ("{prefetch: -1}", "policy.prefetch: must not be negative"),
    ("{prefetch: 1.5}", "policy.prefetch: expected an integer"),
    ("[belady]", "policy: must be a mapping"),
])
def test_policy_mistakes(tmp_path, policy, expected):
    assert expected in error_of(write(tmp_path, BASE + f"policy: {policy}\n"))


def test_policy_values(tmp_path):
    text = BASE + "policy: {order: memory, spill: skip_first, prefetch: 0, concat: copy, execution: cascade}\n"
    assert dataclasses.astuple(load_spec(write(tmp_path, text)).policy) == (
        "memory", "skip_first", 0, "copy", "cascade", 60.0, "fused", "sub_pixel", "latency")


def test_missing_section_and_keys(tmp_path):
    text = BASE.split("energy:")[0].replace("  latency: 100 ns\n", "")
    message = error_of(write(tmp_path, text))
    assert "energy: missing section (needs mac, sram_byte, dram_byte)" in message
    assert "dram.latency: missing, e.g. '100 ns'" in message


def test_all_problems_reported_at_once(tmp_path):
    text = edit(edit(edit(edit(BASE, "size: 8 MiB", "size: 8388608"),
                          "bandwidth:", "bandwid:"),
                     "activation_bits: 8", "activation_bits: 40"),
                "clock: 1 GHz", "clock: 1 GHz\nclock: 2 GHz")
    path = write(tmp_path, text)
    with pytest.raises(UserError) as info:
        load_spec(path)
    assert info.value.where == str(path)
    problems = info.value.what.split("; ")
    keys = [p.split(":")[0] for p in problems]
    assert keys == ["clock", "dram.bandwid", "sram.size", "dram.bandwidth",
                    "datatype.activation_bits"]


def test_overrides(tmp_path):
    path = write(tmp_path, BASE)
    spec = load_spec(path, ["sram.size=256KiB", "datatype.activation_bits=16",
                            "policy.spill=lru", "clock=800MHz", "dram.bandwidth = 1 GiB/s"])
    assert spec.sram.size_bytes == 262144
    assert spec.datatype.activation_bits == 16
    assert spec.policy.spill == "lru"               # policy section created by --set
    assert spec.clock_hz == 800_000_000
    assert spec.dram.bandwidth_bytes_per_s == 1 << 30
    assert load_spec(path).sram.size_bytes == 8388608   # the file is untouched


@pytest.mark.parametrize("override, expected", [
    ("sram.sise=1 MiB", "--set sram.sise: no such field (did you mean 'sram.size'?)"),
    ("sram=1 MiB", "--set sram: is a section, set one of its keys (sram.size, "),
    ("sram.size", "expected KEY=VALUE"),
    ("sram.size=", "--set sram.size: no value"),
    ("sram.size=[1, 2]", "--set sram.size: expected a single value"),
    ("sram.size=2", "--set sram.size: needs a unit"),
    ("policy.spill=fifo", "--set policy.spill: unknown value 'fifo'"),
])
def test_override_mistakes_name_file_and_key(tmp_path, override, expected):
    path = write(tmp_path, BASE)
    message = error_of(path, [override])
    assert message.startswith(f"{path}: ") and expected in message


def test_overrides_must_be_a_list():
    with pytest.raises(TypeError):
        load_spec("unused.yaml", "sram.size=1MiB")


@pytest.mark.parametrize("text, expected", [
    ("name: [unclosed\n", "invalid YAML at line 2"),
    ("a: 1\n  b: 2\n", "invalid YAML at line 2, column 4"),
    ("- 1\n- 2\n", "top level must be a mapping"),
    ("", "empty file"),
    ("a: 1\n---\nb: 2\n", "invalid YAML"),
    ("x: !!python/object/apply:os.system ['echo pwned']\n", "invalid YAML"),
])
def test_unreadable_files(tmp_path, text, expected):
    path = write(tmp_path, text)
    message = error_of(path)
    assert message.startswith(f"{path}: ") and expected in message
    assert "\n" not in message


def test_missing_file_and_directory(tmp_path):
    assert error_of(tmp_path / "nope.yaml") == f"{tmp_path / 'nope.yaml'}: no such file"
    assert "is a directory" in error_of(tmp_path)


def test_spec_to_dict_round_trips(tmp_path):
    text = edit(BASE, "  size: 8 MiB\n",
                "  size: 8 MiB\n  weights: separate\n  weight_buffer: 384 KiB\n")
    spec = load_spec(write(tmp_path, text))
    data = spec_to_dict(spec)
    assert data["sram"] == {"size": "8 MiB", "alignment": "64 B", "weights": "separate",
                            "weight_buffer": "384 KiB"}
    assert data["dram"]["bandwidth"] == "12.8 GB/s"
    assert data["energy"]["sram_leakage"] == "0.5 mW/MiB"
    again = load_spec(write(tmp_path, yaml.safe_dump(data), "again.yaml"))
    assert again == spec
    assert spec_from_dict(data) == spec


def test_with_overrides(tmp_path):
    spec = load_spec(write(tmp_path, BASE))
    smaller = with_overrides(spec, {"sram.size": "256 KiB", "policy.spill": "largest"})
    assert smaller.sram.size_bytes == 262144 and smaller.policy.spill == "largest"
    assert with_overrides(spec, {"sram.size": 131072}).sram.size_bytes == 131072
    assert smaller.dram == spec.dram
    with pytest.raises(UserError, match="sram.sise: no such field"):
        with_overrides(spec, {"sram.sise": "1 MiB"})
    with pytest.raises(UserError, match="compute.macs_per_cycle: 512 is not"):
        with_overrides(spec, {"compute.macs_per_cycle": 512})


MAPPINGS = """\
  array:
    rows: 8
    cols: 32
    mappings:
      - {name: conv, ops: [dense], rows_over: input_channels, cols_over: {output_pixels: 4, output_channels: 8}}
      - {name: dw, ops: [depthwise], rows_over: none, cols_over: {output_pixels: 4, output_channels: 8},
         steps: {kernel_taps: 4}}
"""
U55_BASE = edit(BASE, "  macs_per_cycle: 1024\n  vector_ops_per_cycle: 64\n  array: {rows: 32, cols: 32, rows_over: "
                "input_channels, cols_over: output_channels}\n",
                "  macs_per_cycle: 256\n  vector_ops_per_cycle: 4/3\n  output_elements_per_cycle: 4\n" + MAPPINGS)


def test_mappings_list_rates_and_dram_efficiency(tmp_path):
    text = U55_BASE.replace("  latency: 100 ns\n", "  latency: 100 ns\n  efficiency: 85 %\n  turnaround: 20 ns\n")
    spec = load_spec(write(tmp_path, text))
    conv, dw = spec.compute.array.mappings
    assert (conv.name, conv.ops, conv.rows, conv.cols) == (
        "conv", ("dense",), (("input_channels", 8),), (("output_channels", 8), ("output_pixels", 4)))
    assert (dw.rows, dw.steps, dw.busy_macs()) == ((), (("kernel_taps", 4),), 32)
    assert spec.compute.vector_ops_per_cycle == Fraction(4, 3)
    assert spec.compute.output_elements_per_cycle == 4
    assert spec.dram.efficiency == Fraction(17, 20)
    # 12.8 GB/s x 85 % = 10.88 GB/s: 1088 B take 100 cycles at 1 GHz; 20 ns turnaround = 20 cycles
    assert spec.dram_transfer_cycles(1088) == 100 and spec.dram_turnaround_cycles() == 20


def test_legacy_pair_is_one_mapping_for_every_op(tmp_path):
    (only,) = load_spec(write(tmp_path, BASE)).compute.array.mappings
    assert (only.ops, only.rows, only.cols) == (("dense", "depthwise"), (("input_channels", 32),),
                                                (("output_channels", 32),))


@pytest.mark.parametrize("old, new, message", [
    ("output_pixels: 4, output_channels: 8}}\n      - {name: dw",
     "output_pixels: 8, output_channels: 8}}\n      - {name: dw",
     "compute.array.mappings[0].cols_over: extents multiply to 64, more than the side's 32"),
    ("rows_over: input_channels, cols_over: {out", "rows_over: batch, cols_over: {out",
     "compute.array.mappings[0].rows_over: unknown dimension 'batch'"),
    ("ops: [depthwise]", "ops: [dense]", "compute.array.mappings: no mapping runs depthwise ops"),
    ("steps: {kernel_taps: 4}", "steps: {output_pixels: 6}",
     "compute.array.mappings[1].steps.output_pixels: a step of a mapped dimension must be a multiple of its extent "
     "4, got 6"),
    ("    rows: 8\n", "    rows: 8\n    rows_over: input_channels\n",
     "compute.array.rows_over: give the mappings list or rows_over/cols_over, not both"),
    ("vector_ops_per_cycle: 4/3", "vector_ops_per_cycle: 4/0", "compute.vector_ops_per_cycle: must be a number"),
])
def test_mapping_mistakes_name_the_entry(tmp_path, old, new, message):
    assert message in error_of(write(tmp_path, edit(U55_BASE, old, new)))


def test_dram_efficiency_out_of_range(tmp_path):
    text = BASE.replace("  latency: 100 ns\n", "  latency: 100 ns\n  efficiency: 120 %\n")
    assert "dram.efficiency: must be above 0 % and at most 100 %" in error_of(write(tmp_path, text))


def test_a_whole_side_follows_the_array_size_through_overrides(tmp_path):
    spec = with_overrides(load_spec(write(tmp_path, U55_BASE)),
                          {"compute.array.rows": 16, "compute.macs_per_cycle": 512})
    conv, dw = spec.compute.array.mappings
    assert conv.rows == (("input_channels", 16),)  # laid whole over the rows: 16 now
    assert conv.cols == (("output_channels", 8), ("output_pixels", 4))  # explicit extents stay
