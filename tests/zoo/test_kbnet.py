"""KBNet (SIDD configuration) and KBNet with UNet--: parameters, MACs, skips, shapes, export, op order.

Expected figures are worked out by hand from the architecture (formulas below), then compared with the
UNet-- paper's Table 4 (104.93 M convolution parameters, 58.19 G MACs in its module-hook convention).
Counting runs on meta-device models; only the forward / export tests build real weights (once per module).
"""

import pytest

pytestmark = pytest.mark.torch
torch = pytest.importorskip("torch")

from torch import nn  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from hwsim.zoo import MODELS, factory  # noqa: E402
from hwsim.zoo.kbnet import kbnet, kbnet_unetmm  # noqa: E402

WIDTHS = (64, 128, 256, 512, 1024)  # levels 0..4 (level l at H / 2^l)
BLOCKS = (2 + 2, 2 + 2, 4 + 2, 8 + 2, 12)  # encoder + decoder blocks per level; middle at level 4
HEADER_WIDTHS = (8, 32, 128, 512)  # the 512-ch fused map pixel-shuffled by 8, 4, 2, 1
def block_conv_params(c):
    """Light KBNet block: 1x1 convs sca, uf, x1, proj (c*c + c each), FFN c -> 1.5c, 0.75c -> c;
    depthwise 3x3 uf, x1 (10c each); attention: grouped 3x3 c -> 32 (9c + 32), 1x1 16 -> 32, 1x1 c -> 32."""
    one_by_one = 4 * (c * c + c) + (c * 3 * c // 2 + 3 * c // 2) + (3 * c // 4 * c + c)
    return one_by_one + 2 * 10 * c + (9 * c + 32) + (16 * 32 + 32) + (c * 32 + 32)


def kbnet_conv_params():
    """intro 3x3 3 -> 64, ending 3x3 64 -> 3, 2x2 downs c -> 2c, bias-free 1x1 ups 2c -> 4c, all blocks."""
    ends = (3 * 64 * 9 + 64) + (64 * 3 * 9 + 3)
    downs = sum(c * 2 * c * 4 + 2 * c for c in WIDTHS[:4])
    ups = sum(c * 2 * c for c in WIDTHS[1:])
    return ends + downs + ups + sum(n * block_conv_params(c) for c, n in zip(WIDTHS, BLOCKS))


def unetmm_extra_conv_params():
    """MSIAM: 1x1 reductions 64->4, 128->8, 256->16, 512->64 and the 512 -> 512 fusion; IEM per level:
    ConvNeXt V2 at width w (dw 7x7, 1x1 w -> 4w -> w: 8w^2 + 55w) and separable conv w -> E_i width."""
    msiam = sum(c * r + r for c, r in zip(WIDTHS[:4], (4, 8, 16, 64))) + 512 * 512 + 512
    iem = sum(8 * w * w + 55 * w + 10 * w + w * c + c for w, c in zip(HEADER_WIDTHS, WIDTHS[:4]))
    return msiam + iem


def kbnet_paper_macs(size):
    """Paper convention at size x size: a stride-1 conv costs pixels x its parameters (weights and the
    one-per-output bias); the channel-attention 1x1 runs on one pixel after pooling c x pixels inputs;
    a 2x2 stride-2 down conv runs on a quarter of the pixels, a 1x1 up conv on its input's pixels."""
    pixels = [(size >> level) ** 2 for level in range(5)]
    sca = [c * c + c for c in WIDTHS]
    macs = pixels[0] * ((3 * 64 * 9 + 64) + (64 * 3 * 9 + 3))
    macs += sum(pixels[lv + 1] * (c * 2 * c * 4 + 2 * c) for lv, c in enumerate(WIDTHS[:4]))
    macs += sum(pixels[lv + 1] * c * 2 * c for lv, c in enumerate(WIDTHS[1:]))
    for p, c, s, n in zip(pixels, WIDTHS, sca, BLOCKS):
        macs += n * (p * (block_conv_params(c) - s) + s + c * p)
    return macs


def kba_matmul_macs(size):
    """Per block at width c and P pixels: coefficients @ bases P*32*(36c), kernels @ patches P*36c,
    coefficients @ biases P*32*c: 1220 * c * P."""
    return sum(n * 1220 * c * (size >> lv) ** 2 for lv, (c, n) in enumerate(zip(WIDTHS, BLOCKS)))


def hook_macs(model, x):
    """A module-hook counter (the paper's convention): conv MACs + bias outputs + avg-pool inputs."""
    total = [0]

    def count(module, inputs, output):
        if isinstance(module, nn.Conv2d):
            taps = module.in_channels // module.groups * module.kernel_size[0] * module.kernel_size[1]
            total[0] += output.numel() * (taps + (module.bias is not None))
        elif isinstance(module, (nn.AdaptiveAvgPool2d, nn.AvgPool2d)):
            total[0] += inputs[0].numel()

    handles = [m.register_forward_hook(count) for m in model.modules()]
    model(x)
    for handle in handles:
        handle.remove()
    return total[0]


def conv_params(model):
    return sum(p.numel() for m in model.modules() if isinstance(m, nn.Conv2d) for p in m.parameters())


@pytest.fixture(scope="module")
def meta_models():
    with torch.device("meta"):
        return {"kbnet": kbnet(), "kbnet_unetmm": kbnet_unetmm()}


@pytest.fixture(scope="module")
def models():
    return {"kbnet": kbnet(), "kbnet_unetmm": kbnet_unetmm()}


@pytest.fixture(scope="module")
def graphs(extracted):
    """name -> extracted Graph at 1x3x32x32, shared through the session cache."""
    return {name: extracted(name, (1, 3, 32, 32)) for name in ("kbnet", "kbnet_unetmm")}


def meta_input(size=256):
    return torch.zeros(1, 3, size, size, device="meta")


def test_registry_names():
    assert factory("kbnet") is kbnet and factory("kbnet_unetmm") is kbnet_unetmm
    assert MODELS["kbnet"] == "hwsim.zoo.kbnet:kbnet"


def test_conv_params_match_hand_count_and_paper(meta_models):
    assert kbnet_conv_params() == 104_925_251
    assert conv_params(meta_models["kbnet"]) == 104_925_251
    assert round(104_925_251 / 1e6, 2) == 104.93  # paper, Table 4
    assert sum(p.numel() for p in meta_models["kbnet"].parameters()) == 128_403_395  # 128.40 M


def test_unetmm_params(meta_models):
    extra = unetmm_extra_conv_params()
    assert extra == 2_882_500
    assert conv_params(meta_models["kbnet_unetmm"]) == 104_925_251 + extra
    # paper: 108.12 M; the shared MSIAM/IEM come out 0.29 % lighter (see hwsim.zoo.kbnet)
    assert abs((104_925_251 + extra) / 108.12e6 - 1) < 0.005


def test_paper_convention_macs(meta_models):
    with torch.no_grad():
        macs = hook_macs(meta_models["kbnet"], meta_input())
    assert macs == kbnet_paper_macs(256) == 58_191_645_952
    assert abs(macs / 58.19e9 - 1) < 0.01


def test_unetmm_paper_convention_macs(meta_models):
    with torch.no_grad():
        macs = hook_macs(meta_models["kbnet_unetmm"], meta_input())
    assert macs == 62_044_638_464
    assert abs(macs / 63.11e9 - 1) < 0.02  # paper 63.11 G; see the module docstring


def test_flop_counter_adds_the_kba_matmuls(meta_models):
    model = meta_models["kbnet"]
    bias_outputs = [0]

    def count(module, inputs, output):
        if isinstance(module, nn.Conv2d) and module.bias is not None:
            bias_outputs[0] += output.numel()
        elif isinstance(module, nn.AdaptiveAvgPool2d):
            bias_outputs[0] += inputs[0].numel()

    handles = [m.register_forward_hook(count) for m in model.modules()]
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(meta_input())
    for handle in handles:
        handle.remove()
    conv_macs = kbnet_paper_macs(256) - bias_outputs[0]
    assert kba_matmul_macs(256) == 48_611_983_360  # the ~48.6 G the paper's counter leaves out
    assert counter.get_total_flops() // 2 == conv_macs + kba_matmul_macs(256)


def test_skip_tensors_at_256(meta_models):
    sizes = []
    model = meta_models["kbnet"]
    handles = [stage.register_forward_hook(lambda m, i, o: sizes.append(o.numel())) for stage in model.encoders]
    fused = []
    mm = meta_models["kbnet_unetmm"]
    handles.append(mm.msiam.fusion.register_forward_hook(lambda m, i, o: fused.append(tuple(o.shape))))
    with torch.no_grad():
        model(meta_input())
        mm(meta_input())
    for handle in handles:
        handle.remove()
    assert sizes == [64 * 256 * 256, 128 * 128 * 128, 256 * 64 * 64, 512 * 32 * 32]
    assert sum(sizes) == 7_864_320  # 7.5 MiB at 8 bits
    assert fused == [(1, 512, 32, 32)]  # 524,288 elements, 0.5 MiB at 8 bits


@pytest.mark.parametrize("name", ["kbnet", "kbnet_unetmm"])
def test_forward_shape_and_determinism(models, name):
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        y = models[name](x)
    assert y.shape == (1, 3, 32, 32) and torch.isfinite(y).all()
    assert not models[name].training
    torch.manual_seed(123)  # the factory seeds itself
    again = factory(name)().state_dict()
    assert all(torch.equal(t, again[k]) for k, t in models[name].state_dict().items())


@pytest.mark.parametrize("name", ["kbnet", "kbnet_unetmm"])
def test_extracts_with_the_attention_matmuls(graphs, name):
    kinds = {op.kind for op in graphs[name].ops}
    assert {"unfold", "matmul", "conv2d", "pixel_shuffle"} <= kinds


def _module_positions(graph):
    """Position of each op in the graph, with the innermost module path that made it."""
    return list(enumerate(op.module for op in graph.ops))


def test_unetmm_schedule_order(graphs):
    positions = _module_positions(graphs["kbnet_unetmm"])

    def first(prefix):
        return min(i for i, path in positions if path.startswith(prefix))

    def last(prefix):
        return max(i for i, path in positions if path.startswith(prefix))

    for level in range(4):
        # reduce E_i right after its encoder stage, before the downsampling
        assert last(f"encoders.{level}.") < first(f"msiam.reducers.{level}.") < first(f"downs.{level}")
    assert last("msiam.reducers.3.") < first("msiam.fusion") < first("downs.3")
    for stage in range(4):
        header = f"iem.headers.{3 - stage}."
        assert last(f"ups.{stage}.") < first(header) and last(header) < first(f"decoders.{stage}.")
        if stage:
            assert last(f"decoders.{stage - 1}.") < first(header)
