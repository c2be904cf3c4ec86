"""policy.stream_objective: how a streamed layer picks one tile slot or two.

A small U-Net at 1x3x16x16 on edge_npu, between 3 and 5 KiB of SRAM, streams its last
convolution (3x3, padding 1, 16 input channels: the concatenation of an 8-channel skip and
an 8-channel upsampled map, 16x16 at 8 bits). At 4 KiB two slots fit with bands of 4 rows:
``latency`` takes them (DMA overlaps compute: fewer cycles), and the 4 bands re-read 6 halo
rows of the input (band starts 0, 4, 8, 12: rows 0-4, 3-8, 7-12, 11-15, 22 rows for 16)
where one slot's 2 bands of 8 re-read 2 (rows 0-8, 7-15): 4 rows x 16 channels x 16
columns = 1,024 B more DRAM traffic with more SRAM. ``traffic`` keeps one slot, and the
layer's bytes do not grow with the SRAM.
"""

import pytest

pytest.importorskip("torch")

import torch  # noqa: E402
from torch import nn  # noqa: E402

from hwsim.extract import extract_module  # noqa: E402
from hwsim.pipeline import run  # noqa: E402

SPEC = "accelerators/edge_npu.yaml"


class SmallUNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = nn.Conv2d(3, 8, 3, padding=1)
        self.mid = nn.Conv2d(8, 8, 3, padding=1)
        self.dec = nn.Conv2d(16, 3, 3, padding=1)

    def forward(self, x):
        e = torch.relu(self.enc(x))
        m = torch.relu(self.mid(nn.functional.max_pool2d(e, 2)))
        return self.dec(torch.cat([e, nn.functional.interpolate(m + 1.0, scale_factor=2.0)], 1))


@pytest.fixture(scope="module")
def graph():
    return extract_module(SmallUNet(), (1, 3, 16, 16), "small_unet")


def moved(result) -> int:
    return result.metrics.dram_read_bytes + result.metrics.dram_write_bytes


def test_latency_double_buffers_at_the_cost_of_halo_rows(graph):
    fast = run(graph, SPEC, ["sram.size=4KiB", "policy.stream_objective=latency"])
    lean = run(graph, SPEC, ["sram.size=4KiB", "policy.stream_objective=traffic"])
    assert fast.metrics.latency_cycles < lean.metrics.latency_cycles
    assert moved(fast) - moved(lean) == 4 * 16 * 16  # four more halo rows of the 16-channel input
    assert moved(lean) == moved(run(graph, SPEC, ["sram.size=3584B", "policy.stream_objective=latency"]))


def test_traffic_never_grows_with_the_sram(graph):
    sizes = range(2048, 8192 + 1, 256)
    traffic = [moved(run(graph, SPEC, [f"sram.size={s}B", "policy.stream_objective=traffic"])) for s in sizes]
    assert all(a >= b for a, b in zip(traffic, traffic[1:])), list(zip(sizes, traffic))
