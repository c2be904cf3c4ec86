"""``hwsim check`` on an ONNX file: the plan run in the simulated SRAM against ONNX Runtime."""

import json
from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from hwsim.cli import main  # noqa: E402

DATA = Path(__file__).parent / "data"
SPEC = "accelerators/edge_npu.yaml"
FP32 = ["--set", "datatype.activation_bits=32", "--set", "datatype.weight_bits=32"]


def test_qdq_unet_passes_at_8_bits(capsys):
    assert main(["check", SPEC, str(DATA / "plain_unet_qdq.onnx"), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["passed"] and d["layers_failed"] == 0 and d["layers_checked"] == 15
    assert d["input"] == [1, 3, 32, 32]


def test_operator_format_file_is_refused_with_the_reason(capsys):
    path = DATA / "plain_unet_qop.onnx"
    assert main(["check", SPEC, str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"hwsim: error: {path}: 22 parameters are integers read by QLinear operators")
    assert err.count("\n") == 1


def _conv_relu_conv(tmp_path, pads) -> str:
    rng = np.random.default_rng(1)
    inits = [numpy_helper.from_array(rng.uniform(-0.5, 0.5, s).astype(np.float32), n)
             for n, s in (("w1", (4, 3, 3, 3)), ("b1", (4,)), ("w2", (2, 4, 3, 3)))]
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], name="conv1", pads=pads, strides=[2, 2]),
             helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
             helper.make_node("Conv", ["r1", "w2"], ["y"], name="conv2", pads=[1, 1, 1, 1], strides=[2, 2])]
    graph = helper.make_graph(nodes, "small", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2, None, None])], inits)
    path = tmp_path / "small.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]), str(path))
    return str(path)


def test_hand_written_model_passes_at_32_bits(tmp_path, capsys):
    assert main(["check", SPEC, _conv_relu_conv(tmp_path, [1, 1, 1, 1]), *FP32, "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["passed"] and d["outputs"][0]["max_rel_error"] <= 1e-4


def test_a_wrong_reference_fails_naming_the_first_layer(tmp_path, capsys, monkeypatch):
    from hwsim.extract import onnx_reference

    real = onnx_reference.onnx_reference

    def doubled(path, imported, seed):
        ref = real(path, imported, seed)
        ref.values["r1"] = ref.values["r1"] * 2  # as if the first layer had computed something else
        return ref

    monkeypatch.setattr(onnx_reference, "onnx_reference", doubled)
    # the schedule is right (bit-exact); the reference disagrees: a quantisation-quality failure, once asked
    assert main(["check", SPEC, _conv_relu_conv(tmp_path, [1, 1, 1, 1]), *FP32]) == 0
    capsys.readouterr()
    assert main(["check", SPEC, _conv_relu_conv(tmp_path, [1, 1, 1, 1]), *FP32, "--max-rel", "1e-4"]) == 1
    assert capsys.readouterr().out.strip().endswith("FAILED: quantisation (first outside the thresholds: conv1)")


def test_asymmetric_padding_is_refused(tmp_path, capsys):
    path = _conv_relu_conv(tmp_path, [0, 0, 1, 1])  # the extract takes it as padding 1: other numbers
    assert main(["check", SPEC, path, *FP32]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"hwsim: error: {path}: hwsim's graph computes other numbers than the file at 1 node(s)")
    assert "conv1: asymmetric padding" in err
