"""The U-Nets of real libraries (issue 13): segmentation_models_pytorch ``Unet`` and ``UnetPlusPlus``
on ResNet-18, smp ``Unet`` on timm's ConvNeXt-atto, diffusers' ``UNet2DModel`` (hwsim.zoo.libraries).

Each is extracted by its public name; its MACs equal FlopCounterMode's, its parameters the
module's (less what batch-norm folding removes, by hand), its skip tensors are the ones worked
out from the architecture below, it runs on every preset in both execution modes, and it passes
``hwsim check`` at 32 bits. Skipped, with the reason, where the library is not installed
(the ``hwsim[libs]`` extra). Inputs are small: 64x64 for smp (its encoders reduce by 32, and
at 32x32 the deepest stage would be 1x1, which the skip rule does not count as a resolution),
16x16 for diffusers: its GroupNorm layers need their whole maps in SRAM at once (hwsim does not
stream a norm over the whole map), and at 32x32 the layer of a concatenation in its last up
block (cat + GroupNorm + SiLU) does not fit the 256 KiB MCU preset."""

import glob

import pytest

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

from hwsim.extract import extract_model  # noqa: E402
from hwsim.extract.resolve import parse_inputs, resolve_model  # noqa: E402
from hwsim.graph.analysis import graph_stats  # noqa: E402
from hwsim.graph.validate import validate  # noqa: E402
from hwsim.numerics.check import check_model  # noqa: E402
from hwsim.pipeline import run  # noqa: E402
from hwsim.spec import load_spec  # noqa: E402
from torch.nn.attention import SDPBackend, sdpa_kernel  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

LIB = "hwsim.zoo.libraries"
SMP = (1, 3, 64, 64)
DIFFUSERS = "sample=1x3x16x16,timestep=1"
MODELS = {
    "smp_unet": (f"{LIB}:smp_unet", SMP, "segmentation_models_pytorch"),
    "smp_unetpp": (f"{LIB}:smp_unetpp", SMP, "segmentation_models_pytorch"),
    "smp_unet_convnext": (f"{LIB}:smp_unet_convnext", SMP, "timm"),
    "diffusers_unet2d": (f"{LIB}:diffusers_unet2d(sample_size=16)", DIFFUSERS, "diffusers"),
}
PRESETS = sorted(glob.glob("accelerators/*.yaml"))


def _needs(library: str) -> None:
    from hwsim.zoo.libraries import import_torchvision

    import_torchvision()  # PyPI's torchvision beside CPU torch (see there)
    for name in (library, "segmentation_models_pytorch") if library == "timm" else (library,):
        pytest.importorskip(name, reason=f"{name} is not installed (pip install 'hwsim[libs]')")


def _inputs(shape):
    return parse_inputs(shape) if isinstance(shape, str) else shape


def _torch_inputs(shape):
    return [torch.randn(*s) for _, s in parse_inputs(shape)] if isinstance(shape, str) else [torch.randn(*shape)]


def _batch_norm_channels(model) -> int:
    """Folding a batch norm into the bias-free convolution before it removes its weight and bias
    (2C) and gives the convolution a bias (C): C parameters fewer per batch norm."""
    return sum(m.num_features for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d))


def _assert_macs_and_params(name, g, model):
    counter = FlopCounterMode(display=False)
    # attention on torch's math back end: FlopCounterMode counts 0 for the fused CPU kernel
    with counter, torch.no_grad(), sdpa_kernel([SDPBackend.MATH]):
        model(*_torch_inputs(MODELS[name][1]))
    stats = graph_stats(g, 8)
    assert stats["macs"] == counter.get_total_flops() // 2
    expected = sum(p.numel() for p in model.parameters()) - _batch_norm_channels(model)
    if name == "diffusers_unet2d":
        # get_timestep_embedding makes arange(half_dim) (half_dim = 32 channels / 2) and timesteps * ones(batch):
        # tensors created in forward, constants hwsim counts as parameters
        expected += 16 + 1
    assert stats["params"] == expected


def _skips(g):
    return sorted((s["module"], tuple(s["shape"][1:])) for s in graph_stats(g, 8)["skip_tensors"])


def smp_unet_skips(g, model):
    """ResNet-18's features at strides 2, 4, 8, 16 (64, 64, 128, 256 channels) wait for the decoder;
    the stride-32 one (512) is the decoder's input, read at once."""
    assert _skips(g) == sorted([("encoder.relu", (64, 32, 32)), ("encoder.layer1.1.relu", (64, 16, 16)),
                                ("encoder.layer2.1.relu", (128, 8, 8)), ("encoder.layer3.1.relu", (256, 4, 4))])


def smp_unetpp_skips(g, model):
    """UNet++ (smp's decoder, depth 4): node x_d_l works at 1/2^(4-l) of the input; nodes run row by
    row (l = d first, then l = d + 1 ...). A node is a skip when a node of another resolution runs
    before its last reader: x_0_0, x_1_1, x_2_2, x_3_3, x_0_1, x_1_2, x_2_3, x_0_2 (x_1_3 is read by
    the next node, x_0_3, at its own size; x_0_3 by the final upsampling block). Its channels are
    the block's (the module's conv2), so they are not copied from hwsim."""
    nodes = [(0, 0), (1, 1), (2, 2), (3, 3), (0, 1), (1, 2), (2, 3), (0, 2)]
    decoder = {(f"decoder.blocks.x_{d}_{l}.conv2.2",
                (model.decoder.blocks[f"x_{d}_{l}"].conv2[0].out_channels, 64 >> (4 - l), 64 >> (4 - l)))
               for d, l in nodes}
    encoder = {("encoder.relu", (64, 32, 32)), ("encoder.layer1.1.relu", (64, 16, 16)),
               ("encoder.layer2.1.relu", (128, 8, 8)), ("encoder.layer3.1.relu", (256, 4, 4))}
    assert _skips(g) == sorted(encoder | decoder)


def smp_unet_convnext_skips(g, model):
    """ConvNeXt-atto patchifies by 4 (no stride-2 stage; smp's zero-channel stand-in is dropped):
    the last block of stages 0, 1, 2 (40, 80, 160 channels at strides 4, 8, 16) wait for the
    decoder; stage 3 (320, stride 32) is its input."""
    assert _skips(g) == sorted([("encoder.model.stages_0.blocks.1", (40, 16, 16)),
                                ("encoder.model.stages_1.blocks.1", (80, 8, 8)),
                                ("encoder.model.stages_2.blocks.5", (160, 4, 4))])
    assert not any(t.elements == 0 for t in g.tensors)


def diffusers_unet2d_skips(g, model):
    """Down blocks (32, 64, 64, 128 channels at 16, 8, 4, 2; layers_per_block 1; attention in the
    last) push conv_in's output, each resnet or attention output and each downsampler output; the
    up blocks pop them in reverse. Those that wait across another resolution: conv_in and block
    0's resnet (32 at 16x16), block 0's downsampler and block 1's resnet (32, 64 at 8x8), block 1's
    downsampler and block 2's resnet (64 at 4x4, waiting across block 2's 2x2 downsampler). Block
    2's downsampler (64 at 2x2) and block 3's attention (128 at 2x2) wait only across 2x2 layers
    (block 3, the mid block, up block 0's first resnet)."""
    assert _skips(g) == sorted([("unet.conv_in", (32, 16, 16)), ("unet.down_blocks.0.resnets.0", (32, 16, 16)),
                                ("unet.down_blocks.0.downsamplers.0.conv", (32, 8, 8)),
                                ("unet.down_blocks.1.resnets.0", (64, 8, 8)),
                                ("unet.down_blocks.1.downsamplers.0.conv", (64, 4, 4)),
                                ("unet.down_blocks.2.resnets.0", (64, 4, 4))])


SKIPS = {"smp_unet": smp_unet_skips, "smp_unetpp": smp_unetpp_skips, "smp_unet_convnext": smp_unet_convnext_skips,
         "diffusers_unet2d": diffusers_unet2d_skips}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_library_unet_extracts_runs_everywhere_and_passes_the_check(name):
    """One test per model, so that each is exported twice (for the graph, and seeded in the check)."""
    spec_text, shape, library = MODELS[name]
    _needs(library)
    g, model = extract_model(spec_text, _inputs(shape)), resolve_model(spec_text)[0]
    assert validate(g) == []
    _assert_macs_and_params(name, g, model)
    SKIPS[name](g, model)
    assert len(PRESETS) >= 5
    for preset in PRESETS:
        for execution in ("layer", "cascade"):
            m = run(g, load_spec(preset, [f"policy.execution={execution}"])).metrics
            assert m.latency_cycles >= m.compute_cycles > 0, (preset, execution)
    spec = load_spec("accelerators/edge_npu.yaml", ["datatype.activation_bits=32", "datatype.weight_bits=32"])
    check_shape = (1, 3, 32, 32) if shape == SMP else shape  # the numerics need no 2x2 bottleneck
    result = check_model(spec, spec_text, _inputs(check_shape))
    assert result.plan_problems == ()
    assert result.report.passed, (result.report.first_divergent_layer, result.report.error)
