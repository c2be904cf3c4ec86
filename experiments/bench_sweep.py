"""How long a 100-point sweep of NAFNet takes on 2 cores (target: under a minute).

    python experiments/bench_sweep.py [--jobs 2] [--executor local|dask]

The grid: ``graphs/nafnet.json`` on ``accelerators/edge_npu.yaml``, SRAM 2..20 MiB in steps of
2 MiB x DRAM bandwidth 4, 8, 12.8, 25.6, 51.2 GB/s x activation bits 8, 16 = 100 points, plus
the zero-spill searches (one per bit-width: bandwidth does not change the plan). Runs in a
temporary directory; prints the wall time, the CPU time of this process and its workers, and
the time per point. Exits 1 if the wall time is over a minute. The machine's other load
counts in the wall time: compare the CPU time per point across machines.
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hwsim.sweep.axes import parse_axis  # noqa: E402
from hwsim.sweep.driver import SweepRequest, count_status, run_sweep  # noqa: E402
from hwsim.sweep.executors import DaskExecutor, LocalExecutor  # noqa: E402
from hwsim.sweep.grid import build_grid  # noqa: E402

TARGET_S = 60.0
AXES = (("--sram", "sram.size", "2MiB:20MiB:+2MiB"),
        ("--bandwidth", "dram.bandwidth", "4GB/s,8GB/s,12.8GB/s,25.6GB/s,51.2GB/s"),
        ("--bits", "datatype.activation_bits", "8,16"))


def cpu_seconds() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--executor", choices=("local", "dask"), default="local")
    args = parser.parse_args()
    grid = build_grid([], [(flag, parse_axis(text, field, flag)) for flag, field, text in AXES], [])
    executor = LocalExecutor(args.jobs) if args.executor == "local" else DaskExecutor(None, args.jobs)
    with tempfile.TemporaryDirectory() as tmp:
        request = SweepRequest(str(ROOT / "accelerators" / "edge_npu.yaml"), (str(ROOT / "graphs" / "nafnet.json"),),
                               grid, Path(tmp))
        wall, cpu = time.perf_counter(), cpu_seconds()
        outcome = run_sweep(request, executor, io.StringIO())
        wall, cpu = time.perf_counter() - wall, cpu_seconds() - cpu
    points = len(outcome.rows)
    print(f"{points} points ({count_status(outcome.rows)['ok']} ok) + {outcome.ran - points} zero-spill searches "
          f"on {args.jobs} {args.executor} workers ({os.cpu_count()} cores here)")
    print(f"wall {wall:.1f} s ({wall / points * 1e3:.0f} ms per point), "
          f"CPU {cpu:.1f} s ({cpu / points * 1e3:.0f} ms per point; Dask workers not counted)")
    print(f"target: under {TARGET_S:.0f} s wall: {'met' if wall < TARGET_S else 'MISSED'}")
    return 0 if wall < TARGET_S else 1


if __name__ == "__main__":
    raise SystemExit(main())
