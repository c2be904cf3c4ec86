"""NAFNet and UNet-- zoo models: the figures of the UNet-- paper (Table 4) and DESIGN.md,
hand-worked parameter / MAC formulas of the MSIAM and IEM, the memory-schedule order of the
forward pass, determinism, and extraction."""

import pytest

pytestmark = pytest.mark.torch
torch = pytest.importorskip("torch")

from torch import nn  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from hwsim.zoo import factory  # noqa: E402
from hwsim.zoo.unetmm import GRN, MSIAM, LayerNorm2d, resizes_to  # noqa: E402

NAMES = ["nafnet", "nafnet_noskip", "nafnet_unetmm", "nafnet_unetmm_mid", "nafnet_unetmm_max"]
UNETMM = NAMES[2:]
NAFNET_PARAMS = 29_159_715  # DESIGN.md, Table 4 (29.16 M)
NAFNET_MACS = 16_045_035_520  # DESIGN.md: FlopCounterMode MACs at 1x3x256x256
ENC_WIDTHS = (32, 64, 128, 256)
SIDE = 256
# name -> (aggregation level, reduced widths, fused width)
UNETMM_SPEC = {
    "nafnet_unetmm": (3, (2, 4, 8, 32), 256),
    "nafnet_unetmm_mid": (2, (2, 4, 8, 32), 64),
    "nafnet_unetmm_max": (0, (2, 4, 16, 64), 4),
}
def _meta_model(name):
    with torch.device("meta"):
        return factory(name)()


def _n_params(model):
    return sum(p.numel() for p in model.parameters())


def _flop_macs(name):
    model = _meta_model(name)
    with FlopCounterMode(display=False) as counter:
        model(torch.empty(1, 3, SIDE, SIDE, device="meta"))
    return counter.get_total_flops() // 2


def _paper_macs(name):
    """Module-hook MACs: conv / Linear MACs, + 1 per output element per bias, + pool inputs."""
    model, total = _meta_model(name), [0]

    def conv(m, args, out):
        k = m.weight.numel() // m.weight.shape[0]
        total[0] += out.numel() * (k + (m.bias is not None))

    def pool(m, args, out):
        total[0] += args[0].numel()

    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            m.register_forward_hook(conv)
        elif isinstance(m, nn.AdaptiveAvgPool2d):
            m.register_forward_hook(pool)
    model(torch.empty(1, 3, SIDE, SIDE, device="meta"))
    return total[0]


def _resized(c, src, dst):
    """Channels of a c-channel map at level src pixel-(un)shuffled to level dst."""
    return c * 4 ** (dst - src) if dst >= src else c // 4 ** (src - dst)


def _pixels(level):
    return (SIDE >> level) ** 2


def _unetmm_extra(name):
    """(params, conv MACs) that MSIAM + IEM add, from the architecture description."""
    target, reduced, fused = UNETMM_SPEC[name]
    params = macs = 0
    for lvl, (c, r) in enumerate(zip(ENC_WIDTHS, reduced)):  # MSIAM reducing 1x1 convs
        params += c * r + r
        macs += _pixels(lvl) * c * r
    concat = sum(_resized(r, lvl, target) for lvl, r in enumerate(reduced))
    params += concat * fused + fused
    macs += _pixels(target) * concat * fused
    for lvl, out in enumerate(ENC_WIDTHS):  # IEM headers
        d, p = _resized(fused, target, lvl), _pixels(lvl)
        params += (49 * d + d) + 2 * d + (4 * d * d + 4 * d) + 8 * d + (4 * d * d + d)
        params += (9 * d + d) + (d * out + out)
        macs += p * (49 * d + 8 * d * d + 9 * d + d * out)
    return params, macs


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """Tiny convolutions run faster on one thread (and the CI box is shared)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def graphs(extracted):
    """name -> the extracted Graph at 1x3x32x32 (shared with the other zoo tests through the session cache)."""
    return {name: extracted(name, (1, 3, 32, 32)) for name in NAMES}


@pytest.mark.parametrize("name", ["nafnet", "nafnet_noskip"])
def test_nafnet_params_and_macs_match_table_4(name):
    assert _n_params(_meta_model(name)) == NAFNET_PARAMS
    assert _flop_macs(name) == NAFNET_MACS


def test_paper_convention_macs_of_nafnet_is_16_229_g():
    assert round(_paper_macs("nafnet") / 1e9, 3) == 16.229


def test_unetmm_additions_within_25_percent_of_table_4():
    extra_params = _n_params(_meta_model("nafnet_unetmm")) - NAFNET_PARAMS
    extra_macs = _paper_macs("nafnet_unetmm") - _paper_macs("nafnet")
    assert abs(extra_params / 0.82e6 - 1) <= 0.25  # 29.98 M - 29.16 M
    assert abs(extra_macs / 1.29e9 - 1) <= 0.25  # 17.52 G - 16.23 G


@pytest.mark.parametrize("name", UNETMM)
def test_unetmm_params_and_macs_follow_the_architecture(name):
    extra_params, extra_macs = _unetmm_extra(name)
    assert _n_params(_meta_model(name)) == NAFNET_PARAMS + extra_params
    assert _flop_macs(name) == NAFNET_MACS + extra_macs


@pytest.mark.parametrize("name", UNETMM)
def test_fused_map_is_a_quarter_mib_and_the_largest_waiting_map(name):
    model, seen = _meta_model(name), {}
    model.msiam.fusion.register_forward_hook(lambda m, a, out: seen.update(fused=out.numel()))
    for i, reducer in enumerate(model.msiam.reducers):
        reducer.register_forward_hook(lambda m, a, out, i=i: seen.update({i: out.numel()}))
    model(torch.empty(1, 3, SIDE, SIDE, device="meta"))
    assert seen["fused"] == 2**20 // 4  # bytes at 8 bits: 0.25 MiB (Table 4, M_sc)
    assert seen[0] + seen[1] + seen[2] <= seen["fused"]  # reduced maps waiting for E4


@pytest.mark.parametrize("name", NAMES)
def test_forward_keeps_the_image_shape(name):
    model = factory(name)()
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        y = model(x)
    assert y.shape == (1, 3, 64, 64)
    assert torch.isfinite(y).all()
    assert not model.training


@pytest.mark.parametrize("name", NAMES)
def test_extracts_to_the_expected_op_kinds(graphs, name):
    kinds = {op.kind for op in graphs[name].ops}
    expected = {"conv2d", "adaptive_avg_pool2d", "pixel_shuffle", "slice", "add", "sub", "mul", "div", "pow",
                "sqrt", "mean"}
    if "unetmm" in name:
        expected |= {"pixel_unshuffle", "concat", "gelu"}
    assert kinds == expected


def _positions(graph):
    """Module path -> indices (in op order) of the ops run inside it, at any depth."""
    pos = {}
    for idx, op in enumerate(graph.ops):
        parts = op.module.split(".") if op.module else []
        for depth in range(1, len(parts) + 1):
            pos.setdefault(".".join(parts[:depth]), []).append(idx)
    return pos


@pytest.mark.parametrize("name", UNETMM)
def test_op_order_is_the_memory_conscious_schedule(graphs, name):
    pos = _positions(graphs[name])
    for i in range(4):  # each E_i reduced right after it exists, before the downsampling
        assert max(pos[f"encoders.{i}"]) < min(pos[f"msiam.reducers.{i}"])
        assert max(pos[f"msiam.reducers.{i}"]) < min(pos[f"downs.{i}"])
    assert max(pos["msiam.reducers.3"]) < min(pos["msiam.fusion"]) < min(pos["downs.3"])
    for stage in range(4):  # each header right after its upsampling, before its decoder
        level = 3 - stage
        assert max(pos[f"ups.{stage}"]) < min(pos[f"iem.headers.{level}"])
        assert max(pos[f"iem.headers.{level}"]) < min(pos[f"decoders.{stage}"])


def test_skip_free_nafnet_has_no_encoder_to_decoder_path(graphs):
    adds = {name: sum(op.kind == "add" and len(op.inputs) == 2 for op in graphs[name].ops)
            for name in ("nafnet", "nafnet_noskip")}
    assert adds["nafnet"] - adds["nafnet_noskip"] == 4


def test_factories_are_deterministic_and_share_the_backbone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    base = factory("nafnet")()
    assert torch.equal(torch.rand(3), expected)  # the caller's random state is untouched
    again = factory("nafnet")().state_dict()
    for name in ("nafnet_noskip", "nafnet_unetmm"):
        other = factory(name)().state_dict()
        for key, value in base.state_dict().items():
            assert torch.equal(value, again[key]) and torch.equal(value, other[key])


def test_layernorm2d_is_layer_norm_over_channels():
    norm = LayerNorm2d(8)
    with torch.no_grad():
        norm.weight.normal_()
        norm.bias.normal_()
    x = torch.randn(2, 8, 5, 7)
    ref = nn.functional.layer_norm(
        x.permute(0, 2, 3, 1), (8,), norm.weight.flatten(), norm.bias.flatten(), 1e-6
    ).permute(0, 3, 1, 2)
    assert torch.allclose(norm(x), ref, atol=1e-5)


def test_grn_matches_the_convnext_v2_formula():
    grn = GRN(6)
    x = torch.randn(2, 6, 4, 5)
    gx = torch.linalg.vector_norm(x, dim=(2, 3), keepdim=True)
    nx = gx / (gx.mean(dim=1, keepdim=True) + 1e-6)
    assert torch.allclose(grn(x), grn.gamma * (x * nx) + grn.beta + x, atol=1e-5)


def test_widths_that_a_pixel_shuffle_cannot_split_are_refused():
    # Fig. 3c with the paper's Fig. 3a widths: E3's 8 channels cannot be shuffled up by 4.
    with pytest.raises(ValueError, match="shuffled"):
        MSIAM(ENC_WIDTHS, (2, 4, 8, 32), resizes_to(0, 4), 4)
