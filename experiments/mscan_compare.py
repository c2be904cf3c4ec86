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

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sram_sweep import cli  # noqa: E402  the same report, of other graphs and sizes

GRAPHS = ["graphs/mscan_tiny.json", "graphs/mscan_tiny_noskip.json", "graphs/mscan_tiny_unetmm.json"]
SRAM = "1MiB:8MiB:+1MiB,12MiB:28MiB:+4MiB"

if __name__ == "__main__":
    cli(__doc__, out="mscan_tiny_edge_npu", sweep_dir="mscan_sweep", graphs=GRAPHS, sram=SRAM)
