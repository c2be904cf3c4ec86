"""``hwsim sweep SPEC GRAPH... -o DIR``: every combination of the axes for every graph.

Axes: ``--sram 128KiB:8MiB:x2`` (``sram.size``), ``--bandwidth 4GB/s,8GB/s``
(``dram.bandwidth``), ``--bits 8,16`` (``datatype.activation_bits``), ``--execution
layer,cascade`` (``policy.execution``), and any spec field or
``input`` in a ``--grid`` file (see ``hwsim.sweep.grid``). Writes ``DIR/progress.jsonl`` as
points finish, then ``DIR/results.csv`` and ``DIR/summary.json``; prints the zero-spill SRAM
and the knee of each spill curve. A sweep of more than ``--max-points`` points (default
10,000) is refused before anything runs. ``--resume`` runs only what ``progress.jsonl`` lacks.
Exit status: 0 when every point ran or was recorded as invalid, 1 when a point hit an
internal error (its row says which), 2 for a user error (a worker process that died, a
full disk and a directory another sweep is writing into included), 130 when interrupted
(Ctrl-C), 143 when terminated (SIGTERM, taken like Ctrl-C: the finished points are kept
and ``--resume`` finishes the sweep).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from hwsim.errors import UserError
from hwsim.files import write_stdout
from hwsim.sweep.grid import DEFAULT_MAX_POINTS

GRID_HELP = ("a YAML file with the keys 'axes' (field: values, swept) and 'set' (field: value, fixed); "
             "fields are spec fields by dotted path, or 'input' (see below)")
GRID_EPILOG = """grid file (--grid), e.g.:
  axes:                              # swept: every combination of these
    sram.size: 128KiB:8MiB:x2        # a range, a YAML list or a comma list
    dram.bandwidth: [4 GB/s, 8 GB/s]
    input: [128, 256]                # zoo models re-extracted at each input size
  set:                               # fixed for the whole sweep, like --set KEY=VALUE
    dram.latency: 200 ns

Writes DIR/results.csv (one row per point), DIR/summary.json (zero-spill SRAM and knee per spill
curve), DIR/progress.jsonl (for --resume) and DIR/sweep.json. Besides the points, one zero-spill
search runs per graph and setting of the plan-changing axes (not bandwidth, clock or energy)."""


def add_parser(sub) -> None:
    p = sub.add_parser("sweep", help="run a grid of accelerator settings over graphs: results.csv, "
                                     "zero-spill SRAM, knee of the spill curve",
                       description="Run every combination of the axes for every GRAPH (a graph file or a "
                                   "zoo model name) on the accelerator SPEC. An axis is a comma list of "
                                   "values and inclusive ranges START:STOP:xFACTOR or START:STOP:+STEP.",
                       epilog=GRID_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("spec", help="accelerator YAML file, e.g. accelerators/edge_npu.yaml")
    p.add_argument("graphs", nargs="+", metavar="GRAPH",
                   help="graph JSON file, zoo model name, or your model: path/to/file.py:Name, package.module:Name")
    p.add_argument("--input", metavar="SHAPE", help="input shape models are extracted at, e.g. 1x3x64x64 "
                                                    "(default 1x3x256x256; an 'input' axis sweeps it)")
    from hwsim.commands.extract import add_fallback

    add_fallback(p)
    p.add_argument("--sram", metavar="AXIS", help="SRAM sizes, e.g. 128KiB:8MiB:x2")
    p.add_argument("--bandwidth", metavar="AXIS", help="DRAM bandwidths, e.g. 4GB/s,8GB/s")
    p.add_argument("--bits", metavar="AXIS", help="activation bit-widths, e.g. 8,16")
    p.add_argument("--execution", metavar="AXIS", help="execution modes, e.g. layer,cascade")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="fix a spec field for the whole sweep (repeatable)")
    p.add_argument("--grid", metavar="FILE", help=GRID_HELP)
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="directory for the results")
    p.add_argument("--jobs", type=int, metavar="N", help="parallel workers (default: all cores)")
    p.add_argument("--max-points", type=int, metavar="N", default=DEFAULT_MAX_POINTS,
                   help=f"refuse a sweep of more points than this (default {DEFAULT_MAX_POINTS:,})")
    p.add_argument("--resume", action="store_true", help="run only the points DIR/progress.jsonl lacks")
    p.add_argument("--quiet", action="store_true", help="no progress bar on stderr")
    p.add_argument("--executor", choices=("local", "dask"), default="local",
                   help="local process pool (default) or a Dask cluster")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="Dask scheduler address (tcp://host:8786); default: a local Dask cluster")
    p.set_defaults(handler=run)


def _grid(args):
    from hwsim.sweep.axes import FLAG_FIELDS, plan_axis
    from hwsim.sweep.grid import build_grid, check_size, load_grid_file

    if args.max_points < 1:
        raise UserError(f"{args.max_points} is not a number of points (1 or more)", "--max-points")
    file_axes, file_set = load_grid_file(args.grid) if args.grid else ([], [])
    flag_axes = [(flag, plan_axis(getattr(args, flag[2:]), field, flag))
                 for flag, field in FLAG_FIELDS.items() if getattr(args, flag[2:]) is not None]
    check_size([*file_axes, *(a for _, a in flag_axes)], len(args.graphs), args.max_points)  # before writing out
    return build_grid(file_axes, flag_axes, [*file_set, *args.overrides])


def _executor(args):
    from hwsim.sweep.executors import DaskExecutor, LocalExecutor, default_jobs

    if args.jobs is not None and args.jobs < 1:
        raise UserError(f"{args.jobs} is not a number of workers (1 or more)", "--jobs")
    if args.scheduler and args.executor != "dask":
        raise UserError("only with --executor dask", "--scheduler")
    jobs = args.jobs or default_jobs()
    return DaskExecutor(args.scheduler, jobs) if args.executor == "dask" else LocalExecutor(jobs)


def render_summary(summary: dict) -> str:
    """The zero-spill SRAM and knee of each spill curve, one line each."""
    from hwsim.units import format_bytes

    size = lambda n: "-" if n is None else format_bytes(n)  # noqa: E731
    lines = [f"knee: {summary['knee_definition']}"]
    for c in summary["curves"]:
        axes = " ".join(f"{k}={v}" for k, v in c["axes"].items())
        failed = f", {c['points_failed']} of {c['points']} points failed" if c["points_failed"] else ""
        search = size(c["zero_spill_sram_bytes"]) if c["zero_spill_error"] is None else "search failed"
        knee = ("no knee in range" if c["knee_sram_bytes"] is None else
                f"knee {size(c['knee_sram_bytes'])} (overflow there {size(c['knee_overflow_bytes'])})")
        lines.append(f"  {c['graph']}{' ' + axes if axes else ''}: zero-spill SRAM {search}, {knee}{failed}")
        if c.get("knee_note"):
            lines.append(f"    {c['knee_note']}")
    return "\n".join(lines)


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread so that a terminated sweep stops as an interrupted one does."""


def _terminate(signum, frame):
    raise Terminated


def run(args) -> int:
    from hwsim.sweep.driver import RESULTS_FILE, PROGRESS_FILE, SweepRequest, count_status, run_sweep

    from hwsim.extract.resolve import parse_shape

    shape = parse_shape(args.input) if args.input is not None else None
    request = SweepRequest(args.spec, tuple(args.graphs), _grid(args), Path(args.output), args.resume,
                           quiet=args.quiet, input_shape=shape, fallback=args.fallback)
    executor = _executor(args)
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if main_thread else None
    try:
        outcome = run_sweep(request, executor, sys.stderr)
    except KeyboardInterrupt as stop:
        how = "terminated" if isinstance(stop, Terminated) else "interrupted"
        print(f"hwsim: {how}; finished points are in {Path(args.output) / PROGRESS_FILE}, "
              "rerun with --resume to finish", file=sys.stderr)
        return 143 if isinstance(stop, Terminated) else 130
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)
    counts = count_status(outcome.rows)
    searches = outcome.searches
    print(f"wrote {Path(args.output) / RESULTS_FILE}: {len(outcome.rows)} points ({counts['ok']} ok, "
          f"{counts['invalid']} invalid, {counts['error']} internal errors); ran {outcome.ran - searches} "
          f"points and {searches} zero-spill search{'es' * (searches != 1)} (one per spill curve's "
          f"plan settings, see summary.json), reused {outcome.reused} from progress; {outcome.schedules} "
          f"schedule{'s' * (outcome.schedules != 1)} for the points run ({outcome.plans_reused} DRAM/clock "
          f"setting{'s' * (outcome.plans_reused != 1)} took a plan made at another)", file=sys.stderr)
    write_stdout(render_summary(outcome.summary) + "\n")
    return 1 if counts["error"] else 0
