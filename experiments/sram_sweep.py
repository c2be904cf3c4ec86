"""The NAFNet variants on the edge NPU: spill and latency against SRAM size, and the comparison report.

    python experiments/sram_sweep.py [--jobs N] [--out docs/nafnet_edge_npu]

Regenerates what the README shows. Two steps, both plain ``hwsim`` commands:

1. ``hwsim sweep accelerators/edge_npu.yaml graphs/nafnet.json graphs/nafnet_noskip.json
   graphs/nafnet_unetmm.json --sram 1MiB:8MiB:+1MiB,10MiB:24MiB:+2MiB --execution layer,cascade
   -o experiments/out/sram_sweep`` (96 points; the raw sweep, with progress.jsonl, stays under
   experiments/out/, not committed);
2. ``hwsim compare accelerators/edge_npu.yaml <the three graphs> --sweep experiments/out/sram_sweep
   -o docs/nafnet_edge_npu`` at the preset's 8 MiB (both execution modes in its table).

Into ``--out`` (default ``docs/nafnet_edge_npu/``, committed) go ``report.md``, ``report.html``,
``compare.json``, the figures (``fig_sweep.png`` is the spill-versus-SRAM chart) and copies of the
sweep's ``results.csv`` and ``summary.json``. Same inputs, same bytes. Takes a few minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hwsim.cli import main  # noqa: E402

SPEC = "accelerators/edge_npu.yaml"
GRAPHS = ["graphs/nafnet.json", "graphs/nafnet_noskip.json", "graphs/nafnet_unetmm.json"]
SRAM = "1MiB:8MiB:+1MiB,10MiB:24MiB:+2MiB"


def run(argv: list[str]) -> None:
    print("hwsim " + " ".join(argv), file=sys.stderr)
    code = main(argv)
    if code:
        raise SystemExit(code)


def regenerate(out: Path, sweep_dir: Path, jobs: str | None, graphs: list[str] = GRAPHS, sram: str = SRAM) -> None:
    """Sweep ``graphs`` over ``sram`` in both modes, compare them into ``out``, keep the raw sweep beside."""
    jobs_args = ["--jobs", jobs] if jobs else []
    run(["sweep", SPEC, *graphs, "--sram", sram, "--execution", "layer,cascade", "-o", str(sweep_dir), *jobs_args])
    run(["compare", SPEC, *graphs, "--sweep", str(sweep_dir), "-o", str(out)])
    for name in ("results.csv", "summary.json"):
        shutil.copyfile(sweep_dir / name, out / f"sweep_{name}")
    for path in sorted(out.iterdir()):
        print(f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}  {path.stat().st_size:,} B")


def cli(doc: str = __doc__, out: str = "nafnet_edge_npu", sweep_dir: str = "sram_sweep",
        graphs: list[str] = GRAPHS, sram: str = SRAM) -> None:
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--jobs", help="parallel workers for the sweep (default: all cores)")
    parser.add_argument("--out", default=str(ROOT / "docs" / out), help="report directory")
    parser.add_argument("--sweep-dir", default=str(ROOT / "experiments" / "out" / sweep_dir),
                        help="where the raw sweep goes (run afresh every time)")
    args = parser.parse_args()
    os.chdir(ROOT)
    regenerate(Path(args.out), Path(args.sweep_dir), args.jobs, graphs, sram)


if __name__ == "__main__":
    cli()
