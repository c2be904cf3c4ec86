"""Streamed layers (``hwsim.schedule.stream``, ``tiling``): double-buffered bands, figures by hand.

Specs are those of ``helpers.make_spec``: 1 GHz, 16 GB/s DRAM (16 B a cycle) with 100 ns
(100 cycles) of latency per transfer and one DMA channel, weights in a buffer of their own.
"""

from hwsim.measure import measure
from hwsim.schedule.expand import expand
from hwsim.schedule import schedule, verify_plan
from hwsim.schedule.context import build_context
from hwsim.schedule.scheduler import least_dram_bytes
from hwsim.sim import simulate
from tests.graph.handmade import Net
from tests.schedule.helpers import ancestors, make_spec, traffic


def compute_bound():
    """y = conv1x1(x), 16 -> 16 channels at 8 x 8: x and y are 1,024 B (128 B a row), the
    weights 16 x 16 + 16 = 272 B. At one MAC a cycle a row takes 16 x 16 x 8 = 2,048 cycles."""
    g = Net("dense").input("x", 1, 16, 8, 8).conv("y", "x", 16).build()
    return g, make_spec(sram=1024, macs_per_cycle=1)


def test_band_loads_overlap_compute_when_double_buffered():
    # Whole, the layer needs 2,048 B; the SRAM has 1,024. Keeping x or y whole leaves no
    # room, so both move in bands. x is the network input and y the graph output: every
    # choice moves 2,048 B. One slot per tensor: 256h <= 1,024 -> h = 4, 2 tiles, 4
    # transfers: 16,384 + 2,048 / 16 + 4 x 100 = 16,912 cycles one after the other. Two
    # slots: 512h <= 1,024 -> h = 2, 4 tiles, 8 transfers (928 DMA cycles), estimated
    # max(16,384, 928) + 928 / 4 = 16,616: double-buffered bands of 2 rows (256 B).
    g, spec = compute_bound()
    plan = schedule(g, spec)
    assert verify_plan(plan, spec, g) == []
    assert plan.layers[0].streamed and plan.layers[0].tiles == 4
    assert traffic(plan) == {"input": 1024, "output": 1024, "weights": 272}
    plan = expand(plan)  # the per-tile commands the layer's tiles stand for
    assert verify_plan(plan, spec, g) == []
    loads = [c for c in plan.commands if c.traffic == "input"]
    computes = [c for c in plan.commands if c.kind == "compute"]
    assert [c.dram_bytes for c in loads] == [256] * 4
    # two slots, alternating: bands 0 and 2 share an address, 1 and 3 the other
    addresses = [c.allocs[0].address for c in loads]
    assert addresses[0] == addresses[2] != addresses[1] == addresses[3]
    assert [(b.tensor, b.tile) for c in loads for b in c.allocs] == [("x", k) for k in range(4)]
    # band k + 1 is loaded before compute k in program order and does not wait for it
    for k in range(3):
        assert loads[k + 1].id < computes[k].id
        assert computes[k].id not in ancestors(plan, loads[k + 1].id)
    assert plan.sram_peak_bytes == 1024


def test_the_least_any_walk_moves_counts_bands_weights_and_the_spill_bound():
    # The layer above streams x in and y out in bands whatever is evicted: 1,024 + 1,024 B of
    # bands, the 272 B of weights once, and nothing resident to load or store (the spill
    # program's bound is 0): 2,320 B, which the plan moves.
    g, spec = compute_bound()
    assert least_dram_bytes(build_context(g, spec)) == 2320 == sum(traffic(schedule(g, spec)).values())


def test_double_buffering_hides_band_loads_behind_compute():
    # Transfers: a 256 B band is 16 + 100 = 116 cycles, the weights 17 + 100 = 117; a band
    # computes in 2 x 2,048 = 4,096 cycles. Done one after the other (single-buffered sum):
    # 4 loads + 4 stores (928) + weights (117) + compute (16,384) = 17,429 cycles. Double
    # buffered, compute 0 waits for band 0 and the weights (116 + 117 = 233); every later
    # band loads (116 cycles) while the previous one computes (4,096), and the store of
    # band k while band k + 1 computes; only the last store (116) follows the last compute:
    # 233 + 16,384 + 116 = 16,733 cycles, the compute engine never idle in between.
    g, spec = compute_bound()
    plan = schedule(g, spec)
    m = measure(simulate(plan, spec), plan, spec, g)
    assert m.compute_cycles == 16_384
    assert m.latency_cycles == 233 + 16_384 + 116 < 17_429
    assert m.stall_cycles == 233 + 116
