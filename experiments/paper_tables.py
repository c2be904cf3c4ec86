"""The UNet-- paper's Table 4 next to hwsim's figures: ``python experiments/paper_tables.py``.

Reads the committed graphs (``graphs/NAME.json``, 1x3x256x256) and prints a Markdown table: M_sc
in MiB at 8 bits, MACs (hwsim's ``macs`` = FlopCounterMode's, and the paper's convention: conv and
linear MACs + bias outputs + average-pooling inputs), parameters (all, and convolution-only),
each next to the paper's figure with the difference in %. The paper's "MB" is 2^20 bytes; its
NAFNet parameter figure counts all parameters, its KBNet figure convolution parameters only.
"""

from __future__ import annotations

import sys
from pathlib import Path

from hwsim.graph.analysis import graph_stats
from hwsim.graph.io import load_graph
from hwsim.zoo import MODELS

# Table 4 (256x256 input, 8-bit feature maps): M_sc (MiB), MACs (G, paper's convention), params (M)
PAPER = {
    "nafnet": (3.75, 16.23, 29.16, "params"),
    "nafnet_noskip": (0.0, 16.23, 29.16, "params"),
    "nafnet_unetmm": (0.25, 17.52, 29.98, "params"),
    "kbnet": (7.5, 58.19, 104.93, "conv_params"),
    "kbnet_unetmm": (0.5, 63.11, 108.12, "conv_params"),
}


def _diff(ours: float, paper: float) -> str:
    if paper == 0:
        return "0 %" if ours == 0 else "n/a"
    return f"{100 * (ours - paper) / paper:+.1f} %"


def row(name: str, stats: dict) -> str:
    msc = stats["msc_bytes"] / 2**20
    macs, pmacs = stats["macs"] / 1e9, stats["paper_macs"] / 1e9
    params, conv = stats["params"] / 1e6, stats["conv_params"] / 1e6
    cells = [name, f"{msc:.3f}", f"{macs:.3f}", f"{pmacs:.3f}", f"{params:.3f}", f"{conv:.3f}"]
    if name in PAPER:
        p_msc, p_macs, p_params, which = PAPER[name]
        ours_params = params if which == "params" else conv
        cells += [f"{p_msc} ({_diff(msc, p_msc)})", f"{p_macs} ({_diff(pmacs, p_macs)})",
                  f"{p_params} {'all' if which == 'params' else 'conv'} ({_diff(ours_params, p_params)})"]
    else:
        cells += ["—", "—", "—"]
    return "| " + " | ".join(cells) + " |"


def main() -> int:
    graphs = Path(__file__).resolve().parent.parent / "graphs"
    print("| model | M_sc MiB | MACs G (hwsim) | MACs G (paper conv.) | params M | conv params M "
          "| paper M_sc MiB | paper MACs G | paper params M |")
    print("|" + " --- |" * 9)
    missing = []
    for name in MODELS:
        path = graphs / f"{name}.json"
        if not path.exists():
            missing.append(name)
            continue
        print(row(name, graph_stats(load_graph(path), 8)))
    if missing:
        print(f"\nnot yet extracted: {', '.join(missing)} (python experiments/regenerate_graphs.py)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
