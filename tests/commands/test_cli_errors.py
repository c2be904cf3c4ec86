"""CLI helpers, and user errors whose message holds figures of a run (the SRAM a tile needs).

The bad-input corpus (tests/bad_inputs) holds the other user errors, each with its exact
message; the cases that were here (missing and broken graph files, bad specs, bad models
and shapes, usage errors) are part of it.
"""

import json
import subprocess
import sys

import pytest

from tests.graph.handmade import two_level_u


def hwsim(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "hwsim", *args], capture_output=True, text=True, cwd=cwd)


def assert_user_error(proc, *needles):
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("hwsim: error: "), proc.stderr
    assert "Traceback" not in proc.stderr
    for n in needles:
        assert n in lines[0], lines[0]


def write(tmp_path, name, obj):
    p = tmp_path / name
    p.write_text(obj if isinstance(obj, str) else json.dumps(obj))
    return str(p)


def test_info_prints_the_figures(tmp_path):
    proc = hwsim("info", write(tmp_path, "g.json", two_level_u().dict()), "--json")
    assert proc.returncode == 0
    s = json.loads(proc.stdout)
    assert s["msc_bytes"] == 3072 and s["layers"] == 9 and s["ops"] == 11
    for key in ("name", "ops", "layers", "macs", "params", "conv_params", "activation_peak_bytes",
                "skip_tensors", "msc_bytes", "msc_curve_bytes"):
        assert key in s


@pytest.mark.torch
def test_extract_then_info_round_trip(tmp_path):
    pytest.importorskip("torch")
    out = tmp_path / "g.json"
    proc = hwsim("extract", "tests.extract.models:PlainUNet", "--input", "1x3x32x32", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    info = json.loads(hwsim("info", str(out), "--json").stdout)
    assert info["msc_bytes"] == 12288


EDGE_NPU = "accelerators/edge_npu.yaml"


def test_run_with_sram_too_small_for_any_tile_names_the_layer(tmp_path):
    graph = write(tmp_path, "g.json", two_level_u().dict())
    proc = hwsim("run", EDGE_NPU, graph, "--set", "sram.size=64B", "--set", "sram.alignment=16B")
    assert_user_error(proc, "edge_npu.yaml: sram.size:", "needs", "for one tile", "layer '")
