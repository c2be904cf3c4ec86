"""``hwsim extract MODEL --input 1x3x256x256 -o graph.json``."""

from __future__ import annotations

import sys

from hwsim.files import check_target, write_stdout
from hwsim.graph.io import graph_to_json, write_graph
from hwsim.graph.layers import FUSE_MODES


def add_parser(sub) -> None:
    p = sub.add_parser("extract", help="extract a PyTorch model into a graph JSON file",
                       description="MODEL is a zoo name, path/to/file.py:Name or package.module:Name "
                                   "(an nn.Module class or a function returning a module).")
    p.add_argument("model")
    p.add_argument("--input", required=True, help="input shape, e.g. 1x3x256x256")
    p.add_argument("--fuse", choices=FUSE_MODES, default="elementwise",
                   help="group element-wise ops into the layer before them (default) or not at all")
    p.add_argument("-o", "--output", help="graph file to write (default: standard output)")
    p.set_defaults(handler=run)


def run(args) -> int:
    if args.output:
        check_target(args.output)  # before minutes of extraction
    from hwsim.extract import extract_model
    from hwsim.extract.resolve import parse_shape

    graph = extract_model(args.model, parse_shape(args.input), args.fuse)
    if args.output:
        write_graph(graph, args.output)
        print(f"wrote {args.output}: {len(graph.ops)} ops, {len(graph.layers)} layers", file=sys.stderr)
    else:
        write_stdout(graph_to_json(graph))
    return 0
