"""ONNX front end without torch: quantised files (committed), hand-written graphs, errors."""

from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from hwsim.cli import main  # noqa: E402
from hwsim.extract.onnx_import import read_onnx  # noqa: E402
from hwsim.graph.analysis import graph_stats  # noqa: E402
from hwsim.graph.validate import validate  # noqa: E402

DATA = Path(__file__).parent / "data"


def conv(pixels: int, cout: int, cin: int, k: int) -> int:
    return pixels * cout * cin * k * k


# tests/extract/models.py:PlainUNet (c = 8) at 1x3x32x32, block by block
PLAIN_UNET_MACS = (conv(1024, 8, 3, 3) + conv(1024, 8, 8, 3) + conv(256, 16, 8, 3) + conv(256, 16, 16, 3)
                   + conv(64, 32, 16, 3) + conv(64, 32, 32, 3) + conv(256, 16, 48, 3) + conv(256, 16, 16, 3)
                   + conv(1024, 8, 24, 3) + conv(1024, 8, 8, 3) + conv(1024, 3, 8, 1))


@pytest.mark.parametrize("name", ["plain_unet_qdq", "plain_unet_qop"])
def test_quantised_unet_macs_skips_and_bits(name):
    imported = read_onnx(str(DATA / f"{name}.onnx"))
    g = imported.graph
    assert validate(g) == []
    s = graph_stats(g, 8)
    assert s["macs"] == PLAIN_UNET_MACS
    assert sorted(t["bytes"] for t in s["skip_tensors"]) == [16 * 16 * 16, 8 * 32 * 32]  # e2, e1 at int8
    assert imported.quantised
    roles = imported.bits_by_role()
    assert set(roles["activation"]) == {8} and set(roles["weight"]) == {8} and set(roles["bias"]) == {32}
    assert sum(roles["weight"].values()) == 11  # every convolution's weight is int8
    assert sum(t.elements for t in g.tensors if t.kind == "param" and len(t.shape) == 4) == (
        8 * 3 * 9 + 8 * 8 * 9 + 16 * 8 * 9 + 16 * 16 * 9 + 32 * 16 * 9 + 32 * 32 * 9 + 16 * 48 * 9 + 16 * 16 * 9
        + 8 * 24 * 9 + 8 * 8 * 9 + 3 * 8)


def _save(tmp_path, nodes, inputs, outputs, inits, name="hand.onnx", opset=18) -> str:
    graph = helper.make_graph(nodes, "hand", inputs, outputs, [numpy_helper.from_array(v, k) for k, v in inits.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    path = tmp_path / name
    onnx.save(model, str(path))
    return str(path)


def _vi(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def _w(*shape):
    return np.zeros(shape, np.float32)


def test_hand_written_graph_of_many_ops(tmp_path):
    """Pad folded into a convolution, DCR DepthToSpace, SpaceToDepth, norms, resize, split, Gemm, MatMul + Add."""
    i64 = np.int64
    nodes = [
        helper.make_node("Pad", ["x", "pads"], ["xp"], name="pad"),
        helper.make_node("Conv", ["xp", "w1"], ["c1"], name="conv1", strides=[2, 2]),  # pad (0, 1): 16 -> 8
        helper.make_node("GroupNormalization", ["c1", "gs", "gb"], ["gn"], name="gn", num_groups=4),
        helper.make_node("DepthToSpace", ["gn"], ["d2s"], name="d2s", blocksize=2, mode="DCR"),  # 16 ch -> 4 ch, 16x16
        helper.make_node("SpaceToDepth", ["d2s"], ["s2d"], name="s2d", blocksize=2),  # 16 ch, 8x8
        helper.make_node("InstanceNormalization", ["s2d", "is", "ib"], ["inorm"], name="inorm"),
        helper.make_node("Resize", ["inorm", "", "scales"], ["up"], name="up", mode="linear"),
        helper.make_node("Split", ["up", "split"], ["a", "b"], name="split", axis=1),
        helper.make_node("Clip", ["a", "lo", "hi"], ["ac"], name="clip"),
        helper.make_node("Mul", ["ac", "b"], ["m"], name="mul"),
        helper.make_node("GlobalMaxPool", ["m"], ["gp"], name="gmp"),
        helper.make_node("Flatten", ["gp"], ["flat"], name="flat"),
        helper.make_node("Gemm", ["flat", "fw", "fb"], ["fc"], name="fc", transB=1),
        helper.make_node("MatMul", ["fc", "mw"], ["mm"], name="mm"),
        helper.make_node("Add", ["mm", "mb"], ["y0"], name="bias"),
        helper.make_node("Softmax", ["y0"], ["y"], name="softmax", axis=-1),
    ]
    inits = {"pads": np.array([0, 0, 0, 0, 0, 0, 1, 1], i64), "w1": _w(16, 3, 3, 3),
             "gs": np.ones(16, np.float32), "gb": _w(16), "is": np.ones(16, np.float32), "ib": _w(16),
             "scales": np.array([1, 1, 2, 2], np.float32), "split": np.array([8, 8], i64),
             "lo": np.array(0, np.float32), "hi": np.array(6, np.float32),
             "fw": _w(10, 8), "fb": _w(10), "mw": _w(10, 5), "mb": _w(5)}
    path = _save(tmp_path, nodes, [_vi("x", [1, 3, 16, 16])], [_vi("y", [1, 5])], inits, opset=21)
    g = read_onnx(path).graph
    assert validate(g) == []
    first = g.ops[0]
    assert first.kind == "conv2d" and first.attrs["padding"] == (1, 1) and first.attrs["stride"] == (2, 2)
    assert g.tensor[first.outputs[0]].shape == (1, 16, 8, 8)
    kinds = [o.kind for o in g.ops]
    assert kinds.count("permute") == 2 and "pixel_shuffle" not in kinds  # DCR and SpaceToDepth are not torch's
    assert "upsample_bilinear2d" in kinds and kinds.count("slice") == 2 and "clamp" in kinds
    linears = [o for o in g.ops if o.kind == "linear"]
    assert [len(o.inputs) for o in linears] == [3, 3]  # Gemm's C and the Add after MatMul are biases
    assert "add" not in [o.kind for o in g.ops if o.name == "bias"]
    s = graph_stats(g, 8)
    assert s["macs"] == conv(8 * 8, 16, 3, 3) + 8 * 10 + 10 * 5
    assert s["params"] == 16 * 27 + 4 * 16 + 10 * 8 + 10 + 10 * 5 + 5


def _bad_graph(tmp_path) -> str:
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], name="conv", pads=[1, 1, 1, 1]),
        helper.make_node("Erf", ["c"], ["e"], name="erf_a"),
        helper.make_node("Erf", ["c"], ["e2"], name="erf_b"),
        helper.make_node("Mod", ["e", "e2"], ["m"], name="mod", fmod=1),
        helper.make_node("Relu", ["m"], ["y"], name="relu"),
    ]
    return _save(tmp_path, nodes, [_vi("x", [1, 3, 8, 8])], [_vi("y", [1, 4, 8, 8])], {"w": _w(4, 3, 3, 3)})


def test_unsupported_ops_one_error_naming_the_file_and_every_node(tmp_path, capsys):
    path = _bad_graph(tmp_path)
    out = tmp_path / "g.json"
    assert main(["extract", path, "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err == (f"hwsim: error: {path}: 3 unsupported op(s) of 2 kind(s): Erf at erf_a, erf_b; Mod at mod; to run "
                   "them on the host CPU instead, extract with --fallback host (and give the spec a host: section)\n")
    assert not out.exists()


def test_a_pad_that_no_convolution_absorbs_is_a_pad_op(tmp_path):
    # Pad 1 row above and below and 1 column each side of a 1x3x8x8 map, read by a Relu (which
    # cannot absorb it) and by a 3x3 convolution (which can, but the map is already padded for
    # the Relu's sake, so both read the one pad op): 1x3x10x10 out of the pad, 3x10x10 = 300
    # elements into the Relu, and the convolution's own padding 0 over the 10x10 map gives 8x8.
    nodes = [helper.make_node("Pad", ["x", "pads"], ["p"], name="the_pad"),
             helper.make_node("Relu", ["p"], ["y"], name="relu"),
             helper.make_node("Conv", ["p", "w"], ["z"], name="conv")]
    path = _save(tmp_path, nodes, [_vi("x", [1, 3, 8, 8])], [_vi("y", [1, 3, 10, 10]), _vi("z", [1, 4, 8, 8])],
                 {"pads": np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64), "w": _w(4, 3, 3, 3)})
    g = read_onnx(path).graph
    pads = [op for op in g.ops if op.kind == "pad"]
    assert len(pads) == 1 and list(pads[0].attrs["pads"]) == [1, 1, 1, 1] and pads[0].attrs.get("mode") == "constant"
    assert g.tensor[pads[0].outputs[0]].shape == (1, 3, 10, 10)
    assert {op.kind for op in g.ops} >= {"pad", "relu", "conv2d"}
    assert graph_stats(g, 8)["macs"] == 4 * 8 * 8 * 3 * 9


def test_a_pad_that_is_a_graph_output_is_a_pad_op(tmp_path):
    nodes = [helper.make_node("Pad", ["x", "pads"], ["y"], name="the_pad")]
    path = _save(tmp_path, nodes, [_vi("x", [1, 3, 8, 8])], [_vi("y", [1, 3, 8, 10])],
                 {"pads": np.array([0, 0, 0, 2, 0, 0, 0, 0], np.int64)})
    g = read_onnx(path).graph
    assert [op.kind for op in g.ops] == ["pad"] and list(g.ops[0].attrs["pads"]) == [2, 0, 0, 0]
    assert g.tensor[g.outputs[0]].shape == (1, 3, 8, 10)


@pytest.mark.parametrize("mode, value, expected", [("reflect", None, "reflect"), ("edge", None, "replicate"),
                                                    ("constant", 1.5, "constant")])
def test_a_pad_of_another_mode_or_value_is_a_pad_op(tmp_path, mode, value, expected, capsys):
    # 2 rows above, 1 column right of a 1x3x8x8 map: 1x3x10x9, then a Relu; the check runs it
    # against ONNX Runtime's Pad (the schedule bit for bit, and the values at 32 bits)
    inputs = ["x", "pads"] + (["v"] if value is not None else [])
    nodes = [helper.make_node("Pad", inputs, ["p"], name="the_pad", mode=mode),
             helper.make_node("Relu", ["p"], ["y"], name="relu")]
    consts = {"pads": np.array([0, 0, 2, 0, 0, 0, 0, 1], np.int64)}
    if value is not None:
        consts["v"] = np.array(value, np.float32)
    path = _save(tmp_path, nodes, [_vi("x", [1, 3, 8, 8])], [_vi("y", [1, 3, 10, 9])], consts)
    g = read_onnx(path).graph
    (pad,) = [op for op in g.ops if op.kind == "pad"]
    assert list(pad.attrs["pads"]) == [0, 1, 2, 0] and pad.attrs["mode"] == expected
    assert pad.attrs.get("value", 0.0) == (value or 0.0)
    assert g.tensor[pad.outputs[0]].shape == (1, 3, 10, 9)
    spec = str(Path(__file__).resolve().parents[2] / "accelerators" / "edge_npu.yaml")
    assert main(["check", spec, path, "--set", "datatype.activation_bits=32", "--set", "datatype.weight_bits=32", "--max-rel", "1e-5"]) == 0


def test_dynamic_input_needs_input_shape(tmp_path, capsys):
    nodes = [helper.make_node("Conv", ["x", "w"], ["y"], name="conv")]
    path = _save(tmp_path, nodes, [_vi("x", ["N", 3, "H", "W"])], [_vi("y", ["N", 4, None, None])],
                 {"w": _w(4, 3, 1, 1)})
    assert main(["extract", path]) == 2
    assert "input 'x' has a dynamic or unknown shape: give it with --input" in capsys.readouterr().err
    g = read_onnx(path, (1, 3, 20, 12)).graph
    assert g.tensor["y"].shape == (1, 4, 20, 12)


def test_not_an_onnx_file(tmp_path, capsys):
    bad = tmp_path / "x.onnx"
    bad.write_text("not a protobuf")
    assert main(["extract", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"hwsim: error: {bad}: ") and err.count("\n") == 1
