"""ONNX front end: the same graph and figures as the PyTorch extraction of the same network.

Each model is exported with ``torch.onnx.export`` (TorchScript exporter, opset 20) and read
back; MACs, params, layer count, skip tensors and M_sc must equal those of the PyTorch
extraction, and MACs FlopCounterMode's. Zoo models that take tens of seconds to export
(NAFNet's five variants at full depth, KBNet) are compared in
``experiments/onnx_zoo_parity.py``; here NAFNet and NAFNet with UNet-- run at one block
per stage, which exercises every op kind of theirs (LayerNorm2d by hand, SimpleGate's
chunk, SCA's global pooling, PixelShuffle, the MSIAM pixel unshuffle and the IEM's GELU).
"""

import warnings

import pytest

onnx = pytest.importorskip("onnx")
torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

from hwsim.extract import extract_module  # noqa: E402
from hwsim.extract.onnx_import import read_onnx  # noqa: E402
from hwsim.graph.analysis import graph_stats  # noqa: E402
from hwsim.graph.validate import validate  # noqa: E402
from tests.extract import models  # noqa: E402
from tests.extract.test_extract import flop_counter_macs  # noqa: E402


def export(model, shape, path) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model.eval(), (torch.randn(*shape),), str(path), dynamo=False, opset_version=20)
    return str(path)


def figures(g) -> dict:
    s = graph_stats(g, 8)
    return {"macs": s["macs"], "params": s["params"], "layers": s["layers"], "msc_bytes": s["msc_bytes"],
            "skips": sorted((t["bytes"], t["producer"] is not None) for t in s["skip_tensors"])}


def same_figures(model, shape, tmp_path, name="m"):
    ref = extract_module(model, shape, name)
    imported = read_onnx(export(model, shape, tmp_path / f"{name}.onnx"))
    assert validate(imported.graph) == []
    assert not imported.quantised
    got = figures(imported.graph)
    assert got == figures(ref)
    return got


@pytest.mark.parametrize("name, shape", [
    ("PlainUNet", (1, 3, 32, 32)),
    ("TransposedBilinear", (1, 3, 24, 24)),
    ("GroupedDepthwise", (1, 3, 16, 16)),
])
def test_test_models_match_pytorch_and_flop_counter(name, shape, tmp_path):
    model = getattr(models, name)().eval()
    got = same_figures(model, shape, tmp_path, name)
    assert got["macs"] == flop_counter_macs(model, shape)


@pytest.mark.parametrize("zoo_name", ["unet", "lunet", "unet_sat"])
def test_zoo_unets_match_pytorch(zoo_name, tmp_path):
    from hwsim.zoo import factory

    got = same_figures(factory(zoo_name)(), (1, 3, 64, 64), tmp_path, zoo_name)
    assert len(got["skips"]) == 4 and got["msc_bytes"] > 0


@pytest.mark.parametrize("skips", ["add", "unetmm"])
def test_nafnet_one_block_per_stage_matches_pytorch(skips, tmp_path):
    from hwsim.zoo.nafnet import NAFNet
    from hwsim.zoo.unetmm import UNetMMConfig

    torch.manual_seed(0)
    config = UNetMMConfig(3, (2, 4, 8, 32), 256) if skips == "unetmm" else None
    model = NAFNet(skips, config, width=8, enc_blocks=(1, 1, 1, 1), middle_blocks=1, dec_blocks=(1, 1, 1, 1))
    got = same_figures(model, (1, 3, 64, 64), tmp_path, f"nafnet_{skips}")
    if skips == "add":  # E1..E4 (8, 16, 32, 64 channels at 64, 32, 16, 8 pixels) wait for the decoder
        assert got["skips"] == [(8 * 64 * 64 // 2**k, True) for k in range(4)][::-1]


def test_batch_norm_after_conv_is_folded(tmp_path):
    g = read_onnx(export(models.GroupedDepthwise(), (1, 3, 16, 16), tmp_path / "g.onnx")).graph
    assert "batch_norm" not in {o.kind for o in g.ops}
    assert len(g.ops[0].inputs) == 3  # the stem conv has a bias (the exporter folded the BN into it)


def test_pixel_unshuffle_export_becomes_one_op(tmp_path):
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.PixelUnshuffle(2),
                                torch.nn.Conv2d(16, 4, 1), torch.nn.PixelShuffle(2))
    got = same_figures(model, (1, 3, 16, 16), tmp_path)
    g = read_onnx(str(tmp_path / "m.onnx")).graph
    assert [o.kind for o in g.ops] == ["conv2d", "pixel_unshuffle", "conv2d", "pixel_shuffle"]
    assert got["macs"] == 16 * 16 * 4 * 27 + 8 * 8 * 4 * 16


class _Unfold(torch.nn.Module):
    """F.unfold as KBNet uses it (3x3, padding 1), and a strided, dilated, unpadded one."""

    def __init__(self, **unfold):
        super().__init__()
        self.conv, self.unfold = torch.nn.Conv2d(3, 4, 3, padding=1), unfold

    def forward(self, x):
        y = self.conv(x)
        return torch.nn.functional.unfold(y, **self.unfold).sum(dim=1)


@pytest.mark.parametrize("unfold", [{"kernel_size": 3, "padding": 1},
                                    {"kernel_size": 2, "stride": 2},
                                    {"kernel_size": 3, "dilation": 2, "padding": 2, "stride": 2}])
def test_unfold_export_becomes_one_unfold_op(unfold, tmp_path):
    # torch's exporter writes F.unfold as Pad, two Gathers of index rows i * d + j * s, a
    # Transpose and a Reshape; read back as the one unfold op the PyTorch extraction has
    same_figures(_Unfold(**unfold), (1, 3, 12, 12), tmp_path)
    g = read_onnx(str(tmp_path / "m.onnx")).graph
    (op,) = [o for o in g.ops if o.kind == "unfold"]
    k = unfold["kernel_size"]
    assert (list(op.attrs["kernel_size"]), list(op.attrs["padding"]), list(op.attrs["stride"])) == \
        ([k, k], [unfold.get("padding", 0)] * 2, [unfold.get("stride", 1)] * 2)
    assert "gather" not in {o.kind for o in g.ops}


def test_a_gather_that_is_no_unfold_is_one_clear_error(tmp_path):
    from hwsim.errors import UserError

    class Pick(torch.nn.Module):
        def forward(self, x):
            return torch.relu(x)[:, :, torch.tensor([[0, 3], [1, 0]])]  # rows no unfold reads

    path = export(Pick(), (1, 3, 4, 4), tmp_path / "pick.onnx")
    with pytest.raises(UserError, match="Gather .*not PyTorch's unfold|other than PyTorch's unfold"):
        read_onnx(path)


def test_erf_gelu_below_opset_20_becomes_one_gelu_op(tmp_path):
    # opset 18 has no Gelu: the exporter writes x * (1 + erf(x / sqrt 2)) * 0.5
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 1), torch.nn.GELU(), torch.nn.Conv2d(8, 3, 1)).eval()
    path = tmp_path / "gelu.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (torch.randn(1, 3, 8, 8),), str(path), dynamo=False, opset_version=18)
    assert "Erf" in {n.op_type for n in onnx.load(str(path)).graph.node}
    g = read_onnx(str(path)).graph
    assert [o.kind for o in g.ops] == ["conv2d", "gelu", "conv2d"]
    assert figures(g) == figures(extract_module(model, (1, 3, 8, 8), "gelu"))


def test_kbnet_two_levels_matches_pytorch(tmp_path):
    # KBNet's kernel-basis attention (F.unfold, grouped per-pixel matmuls), one block per stage
    from hwsim.zoo.kbnet import KBNet

    torch.manual_seed(0)
    model = KBNet(width=8, enc_blocks=(1, 1), middle_blocks=1, dec_blocks=(1, 1)).eval()
    got = same_figures(model, (1, 3, 32, 32), tmp_path, "kbnet_small")
    assert got["skips"] == [(16 * 16 * 16, True), (8 * 32 * 32, True)]  # E2, E1 wait for the decoder
