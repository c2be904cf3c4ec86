"""What a host op costs a U-Net: ``--fallback host`` against the same network run whole, and
against a Vela-style partition.

    python experiments/host_fallback.py [--size 64] [--spec accelerators/edge_npu.yaml ...]

The model is ``tests/extract/models.py:CumUNet`` (a two-level U-Net whose bottleneck ends in a
``torch.cumsum`` hwsim cannot map), extracted with ``--fallback host``; its stand-in is the
same graph with the host op made a ReLU the accelerator runs (same shapes, one vector op per
element), so the difference is what the fallback costs. The host is an ASSUMED one, the same on
every spec (no preset has a host section, and no figure is cited here): ``--per-op`` (default
10 us) plus ``--rate`` (default 100 Mop/s) per host op.

Printed per spec: latency and DRAM bytes with the host op and with the stand-in, the host
time and its share of the latency, the host op's bytes out and back, and what a Vela-style
partition would add on top: Vela compiles each NPU subgraph on its own, so every activation
live across a CPU op (produced before it, read after it: here the U-Net's skip) is written to
memory before the CPU op and read back after it, 2 x its bytes, where hwsim keeps it in SRAM.
That last figure is a count over the graph's live ranges, not a Vela run.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def stand_in(graph):
    """The graph with every host op a ReLU (same input, same output shape)."""
    from dataclasses import replace

    from hwsim.graph.ir import Graph
    from hwsim.graph.layers import group_layers

    ops = tuple(replace(o, kind="relu", inputs=o.inputs[:1], attrs={}) if o.kind == "host" else o for o in graph.ops)
    return Graph(graph.name + "_whole", graph.tensors, ops, group_layers(ops, graph.tensors, graph.fuse),
                 graph.inputs, graph.outputs, graph.fuse)


def vela_style_extra(graph, bits: int) -> int:
    """Bytes a partition that flushes every activation live across a host op would move on top:
    each such tensor (not the host op's own input or output) out once and back once."""
    from hwsim.graph.analysis import layer_io, live_ranges, tensor_bytes
    from hwsim.graph.host import host_layers

    io = layer_io(graph)
    extra = 0
    for t in host_layers(graph):
        own = set(io[t].reads) | set(io[t].writes)
        for name, r in live_ranges(graph).items():
            if r.start < t < r.end and name not in own:
                extra += 2 * tensor_bytes(r.elements, bits)
    return extra


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=64, help="input height and width (default 64)")
    parser.add_argument("--spec", nargs="+", default=["accelerators/edge_npu.yaml", "accelerators/ethos_u55.yaml"])
    parser.add_argument("--per-op", default="10 us", help="assumed fixed host time per op (default 10 us)")
    parser.add_argument("--rate", default="100 Mop/s", help="assumed host throughput (default 100 Mop/s)")
    args = parser.parse_args()

    from hwsim.extract import extract_model
    from hwsim.pipeline import run
    from hwsim.spec import load_spec

    graph = extract_model("tests/extract/models.py:CumUNet", (1, 3, args.size, args.size), fallback="host")
    whole = stand_in(graph)
    host = [f"host.per_op={args.per_op}", f"host.ops_per_second={args.rate}"]
    print(f"CumUNet at 1x3x{args.size}x{args.size}, host op aten.cumsum.default at bottleneck.1; assumed host: "
          f"{args.per_op} + ops / {args.rate} per op")
    print(f"{'spec':<14}{'latency host':>14}{'latency whole':>15}{'host cycles':>13}{'share':>8}"
          f"{'DRAM host B':>13}{'DRAM whole B':>14}{'out B':>8}{'back B':>8}{'Vela-style +B':>15}")
    for spec in args.spec:
        m = run(graph, spec, host).metrics
        w = run(whole, spec).metrics
        h = m.hosts[0]
        bits = load_spec(spec).datatype.activation_bits
        print(f"{Path(spec).stem:<14}{m.latency_cycles:>14,}{w.latency_cycles:>15,}{m.host_cycles:>13,}"
              f"{100 * m.host_cycles / m.latency_cycles:>7.1f}%{m.dram_bytes:>13,}{w.dram_bytes:>14,}"
              f"{h.bytes_out:>8,}{h.bytes_in:>8,}{vela_style_extra(graph, bits):>15,}")


if __name__ == "__main__":
    main()
