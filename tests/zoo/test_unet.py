"""U-Net, Lean U-Net and SAT U-Net: parameters, MACs, shapes, export, skip sizes.

Every expected figure is worked out here by hand from the architecture (the layer
tables below are written out, not read from the models).
"""

import pytest

pytestmark = pytest.mark.torch
torch = pytest.importorskip("torch")

from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from hwsim.zoo import MODELS, factory  # noqa: E402
from hwsim.zoo.unet import LeanUNet, lunet, unet, unet_sat  # noqa: E402

# Classic U-Net, one row per convolution: (c_in, c_out, kernel, level), level l at
# resolution H / 2^l. The up-convolutions ("T") are 2x2 stride 2 into level l.
UNET_CONVS = [
    (3, 64, 3, 0), (64, 64, 3, 0),  # encoder 1 -> E1
    (64, 128, 3, 1), (128, 128, 3, 1),  # encoder 2 -> E2
    (128, 256, 3, 2), (256, 256, 3, 2),  # encoder 3 -> E3
    (256, 512, 3, 3), (512, 512, 3, 3),  # encoder 4 -> E4
    (512, 1024, 3, 4), (1024, 1024, 3, 4),  # bottleneck
    (1024, 512, 3, 3), (512, 512, 3, 3),  # decoder 4 (cat E4 512 + up 512)
    (512, 256, 3, 2), (256, 256, 3, 2),  # decoder 3
    (256, 128, 3, 1), (128, 128, 3, 1),  # decoder 2
    (128, 64, 3, 0), (64, 64, 3, 0),  # decoder 1
    (64, 2, 1, 0),  # head
]
UNET_UPCONVS = [(1024, 512, 3), (512, 256, 2), (256, 128, 1), (128, 64, 0)]
SKIP_WIDTHS = [64, 128, 256, 512]  # E1..E4


def sat_convs():
    """U-Net's convs with 1-channel skips, plus each SAT block's two 1x1 convs C -> 1."""
    convs = []
    for cin, cout, k, level in UNET_CONVS:
        is_first_decoder_conv = cin == 2 * cout and k == 3
        convs.append((cout + 1 if is_first_decoder_conv else cin, cout, k, level))
    for level, c in enumerate(SKIP_WIDTHS):
        convs += [(c, 1, 1, level), (c, 1, 1, level)]  # aggregate, attend
    return convs


def params_by_hand(convs, upconvs, extra=0):
    """sum over convs of c_in * c_out * k * k + c_out (bias); up-convs have k = 2."""
    total = sum(cin * cout * k * k + cout for cin, cout, k, _ in convs)
    total += sum(cin * cout * 2 * 2 + cout for cin, cout, _ in upconvs)
    return total + extra


def macs_by_hand(convs, upconvs, size):
    """Padded conv: one MAC per output pixel, input channel, output channel, tap.

    A 2x2 stride-2 up-convolution gives each output pixel exactly one tap per input
    channel: output pixels x c_in x c_out.
    """
    pixels = lambda level: (size // 2**level) ** 2  # noqa: E731
    macs = sum(pixels(lv) * cin * cout * k * k for cin, cout, k, lv in convs)
    return macs + sum(pixels(lv) * cin * cout for cin, cout, lv in upconvs)


def n_params(model):
    return sum(p.numel() for p in model.parameters())


def flop_counter_macs(model, size):
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(torch.zeros(1, 3, size, size))
    return counter.get_total_flops() // 2


def test_registry_names_point_here():
    for name, fn in [("unet", unet), ("lunet", lunet), ("unet_sat", unet_sat)]:
        assert MODELS[name] == f"hwsim.zoo.unet:{name}"
        assert factory(name) is fn


def test_unet_params_by_hand():
    expected = params_by_hand(UNET_CONVS, UNET_UPCONVS)
    assert expected == 31_031_810
    assert n_params(unet()) == expected


@pytest.mark.parametrize("c", [4, 8, 64])
def test_lunet_params_formula(c):
    # 9C^2 (enc1 conv2) + 3 * 18C^2 (enc2..4) + 18C^2 (bottleneck) + 4 * 4C^2 (up-convs)
    # + 4 * 27C^2 (decoders, first conv 2C -> C) = 205 C^2; first conv 27C; 22 biases
    # of C (18 convs + 4 up-convs); head 2C + 2.
    assert n_params(LeanUNet(channels=c)) == 205 * c * c + 27 * c + 22 * c + 2 * c + 2


def test_lunet_is_over_30x_smaller():
    assert n_params(lunet()) == 842_946
    assert n_params(lunet()) * 30 < n_params(unet())


def test_unet_sat_params_by_hand():
    sat_select = sum(SKIP_WIDTHS)  # one weight per channel
    expected = params_by_hand(sat_convs(), UNET_UPCONVS, extra=sat_select)
    # each first decoder conv loses C - 1 input channels: 9 C (C - 1); SAT adds 3C + 2.
    saved = sum(9 * c * (c - 1) - (3 * c + 2) for c in SKIP_WIDTHS)
    assert expected == 31_031_810 - saved == 27_909_898
    assert n_params(unet_sat()) == expected


def test_flop_counter_macs_match_hand_formula():
    size = 32
    c = 64
    lunet_convs = [(3, c, 3, 0), (c, c, 3, 0)]  # encoder 1
    lunet_convs += [(c, c, 3, lv) for lv in (1, 2, 3, 4) for _ in (0, 1)]  # enc 2-4, bottleneck
    lunet_convs += [(2 * c, c, 3, lv) for lv in range(4)] + [(c, c, 3, lv) for lv in range(4)]
    lunet_convs += [(c, 2, 1, 0)]
    lunet_ups = [(c, c, lv) for lv in range(4)]
    assert flop_counter_macs(unet(), size) == macs_by_hand(UNET_CONVS, UNET_UPCONVS, size)
    assert flop_counter_macs(lunet(), size) == macs_by_hand(lunet_convs, lunet_ups, size)
    assert flop_counter_macs(unet_sat(), size) == macs_by_hand(sat_convs(), UNET_UPCONVS, size)


def test_unet_macs_at_256_in_closed_form():
    # Per pixel of the full-resolution level, level l weighs 4^-l; hand-summed from the
    # table above: 48,171,581,440 MACs at 256 x 256 (~48.2 G).
    assert macs_by_hand(UNET_CONVS, UNET_UPCONVS, 256) == 48_171_581_440


@pytest.mark.parametrize("make", [unet, lunet, unet_sat])
def test_output_shape_and_eval_mode(make):
    model = make()
    assert not model.training
    with torch.no_grad():
        out = model(torch.zeros(1, 3, 64, 64))
    assert tuple(out.shape) == (1, 2, 64, 64)


def test_factories_are_deterministic():
    a, b = unet_sat().state_dict(), unet_sat().state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_sat_blocks_emit_one_channel_per_level():
    model = unet_sat()
    shapes = []
    for block in model.sats:
        block.register_forward_hook(lambda _m, _i, out: shapes.append(tuple(out.shape)))
    with torch.no_grad():
        model(torch.zeros(1, 3, 64, 64))
    assert shapes == [(1, 1, 64, 64), (1, 1, 32, 32), (1, 1, 16, 16), (1, 1, 8, 8)]


ALLOWED_OPS = {
    "aten.conv2d.default", "aten.relu.default", "aten.max_pool2d.default",
    "aten.conv_transpose2d.input", "aten.cat.default", "aten.mul.Tensor",
    "aten.sigmoid.default",
}


def exported_ops(model, size):
    program = torch.export.export(model, (torch.zeros(1, 3, size, size),))
    return [n for n in program.graph.nodes if n.op == "call_function"]


@pytest.mark.parametrize(
    "make, n_conv, n_mul",
    [(unet, 19, 0), (lunet, 19, 0), (unet_sat, 19 + 8, 8)],  # SAT: 2 convs, 2 muls each
)
def test_exports_with_expected_ops(make, n_conv, n_mul):
    targets = [str(n.target) for n in exported_ops(make(), 64)]
    assert set(targets) <= ALLOWED_OPS
    assert targets.count("aten.conv2d.default") == n_conv
    assert targets.count("aten.conv_transpose2d.input") == 4
    assert targets.count("aten.max_pool2d.default") == 4
    assert targets.count("aten.cat.default") == 4
    assert targets.count("aten.mul.Tensor") == n_mul


def test_sat_runs_before_each_pool():
    targets = [str(n.target) for n in exported_ops(unet_sat(), 64)]
    pools = [i for i, t in enumerate(targets) if t == "aten.max_pool2d.default"]
    sigmoids = [i for i, t in enumerate(targets) if t == "aten.sigmoid.default"]
    bounds = [-1] + pools
    assert all(bounds[i] < sigmoids[i] < pools[i] for i in range(4))


def skip_elements_peak(nodes):
    """Peak elements of op outputs that wait while ops read another resolution (> 1x1).

    The skip-tensor rule of DESIGN.md applied to single ops of the exported graph.
    """
    index = {n: i for i, n in enumerate(nodes)}

    def spatial(node):
        val = node.meta.get("val")
        return tuple(val.shape[2:]) if val is not None and val.dim() == 4 else None

    def reads_other_resolution(node, own):
        inputs = [a for a in node.all_input_nodes if spatial(a) is not None]
        return any(spatial(a) != own and spatial(a) != (1, 1) for a in inputs)

    skips = []
    for n in nodes:
        own = spatial(n)
        users = [index[u] for u in n.users if u in index]
        if own is None or not users:
            continue
        last = max(users)
        if any(reads_other_resolution(nodes[j], own) for j in range(index[n] + 1, last)):
            skips.append((index[n], last, n.meta["val"].numel()))
    return max(sum(e for p, q, e in skips if p <= t <= q) for t in range(len(nodes)))


@pytest.mark.parametrize(
    "make, expected",
    [
        (unet, 64 * 256**2 + 128 * 128**2 + 256 * 64**2 + 512 * 32**2),
        (lunet, 64 * (256**2 + 128**2 + 64**2 + 32**2)),
        (unet_sat, 256**2 + 128**2 + 64**2 + 32**2),
    ],
)
def test_skip_elements_at_256(make, expected):
    assert expected in (7_864_320, 64 * 87_040, 87_040)
    assert skip_elements_peak(exported_ops(make(), 256)) == expected
