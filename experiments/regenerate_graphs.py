"""Regenerate the committed zoo graphs: ``python experiments/regenerate_graphs.py [NAME ...]``.

Each zoo model is extracted at 1x3x256x256 (the papers' setting) into ``graphs/NAME.json``, except
the MSCAN-tiny matting models, at 1x3x864x864 (``hwsim.zoo.INPUT_SHAPES``; see ``hwsim.zoo.mscan``).
Extraction is deterministic, so an unchanged model gives byte-identical files.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from hwsim.extract import extract_model
from hwsim.graph.io import write_graph
from hwsim.zoo import MODELS, committed_shape


def main(names: list[str]) -> int:
    out = Path(__file__).resolve().parent.parent / "graphs"
    for name in names or sorted(MODELS):
        t0 = time.perf_counter()
        graph = extract_model(name, committed_shape(name))
        write_graph(graph, out / f"{name}.json")
        print(f"{name:20s} {len(graph.ops):5d} ops {len(graph.layers):4d} layers  {time.perf_counter() - t0:5.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
