"""``hwsim run SPEC GRAPH [--set KEY=VALUE ...] [--json] [-o DIR] [--trace FILE] [--compare-policies]``: simulate one graph on one accelerator.

Prints a summary (or, with ``--json``, the whole report); ``--compare-policies`` runs every
spill policy instead and prints each one's figures and gap to the spill optimum; ``-o DIR`` also writes
``DIR/report.json`` and ``DIR/layers.csv``, both or neither. Every output target is checked
before the simulation starts, so a command that fails writes nothing. Heavy modules are
imported when the command runs, not when the CLI starts; torch and matplotlib are never imported.
"""

from __future__ import annotations

import sys
from pathlib import Path

from hwsim.files import check_directory, check_target, write_files, write_stdout

REPORT_FILE = "report.json"
LAYERS_FILE = "layers.csv"


def add_parser(sub) -> None:
    p = sub.add_parser("run", help="schedule and simulate a graph on an accelerator: SRAM, DRAM traffic, "
                                   "stalls, latency, energy",
                       description="Schedule GRAPH (a graph JSON file from 'hwsim extract') onto the "
                                   "accelerator SPEC (a YAML file), simulate it and report.")
    p.add_argument("spec", help="accelerator YAML file, e.g. accelerators/edge_npu.yaml")
    p.add_argument("graph", help="graph JSON file")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a spec field, e.g. --set sram.size=256KiB (repeatable)")
    p.add_argument("--json", action="store_true", help="print the whole report as JSON")
    p.add_argument("-o", "--output", metavar="DIR", help=f"write DIR/{REPORT_FILE} and DIR/{LAYERS_FILE}")
    p.add_argument("--trace", metavar="FILE",
                   help="also write a Chrome/Perfetto trace (open it in ui.perfetto.dev or chrome://tracing)")
    p.add_argument("--compare-policies", action="store_true",
                   help="run every spill policy and compare each with the optimum of the spill integer program "
                        "(with --json: an object 'policies')")
    p.set_defaults(handler=run)


def check_outputs(args) -> None:
    """Refuse any output target that cannot be written, before anything is."""
    if args.trace:
        check_target(args.trace)
    if args.output:
        check_directory(args.output, (REPORT_FILE, LAYERS_FILE))


def compare_policies(args) -> int:
    """Every spill policy on the same graph and spec, beside the spill optimum (``--compare-policies``)."""
    import json

    from hwsim.errors import UserError
    from hwsim.pipeline import run as run_pipeline
    from hwsim.schedule.spill import POLICIES

    if args.output or args.trace:
        raise UserError("--compare-policies writes no report files: drop -o and --trace")
    rows = {}
    for policy in POLICIES:
        result = run_pipeline(args.graph, args.spec, [*args.overrides, f"policy.spill={policy}"])
        m, s = result.metrics, result.plan.spill_bounds
        target = None if s is None or s.status.startswith("not computed") else \
            (s.best_bytes if s.optimal else s.bound_bytes)
        moved = result.plan.decided_bytes()
        rows[policy] = {"spill_bytes": m.spill_bytes, "dram_bytes": m.dram_bytes, "latency_cycles": m.latency_cycles,
                        "decided_bytes": moved, "optimum_bytes": target, "optimum_proven": bool(s and s.optimal),
                        "gap_pct": None if not target else round(100 * (moved - target) / target, 3)}
    if args.json:
        sys.stdout.write(json.dumps({"policies": rows}, sort_keys=True, indent=1) + "\n")
        return 0
    print(f"spill policies on {args.graph}: loads and stores besides weights against the optimum of the spill "
          "integer program (capacity in bytes, no addresses)")
    print(f"{'policy':<12}{'spill B':>16}{'DRAM B':>16}{'latency cycles':>16}{'loads+stores B':>16}{'gap %':>9}")
    for policy, r in rows.items():
        gap = "-" if r["gap_pct"] is None else f"{r['gap_pct']:.1f}"
        print(f"{policy:<12}{r['spill_bytes']:>16,}{r['dram_bytes']:>16,}{r['latency_cycles']:>16,}"
              f"{r['decided_bytes']:>16,}{gap:>9}")
    return 0


def run(args) -> int:
    if args.compare_policies:
        return compare_policies(args)
    check_outputs(args)
    from hwsim.pipeline import run as run_pipeline
    from hwsim.report.csv_report import layers_csv
    from hwsim.report.json_report import report_json
    from hwsim.report.text import render

    result = run_pipeline(args.graph, args.spec, args.overrides)
    metrics = result.metrics
    report = report_json(metrics)
    if args.trace:
        from hwsim.report.perfetto import write_trace

        write_trace(result.trace, result.plan, args.trace)
        print(f"wrote {args.trace}", file=sys.stderr)
    if args.output:
        write_files(Path(args.output), {REPORT_FILE: report, LAYERS_FILE: layers_csv(metrics)})
        print(f"wrote {Path(args.output) / REPORT_FILE} and {Path(args.output) / LAYERS_FILE}", file=sys.stderr)
    write_stdout(report if args.json else render(metrics) + "\n")
    return 0
