"""Extraction: MACs equal FlopCounterMode's to the last MAC; folding, views, errors, determinism."""

import pytest

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from hwsim.errors import UserError  # noqa: E402
from hwsim.extract import extract_model  # noqa: E402
from hwsim.graph.analysis import graph_stats, skip_tensors  # noqa: E402
from hwsim.graph.io import graph_to_json  # noqa: E402
from hwsim.graph.validate import validate  # noqa: E402

MODELS = "tests/extract/models.py"


def flop_counter_macs(model, shape) -> int:
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(torch.randn(*shape))
    return counter.get_total_flops() // 2


@pytest.mark.parametrize("name, shape", [
    ("PlainUNet", (1, 3, 32, 32)),
    ("TransposedBilinear", (1, 3, 24, 24)),
    ("GroupedDepthwise", (1, 3, 16, 16)),
])
def test_macs_equal_flop_counter(name, shape):
    g = extract_model(f"{MODELS}:{name}", shape)
    from tests.extract import models

    assert validate(g) == []
    assert graph_stats(g, 8)["macs"] == flop_counter_macs(getattr(models, name)().eval(), shape)


def test_plain_unet_skips_and_params():
    from tests.extract import models

    g = extract_model(f"{MODELS}:PlainUNet", (1, 3, 32, 32))
    s = graph_stats(g, 8)
    assert s["params"] == sum(p.numel() for p in models.PlainUNet().parameters())
    # e1 = 8 x 32 x 32, e2 = 16 x 16 x 16, both waiting across a lower resolution
    assert sorted(t["bytes"] for t in s["skip_tensors"]) == [4096, 8192]
    assert s["msc_bytes"] == 12288


def test_batch_norm_is_folded_into_the_conv_before_it():
    g = extract_model(f"{MODELS}:GroupedDepthwise", (1, 3, 16, 16))
    kinds = [o.kind for o in g.ops]
    assert "batch_norm" not in kinds
    stem = g.ops[0]
    assert stem.kind == "conv2d" and len(stem.inputs) == 3  # gained a bias
    assert g.tensor[stem.inputs[2]].shape == (16,)
    assert stem.attrs["folded_bn"]["mean"] == "bn.running_mean"
    # params: the BN's 32 affine elements are gone, a 16-element bias came in
    from tests.extract import models

    all_params = sum(p.numel() for p in models.GroupedDepthwise().parameters())
    assert graph_stats(g, 8)["params"] == all_params - 32 + 16


def test_chunk_becomes_slices_and_views_move_no_data():
    g = extract_model(f"{MODELS}:GroupedDepthwise", (1, 3, 16, 16))
    slices = [o for o in g.ops if o.kind == "slice"]
    assert [(o.attrs["start"], o.attrs["end"]) for o in slices] == [(0, 16), (16, 32)]
    g2 = extract_model(f"{MODELS}:TransposedBilinear", (1, 3, 24, 24))
    views = [t for t in g2.tensors if t.view_of]
    assert views and all(g2.tensor[t.view_of].elements == t.elements for t in views)
    assert {"permute", "matmul", "linear", "conv_transpose2d", "upsample_bilinear2d"} <= {o.kind for o in g2.ops}


def test_layer_norm_written_by_hand_fuses_into_the_conv():
    g = extract_model("nafnet", (1, 3, 32, 32)) if _has("nafnet") else None
    if g is None:
        pytest.skip("nafnet zoo model not available")
    first_block = [la for la in g.layers if g.op[la.ops[0]].module.endswith("conv1")][0]
    assert first_block  # the LayerNorm2d's mean/sub/pow/sqrt/div joined the layer before it
    norm_layer = g.layers[g.layer_of[g.producer[g.op[first_block.ops[0]].inputs[0]]]]
    assert {"mean", "sqrt", "div"} <= {g.op[o].kind for o in norm_layer.ops}


def _has(name):
    from hwsim.zoo import factory

    try:
        factory(name)
        return True
    except (ImportError, AttributeError):
        return False


def test_unsupported_ops_are_reported_together_with_their_modules():
    with pytest.raises(UserError) as info:
        extract_model(f"{MODELS}:Unsupported", (1, 3, 8, 8))
    msg = info.value.what
    assert "2 unsupported op(s)" in msg
    assert "aten.cumsum" in msg and "aten.sort" in msg
    assert "at <top>" in msg


def test_extraction_is_deterministic():
    a = graph_to_json(extract_model(f"{MODELS}:PlainUNet", (1, 3, 32, 32)))
    b = graph_to_json(extract_model(f"{MODELS}:PlainUNet", (1, 3, 32, 32)))
    assert a == b


def test_fuse_none_gives_one_layer_per_op():
    g = extract_model(f"{MODELS}:PlainUNet", (1, 3, 32, 32), fuse="none")
    assert len(g.layers) == len(g.ops)
    assert skip_tensors(g)  # the skips are still there with every op its own layer
