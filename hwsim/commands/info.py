"""``hwsim info GRAPH [--bits 8] [--json]``: ops, layers, MACs, parameters, skip tensors, M_sc(t)."""

from __future__ import annotations

import json

from hwsim.errors import UserError
from hwsim.files import write_stdout
from hwsim.graph.analysis import dedupe_runs, graph_stats
from hwsim.graph.io import load_graph
from hwsim.units import format_bytes


def add_parser(sub) -> None:
    p = sub.add_parser("info", help="what a graph holds: MACs, parameters, skip tensors, skip memory")
    p.add_argument("graph")
    p.add_argument("--bits", type=int, default=8, help="activation bit-width for byte figures (default 8)")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    p.set_defaults(handler=run)


def run(args) -> int:
    if not 1 <= args.bits <= 32:
        raise UserError(f"{args.bits} is not a bit-width from 1 to 32", "--bits")
    stats = graph_stats(load_graph(args.graph), args.bits)
    if args.json:
        write_stdout(json.dumps(stats, sort_keys=True, indent=1) + "\n")
    else:
        write_stdout(render(stats) + "\n")
    return 0


def render(s: dict) -> str:
    g = 1e9
    lines = [
        f"{s['name']}: {s['ops']} ops in {s['layers']} layers",
        f"  MACs        {s['macs'] / g:.3f} G (conv + matmul, as FlopCounterMode);"
        f" {s['paper_macs'] / g:.3f} G in the UNet-- paper's convention",
        f"  params      {s['params']:,} ({s['conv_params']:,} in convolutions)",
        f"  activations at {s['bits']} bits: input {format_bytes(s['input_bytes'])}, "
        f"output {format_bytes(s['output_bytes'])}, live peak {format_bytes(s['activation_peak_bytes'])}",
        f"  M_sc        {format_bytes(s['msc_bytes'])} ({s['msc_bytes']:,} B) in {len(s['skip_tensors'])} skip tensors",
    ]
    if s["skip_tensors"]:
        lines.append("  skip tensors (waiting while the network works at another resolution):")
        width = max(len(t["name"]) for t in s["skip_tensors"])
        for t in s["skip_tensors"]:
            shape = "x".join(map(str, t["shape"]))
            lines.append(f"    {t['name']:<{width}}  {format_bytes(t['bytes']):>10}  {shape:<16} "
                         f"{t['producer']} -> {t['last_consumer']}  ({t['module'] or '<top>'})")
        curve = ", ".join(format_bytes(v) for v in dedupe_runs(s["msc_curve_bytes"]))
        lines.append(f"  M_sc(t), repeats removed: [{curve}]")
    if s.get("host_ops"):
        listed = "; ".join(f"{h['op']} at {h['module'] or '<top>'} ({h['ops']:,} ops)" for h in s["host_ops"])
        lines.append(f"  host ops    {len(s['host_ops'])} run on the host CPU (--fallback host): {listed}")
    return "\n".join(lines)
