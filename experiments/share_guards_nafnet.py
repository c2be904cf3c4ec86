"""Guarded plan sharing checked on NAFNet: where a plan's guards hold at another bandwidth, is the
plan scheduled there the same?

    PYTHONPATH=. python experiments/share_guards_nafnet.py

For a few plan groups of ``bench_sweep.py``'s grid (SRAM size, activation bits, execution mode,
chosen where layers stream), schedules ``graphs/nafnet.json`` on ``edge_npu`` at each of the
grid's four DRAM bandwidths, recording the guards (``hwsim.schedule.guards``), and prints for
every pair (plan made at A, spec of B): whether A's guards all hold under B, and whether the
plans of A and B are equal (the spill solver's seconds, a measurement, left out). Sharing is
sound where "hold" implies "equal" (the script exits 1 otherwise), and as useful as "equal"
implies "hold" (a guard that flips where the plans agree costs a needless schedule). Each
schedule takes 0.2-1 s.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hwsim.graph.io import load_graph  # noqa: E402
from hwsim.pipeline import plan_graph  # noqa: E402
from hwsim.schedule.guards import all_hold  # noqa: E402
from hwsim.spec import load_spec  # noqa: E402

BANDWIDTHS = ("4GB/s", "8GB/s", "12.8GB/s", "25.6GB/s")
GROUPS = (("100KiB", "cascade", 4), ("150KiB", "layer", 8), ("400KiB", "cascade", 8), ("600KiB", "layer", 4),
          ("2MiB", "layer", 16))


def decided(plan):
    """The plan without the spill solver's seconds (wall time, not a decision)."""
    bounds = plan.spill_bounds
    return plan if bounds is None else dataclasses.replace(plan, spill_bounds=dataclasses.replace(bounds, seconds=0.0))


def main() -> int:
    graph = load_graph(ROOT / "graphs" / "nafnet.json")
    unsound = needless = pairs = 0
    for sram, execution, bits in GROUPS:
        made = []
        for bandwidth in BANDWIDTHS:
            spec = load_spec(str(ROOT / "accelerators" / "edge_npu.yaml"),
                             [f"sram.size={sram}", f"policy.execution={execution}",
                              f"datatype.activation_bits={bits}", f"dram.bandwidth={bandwidth}"])
            guards: list = []
            plan = decided(plan_graph(graph, spec, guards=guards).plan)
            made.append((bandwidth, plan, tuple(dict.fromkeys(guards)), spec))
        streamed = sum(layer.streamed for layer in made[0][1].layers)
        print(f"{sram} {execution} {bits}-bit: {streamed} streamed layers, {len(made[0][2])} guards")
        for bandwidth, plan, guards, _ in made:
            cells = []
            for other_bw, other, _, spec in made:
                hold, equal = all_hold(guards, spec), other == plan
                pairs += 1
                unsound += hold and not equal
                needless += equal and not hold
                cells.append(f"{other_bw}: {'hold' if hold else 'flip'}/{'equal' if equal else 'differ'}")
            print(f"  plan at {bandwidth:>8}: " + ", ".join(cells))
    print(f"{pairs} pairs: {unsound} where the guards held and the plans differed (unsound), "
          f"{needless} where a guard flipped and the plans were equal (a needless schedule)")
    return 1 if unsound else 0


if __name__ == "__main__":
    raise SystemExit(main())
