"""Sweep throughput at design-space scale: points per second (and per core) of issue 17's NAFNet grid.

    PYTHONPATH=. python experiments/bench_sweep.py [--points N] [--jobs 2] [--no-share]

The grid (10,008 points): ``graphs/nafnet.json`` on ``accelerators/edge_npu.yaml``, SRAM 64 KiB
to 64 MiB in 417 geometric steps (x1.0168) x DRAM bandwidth 4, 8, 12.8, 25.6 GB/s x activation
bits 4, 8, 16 x execution layer, cascade; plus the six zero-spill searches (one per bit-width
and mode: bandwidth does not change cleanliness, ``hwsim.sweep.knee``).

``--points N`` runs a subset: every k-th SRAM size (k = ceil(10,008 / N), sizes spread over
the whole range, small and large), each with all its bandwidths, bit-widths and modes, so that
plan groups (``hwsim.sweep.share``) stay whole and the subset shares plans as the full grid
would. The searches run whole. The full grid's time is then extrapolated: the searches' wall
time as measured, plus the points' wall time x (10,008 / points run). A point's cost depends
mostly on its SRAM size and mode, which the stride samples evenly, so the extrapolation is
an estimate of the mean, not a measurement: the output says so. Without ``--points`` the
whole grid runs (about as long as the estimate says).

``--no-share`` schedules every point (the sweep before plan sharing) for the comparison.
Runs the sweep's own work units (``driver._calls``) on the sweep's executor, searches first
and then points, timing each phase; writes no files. The machine's other load counts in the
wall time; the CPU time (this process and its workers) is printed too.
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import sys
import time
from fractions import Fraction
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hwsim.graph.io import load_graph  # noqa: E402
from hwsim.spec import load_spec  # noqa: E402
from hwsim.sweep.axes import parse_axis  # noqa: E402
from hwsim.sweep.driver import SEARCH_PREFIX, _calls  # noqa: E402
from hwsim.sweep.executors import LocalExecutor  # noqa: E402
from hwsim.sweep.grid import build_grid  # noqa: E402
from hwsim.sweep.progress import ProgressBar  # noqa: E402

TARGET_S = 300.0
SRAM_FULL = "64KiB:64MiB:x1.0168"
OTHER_AXES = (("--bandwidth", "dram.bandwidth", "4GB/s,8GB/s,12.8GB/s,25.6GB/s"),
              ("--bits", "datatype.activation_bits", "4,8,16"),
              ("--execution", "policy.execution", "layer,cascade"))


def cpu_seconds() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def grid_for(points: int | None):
    """The grid (a stride of its SRAM sizes when ``points`` is given) and the full grid's size."""
    sram = parse_axis(SRAM_FULL, "sram.size", "--sram")
    others = [(flag, parse_axis(text, field, flag)) for flag, field, text in OTHER_AXES]
    per_size = math.prod(a.count for _, a in others)
    full = sram.count * per_size
    if points is not None and points < full:
        stride = math.ceil(full / max(points, per_size))
        kept = sram.values[stride // 2::stride]
        sram = parse_axis(",".join(kept), "sram.size", "--sram")
    return build_grid([], [("--sram", sram), *others], []), full


def timed(executor, graphs, calls, stderr) -> tuple[float, float, dict]:
    bar = ProgressBar(sum(n for _, n in calls.values()), stderr)
    results = {}
    wall, cpu = time.perf_counter(), cpu_seconds()
    try:
        for tag, result in executor.run(graphs, [c for c, _ in calls.values()]):
            results[tag] = result
            bar.step(calls[tag][0].tag[:60], calls[tag][1])
    finally:
        bar.close()
    return time.perf_counter() - wall, cpu_seconds() - cpu, results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, help="run about this many points of the grid and extrapolate")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--no-share", action="store_true", help="schedule every point (no plan sharing)")
    parser.add_argument("--no-searches", action="store_true", help="leave out the zero-spill searches")
    args = parser.parse_args()
    grid, full = grid_for(args.points)
    spec = load_spec(str(ROOT / "accelerators" / "edge_npu.yaml"))
    graphs = {"nafnet": load_graph(ROOT / "graphs" / "nafnet.json")}
    points = grid.points(["nafnet"])
    calls, _, labels = _calls(spec, points, {}, share=not args.no_share)
    searches = {c.tag: (c, labels[c.tag][1]) for c in calls if c.tag.startswith(SEARCH_PREFIX)}
    runs = {c.tag: (c, labels[c.tag][1]) for c in calls if not c.tag.startswith(SEARCH_PREFIX)}
    executor = LocalExecutor(args.jobs)
    s_wall = s_cpu = 0.0
    if not args.no_searches:
        s_wall, s_cpu, _ = timed(executor, graphs, searches, sys.stderr)
    p_wall, p_cpu, results = timed(executor, graphs, runs, sys.stderr)
    rows = [row for result in results.values() for row in result.rows.values()]
    schedules = sum(result.schedules for result in results.values())
    reused = sum(result.reused for result in results.values())
    ok = sum(1 for r in rows if r["status"] == "ok")
    n, cores = len(rows), args.jobs
    print(f"grid: NAFNet, {full:,} points in full; ran {n:,} ({ok:,} ok) in {len(runs):,} work units "
          f"({'one per point' if args.no_share else 'one per plan group'}) on {cores} workers "
          f"({os.cpu_count()} cores here, load average {os.getloadavg()[0]:.1f}); {schedules:,} schedules "
          f"({reused:,} DRAM bandwidth settings took a plan made at another, its guards holding)")
    if not args.no_searches:
        print(f"zero-spill searches: {len(searches)} in {s_wall:.1f} s wall, {s_cpu:.1f} s CPU")
    print(f"points: {p_wall:.1f} s wall, {p_cpu:.1f} s CPU: {n / p_wall:.2f} points/s, "
          f"{n / p_wall / cores:.2f} points/s per core ({p_cpu / n * 1e3:.0f} ms CPU per point)")
    estimate = s_wall + p_wall * Fraction(full, n)
    what = "measured" if n == full else f"ESTIMATED from {n:,} of {full:,} points (mean cost per point x {full:,})"
    print(f"full grid: {float(estimate):.0f} s wall on {cores} workers ({what})")
    idle = (s_cpu + p_cpu * Fraction(full, n)) / cores
    print(f"full grid on {cores} idle cores (CPU time / workers, the other load left out): {float(idle):.0f} s; "
          f"{full / float(idle - s_cpu / cores):.2f} points/s, {full / float(idle - s_cpu / cores) / cores:.2f} per core")
    print(f"target: the full grid under {TARGET_S:.0f} s with --jobs 2: "
          f"{'met' if estimate < TARGET_S else f'MISSED by a factor {float(estimate) / TARGET_S:.1f}'} "
          f"(idle cores: {'met' if idle < TARGET_S else f'missed by a factor {float(idle) / TARGET_S:.1f}'})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
