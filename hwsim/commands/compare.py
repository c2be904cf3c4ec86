"""``hwsim compare SPEC GRAPH... -o DIR [--sweep DIR] [--set KEY=VALUE ...]``: model variants side by side.

Runs every GRAPH (a graph file, a zoo model name, or your own model ``file.py:Name``) on SPEC and writes, all or nothing:
``DIR/report.md`` and a self-contained ``DIR/report.html`` (table of M_sc, SRAM peak,
zero-spill SRAM, spill and DRAM traffic, stall share, latency, energy, MACs, parameters,
each with its difference to the first GRAPH; figures), the figures as PNG files for slides,
and ``DIR/compare.json`` (the table's figures). ``--sweep DIR`` (a finished ``hwsim sweep``)
adds spill traffic and latency against SRAM size. Needs matplotlib (the ``plots`` extra).
A model is extracted at ``--input`` (default 1x3x256x256; needs torch) and cached in
``DIR/graphs/`` by model source and shape (``hwsim.sweep.graphs``).
``DIR`` and the report files in it are checked before any work, so a bad ``-o`` writes nothing.
"""

from __future__ import annotations

import sys
from pathlib import Path

from hwsim.errors import UserError

REPORT_FILES = ("report.md", "report.html", "compare.json")


def add_parser(sub) -> None:
    p = sub.add_parser("compare", help="compare model variants on one accelerator: report.md, report.html, "
                                       "figures",
                       description="Run each GRAPH on SPEC and write a comparison report for hardware teams; "
                                   "differences are against the first GRAPH.")
    p.add_argument("spec", help="accelerator YAML file, e.g. accelerators/edge_npu.yaml")
    p.add_argument("graphs", nargs="+", metavar="GRAPH",
                   help="graph JSON file, zoo model name, or your model: path/to/file.py:Name, package.module:Name")
    p.add_argument("--input", metavar="SHAPE", help="input shape models are extracted at, e.g. 1x3x64x64 "
                                                    "(default 1x3x256x256)")
    from hwsim.commands.extract import add_fallback

    add_fallback(p)
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="directory for the report")
    p.add_argument("--sweep", metavar="DIR", help="a 'hwsim sweep' output directory (with --sram) to plot")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a spec field, e.g. --set sram.size=4MiB (repeatable)")
    p.set_defaults(handler=run)


def _graphs(args_graphs: list[str], out: Path, shape_text: str | None = None, fallback: str = "none") -> list:
    from hwsim.extract.resolve import parse_shape
    from hwsim.sweep.graphs import DEFAULT_SHAPE, resolve_graphs

    shape = parse_shape(shape_text) if shape_text is not None else DEFAULT_SHAPE
    resolved = resolve_graphs(args_graphs, None, out, lambda text: print(text, file=sys.stderr), shape, fallback)
    return [resolved.graphs[label] for label in resolved.labels]


def run(args) -> int:
    from hwsim.files import check_directory, write_files
    from hwsim.report.compare import comparison_json, figures, load_sweep, render_markdown, run_variant
    from hwsim.report.html import render_html
    from hwsim.report.plots import require_matplotlib
    from hwsim.spec import load_spec

    require_matplotlib()  # matplotlib missing: say so before minutes of work
    out = Path(args.output)
    check_directory(out, REPORT_FILES)
    spec = load_spec(args.spec, args.overrides)
    graphs = _graphs(args.graphs, out, args.input, args.fallback)
    from hwsim.pipeline import require_host

    for graph in graphs:
        require_host(graph, spec, args.spec)
    curves = load_sweep(args.sweep, [g.name for g in graphs]) if args.sweep else []
    if args.sweep and not curves:
        raise UserError("no successful point to plot", f"--sweep {args.sweep}")
    variants = []
    for graph in graphs:
        print(f"running {graph.name} on {spec.name} (and its zero-spill SRAM search)", file=sys.stderr)
        variants.append(run_variant(graph, spec))
    pngs = figures(variants, curves)
    files = {name: png for name, png in pngs.items()}
    files["report.md"] = render_markdown(spec, variants, list(pngs)).encode()
    files["report.html"] = render_html(spec, variants, pngs).encode()
    files["compare.json"] = comparison_json(spec, variants).encode()
    write_files(out, files)
    print(f"wrote {out / 'report.html'}, {out / 'report.md'} and {len(pngs)} figures", file=sys.stderr)
    return 0
