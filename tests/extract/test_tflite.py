"""TFLite front end on the int8 / 16x8 U-Nets of experiments/build_tflite.py (committed test data).

MACs are counted by hand from the layer lists in build_tflite.py: a convolution's MACs are
output pixels x output channels x input channels per group x kernel area; a transposed
convolution's are input pixels x all weight elements (FlopCounterMode's convention); a fully
connected layer's are inputs x outputs. Weight elements are counted the same way.
"""

from pathlib import Path

import pytest

pytest.importorskip("tflite")

from hwsim.cli import main  # noqa: E402
from hwsim.extract.tflite_import import read_tflite  # noqa: E402
from hwsim.graph.analysis import graph_stats  # noqa: E402
from hwsim.graph.io import load_graph  # noqa: E402
from hwsim.graph.validate import validate  # noqa: E402

DATA = Path(__file__).parent / "data"


def conv(pixels: int, cout: int, cin: int, k: int) -> int:
    return pixels * cout * cin * k * k


# unet(32, (8, 16, 32)): (MACs, weight elements) layer by layer
UNET = [
    (conv(32 * 32, 8, 3, 3), 8 * 3 * 9), (conv(32 * 32, 8, 8, 3), 8 * 8 * 9),            # e1
    (conv(16 * 16, 16, 8, 3), 16 * 8 * 9), (conv(16 * 16, 16, 16, 3), 16 * 16 * 9),      # e2
    (conv(8 * 8, 32, 16, 3), 32 * 16 * 9), (conv(8 * 8, 32, 32, 3), 32 * 32 * 9),        # bottleneck
    (8 * 8 * (32 * 16 * 2 * 2), 32 * 16 * 4),                                            # transposed 2x2 s2
    (conv(16 * 16, 16, 32, 3), 16 * 32 * 9), (conv(16 * 16, 16, 16, 3), 16 * 16 * 9),    # d2
    (conv(32 * 32, 8, 16, 1), 8 * 16),                                                   # 1x1 after bilinear
    (conv(32 * 32, 8, 16, 3), 8 * 16 * 9), (conv(32 * 32, 8, 8, 3), 8 * 8 * 9),          # d1
    (conv(32 * 32, 3, 8, 1), 3 * 8),                                                     # head
]
UNET_DW = [
    (conv(32 * 32, 16, 3, 3), 16 * 3 * 9),          # e1 (relu6)
    (conv(16 * 16, 16, 16, 3), 16 * 16 * 9),        # stride 2 after the (folded) asymmetric padding
    (conv(16 * 16, 16, 1, 3), 16 * 9),              # depthwise 3x3
    (conv(16 * 16, 32, 16, 1), 32 * 16),            # pointwise: e2
    (conv(8 * 8, 32, 32, 3), 32 * 32 * 9),          # stride 2 SAME
    (32 * 8, 8 * 32), (8 * 32, 32 * 8),             # squeeze-and-excitation: two fully connected
    (conv(16 * 16, 16, 32, 3), 16 * 32 * 9),        # after the first added skip
    (conv(32 * 32, 3, 16, 1), 3 * 16),              # head
]
UNET_PAD = [
    (conv(16 * 16, 8, 3, 3), 8 * 3 * 9),            # e1
    (conv(8 * 8, 16, 8, 3), 16 * 8 * 9),            # after the padded 3x3/2 max pooling
    (8 * 8 * (16 * 8 * 2 * 2), 16 * 8 * 4),         # transposed 2x2 s2
    (conv(16 * 16, 8, 16, 3), 8 * 16 * 9),          # after the concatenated skip
    (conv(16 * 16, 3, 8, 3), 3 * 8 * 9),            # VALID, after the reflect padding
]


def weights(g) -> int:
    return sum(t.elements for t in g.tensors if t.kind == "param" and len(t.shape) >= 2)


@pytest.mark.parametrize("name, bits", [("unet_int8", 8), ("unet_a16w8", 16)])
def test_unet_macs_weights_skips_and_bits(name, bits):
    imported = read_tflite(str(DATA / f"{name}.tflite"))
    g = imported.graph
    assert validate(g) == []
    s = graph_stats(g, bits)
    assert s["macs"] == sum(m for m, _ in UNET)
    assert weights(g) == sum(w for _, w in UNET)
    # e1 = 8 x 32 x 32 and e2 = 16 x 16 x 16 wait across the lower resolutions, nothing else
    assert sorted(t["bytes"] for t in s["skip_tensors"]) == [16 * 16 * 16 * bits // 8, 8 * 32 * 32 * bits // 8]
    assert s["msc_bytes"] == (16 * 16 * 16 + 8 * 32 * 32) * bits // 8
    assert imported.quantised
    roles = imported.bits_by_role()
    assert set(roles["activation"]) == {bits} and set(roles["input"]) == {bits}
    assert set(roles["weight"]) == {8}
    assert set(roles["bias"]) == ({32} if bits == 8 else {64})  # TFLite's int32 / 16x8's int64 biases


def test_unet_layers_are_nchw_and_fuse_activations():
    g = read_tflite(str(DATA / "unet_int8.tflite")).graph
    assert g.tensor[g.inputs[0]].shape == (1, 3, 32, 32)
    assert g.tensor[g.outputs[0]].shape == (1, 3, 32, 32)
    kinds = [[g.op[o].kind for o in la.ops] for la in g.layers]
    assert kinds[0] == ["conv2d", "relu"]  # the fused RELU joins its convolution's layer
    assert sum(k[0] == "conv2d" for k in kinds) == 12 and len(kinds) == 18  # + 2 pools, 2 concats, up, up
    assert ["conv_transpose2d"] in kinds and ["upsample_bilinear2d"] in kinds
    cat = [g.op[la.ops[0]] for la in g.layers if g.op[la.ops[0]].kind == "concat"]
    assert [c.attrs["axis"] for c in cat] == [1, 1]  # NHWC axis 3 is the IR's channel axis


def test_unet_dw_macs_skips_and_ops():
    imported = read_tflite(str(DATA / "unet_dw_int8.tflite"))
    g = imported.graph
    assert validate(g) == []
    s = graph_stats(g, 8)
    assert s["macs"] == sum(m for m, _ in UNET_DW)
    assert weights(g) == sum(w for _, w in UNET_DW)
    # e1 (16 x 32 x 32) waits across the 16x16 and 8x8 work, e2 (32 x 16 x 16) across the 8x8 work
    assert sorted(t["bytes"] for t in s["skip_tensors"]) == [32 * 16 * 16, 16 * 32 * 32]
    kinds = {o.kind for o in g.ops}
    assert {"adaptive_avg_pool2d", "linear", "sigmoid", "mul", "upsample_nearest2d", "add", "avg_pool2d",
            "clamp"} <= kinds
    dw = [o for o in g.ops if o.kind == "conv2d" and o.attrs["groups"] > 1]
    assert len(dw) == 1 and dw[0].attrs["groups"] == 16
    # the stride-2 convolutions: TensorFlow's (0 before, 1 after) padding is padding 1 in the IR
    assert [o.attrs["padding"] for o in g.ops if o.kind == "conv2d" and o.attrs["stride"] == (2, 2)] == [(1, 1)] * 2
    pool = [o for o in g.ops if o.kind == "avg_pool2d"][0]
    assert pool.attrs["count_include_pad"] is False  # TensorFlow's SAME average leaves padding out


def test_paddings_nothing_folds_are_pad_ops(tmp_path):
    """A zero PAD read by a max pooling (which cannot absorb it: its padding is -inf) and a
    MIRROR_PAD (REFLECT) are ``pad`` ops of their own; they run through the schedule."""
    from hwsim.graph.io import load_graph, write_graph
    from hwsim.pipeline import run

    g = read_tflite(str(DATA / "unet_pad_int8.tflite")).graph
    assert validate(g) == []
    s = graph_stats(g, 8)
    assert s["macs"] == sum(m for m, _ in UNET_PAD)
    assert weights(g) == sum(w for _, w in UNET_PAD)
    assert [t["bytes"] for t in s["skip_tensors"]] == [8 * 16 * 16]  # e1, across the 8x8 work
    pads = [o for o in g.ops if o.kind == "pad"]
    assert [(o.attrs["mode"], tuple(o.attrs["pads"])) for o in pads] == [("constant", (1, 1, 1, 1)),
                                                                          ("reflect", (1, 1, 1, 1))]
    assert [g.tensor[o.outputs[0]].shape for o in pads] == [(1, 8, 18, 18)] * 2
    assert pads[0].attrs["value"] == 0.0  # the int8 zero point: real zero
    pool = next(o for o in g.ops if o.kind == "max_pool2d")
    assert pool.inputs == pads[0].outputs and tuple(pool.attrs["padding"]) == (0, 0)
    path = tmp_path / "g.json"
    write_graph(g, path)
    for execution in ("layer", "cascade"):
        result = run(load_graph(path), "accelerators/edge_npu.yaml", [f"policy.execution={execution}"])
        assert sum(la.macs for la in result.metrics.layers) == sum(m for m, _ in UNET_PAD)


def test_unsupported_ops_one_error_naming_the_file_and_every_op(capsys, tmp_path):
    path = DATA / "unsupported_ops.tflite"
    out = tmp_path / "g.json"
    assert main(["extract", str(path), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"hwsim: error: {path}: 2 unsupported op(s)")
    assert "ELU at #1 ELU" in err and "CUMSUM at #2 CUMSUM" in err
    assert not out.exists()


def test_extract_cli_reports_bit_widths(capsys, tmp_path):
    out = tmp_path / "g.json"
    assert main(["extract", str(DATA / "unet_a16w8.tflite"), "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert "stored activations 18 at 16 bits" in err and "(activation 16, weight 8, bias 64 bits)" in err
    assert load_graph(out).tensor["serving_default_keras_tensor_19:0"].bits == 16  # the input, as the file stores it
    assert main(["extract", str(DATA / "unet_int8.tflite"), "--input", "1x3x64x64"]) == 2
    assert "differs from the file's input of shape 1x3x32x32" in capsys.readouterr().err


def test_not_a_tflite_file(capsys, tmp_path):
    bad = tmp_path / "x.tflite"
    bad.write_bytes(b"\x00" * 64)
    assert main(["extract", str(bad)]) == 2
    assert capsys.readouterr().err.strip() == f"hwsim: error: {bad}: not a TFLite model (no TFL3 file identifier)"
