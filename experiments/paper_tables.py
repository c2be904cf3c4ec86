"""The UNet-- paper's Tables 4 and 7 next to hwsim's figures: ``python experiments/paper_tables.py``.

Reads the committed graphs (``graphs/NAME.json``, 1x3x256x256; the MSCAN-tiny matting models of
Table 7 at 1x3x864x864) and prints a Markdown table: M_sc
in MiB at 8 bits, MACs (hwsim's ``macs`` = FlopCounterMode's, and the paper's convention: conv and
linear MACs + bias outputs + average-pooling inputs), parameters (all, and convolution-only),
each next to the paper's figure with the difference in %. The paper's "MB" is 2^20 bytes; its
NAFNet parameter figure counts all parameters, its KBNet figure convolution parameters only.

Table 7 (MSCAN-tiny matting) gives no input size, and no one size reproduces both its M_sc and its
MACs (``hwsim.zoo.mscan``): a second table sets the two readings side by side, the committed graphs
at 864x864 (M_sc reading) and the models extracted at 288x288 (MACs reading; needs torch, about a
minute), with UNet--'s skip-memory saving at both sizes (paper: 94.5 %).
"""

from __future__ import annotations

import sys
from pathlib import Path

from hwsim.graph.analysis import graph_stats
from hwsim.graph.io import load_graph
from hwsim.zoo import MODELS, committed_shape

# Table 4 (256x256 input, 8-bit feature maps): M_sc (MiB), MACs (G, paper's convention), params (M)
PAPER = {
    "nafnet": (3.75, 16.23, 29.16, "params"),
    "nafnet_noskip": (0.0, 16.23, 29.16, "params"),
    "nafnet_unetmm": (0.25, 17.52, 29.98, "params"),
    "kbnet": (7.5, 58.19, 104.93, "conv_params"),
    "kbnet_unetmm": (0.5, 63.11, 108.12, "conv_params"),
    # Table 7 (input size not given; see TABLE7_READINGS)
    "mscan_tiny": (2.56, 1.57, 3.95, "params"),
    "mscan_tiny_noskip": (0.0, 1.55, 3.95, "params"),
    "mscan_tiny_unetmm": (0.14, 1.71, 4.23, "params"),
}
TABLE7 = ("mscan_tiny", "mscan_tiny_noskip", "mscan_tiny_unetmm")
MACS_READING = (1, 3, 288, 288)  # the multiple of 32 nearest the paper's 1.57 G paper-convention MACs
PAPER_SAVING = 94.5  # % of M_sc that UNet-- saves on MSCAN-tiny (paper, Sec. 4.4)


def _diff(ours: float, paper: float) -> str:
    if paper == 0:
        return "0 %" if ours == 0 else "n/a"
    return f"{100 * (ours - paper) / paper:+.1f} %"


def _label(name: str) -> str:
    shape = committed_shape(name)
    return name if shape == (1, 3, 256, 256) else f"{name} ({shape[2]}x{shape[3]})"


def row(name: str, stats: dict) -> str:
    msc = stats["msc_bytes"] / 2**20
    macs, pmacs = stats["macs"] / 1e9, stats["paper_macs"] / 1e9
    params, conv = stats["params"] / 1e6, stats["conv_params"] / 1e6
    cells = [_label(name), f"{msc:.3f}", f"{macs:.3f}", f"{pmacs:.3f}", f"{params:.3f}", f"{conv:.3f}"]
    if name in PAPER:
        p_msc, p_macs, p_params, which = PAPER[name]
        ours_params = params if which == "params" else conv
        macs_cell = f"{p_macs} (at 288x288: below)" if name in TABLE7 else f"{p_macs} ({_diff(pmacs, p_macs)})"
        cells += [f"{p_msc} ({_diff(msc, p_msc)})", macs_cell,
                  f"{p_params} {'all' if which == 'params' else 'conv'} ({_diff(ours_params, p_params)})"]
    else:
        cells += ["—", "—", "—"]
    return "| " + " | ".join(cells) + " |"


def _saving(stats: dict, base: dict) -> str:
    return f"{100 * (1 - stats['msc_bytes'] / base['msc_bytes']):.2f} %" if base["msc_bytes"] else "n/a"


def table7(committed: dict) -> None:
    """Both readings of Table 7 side by side: the committed graphs and the models at MACS_READING."""
    try:
        from hwsim.extract import extract_model
        small = {name: graph_stats(extract_model(name, MACS_READING), 8) for name in TABLE7}
    except ImportError as exc:
        print(f"\nTable 7 at {MACS_READING[2]}x{MACS_READING[3]} needs torch ({exc})", file=sys.stderr)
        return
    big = {name: committed[name] for name in TABLE7}
    h_big, h_small = committed_shape(TABLE7[0])[2], MACS_READING[2]
    print(f"\nTable 7 (MSCAN-tiny matting), both readings: {h_big}x{h_big} reproduces M_sc, "
          f"{h_small}x{h_small} the MACs (paper convention)\n")
    print(f"| model | M_sc MiB @{h_big} | M_sc MiB @{h_small} | MACs G @{h_big} | MACs G @{h_small} | params M "
          f"| M_sc saving @{h_big} / @{h_small} | paper: M_sc / MACs / params / saving |")
    print("|" + " --- |" * 8)
    for name in TABLE7:
        b, s = big[name], small[name]
        p_msc, p_macs, p_params, _ = PAPER[name]
        saving = f"{_saving(b, big[TABLE7[0]])} / {_saving(s, small[TABLE7[0]])}" if name.endswith("unetmm") else ""
        paper_saving = f" / {PAPER_SAVING} %" if name.endswith("unetmm") else ""
        print(f"| {name} | {b['msc_bytes'] / 2**20:.3f} ({_diff(b['msc_bytes'] / 2**20, p_msc)}) "
              f"| {s['msc_bytes'] / 2**20:.3f} | {b['paper_macs'] / 1e9:.3f} "
              f"| {s['paper_macs'] / 1e9:.3f} ({_diff(s['paper_macs'] / 1e9, p_macs)}) "
              f"| {b['params'] / 1e6:.3f} ({_diff(b['params'] / 1e6, p_params)}) | {saving} "
              f"| {p_msc} / {p_macs} / {p_params}{paper_saving} |")


def main() -> int:
    graphs = Path(__file__).resolve().parent.parent / "graphs"
    print("| model | M_sc MiB | MACs G (hwsim) | MACs G (paper conv.) | params M | conv params M "
          "| paper M_sc MiB | paper MACs G | paper params M |")
    print("|" + " --- |" * 9)
    missing, stats = [], {}
    for name in MODELS:
        path = graphs / f"{name}.json"
        if not path.exists():
            missing.append(name)
            continue
        stats[name] = graph_stats(load_graph(path), 8)
        print(row(name, stats[name]))
    if missing:
        print(f"\nnot yet extracted: {', '.join(missing)} (python experiments/regenerate_graphs.py)", file=sys.stderr)
    if all(name in stats for name in TABLE7):
        table7(stats)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
