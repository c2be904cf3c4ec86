"""A small sweep for tests: the hand-built two-level U-Net (no torch), points of milliseconds."""

from __future__ import annotations

from pathlib import Path

from hwsim.graph.io import write_graph
from hwsim.sweep.axes import parse_axis
from hwsim.sweep.driver import SweepRequest
from hwsim.sweep.grid import build_grid
from tests.graph.handmade import two_level_u

ROOT = Path(__file__).resolve().parents[2]
SPEC = str(ROOT / "accelerators" / "edge_npu.yaml")
SRAM = "512B,1KiB:8KiB:x2"  # 512 B is too small for any tile of layer d2: an invalid point
BITS = "8,16"
POINTS = 5 * 2


def graph_files(directory: Path) -> list[str]:
    """Two graph files: the two-level U-Net and the same network under another name and width."""
    directory.mkdir(parents=True, exist_ok=True)
    u2 = two_level_u()
    wide = two_level_u()
    wide.name = "u2_again"
    paths = [directory / "u2.json", directory / "u2_again.json"]
    write_graph(u2.build(), paths[0])
    write_graph(wide.build(), paths[1])
    return [str(p) for p in paths]


def request(graphs: list[str], out: Path, resume: bool = False, sram: str = SRAM) -> SweepRequest:
    axes = [("--sram", parse_axis(sram, "sram.size", "--sram")),
            ("--bits", parse_axis(BITS, "datatype.activation_bits", "--bits"))]
    return SweepRequest(SPEC, tuple(graphs), build_grid([], axes, []), out, resume)


class Interrupted:
    """An executor that runs the first ``after`` calls for real, then raises KeyboardInterrupt."""

    def __init__(self, inner, after: int):
        self.inner, self.after = inner, after

    def check(self):
        self.inner.check()

    def run(self, graphs, calls):
        for i, item in enumerate(self.inner.run(graphs, calls)):
            if i == self.after:
                raise KeyboardInterrupt
            yield item
