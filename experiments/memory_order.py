"""Peak of live bytes in the graph's order and in ``policy.order: memory``, per zoo graph.

``python experiments/memory_order.py [--bits 8] [--concat inplace|copy] [NAME ...]`` reads the
committed graphs (``graphs/NAME.json``, 1x3x256x256) and prints a Markdown table: layers; the
layers whose step is not fixed (the ones between cuts, see ``hwsim.schedule.order_search``) and
the largest run of them; the peak of live bytes (``hwsim.schedule.storage.live_piece_peak``, the
zero-spill SRAM's lower bound) in the graph's order and in the memory order; the difference;
whether the search proved it the lowest; the layers moved; the seconds taken (one core, a
freshly loaded graph).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from hwsim.graph.io import load_graph
from hwsim.schedule.order import order_layers, order_problem
from hwsim.schedule.order_search import cuts
from hwsim.spec import load_spec

ROOT = Path(__file__).resolve().parent.parent


def free_layers(graph, bits: int, concat: str) -> tuple[int, int]:
    """Layers that are not cuts, and the longest run of them between two cuts."""
    n = len(graph.layers)
    fixed = [-1, *cuts(order_problem(graph, bits, concat)), n]
    runs = [b - a - 1 for a, b in zip(fixed, fixed[1:])]
    return sum(runs), max(runs, default=0)


def row(name: str, spec) -> str:
    graph = load_graph(ROOT / "graphs" / f"{name}.json")
    start = time.perf_counter()
    o = order_layers(graph, spec).summary
    seconds = time.perf_counter() - start
    free, longest = free_layers(graph, spec.datatype.activation_bits, spec.policy.concat)
    saved = o.graph_peak_bytes - o.peak_bytes
    cells = [name, str(len(graph.layers)), f"{free} ({longest})", f"{o.graph_peak_bytes:,}", f"{o.peak_bytes:,}",
             f"-{saved:,} ({100 * saved / o.graph_peak_bytes:.5f} %)" if saved else "0",
             o.search, str(o.moved_layers), f"{seconds:.2f}"]
    return "| " + " | ".join(cells) + " |"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="zoo graphs (default: every graphs/*.json)")
    parser.add_argument("--bits", type=int, default=8, help="activation bits (default 8)")
    parser.add_argument("--concat", choices=("inplace", "copy"), default="inplace")
    args = parser.parse_args()
    spec = load_spec(ROOT / "accelerators" / "edge_npu.yaml",
                     ["policy.order=memory", f"policy.concat={args.concat}", f"datatype.activation_bits={args.bits}"])
    names = args.names or sorted(p.stem for p in (ROOT / "graphs").glob("*.json"))
    print(f"activation bits {args.bits}, concat {args.concat}; peaks in bytes\n")
    print("| graph | layers | free layers (longest run) | peak, graph order | peak, memory order | change "
          "| search | layers moved | seconds |")
    print("|" + " --- |" * 9)
    for name in names:
        print(row(name, spec), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
