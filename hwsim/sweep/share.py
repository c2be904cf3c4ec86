"""Plans shared between sweep points: schedule once, simulate under each point's spec.

Scheduling is most of a point's time (NAFNet on ``edge_npu``: 0.1 to 1.2 s of scheduling against
40 to 300 ms of simulation and measurement), so points whose plans are provably the same are
scheduled once. Which spec fields the scheduler reads:

* **never**: ``energy.*`` (energy is only measured) and ``dram.channels``, ``dram.turnaround``
  (only the simulator's DMA model reads them). Points that differ only in these share one plan.
* **through guards**: ``dram.bandwidth``, ``dram.efficiency``, ``dram.latency`` and ``clock``
  (:data:`TIMING`). Points of one plan group that differ in these share a plan when every
  recorded read of them comes out the same (below).
* **always**: everything else (``sram.*``, ``compute.*``, ``datatype.*``, ``policy.*``,
  ``host.*``, ``name``, which the plan carries): these are in the key of a plan group.

**Every read of the timing fields, and how that was established.** ``grep -rn`` over
``hwsim/schedule`` (and ``hwsim/pipeline.py``'s ``plan_graph``, ``hwsim/graph/widths.py``)
for ``spec.dram``, ``.dram.``, ``clock``, ``bandwidth``, ``efficiency``, ``latency``,
``.transfer`` and every ``AcceleratorSpec`` method that reads them (``dram_transfer_cycles``,
``dram_latency_cycles``, ``dram_turnaround_cycles``, ``dram_bytes_per_cycle``,
``host_cycles``, ``cycles_to_seconds``, ``peak_ops_per_s``, ``sram_leakage_pj_per_cycle``)
finds three reads, and no memo key built from a whole spec (each ``Graph.memo`` key names its
fields: none of these):

1. ``context.build_context`` puts ``spec.dram_transfer_cycles`` and ``spec.dram_latency_cycles()``
   in ``tiling.Room`` (``transfer``, ``latency``), and the only reader of those two is
   ``guards.layer_time``, called by ``guards.two_slots`` alone: a streamed layer's choice
   between one and two tile slots. The schedule records each such comparison
   (``hwsim.schedule.guards.SlotGuard``: its integer ingredients and outcome), in every
   context it builds: the first, the placement's margin retries (``scheduler._placed``) and,
   in cascade mode, the layer-by-layer walk (stripes made finer reuse the first context's
   modes). Whether a layer streams does not read them (its own tensors against the SRAM size,
   ``tiling.choose_mode``), nor do spill and eviction decisions (bytes), the cascades, the
   order or the compute costs.
2. ``host_run.host_cycles`` reads ``spec.host_cycles`` (``per_op + ops / ops_per_second`` at
   the clock): not a decision but a figure the plan carries (``Plan.hosts``, the ``host``
   commands). A plan with host ops is reused only where its host cycles are the point's own.
3. The ``policy.solver_seconds`` and placement time limits read the wall clock, not the spec:
   a plan whose exact packing stopped at its limit says so in its notes, and may differ from
   run to run whether shared or not. The spill solver's time (``Plan.spill_bounds.seconds``)
   is a measurement the plan carries, different at every run; no results.csv column holds it.

**Why a plan whose guards hold is the point's own plan.** The scheduler is a deterministic
function of the graph and the spec (no randomness; the time limits of 3. aside), and reads the
timing fields only at those comparisons. Run it on a point's spec B, where a plan was made on
spec A of the same plan group: it computes the same state as on A up to the first timing read
(nothing before it differs), and that read compares the same integer ingredients, so if it
comes out as on A, the run goes on identically to the next one; by induction, if every
comparison recorded on A comes out the same on B (:func:`hwsim.schedule.guards.all_hold`,
re-evaluating with B's ``dram_transfer_cycles`` and ``dram_latency_cycles``, the scheduler's
own integer arithmetic, so a tie goes the same way), the run on B makes exactly the comparisons
of A with the same outcomes and ends in the same plan (or the same failure). A comparison that
flips may change everything after it, so that point is scheduled again (and its plan, with its
own guards, offered to the next). A plan with no streamed layer has no guard: it is the plan of
every bandwidth, efficiency, latency and clock. ``tests/sweep/test_share.py`` checks it
directly (plans scheduled at each bandwidth against the guards' verdict) and byte for byte
(a sweep with ``share=False``); ``experiments/share_guards_nafnet.py`` on NAFNet.

A failed schedule (a UserError: the SRAM cannot hold one tile) is shared the same way (its
guards are those made before it failed); an internal error is shared only with the points
that differ from it in energy alone.

**Measured** (``experiments/bench_sweep.py --points 100 --jobs 2``: 96 points of issue 17's
NAFNet grid, 24 plan groups of 4 bandwidths): 36 schedules (60 bandwidth settings took a plan
made at another) where sharing only plans without a streamed layer made 78; 540-587 ms of CPU
per point against 1,010-1,069 ms at commit eb36e8f, 338 ms against 584 ms (``--no-share``) with
the faster walk of 652438b, so the 10,008-point grid takes about 28 min on two idle cores, 6x
the issue's 5 minutes. What is left (``experiments/sweep_cost_breakdown.py``, 306 ms a point):
scheduling 61 % (about 0.6 s per NAFNet plan below 1 MiB of SRAM, where guards flip between some
of the four bandwidths, so two or three of them are scheduled), simulation 20 % and measurement
13 % (needed at every bandwidth: they are its timing). On NAFNet the guards are exact: over 80
pairs of plans made at the four bandwidths they held exactly where the plans were equal
(``experiments/share_guards_nafnet.py``).

This is the same split as Timeloop's mapper and model (a mapping is searched once; energy
tables are applied after) and Stream's, where the cost model's energy figures do not enter
the scheduling while its latencies do, so a new bandwidth is a new schedule there. Arm Vela
schedules per configuration: it has no sweep.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Sequence

from hwsim.errors import UserError
from hwsim.gc_pause import paused
from hwsim.graph.ir import Graph
from hwsim.schedule.guards import all_hold
from hwsim.schedule.tiling import remembered_shapes
from hwsim.spec import AcceleratorSpec
from hwsim.sweep.grid import Point
from hwsim.sweep.run import STATUS_ERROR, STATUS_INVALID, STATUS_OK, metric_cells, point_spec

NEVER_READ = ("energy.", "dram.channels", "dram.turnaround")
"""Spec fields (or prefixes) the scheduler never reads."""
TIMING = ("dram.bandwidth", "dram.efficiency", "dram.latency", "clock")
"""Spec fields the scheduler reads only through recorded guards (module docstring)."""


class GroupRun(NamedTuple):
    """What :func:`run_points` gives: the rows by point key, and how the plans were had."""

    rows: dict[str, dict]
    schedules: int  # scheduler runs (failed ones included)
    reused: int  # timing settings served by a plan (or failure) made at another one, its guards holding


class _Made(NamedTuple):
    planned: Any  # hwsim.pipeline.Planned, or None when the schedule failed
    failed: dict | None  # the row of a failed schedule
    guards: tuple  # the schedule's reads of DRAM timing (hwsim.schedule.guards.SlotGuard)


def _matches(name: str, fields: Sequence[str]) -> bool:
    return any(name == f or (f.endswith(".") and name.startswith(f)) for f in fields)


def plan_group(point: Point) -> str:
    """Points of one plan group may share a plan (module docstring): same graph, same value of
    every axis the scheduler always reads."""
    kept = tuple((n, v) for n, v in point.values if not _matches(n, NEVER_READ + TIMING))
    return Point(point.graph, kept).key


def timing_group(point: Point) -> tuple:
    """Inside a plan group: the values of the axes read through guards."""
    return tuple((n, v) for n, v in point.values if _matches(n, TIMING))


def reusable(made: _Made, spec: AcceleratorSpec) -> bool:
    """Whether ``made`` (scheduled on another spec of the plan group) is ``spec``'s own schedule:
    every guard holds under ``spec``, the host ops take the same cycles, and a failure is a
    UserError (module docstring)."""
    if made.failed is not None and made.failed["status"] != STATUS_INVALID:
        return False
    if not all_hold(made.guards, spec):
        return False
    hosts = made.planned.plan.hosts if made.planned is not None else ()
    return all(spec.host_cycles(h.ops) == h.cycles for h in hosts)


def _failed(err: Exception) -> dict[str, Any]:
    if isinstance(err, UserError):
        return {"status": STATUS_INVALID, "error": str(err)}
    return {"status": STATUS_ERROR, "error": f"{type(err).__name__}: {err}"}


def _row(planned, spec: AcceleratorSpec) -> dict[str, Any]:
    from hwsim.pipeline import simulate_plan

    try:
        return {"status": STATUS_OK, "error": "", **metric_cells(simulate_plan(planned, spec).metrics)}
    except Exception as err:  # noqa: BLE001 - a bug: recorded on its row, the sweep goes on
        return _failed(err)


def _plan(graph: Graph, spec: AcceleratorSpec) -> _Made:
    """The planned graph and its guards, or the row of a point whose schedule failed."""
    from hwsim.pipeline import plan_graph

    guards: list = []
    try:
        planned = plan_graph(graph, spec, guards=guards)
    except Exception as err:  # noqa: BLE001 - UserError: invalid point; else a bug, on its row
        return _Made(None, _failed(err), tuple(dict.fromkeys(guards)))
    return _Made(planned, None, tuple(dict.fromkeys(guards)))


@paused  # its schedules, simulations and the rows between them (``hwsim.gc_pause``)
def run_points(graph: Graph, spec: AcceleratorSpec, points: Sequence[Point], share: bool = True) -> GroupRun:
    """The results rows of ``points`` (one plan group, or any points with ``share=False``) by
    point key, each what :func:`hwsim.sweep.run.run_point` gives for it, and the counts of
    schedules made and reused."""
    rows: dict[str, dict] = {}
    specs: dict[str, AcceleratorSpec] = {}
    for p in points:
        try:
            specs[p.key] = point_spec(spec, p)
        except UserError as err:
            rows[p.key] = {"status": STATUS_INVALID, "error": str(err)}
    live = [p for p in points if p.key in specs]
    if not share:
        for p in live:
            made = _plan(graph, specs[p.key])
            rows[p.key] = made.failed or _row(made.planned, specs[p.key])
        return GroupRun(rows, len(live), 0)
    if len({plan_group(p) for p in live}) > 1:
        raise ValueError("run_points shares plans within one plan group only")
    with remembered_shapes():  # the group's schedules share their streamed layers' choices
        return _shared(graph, live, specs, rows)


def _shared(graph: Graph, live: list[Point], specs: dict[str, AcceleratorSpec], rows: dict[str, dict]) -> GroupRun:
    """``run_points`` of one plan group's ``live`` points: a plan made for each DRAM timing
    whose guards no plan made so far holds."""
    by_timing: dict[tuple, list[Point]] = {}
    for p in live:
        by_timing.setdefault(timing_group(p), []).append(p)
    made_so_far: list[_Made] = []
    reused = 0
    for group in by_timing.values():
        timing_spec = specs[group[0].key]  # its points differ in fields never read (NEVER_READ)
        made = next((m for m in made_so_far if reusable(m, timing_spec)), None)
        if made is None:
            made = _plan(graph, timing_spec)
            made_so_far.append(made)
        else:
            reused += 1
        for p in group:  # energy-only siblings: the same schedule, the same failure
            rows[p.key] = dict(made.failed) if made.failed is not None else _row(made.planned, specs[p.key])
    return GroupRun(rows, len(made_so_far), reused)
