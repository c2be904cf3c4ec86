"""The accelerator presets in accelerators/: all load, with their published figures."""

from pathlib import Path

import pytest
import yaml

from hwsim.spec import load_spec, spec_to_dict
from hwsim.spec.schema import SCHEMA, SECTIONS

PRESET_DIR = Path(__file__).resolve().parents[2] / "accelerators"
PRESETS = sorted(PRESET_DIR.glob("*.yaml"))


def test_the_presets_are_there():
    names = {p.stem for p in PRESETS}
    assert {"edge_npu", "ethos_u55", "ethos_u65", "edge_tpu", "mcu_256k"} <= names


@pytest.mark.parametrize("path", PRESETS, ids=lambda p: p.stem)
def test_every_preset_loads_and_round_trips(path, tmp_path):
    spec = load_spec(path)
    if spec.compute.array is not None:
        assert spec.compute.array.macs == spec.compute.macs_per_cycle
    copy = tmp_path / path.name
    copy.write_text(yaml.safe_dump(spec_to_dict(spec)))
    assert load_spec(copy) == spec


# (file, MACs/cycle, clock Hz, SRAM bytes, DRAM B/s, DRAM latency cycles), worked by hand
# from the figures cited in each file.
FIGURES = [
    ("edge_npu", 32 * 32, 10**9, 8 * 2**20, 3200 * 10**6 * 4, 100),
    ("ethos_u55", 256, 500 * 10**6, 4 * 2**20, 500 * 10**6, 64),
    ("ethos_u65", 512, 10**9, 393216, 3_750_000_000, 500),
    ("edge_tpu", 64 * 64, 500 * 10**6, 8 * 2**20, 5 * 10**9 * 8 // 10 // 8, 500),
    ("mcu_256k", 8, 400 * 10**6, 256 * 1024, 200 * 10**6 * 2, 40),
]


@pytest.mark.parametrize("stem, macs, clock, sram, bandwidth, latency", FIGURES)
def test_preset_figures(stem, macs, clock, sram, bandwidth, latency):
    spec = load_spec(PRESET_DIR / f"{stem}.yaml")
    assert spec.compute.macs_per_cycle == macs
    assert spec.clock_hz == clock
    assert spec.sram.size_bytes == sram
    assert spec.dram.bandwidth_bytes_per_s == bandwidth
    assert spec.dram_latency_cycles() == latency
    assert (spec.datatype.activation_bits, spec.datatype.weight_bits) == (8, 8)


def test_peak_rates_match_the_products():
    tops = {p.stem: load_spec(p).peak_ops_per_s() / 1e12 for p in PRESETS}
    assert tops["edge_tpu"] == pytest.approx(4.0, rel=0.05)      # "4 TOPS (int8)"
    assert tops["ethos_u65"] == pytest.approx(1.0, rel=0.05)     # "up to 1.0 TOPS"
    assert tops["edge_npu"] == pytest.approx(2.048)


def test_edge_npu_comment_documents_every_key():
    comments = "\n".join(line for line in (PRESET_DIR / "edge_npu.yaml").read_text()
                         .splitlines() if line.lstrip().startswith("#"))
    for key, _ in SCHEMA:
        assert f" {key.rpartition('.')[2]}" in comments, key
    for section in SECTIONS[1:]:
        assert f"{section.rpartition('.')[2]}:" in comments, section
