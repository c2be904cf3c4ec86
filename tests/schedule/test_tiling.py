"""The choice of how a streamed layer runs (``hwsim.schedule.tiling``): the search that skips the
kept-sets that cannot fit and those whose lower bound of bytes exceeds the best found picks
what trying every set picks,
on every streamed layer of the U-Net zoo graphs (graphs/*.json) at small SRAM sizes, with weights
shared or in a buffer of their own."""

from pathlib import Path

import pytest

from hwsim.graph.io import load_graph
from hwsim.schedule.context import build_context
from hwsim.schedule.tiling import Room, _Shape
from hwsim.spec import load_spec, with_overrides

ROOT = Path(__file__).resolve().parents[2]
KiB = 2**10


def every_set(shape: _Shape) -> list[frozenset]:
    """Every set of banded tensors to keep whole that leaves one to band, in the search's order."""
    n = len(shape.banded)
    assert n <= 8  # beyond, the search tries the largest first, one more at a time
    return [frozenset(t for i, t in enumerate(shape.banded) if mask >> i & 1) for mask in range(2**n - 1)]


def exhaustive(shape: _Shape, slots: int):
    found = [f for kept in every_set(shape) if (f := shape.fit(kept, slots)) is not None]
    return min(found, key=lambda f: f[:3]) if found else None


@pytest.mark.parametrize("graph", ["unet", "unet_sat", "lunet"])
@pytest.mark.parametrize("sram", [128 * KiB, 256 * KiB, 512 * KiB])
@pytest.mark.parametrize("weights", ["shared", "separate"])
def test_pruned_search_picks_what_trying_every_set_picks(graph, sram, weights):
    g = load_graph(ROOT / "graphs" / f"{graph}.json")
    separate = {"sram.weights": "separate", "sram.weight_buffer": 256 * KiB} if weights == "separate" else {}
    spec = with_overrides(load_spec(ROOT / "accelerators" / "edge_npu.yaml"), {"sram.size": sram, **separate})
    ctx = build_context(g, spec)
    room = Room(sram, 256 * KiB if weights == "separate" else None, spec.sram.aligned, spec.dram_transfer_cycles,
                spec.dram_latency_cycles())
    in_dram, streamed = frozenset(g.root(i) for i in g.inputs), 0
    for t, mode in enumerate(ctx.modes):
        if mode.streamed:
            streamed += 1
            shape = _Shape(g, t, ctx.layout, room, ctx.needs[t], in_dram, ctx.outputs)
            for slots in (2, 1):
                assert shape.best(slots) == exhaustive(shape, slots)
        in_dram |= frozenset(mode.band_writes)
    assert streamed
