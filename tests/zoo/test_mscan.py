"""MSCAN-tiny matting U-Net and its skip-free and UNet-- forms (UNet-- paper, Table 7).

Every convolution is listed here from the architecture (``hwsim.zoo.mscan``'s docstring, SegNeXt's
MSCAN-tiny), independently of the module code; parameters and MACs are worked out from that list
and compared with torch's parameter count, ``FlopCounterMode`` and a module-hook counter (the
paper's convention), then with Table 7: 3.95 M / 4.23 M parameters, 1.57 G MACs, 2.56 MB of skips,
a 94.5 % saving. The committed graphs (864x864) are checked without torch.
"""

from pathlib import Path

import pytest

from hwsim.graph.analysis import graph_stats
from hwsim.graph.io import load_graph
from hwsim.zoo import MODELS, committed_shape

GRAPHS = Path(__file__).resolve().parents[2] / "graphs"
NAMES = ("mscan_tiny", "mscan_tiny_noskip", "mscan_tiny_unetmm")
DIMS, DEPTHS, RATIOS = (32, 64, 160, 256), (3, 3, 5, 2), (8, 8, 4, 4)
FUSED = 256  # UNet--: fused-map channels at H/32
REDUCED = (2, 4, 8, 32)
BIG, SMALL = 864, 288  # the M_sc reading and the MACs reading of Table 7
MiB = 2**20


def _pixels(side, stride):
    return (side // stride) ** 2


def encoder_convs(side):
    """(cin, cout, taps, groups, output pixels) of every MSCAN-tiny convolution at side x side."""
    convs = [(3, 16, 9, 1, _pixels(side, 2)), (16, 32, 9, 1, _pixels(side, 4))]  # the stem
    for i, (c, depth, r) in enumerate(zip(DIMS, DEPTHS, RATIOS)):
        p = _pixels(side, 4 << i)
        if i:
            convs.append((DIMS[i - 1], c, 9, 1, p))  # overlapping patch embedding
        for _ in range(depth):
            convs += [(c, c, 1, 1, p), (c, c, 25, c, p)]  # proj in, dw 5x5
            convs += [(c, c, k, c, p) for k in (7, 7, 11, 11, 21, 21)]  # strip pairs
            convs += [(c, c, 1, 1, p), (c, c, 1, 1, p)]  # attention 1x1, proj out
            convs += [(c, r * c, 1, 1, p), (r * c, r * c, 9, r * c, p), (r * c, c, 1, 1, p)]  # MLP
    return convs


def decoder_convs(side):
    """1x1 to the skip's width at the coarse level, dw 3x3 after the add; the 1x1 alpha head at H/4."""
    convs = []
    for level in (2, 1, 0):
        c, p = DIMS[level], _pixels(side, 4 << level)
        convs += [(DIMS[level + 1], c, 1, 1, _pixels(side, 8 << level)), (c, c, 9, c, p)]
    return convs + [(32, 1, 1, 1, _pixels(side, 4))]


def unetmm_convs(side):
    """MSIAM: 1x1 reductions, the 1x1 fusion at H/32; IEM headers for E1..E3: ConvNeXt V2 (dw 7x7,
    1x1 x4, 1x1 back) at the fused map's width / 4^(3 - level), then dw 3x3 and 1x1 to E_level's width."""
    convs = [(c, r, 1, 1, _pixels(side, 4 << i)) for i, (c, r) in enumerate(zip(DIMS, REDUCED))]
    convs.append((sum(r * 4 ** (3 - i) for i, r in enumerate(REDUCED)), FUSED, 1, 1, _pixels(side, 32)))
    for level in range(3):
        d, p = FUSED // 4 ** (3 - level), _pixels(side, 4 << level)
        convs += [(d, d, 49, d, p), (d, 4 * d, 1, 1, p), (4 * d, d, 1, 1, p)]  # ConvNeXt V2
        convs += [(d, d, 9, d, p), (d, DIMS[level], 1, 1, p)]  # separable conv
    return convs


def convs(name, side):
    extra = unetmm_convs(side) if name.endswith("unetmm") else []
    return encoder_convs(side) + decoder_convs(side) + extra


def other_params(name):
    """Parameters outside convolutions: BN affine (stem, embeddings, 2 per block), layer scales (2 per
    block), the stage LayerNorms; UNet--: each header's LayerNorm (2d) and GRN (2 x 4d)."""
    encoder = 2 * (16 + 32) + sum(2 * c for c in DIMS[1:])
    encoder += sum(d * (4 * c + 2 * c) + 2 * c for c, d in zip(DIMS, DEPTHS))
    headers = sum(10 * FUSED // 4 ** (3 - level) for level in range(3)) if name.endswith("unetmm") else 0
    return encoder + headers


def hand_params(name):
    return sum(cin // g * taps * cout + cout for cin, cout, taps, g, _ in convs(name, 32)) + other_params(name)


def hand_macs(name, side, bias=False):
    """FlopCounterMode's count (``bias=False``), or the paper's (+1 per output element of a biased conv)."""
    return sum(p * cout * (cin // g * taps + bias) for cin, cout, taps, g, p in convs(name, side))


@pytest.fixture(scope="module")
def committed():
    return {name: graph_stats(load_graph(GRAPHS / f"{name}.json"), 8) for name in NAMES}


def test_registered_with_their_committed_size():
    for name in NAMES:
        assert MODELS[name] == f"hwsim.zoo.mscan:{name}"
        assert committed_shape(name) == (1, 3, BIG, BIG)
    assert committed_shape("nafnet") == (1, 3, 256, 256)


# ---- the committed graphs: Table 7's memory column ------------------------------------------
def test_skips_are_e1_to_e3_and_their_sum_is_the_papers_2_56_mib(committed):
    s = committed["mscan_tiny"]
    sizes = sorted(t["bytes"] for t in s["skip_tensors"])
    assert sizes == [160 * 54 * 54, 64 * 108 * 108, 32 * 216 * 216]
    assert {t["module"] for t in s["skip_tensors"]} == {"stages.0.norm", "stages.1.norm", "stages.2.norm"}
    assert s["msc_bytes"] == 2_706_048  # 3.625 x 864^2
    assert s["msc_bytes"] / MiB == pytest.approx(2.56, rel=0.01)


def test_unetmm_keeps_the_fused_map_and_saves_the_papers_share(committed):
    s, base = committed["mscan_tiny_unetmm"], committed["mscan_tiny"]
    assert s["msc_bytes"] == FUSED * 27 * 27  # 256 channels at 864 / 32
    saving = 100 * (1 - s["msc_bytes"] / base["msc_bytes"])
    assert saving == pytest.approx(100 * (1 - FUSED / 1024 / 3.625))  # 93.10 %, independent of the size
    assert abs(saving - 94.5) <= 2  # the paper's saving (Sec. 4.4)


def test_skip_free_form_keeps_nothing_and_costs_the_same(committed):
    s, base = committed["mscan_tiny_noskip"], committed["mscan_tiny"]
    assert s["msc_bytes"] == 0 and s["skip_tensors"] == []
    assert (s["params"], s["macs"], s["paper_macs"]) == (base["params"], base["macs"], base["paper_macs"])
    assert base["ops"] - s["ops"] == 3  # the three skip additions


def test_graph_macs_and_params_follow_the_architecture(committed):
    """hwsim folds the 6 BNs that follow a conv (their affine parameters go) and keeps the 26 block
    BNs as ops whose running mean and variance it counts with their weight and bias."""
    folded = 2 * (16 + 32 + 64 + 160 + 256)
    block_stats = sum(2 * 2 * c * d for c, d in zip(DIMS, DEPTHS))
    for name in NAMES:
        s = committed[name]
        assert s["macs"] == hand_macs(name, BIG)
        # hwsim extracts GRN's spatial mean as a global average pool, whose inputs its paper
        # convention counts (4d x pixels per header); a module-hook counter sees no pooling module
        grn = sum(4 * FUSED // 4 ** (3 - lv) * _pixels(BIG, 4 << lv) for lv in range(3))
        grn = grn if name.endswith("unetmm") else 0
        assert s["paper_macs"] == hand_macs(name, BIG, bias=True) + grn
        assert s["params"] == hand_params(name) - folded + block_stats


# ---- torch: parameters and MACs against counters, and Table 7 ----------------------------------
@pytest.fixture(scope="module")
def meta():
    """name -> the model on the meta device (no weights: counting only), built once."""
    torch = pytest.importorskip("torch")
    from hwsim.zoo import factory

    with torch.device("meta"):
        return {name: factory(name)() for name in NAMES}


def _paper_macs(model, side):
    """A module-hook counter (the paper's convention): conv MACs + one per output element per bias."""
    torch = pytest.importorskip("torch")
    total = [0]

    def hook(m, args, out):
        total[0] += out.numel() * (m.weight.numel() // m.weight.shape[0] + (m.bias is not None))

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    model(torch.empty(1, 3, side, side, device="meta"))
    for handle in handles:
        handle.remove()
    return total[0]


@pytest.mark.torch
@pytest.mark.parametrize("name", NAMES)
def test_params_and_flop_counter_macs_by_hand(meta, name):
    torch = pytest.importorskip("torch")
    from torch.utils.flop_counter import FlopCounterMode

    model = meta[name]
    assert sum(p.numel() for p in model.parameters()) == hand_params(name)
    with FlopCounterMode(display=False) as counter:
        model(torch.empty(1, 3, SMALL, SMALL, device="meta"))
    assert counter.get_total_flops() // 2 == hand_macs(name, SMALL)
    assert _paper_macs(model, SMALL) == hand_macs(name, SMALL, bias=True)


@pytest.mark.torch
def test_params_within_5_percent_of_table_7(meta):
    base, mm = (sum(p.numel() for p in meta[n].parameters()) for n in ("mscan_tiny", "mscan_tiny_unetmm"))
    encoder = sum(p.numel() for p in meta["mscan_tiny"].stages.parameters())
    assert encoder == 3_903_584  # MSCAN-tiny alone: what Table 7 leaves for decoder and head is ~46 k
    assert abs(base / 3.95e6 - 1) <= 0.05  # +0.2 %
    assert abs(mm / 4.23e6 - 1) <= 0.05  # -3.4 %: UNet-- adds 128,522 where the paper adds ~0.28 M
    assert mm - base == 128_522


@pytest.mark.torch
def test_the_macs_reading_is_288(meta):
    """1.57 G paper-convention MACs: 288 x 288 is the nearest multiple of 32 (1.506 G, -4.1 %)."""
    macs = {side: _paper_macs(meta["mscan_tiny"], side) for side in (256, 288, 320)}
    assert abs(macs[288] / 1.57e9 - 1) <= 0.05
    assert abs(macs[288] / 1.57e9 - 1) < min(abs(macs[256] / 1.57e9 - 1), abs(macs[320] / 1.57e9 - 1))


# ---- forward, form, order --------------------------------------------------------------------
@pytest.mark.torch
@pytest.mark.parametrize("name", NAMES)
def test_forward_is_an_alpha_matte(name):
    torch = pytest.importorskip("torch")
    from hwsim.zoo import factory

    model = factory(name)()
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        alpha = model(x)
    assert alpha.shape == (1, 1, 64, 64) and not model.training
    assert ((alpha > 0) & (alpha < 1)).all()


@pytest.mark.torch
def test_the_three_forms_share_one_seeded_backbone():
    torch = pytest.importorskip("torch")
    from hwsim.zoo import factory

    torch.manual_seed(7)
    expected = torch.rand(2)
    torch.manual_seed(7)
    base = factory("mscan_tiny")().state_dict()
    assert torch.equal(torch.rand(2), expected)  # the caller's random state is untouched
    for name in NAMES[1:]:
        other = factory(name)().state_dict()
        for key, value in base.items():
            assert torch.equal(value, other[key]), (name, key)


@pytest.mark.torch
def test_stage_norm_is_the_references_token_layer_norm():
    """The channels-first stage norm equals flatten -> transpose -> LayerNorm(C) -> back (the reference)."""
    torch = pytest.importorskip("torch")
    from hwsim.zoo.mscan import STAGE_NORM_EPS, Stage

    norm = Stage(1, 32, 64, 1, 8).norm
    with torch.no_grad():
        norm.weight.normal_()
        norm.bias.normal_()
    x = torch.randn(2, 64, 5, 7)
    tokens = x.flatten(2).transpose(1, 2)
    ref = torch.nn.functional.layer_norm(tokens, (64,), norm.weight.flatten(), norm.bias.flatten(), STAGE_NORM_EPS)
    assert torch.allclose(norm(x), ref.reshape(2, 5, 7, 64).permute(0, 3, 1, 2), atol=1e-5)


@pytest.mark.torch
def test_strip_attention_is_the_published_sum():
    """dw 5x5 a; a + (7x1 o 1x7)(a) + (11x1 o 1x11)(a) + (21x1 o 1x21)(a); 1x1; times the input."""
    torch = pytest.importorskip("torch")
    from torch.nn import functional as F

    from hwsim.zoo.mscan import StripAttention

    att, u = StripAttention(8), torch.randn(1, 8, 12, 12)
    a = att.local(u)
    branches = []
    for k, strip in zip((7, 11, 21), att.strips):
        w, h = strip
        assert w.kernel_size == (1, k) and h.kernel_size == (k, 1) and w.groups == h.groups == 8
        branches.append(F.conv2d(F.conv2d(a, w.weight, w.bias, padding=(0, k // 2), groups=8),
                                 h.weight, h.bias, padding=(k // 2, 0), groups=8))
    ref = F.conv2d(a + branches[0] + branches[1] + branches[2], att.mix.weight, att.mix.bias) * u
    assert torch.allclose(att(u), ref, atol=1e-6)


def _positions(graph):
    pos = {}
    for idx, op in enumerate(graph.ops):
        parts = op.module.split(".") if op.module else []
        for depth in range(1, len(parts) + 1):
            pos.setdefault(".".join(parts[:depth]), []).append(idx)
    return pos


@pytest.mark.torch
def test_unetmm_op_order_is_the_memory_schedule(extracted):
    pos = _positions(extracted("mscan_tiny_unetmm", (1, 3, 32, 32)))
    for i in range(4):  # each E_i reduced right after it exists, before the next patch embedding
        assert max(pos[f"stages.{i}"]) < min(pos[f"msiam.reducers.{i}"])
        if i < 3:
            assert max(pos[f"msiam.reducers.{i}"]) < min(pos[f"stages.{i + 1}"])
    assert max(pos["msiam.reducers.3"]) < min(pos["msiam.fusion"]) < min(pos["projs.0"])
    for j, level in enumerate((2, 1, 0)):  # each header after its level's upsampling, before its refine
        assert max(pos[f"projs.{j}"]) < min(pos[f"iem.headers.{level}"]) < min(pos[f"refines.{j}"])


@pytest.mark.torch
@pytest.mark.parametrize("name", NAMES)
def test_extracts_to_the_expected_op_kinds(extracted, name):
    kinds = {op.kind for op in extracted(name, (1, 3, 32, 32)).ops}
    expected = {"conv2d", "gelu", "batch_norm", "add", "sub", "mul", "div", "pow", "sqrt", "mean",
                "upsample_bilinear2d", "sigmoid"}
    if name.endswith("unetmm"):
        expected |= {"pixel_unshuffle", "pixel_shuffle", "concat", "adaptive_avg_pool2d"}  # GRN's mean
    assert kinds == expected
