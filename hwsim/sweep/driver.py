"""The sweep driver: grid x graphs -> points -> executor -> progress.jsonl -> results.csv, summary.json.

Straight steps: load the spec (with the grid's fixed settings), load or extract the graphs,
lock the directory (``lock.py``: one writer at a time), enumerate the points, record the
sweep in ``DIR/sweep.json``, run what ``progress.jsonl`` does not hold yet (everything,
without ``--resume``; a malformed record runs again) on the executor, appending each result
as it arrives, then write ``results.csv`` (one row per point, in grid order) and
``summary.json`` (zero-spill SRAM and knee per spill curve), each atomically.
"""

from __future__ import annotations

import csv
import io
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Sequence

from hwsim import __version__
from hwsim.errors import UserError
from hwsim.files import check_directory
from hwsim.spec import AcceleratorSpec, load_spec, spec_to_dict, with_overrides
from hwsim.sweep.axes import INPUT_AXIS
from hwsim.sweep.executors import Call
from hwsim.sweep.graphs import DEFAULT_SHAPE, SweepGraphs, graph_id, resolve_graphs
from hwsim.sweep.grid import Grid, Point
from hwsim.sweep.knee import SRAM_AXIS, search_group, summarize
from hwsim.sweep.lock import LOCK_FILE, directory_lock
from hwsim.sweep.progress import (
    MANIFEST_FILE, PROGRESS_FILE, ProgressBar, ProgressLog, check_manifest, json_text, read_progress,
    write_atomic,
)
from hwsim.sweep.run import STATUS_ERROR, STATUS_OK, columns, search_zero_spill, well_formed
from hwsim.sweep.share import plan_group, run_points

RESULTS_FILE = "results.csv"
SUMMARY_FILE = "summary.json"
MANIFEST_VERSION = 1
SEARCH_PREFIX = "zero_spill:"
POINTS_PREFIX = "points:"


@dataclass(frozen=True)
class SweepRequest:
    spec: str  # accelerator YAML path
    graphs: tuple[str, ...]  # graph files or zoo names
    grid: Grid
    out_dir: Path
    resume: bool = False
    share_plans: bool = True  # schedule once per plan group where guards allow (``share.py``); False: every point
    quiet: bool = False  # no progress bar
    input_shape: tuple[int, ...] | None = None  # --input: models extracted at it (no input axis)
    fallback: str = "none"  # --fallback: "host" extracts unmapped ops as host ops


@dataclass(frozen=True)
class SweepOutcome:
    rows: list[dict[str, Any]]  # results.csv rows in grid order
    summary: dict[str, Any]
    ran: int  # units of work run now: points, and zero-spill searches
    reused: int  # taken from progress.jsonl
    searches: int = 0  # zero-spill searches among those run now
    schedules: int = 0  # scheduler runs for the points run now (``share.py``: fewer than points when shared)
    plans_reused: int = 0  # DRAM/clock settings that took a plan made at another, its guards holding


def _label(point: Point) -> str:
    return " ".join([point.graph, *(f"{n}={v}" for n, v in point.values)])


def _search_spec(spec: AcceleratorSpec, point: Point) -> AcceleratorSpec:
    changes = {k: v for k, v in point.spec_changes().items() if k != SRAM_AXIS}
    return with_overrides(spec, changes) if changes else spec


def _calls(spec: AcceleratorSpec, points: Sequence[Point], done: dict[str, dict],
           share: bool = True) -> tuple[list[Call], dict, dict]:
    """The work still to do (searches first: they are the longest), searches settled here, and a
    progress label and point count for each call. Points to run go in one call per plan group
    (``share.py``), or one each without ``share``; a call returns its rows by point key."""
    searches: list[Call] = []
    settled: dict[str, dict] = {}
    labels: dict[str, tuple[str, int]] = {}
    for group, point in {search_group(p): p for p in points}.items():
        tag = SEARCH_PREFIX + group
        if tag in done:
            continue
        try:
            search_spec = _search_spec(spec, point)
        except UserError as err:  # no valid spec: nothing to search
            settled[tag] = {"zero_spill_sram_bytes": None, "error": str(err)}
            continue
        searches.append(Call(tag, search_zero_spill, graph_id(point.graph, point.input), (search_spec,)))
        kept = tuple((n, v) for n, v in point.values if n != SRAM_AXIS)
        labels[tag] = ("zero-spill search " + _label(Point(point.graph, kept)), 1)
    groups: dict[str, list[Point]] = {}
    for p in points:
        if p.key not in done:
            groups.setdefault(plan_group(p) if share else p.key, []).append(p)
    runs = []
    for group, members in groups.items():
        tag = POINTS_PREFIX + group
        runs.append(Call(tag, run_points, graph_id(members[0].graph, members[0].input),
                         (spec, tuple(members), share)))
        labels[tag] = (_label(members[-1]), len(members))
    return searches + runs, settled, labels


def _manifest(spec: AcceleratorSpec, grid: Grid, graphs: SweepGraphs) -> dict:
    return {"version": MANIFEST_VERSION, "hwsim": __version__, "spec": spec_to_dict(spec),
            "axes": [[a.name, list(a.values)] for a in grid.axes], "graphs": graphs.digests}


def _execute(calls: list[Call], graphs: SweepGraphs, executor, log: ProgressLog, stderr: IO[str],
             labels: dict[str, tuple[str, int]], quiet: bool = False) -> tuple[dict[str, dict], list[int]]:
    """Run the calls; log and return each search's result and each point's row by tag, and the
    schedules made and reused for the points (``share.GroupRun``)."""
    results: dict[str, dict] = {}
    counts = [0, 0]
    bar = ProgressBar(sum(n for _, n in labels.values()), stderr, quiet=quiet)
    try:
        for tag, result in executor.run(graphs.graphs, calls):
            if tag.startswith(SEARCH_PREFIX):
                log.append("zero_spill", tag, result)
                results[tag] = result
            else:
                for key, row in result.rows.items():
                    log.append("point", key, row)
                    results[key] = row
                counts[0] += result.schedules
                counts[1] += result.reused
            bar.step(*labels[tag])
    finally:
        bar.close()
    return results, counts


def results_csv(grid: Grid, points: Sequence[Point], results: dict[str, dict]) -> tuple[str, list[dict]]:
    """results.csv text and its rows: one per point, in grid order; empty cells for failed points."""
    header = columns(grid.axes)
    rows = []
    for p in points:
        row = {"graph": p.graph}
        row.update({a.column: a.cell(text) for a, (_, text) in zip(grid.axes, p.values)})
        row.update(results[p.key])
        rows.append(row)
    out = io.StringIO()
    writer = csv.DictWriter(out, header, lineterminator="\n", restval="", extrasaction="raise")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue(), rows


def _usable(previous: dict[str, dict], wanted: set[str]) -> dict[str, dict]:
    """The records read back that this sweep wants and that have the shape their work gives."""
    def kind(tag: str) -> str:
        return "zero_spill" if tag.startswith(SEARCH_PREFIX) else "point"

    return {t: r for t, r in previous.items()
            if t in wanted and r.get("kind") == kind(t) and well_formed(kind(t), r["result"])}


def run_sweep(request: SweepRequest, executor, stderr: IO[str] = sys.stderr) -> SweepOutcome:
    """Run (or finish, with ``resume``) a sweep and write its files; see the module docstring."""
    grid, out = request.grid, request.out_dir
    check_directory(out, (MANIFEST_FILE, PROGRESS_FILE, RESULTS_FILE, SUMMARY_FILE, LOCK_FILE))  # before any work
    spec = load_spec(request.spec, grid.overrides)
    inputs = next((a for a in grid.axes if a.name == INPUT_AXIS), None)
    if inputs is not None and request.input_shape is not None:
        raise UserError("an input axis and --input both set the input size; give one", "--input")
    graphs = resolve_graphs(request.graphs, inputs, out, lambda text: print(text, file=stderr),
                            request.input_shape or DEFAULT_SHAPE, request.fallback)
    if not any(a.name.startswith("host.") for a in grid.axes):  # host ops and no host section: before any work
        from hwsim.pipeline import require_host

        for graph in graphs.graphs.values():
            require_host(graph, spec, request.spec)
    executor.check()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UserError(f"cannot create the output directory: {err.strerror or err}", str(out)) from None
    with directory_lock(out):
        return _run_locked(request, spec, graphs, executor, stderr)


def _run_locked(request: SweepRequest, spec: AcceleratorSpec, graphs: SweepGraphs, executor,
                stderr: IO[str]) -> SweepOutcome:
    grid, out = request.grid, request.out_dir
    points = sorted(grid.points(graphs.labels), key=lambda p: grid.order(p, graphs.labels))
    check_manifest(out, _manifest(spec, grid, graphs), request.resume)
    wanted = {p.key for p in points} | {SEARCH_PREFIX + search_group(p) for p in points}
    kept = _usable(read_progress(out / PROGRESS_FILE), wanted) if request.resume else {}
    calls, settled, labels = _calls(spec, points, {t: r["result"] for t, r in kept.items()}, request.share_plans)
    with ProgressLog(out / PROGRESS_FILE).open(kept) as log:
        for tag, result in settled.items():
            log.append("zero_spill", tag, result)
        results, (schedules, plans_reused) = _execute(calls, graphs, executor, log, stderr, labels, request.quiet)
    results.update(settled)
    results.update({t: r["result"] for t, r in kept.items()})
    text, rows = results_csv(grid, points, results)
    searches = {t[len(SEARCH_PREFIX):]: r for t, r in results.items() if t.startswith(SEARCH_PREFIX)}
    by_key = {p.key: row for p, row in zip(points, rows)}
    summary = summarize(points, by_key, searches, grid.axes)
    write_atomic(out / RESULTS_FILE, text)
    write_atomic(out / SUMMARY_FILE, json_text(summary))
    searched = sum(1 for c in calls if c.tag.startswith(SEARCH_PREFIX))
    ran = sum(n for _, n in labels.values())
    return SweepOutcome(rows, summary, ran, len(kept), searched, schedules, plans_reused)


def count_status(rows: Sequence[dict]) -> dict[str, int]:
    """How many rows have each status (ok, invalid, error)."""
    counts = {STATUS_OK: 0, "invalid": 0, STATUS_ERROR: 0}
    for row in rows:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    return counts
