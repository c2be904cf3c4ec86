"""Physical sense of streaming and cascades on every zoo graph (graphs/*.json) on
accelerators/edge_npu.yaml, SRAM 128 KiB ... 16 MiB in steps of x2 in both execution modes,
plus 9 and 10 MiB, just below NAFNet's 10.19 MiB working set, in layer mode (invariants, no
figures from the implementation; kbnet_unetmm at 128 KiB cannot run, ``INFEASIBLE``):

* a store forced by a streamed layer is streamed traffic: no ``spill_write`` / ``spill_read``
  ever has cause ``streamed``, belongs to a band tile or is moved by a streamed layer's tiles;
* more SRAM never moves more bytes through DRAM;
* removing the skips never costs DRAM traffic (NAFNet without skips against NAFNet), on the
  x2 grid and at 9 and 10 MiB (at 10 MiB the two move the same bytes, now that the SRAM is
  packed offline even when the walk evicts; placed online, the skip-free NAFNet moved 2,112 B
  of weights more there).

Not held yet, a known gap, off the x2 grid: kbnet moves 21 MB (0.5 %) more at 9 MiB than at
8 MiB (measured 2026-11-27, not investigated further: its streamed layers' modes change with
the SRAM size, and the spill optimum holds the modes fixed). lunet, which moved 16,448 B more
at 10 than at 9 MiB while the SRAM was placed online, now moves less (22.1 against 24.2 MB).

Each point is scheduled once; the plan's commands (a streamed layer's tiles: what its run
moves) give the traffic.
"""

from collections import Counter
from pathlib import Path

import pytest

from hwsim.errors import UserError
from hwsim.graph.io import load_graph
from hwsim.schedule import schedule
from hwsim.spec import load_spec, with_overrides

ROOT = Path(__file__).resolve().parents[2]
KiB = 2**10
MiB = 2**20
GRID = [128 * KiB << i for i in range(8)]  # 128 KiB .. 16 MiB
SIZES = sorted(GRID + [9 * MiB, 10 * MiB])  # the NAFNet graphs; the others on GRID (see above)
GRAPHS = sorted(p.stem for p in (ROOT / "graphs").glob("*.json"))
SPILLS = ("spill_write", "spill_read")
# One row band of kbnet_unetmm's conv2d_319 (a 1x1 conv at 256 x 256: input row + output row +
# weights) needs 131,136 B, 64 B over 128 KiB: the scheduler refuses, naming the layer. So does
# the MSCAN-tiny graphs' (864 x 864) 21x1 depthwise strip of stage 1: one output row reads 21 input
# rows of 32 x 216 (145,152 B) and adds a row to the attention sum, 159,040 B for one tile.
INFEASIBLE = {(name, 128 * KiB, mode) for name in ("kbnet_unetmm", "mscan_tiny", "mscan_tiny_noskip",
                                                    "mscan_tiny_unetmm") for mode in ("layer", "cascade")}


@pytest.fixture(scope="module")
def summary():
    """(graph, SRAM bytes, execution mode) -> (DRAM bytes by traffic kind, spill commands that
    streaming caused)."""
    base = load_spec(ROOT / "accelerators" / "edge_npu.yaml")
    graphs, cache = {}, {}

    def get(name, sram, mode="layer"):
        if (name, sram, mode) not in cache:
            g = graphs.setdefault(name, load_graph(ROOT / "graphs" / f"{name}.json"))
            try:
                plan = schedule(g, with_overrides(base, {"sram.size": sram, "policy.execution": mode}))
            except UserError as exc:
                assert (name, sram, mode) in INFEASIBLE, str(exc)
                cache[name, sram, mode] = None
                return None
            kinds = Counter()
            wrong = []
            for c in plan.commands:
                for tensor, kind, nbytes in c.run.moves() if c.run else ():  # a streamed layer's tiles
                    kinds[kind] += nbytes
                    if kind in SPILLS:
                        wrong.append((c.layer, tensor, kind, "tiles"))
                if c.traffic:
                    kinds[c.traffic] += c.dram_bytes
                if c.traffic in SPILLS and (c.cause == "streamed" or c.tile is not None):
                    wrong.append((c.layer, c.tensor, c.traffic, c.cause))
                if c.kind == "store" and c.cause == "streamed" and c.traffic not in ("streamed_write", "output"):
                    wrong.append((c.layer, c.tensor, c.traffic, c.cause))
            cache[name, sram, mode] = (kinds, wrong)
        return cache[name, sram, mode]

    return get


@pytest.mark.parametrize("mode", ["layer", "cascade"])
@pytest.mark.parametrize("name", GRAPHS)
def test_streaming_never_spills_and_more_sram_never_moves_more_bytes(summary, name, mode):
    # one test per graph and mode, so that a worker schedules each point once
    sizes = SIZES if name.startswith("nafnet") and mode == "layer" else GRID
    totals = []
    for sram in sizes:
        if (point := summary(name, sram, mode)) is None:
            continue
        kinds, wrong = point
        assert wrong == [], (sram, wrong[:5])
        totals.append(sum(kinds.values()))
    assert totals == sorted(totals, reverse=True), [t / 2**20 for t in totals]


def test_removing_the_skips_never_costs_traffic(summary):
    for sram in GRID + [9 * MiB, 10 * MiB]:
        skips, noskip = summary("nafnet", sram)[0], summary("nafnet_noskip", sram)[0]
        assert sum(noskip.values()) <= sum(skips.values()), sram


def test_in_cascade_mode_removing_the_skips_never_costs_traffic(summary):
    for sram in GRID:
        skips, noskip = summary("nafnet", sram, "cascade")[0], summary("nafnet_noskip", sram, "cascade")[0]
        assert sum(noskip.values()) <= sum(skips.values()), sram
