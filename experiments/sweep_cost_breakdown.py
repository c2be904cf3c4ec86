"""Where a sweep point's time goes: scheduling, simulating, measuring, by SRAM size and mode.

    PYTHONPATH=. python experiments/sweep_cost_breakdown.py [--points N] [--no-share]

Runs the points of ``bench_sweep.py``'s NAFNet grid subset (``--points``, default 100: every
k-th SRAM size with all its bandwidths, bit-widths and modes) in this process, one plan group
at a time as the sweep does (``hwsim.sweep.share.run_points``), and times, in CPU seconds of
this process (``time.process_time``), each call of the pipeline's stages the sweep makes:
``plan_graph`` (order, schedule, verify), ``simulate`` (the event simulation) and ``measure``
(metrics from the trace). Prints the totals, the share of each stage, and both per SRAM band
and execution mode, with the schedules made and reused (guarded sharing, ``share.py``). The
zero-spill searches are left out (``bench_sweep.py`` times them). One process, no pool: the
figures are per core; the rest of a point's time (row building, the sweep's bookkeeping) is
printed as "other".
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "experiments"))

import hwsim.pipeline as pipeline  # noqa: E402
from bench_sweep import grid_for  # noqa: E402
from hwsim.graph.io import load_graph  # noqa: E402
from hwsim.spec import load_spec  # noqa: E402
from hwsim.sweep.run import point_spec  # noqa: E402
from hwsim.sweep.share import plan_group, run_points  # noqa: E402

STAGES = ("plan_graph", "simulate", "measure")
BANDS = ((1 << 20, "< 1 MiB"), (8 << 20, "1-8 MiB"), (None, ">= 8 MiB"))


def band(sram_bytes: int) -> str:
    return next(name for limit, name in BANDS if limit is None or sram_bytes < limit)


def timing(spent: dict, stage: str, real):
    """``real`` wrapped: its CPU seconds added to ``spent[stage]`` under the current key."""
    def wrapper(*args, **kwargs):
        start = time.process_time()
        try:
            return real(*args, **kwargs)
        finally:
            spent[stage] += time.process_time() - start
    return wrapper


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=100)
    parser.add_argument("--no-share", action="store_true", help="schedule every point (no plan sharing)")
    args = parser.parse_args()
    grid, full = grid_for(args.points)
    spec = load_spec(str(ROOT / "accelerators" / "edge_npu.yaml"))
    graph = load_graph(ROOT / "graphs" / "nafnet.json")
    groups: dict[str, list] = defaultdict(list)
    for p in grid.points(["nafnet"]):
        groups[plan_group(p) if not args.no_share else p.key].append(p)
    spent: dict[str, float] = defaultdict(float)
    for stage in STAGES:
        setattr(pipeline, stage, timing(spent, stage, getattr(pipeline, stage)))
    by_cell: dict[tuple[str, str], dict[str, float]] = defaultdict(lambda: defaultdict(float))
    counts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])  # points, schedules, reused
    for members in groups.values():
        first = point_spec(spec, members[0])
        cell = (band(first.sram.size_bytes), first.policy.execution)
        before, start = dict(spent), time.process_time()
        run = run_points(graph, spec, members, share=not args.no_share)
        for stage in STAGES:
            by_cell[cell][stage] += spent[stage] - before.get(stage, 0.0)
        by_cell[cell]["all"] += time.process_time() - start
        counts[cell][0] += len(members)
        counts[cell][1] += run.schedules
        counts[cell][2] += run.reused
    points = sum(c[0] for c in counts.values())
    total = sum(c["all"] for c in by_cell.values())
    print(f"NAFNet grid subset: {points} points of {full:,}, {'no sharing' if args.no_share else 'guarded sharing'}; "
          f"CPU seconds in this process (one core)")
    print(f"{'SRAM, mode':<20} {'points':>6} {'sched.':>6} {'reused':>6} {'ms/point':>9} "
          + " ".join(f"{s:>11}" for s in (*STAGES, "other")))
    for cell in sorted(by_cell, key=lambda c: ([n for _, n in BANDS].index(c[0]), c[1])):
        c, n = by_cell[cell], counts[cell]
        other = c["all"] - sum(c[s] for s in STAGES)
        print(f"{cell[0] + ', ' + cell[1]:<20} {n[0]:>6} {n[1]:>6} {n[2]:>6} {c['all'] / n[0] * 1e3:>9.0f} "
              + " ".join(f"{v / n[0] * 1e3:>8.0f} ms" for v in (*(c[s] for s in STAGES), other)))
    shares = ", ".join(f"{s} {sum(c[s] for c in by_cell.values()) / total:.0%}" for s in STAGES)
    print(f"all: {total / points * 1e3:.0f} ms CPU per point ({shares}); "
          f"{sum(c[1] for c in counts.values())} schedules, {sum(c[2] for c in counts.values())} reused")
    print(f"the full grid at this mean on 2 idle cores: {total / points * full / 2:.0f} s (zero-spill searches "
          f"not included)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
