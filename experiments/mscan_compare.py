"""The MSCAN-tiny matting variants (UNet-- paper, Table 7) on the edge NPU, both execution modes.

    python experiments/mscan_compare.py [--jobs N] [--out docs/mscan_tiny_edge_npu]

Two plain ``hwsim`` commands on the committed graphs (864x864, the size at which the skips are the
paper's 2.56 MiB; see ``hwsim.zoo.mscan``):

1. ``hwsim sweep accelerators/edge_npu.yaml graphs/mscan_tiny.json graphs/mscan_tiny_noskip.json
   graphs/mscan_tiny_unetmm.json --sram 1MiB:8MiB:+1MiB,12MiB:28MiB:+4MiB --execution layer,cascade
   -o experiments/out/mscan_sweep`` (78 points; the raw sweep stays under experiments/out/);
2. ``hwsim compare accelerators/edge_npu.yaml <the three graphs> --sweep experiments/out/mscan_sweep
   -o docs/mscan_tiny_edge_npu`` at the preset's 8 MiB, layer by layer and in cascades.

Into ``--out`` (committed) go ``report.md``, ``report.html``, ``compare.json``, the figures and copies
of the sweep's ``results.csv`` and ``summary.json``. Same inputs, same bytes.
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
GRAPHS = ["graphs/mscan_tiny.json", "graphs/mscan_tiny_noskip.json", "graphs/mscan_tiny_unetmm.json"]
SRAM = "1MiB:8MiB:+1MiB,12MiB:28MiB:+4MiB"


def run(argv: list[str]) -> None:
    print("hwsim " + " ".join(argv), file=sys.stderr)
    code = main(argv)
    if code:
        raise SystemExit(code)


def regenerate(out: Path, sweep_dir: Path, jobs: str | None) -> None:
    jobs_args = ["--jobs", jobs] if jobs else []
    run(["sweep", SPEC, *GRAPHS, "--sram", SRAM, "--execution", "layer,cascade", "-o", str(sweep_dir), *jobs_args])
    run(["compare", SPEC, *GRAPHS, "--sweep", str(sweep_dir), "-o", str(out)])
    for name in ("results.csv", "summary.json"):
        shutil.copyfile(sweep_dir / name, out / f"sweep_{name}")
    for path in sorted(out.iterdir()):
        print(f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}  {path.stat().st_size:,} B")


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", help="parallel workers for the sweep (default: all cores)")
    parser.add_argument("--out", default=str(ROOT / "docs" / "mscan_tiny_edge_npu"), help="report directory")
    parser.add_argument("--sweep-dir", default=str(ROOT / "experiments" / "out" / "mscan_sweep"),
                        help="where the raw sweep goes (run afresh every time)")
    args = parser.parse_args()
    os.chdir(ROOT)
    regenerate(Path(args.out), Path(args.sweep_dir), args.jobs)


if __name__ == "__main__":
    cli()
