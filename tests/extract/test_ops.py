"""Issue 13's ops, one small model each (tests/extract/op_models.py, 1x4x16x16 input): the graph
validates, its outputs have torch's shapes, its MACs equal FlopCounterMode's, the expected op
kinds carry the op, and ``hwsim check`` at 32 bits matches torch through a real schedule."""

import pytest

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

from hwsim.errors import UserError  # noqa: E402
from hwsim.extract import extract_model  # noqa: E402
from hwsim.graph.analysis import graph_stats  # noqa: E402
from hwsim.graph.validate import validate  # noqa: E402
from hwsim.numerics.check import check_model  # noqa: E402
from hwsim.schedule.bands import band_model  # noqa: E402
from hwsim.spec import load_spec  # noqa: E402
from tests.extract import op_models  # noqa: E402
from torch.nn.attention import SDPBackend, sdpa_kernel  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

SHAPE = (1, 4, 16, 16)
FILE = "tests/extract/op_models.py"

# model -> op kinds the op must appear as (beside the wrapping convolutions)
CASES = {
    "GroupNormNet": {"group_norm"}, "GroupNormPlain": {"group_norm"}, "InstanceNormNet": {"group_norm"},
    "InstanceNormRunning": {"batch_norm"}, "LeakyReLUNet": {"leaky_relu"}, "PReLUNet": {"prelu"},
    "MishNet": {"mish"}, "SoftplusNet": {"softplus"}, "PadConstant": {"pad"}, "PadReflect": {"pad"},
    "PadReplicate": {"pad"}, "PadCircular": {"pad"}, "PadCrop": {"pad"}, "ConvPaddingModes": {"pad"},
    "Bicubic": {"upsample_bicubic2d"}, "SDPA": {"matmul", "softmax"}, "SDPAMasked": {"where", "add", "matmul"},
    "MHABatchFirst": {"linear", "matmul", "softmax"}, "MHASequenceFirst": {"linear", "matmul", "softmax"},
    "EinsumContract": {"matmul", "permute"}, "EinsumChannels": {"matmul"}, "EinsumOuter": {"mul"},
    "EinsumEllipsis": {"matmul"},
    "Roll": {"roll"}, "Conv1d": {"conv2d", "pad"}, "Stack": {"concat"},
    "WhereCompare": {"where", "gt", "le", "ge", "ne", "logical_not"}, "AMax": {"amax", "amin", "adaptive_max_pool2d"},
    "Flip": {"flip"}, "Indexing": {"gather", "slice"}, "Select": {"slice"},
    "AdaptiveMaxPool": {"adaptive_max_pool2d"}, "Created": {"mul"}, "SinCos": {"sin", "cos"},
    "EmptyConcat": {"add"},
}


def _torch_outputs(name):
    model = getattr(op_models, name)().eval()
    with torch.no_grad():
        out = model(torch.randn(*SHAPE))
    return model, [o.numel() for o in (out if isinstance(out, tuple) else (out,))]


def flop_counter_macs(model, shape) -> int:
    """FlopCounterMode's MACs with attention on torch's math back end: on CPU its fused (flash)
    kernel is not one FlopCounterMode counts, the math one is two counted matrix products."""
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad(), sdpa_kernel([SDPBackend.MATH]):
        model(torch.randn(*shape))
    return counter.get_total_flops() // 2


FAST_PATH = ("MHABatchFirst", "MHASequenceFirst")
"""In eval mode nn.MultiheadAttention runs torch._native_multi_head_attention, which FlopCounterMode
does not count (it reports 0 MACs for it); in train mode (dropout 0: the same arithmetic) it runs the
linear + attention ops that it counts, and those are the MACs of the export's graph."""


@pytest.mark.parametrize("name", sorted(CASES))
def test_op_extracts_with_torch_shapes_and_flop_counter_macs(name):
    g = extract_model(f"{FILE}:{name}", SHAPE)
    assert validate(g) == []
    assert CASES[name] <= {op.kind for op in g.ops}
    model, sizes = _torch_outputs(name)
    assert [g.tensor[o].elements for o in g.outputs] == sizes  # an output view is stored as its root
    assert graph_stats(g, 8)["macs"] == flop_counter_macs(model.train() if name in FAST_PATH else model, SHAPE)


@pytest.mark.parametrize("name", sorted(CASES))
def test_op_passes_the_numerics_check_at_32_bits(name):
    spec = load_spec("accelerators/edge_npu.yaml", ["datatype.activation_bits=32", "datatype.weight_bits=32"])
    result = check_model(spec, f"{FILE}:{name}", SHAPE)
    report = result.report
    assert result.plan_problems == ()
    assert report.passed, (report.first_divergent_layer, report.error, report.notes[:3])


def test_macs_of_sdpa_and_einsum_by_hand():
    """SDPA over (1, 2 heads, 256 tokens, 2 features): QK^T and PV are 2 x 256 x 256 x 2 MACs each;
    einsum nchw,ncij->nhwij on 4x4 and 2x2 crops of 4 channels: 16 x 4 x 4 MACs (+ the head conv)."""
    conv = 16 * 16 * 4 * 4 * 9
    assert graph_stats(extract_model(f"{FILE}:SDPA", SHAPE), 8)["macs"] == conv + 2 * (2 * 256 * 256 * 2)
    assert graph_stats(extract_model(f"{FILE}:EinsumContract", SHAPE), 8)["macs"] == conv + 16 * 4 * 4


def test_whole_map_norm_layers_cannot_be_banded():
    """GroupNorm's statistics span the whole map: its layer has no row-band model (so it is never
    streamed and ends a cascade); the convolution after it still bands."""
    g = extract_model(f"{FILE}:GroupNormNet", SHAPE)
    norm = next(i for i, layer in enumerate(g.layers) if any(g.op[o].kind == "group_norm" for o in layer.ops))
    tail = next(i for i, layer in enumerate(g.layers) if i > norm and g.op[layer.ops[0]].kind == "conv2d")
    assert band_model(g, norm) is None
    assert band_model(g, tail) is not None


def test_reflect_pad_along_rows_cannot_be_banded_but_a_constant_pad_can():
    reflect = extract_model(f"{FILE}:PadReflect", SHAPE)
    constant = extract_model(f"{FILE}:PadConstant", SHAPE)
    index = [next(i for i, layer in enumerate(g.layers) if g.op[layer.ops[0]].kind == "pad") for g in (reflect,
                                                                                                      constant)]
    assert band_model(reflect, index[0]) is None
    model = band_model(constant, index[1])
    (m,) = model.reads[constant.op[constant.layers[index[1]].ops[0]].inputs[0]]
    assert m.span(0, 3, model.rows) == (0, 0)  # the 3 padded rows read nothing
    assert m.span(3, 5, model.rows) == (0, 2)


def test_refused_forms_are_named_with_their_module(tmp_path):
    src = tmp_path / "causal.py"
    src.write_text("import torch\nimport torch.nn.functional as F\n"
                   "class M(torch.nn.Module):\n"
                   "    def forward(self, x):\n"
                   "        t = x.flatten(2)\n"
                   "        return F.scaled_dot_product_attention(t, t, t, is_causal=True)\n")
    with pytest.raises(UserError) as err:
        extract_model(f"{src}:M", SHAPE)
    assert "aten.scaled_dot_product_attention.default (is_causal=True" in str(err.value)
    assert "at <top>" in str(err.value)


def test_empty_tensors_leave_concatenations_and_are_refused_elsewhere():
    """A zero-element created tensor adds nothing to a concatenation: no concat op is left, and
    no tensor of no elements is in the graph; any other reader is named in the error."""
    g = extract_model(f"{FILE}:EmptyConcat", SHAPE)
    assert {op.kind for op in g.ops} == {"conv2d", "add"}
    assert all(t.elements > 0 for t in g.tensors)
    with pytest.raises(UserError) as err:
        extract_model(f"{FILE}:EmptyRead", SHAPE)
    assert "aten.sum.default (reads a tensor with no elements" in str(err.value)
