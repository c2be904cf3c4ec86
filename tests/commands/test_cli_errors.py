"""Every user error: one 'hwsim: error:' line naming what is wrong, exit 2, no traceback, no output file."""

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


def test_info_missing_file(tmp_path):
    assert_user_error(hwsim("info", str(tmp_path / "nope.json")), "nope.json", "no such file")


def test_info_not_json(tmp_path):
    assert_user_error(hwsim("info", write(tmp_path, "g.json", "{ not json")), "g.json", "not valid JSON", "line 1")


def test_info_cycle(tmp_path):
    d = two_level_u().dict()
    d["ops"][0]["inputs"][0] = "d1"
    assert_user_error(hwsim("info", write(tmp_path, "g.json", d)), "g.json", "$.ops[0].inputs[0]")


def test_info_dangling_tensor(tmp_path):
    d = two_level_u().dict()
    d["ops"][3]["inputs"][0] = "ghost"
    assert_user_error(hwsim("info", write(tmp_path, "g.json", d)), "no tensor named 'ghost'")


def test_info_wrong_schema_version(tmp_path):
    d = two_level_u().dict()
    d["schema_version"] = 7
    assert_user_error(hwsim("info", write(tmp_path, "g.json", d)), "$.schema_version")


def test_info_bad_bits(tmp_path):
    assert_user_error(hwsim("info", write(tmp_path, "g.json", two_level_u().dict()), "--bits", "0"), "--bits")


def test_info_prints_the_figures(tmp_path):
    proc = hwsim("info", write(tmp_path, "g.json", two_level_u().dict()), "--json")
    assert proc.returncode == 0
    s = json.loads(proc.stdout)
    assert s["msc_bytes"] == 3072 and s["layers"] == 9 and s["ops"] == 11
    for key in ("name", "ops", "layers", "macs", "params", "conv_params", "activation_peak_bytes",
                "skip_tensors", "msc_bytes", "msc_curve_bytes"):
        assert key in s


@pytest.mark.torch
@pytest.mark.parametrize("model, shape, needles", [
    ("tests/extract/missing.py:Net", "1x3x8x8", ["no such file"]),
    ("tests/extract/models.py:NoSuchNet", "1x3x8x8", ["has no attribute 'NoSuchNet'"]),
    ("tests.extract.nosuchmodule:Net", "1x3x8x8", ["cannot import 'tests.extract.nosuchmodule'"]),
    ("tests/extract/models.py:broken", "1x3x8x8", ["building 'broken' failed", "this factory is broken"]),
    ("tests/extract/models.py:PlainUNet", "1x3x0x5", ["--input", "positive"]),
    ("tests/extract/models.py:PlainUNet", "abc", ["--input", "'abc'"]),
    ("tests/extract/models.py:PlainUNet", "1x5x32x32", ["cannot run on input [1, 5, 32, 32]"]),
    ("notazoomodel", "1x3x8x8", ["not a zoo model"]),
])
def test_extract_errors_leave_no_output(tmp_path, model, shape, needles):
    pytest.importorskip("torch")
    out = tmp_path / "g.json"
    proc = hwsim("extract", model, "--input", shape, "-o", str(out))
    assert_user_error(proc, *needles)
    assert not out.exists() and not list(tmp_path.iterdir())


@pytest.mark.torch
def test_extract_then_info_round_trip(tmp_path):
    pytest.importorskip("torch")
    out = tmp_path / "g.json"
    proc = hwsim("extract", "tests.extract.models:PlainUNet", "--input", "1x3x32x32", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    info = json.loads(hwsim("info", str(out), "--json").stdout)
    assert info["msc_bytes"] == 12288


def test_usage_errors_are_one_line():
    assert_user_error(hwsim("info"), "the following arguments are required")
    assert_user_error(hwsim("frobnicate"), "invalid choice")


EDGE_NPU = "accelerators/edge_npu.yaml"


def spec_with(tmp_path, old: str, new: str) -> str:
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / EDGE_NPU).read_text()
    assert old in text
    return write(tmp_path, "npu.yaml", text.replace(old, new, 1))


@pytest.mark.parametrize("old, new, needles", [
    ("  size: 8 MiB", "  size: 8", ["npu.yaml", "sram.size", "unit"]),
    ("  size: 8 MiB", "  size: 0 MiB", ["npu.yaml", "sram.size"]),
    ("  size: 8 MiB", "  size: -1 MiB", ["npu.yaml", "sram.size"]),
    ("  latency: 100 ns", "  latency: 100 ns\n  bandwidht: 1 GB/s", ["npu.yaml", "dram.bandwidht", "unknown key"]),
    ("  latency: 100 ns", "  latency: 100 ns\n  latency: 50 ns", ["npu.yaml", "dram.latency", "duplicate key"]),
])
def test_run_with_a_bad_spec(tmp_path, old, new, needles):
    graph = write(tmp_path, "g.json", two_level_u().dict())
    assert_user_error(hwsim("run", spec_with(tmp_path, old, new), graph), *needles)


def test_run_with_sram_too_small_for_any_tile_names_the_layer(tmp_path):
    graph = write(tmp_path, "g.json", two_level_u().dict())
    proc = hwsim("run", EDGE_NPU, graph, "--set", "sram.size=64B", "--set", "sram.alignment=16B")
    assert_user_error(proc, "edge_npu.yaml: sram.size:", "needs", "for one tile", "layer '")
