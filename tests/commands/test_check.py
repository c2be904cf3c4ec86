"""``hwsim check``: the table, the JSON keys, exit codes, and one-line user errors."""

import json
import subprocess
import sys

import pytest

from hwsim.cli import main

pytestmark = pytest.mark.torch
pytest.importorskip("torch")

SPEC = "accelerators/edge_npu.yaml"
PLAIN = "tests/extract/models.py:PlainUNet"
FP32 = ["--set", "datatype.activation_bits=32", "--set", "datatype.weight_bits=32"]


def hwsim(*args):
    return subprocess.run([sys.executable, "-m", "hwsim", *args], capture_output=True, text=True)


def test_json_of_a_passing_run_with_spills():
    proc = hwsim("check", SPEC, PLAIN, "--input", "1x3x32x32", "--json", *FP32, "--set", "sram.size=160KiB")
    assert proc.returncode == 0, proc.stderr
    d = json.loads(proc.stdout)
    assert d["passed"] is True and d["first_divergent_layer"] is None
    assert d["spills"] > 0 and d["reloads"] > 0
    assert d["input"] == [1, 3, 32, 32] and d["seed"] == 0 and d["activation_bits"] == 32
    [out] = d["outputs"]
    assert set(out) >= {"name", "max_abs_error", "max_rel_error", "sqnr_db"}
    assert out["max_rel_error"] <= 1e-4 and out["sqnr_db"] > 100


def test_a_cascaded_plan_from_the_command_line():
    # PlainUNet at 8 bits in 24 KiB: cascades of 16 stripes (layers 8-9 and 12-16) and spills
    proc = hwsim("check", SPEC, PLAIN, "--input", "1x3x32x32", "--json", "--set", "policy.execution=cascade",
                 "--set", "sram.size=24KiB")
    assert proc.returncode == 0, proc.stderr
    d = json.loads(proc.stdout)
    assert d["passed"] is True and d["cascades"] == 2 and d["spills"] > 0 and d["plan_problems"] == []


def test_text_table(capsys):
    assert main(["check", SPEC, PLAIN, "--input", "1x3x32x32", "--seed", "3"]) == 0
    text = capsys.readouterr().out
    assert "activations 8 bits" in text and "seed 3" in text and "0 cascades" in text
    assert "1. schedule, bit for bit" in text and "PASSED (15 layers compared, 0 inexact, 0 faults)" in text
    assert "2. quantisation against torch in float (thresholds: none asked (reported only)): reported" in text
    assert "weights per-channel" in text and "ranges from the checked input" in text
    assert "max abs err" in text and "conv2d_10" in text and "lowest SQNR" in text
    assert text.rstrip().endswith("PASSED")


def test_a_threshold_fails_the_quality_question_only(capsys, monkeypatch):
    # a kernel off by +1 is the same in the plan run and in the quantised network: the schedule
    # passes; torch sees it, and only a threshold a user asks for turns it into a failure
    from hwsim.numerics import kernels

    real = kernels.KERNELS["upsample_nearest2d"]
    monkeypatch.setitem(kernels.KERNELS, "upsample_nearest2d", lambda xs, a: real(xs, a) + 1)
    assert main(["check", SPEC, PLAIN, "--input", "1x3x32x32", "--json", *FP32]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["schedule"]["passed"] is True and d["quality"]["passed"] is None
    assert main(["check", SPEC, PLAIN, "--input", "1x3x32x32", "--json", "--max-rel", "1e-4", *FP32]) == 1
    d = json.loads(capsys.readouterr().out)
    assert d["passed"] is False and d["schedule"]["passed"] is True and d["quality"]["passed"] is False
    assert d["first_divergent_layer"] == "upsample_nearest2d" and d["quality"]["max_rel"] == 1e-4
    assert main(["check", SPEC, PLAIN, "--input", "1x3x32x32", "--min-sqnr", "60 dB", *FP32]) == 1
    text = capsys.readouterr().out
    assert "thresholds: SQNR >= 60 dB" in text
    assert text.rstrip().endswith("FAILED: quantisation (first outside the thresholds: upsample_nearest2d)")


def _one_line_error(capsys, argv, *needles):
    assert main(argv) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert captured.out == "" and len(lines) == 1 and lines[0].startswith("hwsim: error: "), captured.err
    for n in needles:
        assert n in lines[0], lines[0]


@pytest.mark.parametrize("model, shape, extra, needles", [
    ("tests/extract/missing.py:Net", "1x3x32x32", [], ["no such file"]),
    ("tests/extract/models.py:broken", "1x3x32x32", [], ["this factory is broken"]),
    (PLAIN, "1x5x32x32", [], ["cannot run on input [1, 5, 32, 32]"]),
    (PLAIN, "1x3x0x5", [], ["--input", "positive"]),
    (PLAIN, "1x3x32x32", ["--set", "datatype.activation_bits=12"], ["datatype.activation_bits", "12 bits"]),
    (PLAIN, "1x3x32x32", ["--set", "sram.sise=1MiB"], ["sram.sise"]),
    (PLAIN, "1x3x32x32", ["--min-sqnr", "loud"], ["--min-sqnr", "not a level in dB"]),
    (PLAIN, "1x3x32x32", ["--min-sqnr", "inf dB"], ["--min-sqnr"]),
    (PLAIN, "1x3x32x32", ["--max-rel", "0"], ["--max-rel", "above 0"]),
    (PLAIN, "1x3x32x32", ["--max-rel", "nan"], ["--max-rel"]),
    (PLAIN, "1x3x32x32", ["--weight-scales", "per-row"], ["--weight-scales", "per-channel, per-tensor"]),
    (PLAIN, "1x3x32x32", ["--activations", "signed"], ["--activations", "symmetric, asymmetric"]),
    (PLAIN, "1x3x32x32", ["--calibration", "0"], ["--calibration", "1 to 1024"]),
    (PLAIN, "1x3x32x32", ["--calibration", "calib.txt"], ["--calibration", "neither a count"]),
    (PLAIN, "1x3x32x32", ["--calibration", "tests/nope.npy"], ["--calibration tests/nope.npy", "no such file"]),
    (PLAIN, "1x3x32x32", ["--weights", "tests/nope.pt"], ["--weights tests/nope.pt", "no such file"]),
])
def test_user_errors(capsys, model, shape, extra, needles):
    _one_line_error(capsys, ["check", SPEC, model, "--input", shape, *extra], *needles)


def test_an_op_without_a_kernel_is_a_user_error(capsys, monkeypatch):
    from hwsim.numerics import kernels

    monkeypatch.delitem(kernels.KERNELS, "max_pool2d")
    _one_line_error(capsys, ["check", SPEC, PLAIN, "--input", "1x3x32x32"], "no kernel", "max_pool2d")


def test_missing_spec_file_subprocess():
    proc = hwsim("check", "accelerators/nope.yaml", PLAIN, "--input", "1x3x32x32")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()] and "no such file" in proc.stderr


# ---- quantisation as deployed: calibration sets, trained weights, schemes ----------------------------
def _json(capsys, argv, code=0):
    assert main(argv) == code
    return json.loads(capsys.readouterr().out)


def test_calibration_schemes_and_their_report(capsys, tmp_path):
    base = ["check", SPEC, PLAIN, "--input", "1x3x32x32", "--json"]
    default = _json(capsys, base)
    assert default["quantisation"] == {"weights": "per-channel", "activations": "symmetric",
                                       "calibration": "the checked input"}
    four = _json(capsys, base + ["--calibration", "4"])
    assert four["schedule"]["passed"] and four["quantisation"]["calibration"].startswith("4 random inputs")
    # ranges from other inputs: the checked input clips somewhere, so its error differs from the default's
    assert four["outputs"][0]["sqnr_db"] != default["outputs"][0]["sqnr_db"]
    np = pytest.importorskip("numpy")
    path = tmp_path / "calib.npy"
    np.save(path, np.random.default_rng(0).standard_normal((3, 3, 32, 32)).astype(np.float32))
    from_file = _json(capsys, base + ["--calibration", str(path)])
    assert from_file["schedule"]["passed"] and from_file["quantisation"]["calibration"] == "calib.npy (3 inputs)"
    for extra in (["--activations", "asymmetric"], ["--weight-scales", "per-tensor"]):
        d = _json(capsys, base + extra)
        assert d["schedule"]["passed"] and d["passed"], extra
    assert d["quantisation"]["weights"] == "per-tensor"


@pytest.mark.parametrize("array, needle", [
    ("shape", "an array of shape [2, 3, 16, 16]"),
    ("nan", "NaN or infinite"),
    ("text", "not a .npy array"),
])
def test_bad_calibration_files(capsys, tmp_path, array, needle):
    import numpy as np

    path = tmp_path / "c.npy"
    if array == "text":
        path.write_text("not numpy")
    else:
        data = np.zeros((2, 3, 16, 16) if array == "shape" else (1, 3, 32, 32), np.float32)
        data[..., 0] = np.nan if array == "nan" else 0
        np.save(path, data)
    _one_line_error(capsys, ["check", SPEC, PLAIN, "--input", "1x3x32x32", "--calibration", str(path)],
                    f"--calibration {path}", needle)


def test_trained_weights_from_a_state_dict(capsys, tmp_path):
    import torch

    from hwsim.extract.resolve import resolve_model

    base = ["check", SPEC, PLAIN, "--input", "1x3x32x32", "--json"]
    model, _ = resolve_model(PLAIN)
    # every weight 0 and the head's bias 0.5: the network outputs 0.5 everywhere, which 8 bits store
    # exactly (code 127 of scale 0.5/127), so the loaded network's output error is 0
    sd = {k: torch.zeros_like(v) for k, v in model.state_dict().items()}
    sd["head.bias"] = torch.full_like(sd["head.bias"], 0.5)
    path = tmp_path / "trained.pt"
    torch.save({"state_dict": sd, "epoch": 3}, path)  # a training checkpoint holding the state dict
    seeded = _json(capsys, base)
    assert seeded["outputs"][0]["max_abs_error"] > 0
    loaded = _json(capsys, base + ["--weights", str(path)])
    assert loaded["schedule"]["passed"] and loaded["outputs"][0]["max_abs_error"] == 0.0
    assert loaded["outputs"][0]["sqnr_db"] == "inf"


@pytest.mark.parametrize("content, needles", [
    ("missing", ["key(s) of the model missing", "e1.0.weight"]),
    ("extra", ["key(s) the model does not have", "stray"]),
    ("shape", ["shape(s) differ"]),
    ("list", ["holds a list, not a state dict"]),
    ("text", ["cannot be read as a PyTorch state dict"]),
])
def test_bad_state_dict_files(capsys, tmp_path, content, needles):
    import torch

    from hwsim.extract.resolve import resolve_model

    model, _ = resolve_model(PLAIN)
    sd = dict(model.state_dict())
    path = tmp_path / "w.pt"
    if content == "text":
        path.write_text("hello")
    else:
        first = next(iter(sd))
        if content == "missing":
            del sd[first]
        elif content == "extra":
            sd["stray"] = torch.zeros(1)
        elif content == "shape":
            sd[first] = torch.zeros(1)
        torch.save([1, 2] if content == "list" else sd, path)
    _one_line_error(capsys, ["check", SPEC, PLAIN, "--input", "1x3x32x32", "--weights", str(path)],
                    f"--weights {path}", *needles)


def test_progress_over_layers_on_stderr_and_none_when_quiet(capsys):
    args = ["check", SPEC, PLAIN, "--input", "1x3x32x32", "--json", *FP32]
    assert main(args) == 0
    captured = capsys.readouterr()
    # not a terminal: one plain line at the last layer, every layer of the graph counted once
    import re

    from hwsim.extract import extract_model

    layers = len(extract_model(PLAIN, (1, 3, 32, 32), "elementwise").layers)
    assert re.search(rf"^{layers}/{layers} layers \(100 %\), ", captured.err, re.M), captured.err
    assert main(args + ["--quiet"]) == 0
    assert "layers (" not in capsys.readouterr().err
