"""``hwsim extract MODEL --input 1x3x256x256 -o graph.json``; ``hwsim extract model.onnx|model.tflite -o graph.json``."""

from __future__ import annotations

import sys

from hwsim.files import check_target, write_stdout
from hwsim.graph.io import graph_to_json, write_graph
from hwsim.graph.layers import FUSE_MODES


def add_parser(sub) -> None:
    p = sub.add_parser("extract", help="extract a PyTorch model, an ONNX or a TFLite file into a graph JSON file",
                       description="MODEL is a zoo name, path/to/file.py:Name or package.module:Name "
                                   "(an nn.Module class or a function returning a module; Name(width=32) passes "
                                   "literal arguments), or a model.onnx "
                                   "(hwsim[onnx]) or model.tflite (hwsim[tflite]) file.")
    p.add_argument("model")
    p.add_argument("--input", help="input shape, e.g. 1x3x256x256 (NCHW); several: 1x3x64x64,1x1x64x64 (forward's "
                                   "first tensors) or x=1x3x64x64,t=1 (by parameter name); required for a PyTorch model, "
                                   "optional for a file (it fixes the dynamic dimensions of an ONNX input)")
    p.add_argument("--fuse", choices=FUSE_MODES, default="elementwise",
                   help="group element-wise ops into the layer before them (default) or not at all")
    add_fallback(p)
    p.add_argument("-o", "--output", help="graph file to write (default: standard output)")
    p.set_defaults(handler=run)


def add_fallback(p) -> None:
    """The ``--fallback`` option of every command that extracts a model."""
    p.add_argument("--fallback", choices=("none", "host"), default="none",
                   help="what to do with ops hwsim cannot map: 'none' (default) reports them all as one error; "
                        "'host' runs each on the host CPU, as a layer of its own whose inputs and outputs go "
                        "through DRAM (needs a host: section in the spec)")


def run(args) -> int:
    if args.output:
        check_target(args.output)  # before minutes of extraction
    from hwsim.errors import UserError
    from hwsim.extract import extract_file, extract_model, file_format
    from hwsim.extract.resolve import parse_inputs, parse_shape

    notes: list[str] = []
    if file_format(args.model):
        shape = parse_shape(args.input) if args.input is not None else None
        imported = extract_file(args.model, shape, args.fuse, args.fallback)
        graph, notes = imported.graph, imported.report_lines()
    elif args.input is None:
        raise UserError("is required for a PyTorch model (e.g. --input 1x3x256x256)", "--input")
    else:
        graph = extract_model(args.model, parse_inputs(args.input), args.fuse, args.fallback)
    if args.output:
        write_graph(graph, args.output)
        print(f"wrote {args.output}: {len(graph.ops)} ops, {len(graph.layers)} layers", file=sys.stderr)
    else:
        write_stdout(graph_to_json(graph))
    for line in notes + host_lines(graph):
        print(line, file=sys.stderr)
    return 0


def host_lines(graph) -> list[str]:
    """What ``extract`` says of the host ops it wrote (none without ``--fallback host``)."""
    hosts = [o for o in graph.ops if o.kind == "host"]
    if not hosts:
        return []
    listed = "; ".join(f"{o.attrs['op']} at {o.module or '<top>'}" for o in hosts[:8])
    more = f" and {len(hosts) - 8} more" if len(hosts) > 8 else ""
    return [f"{len(hosts)} host op(s), run on the host CPU (--fallback host): {listed}{more}"]
