"""Plans shared between sweep points: schedule once, simulate under each point's spec.

Scheduling is most of a point's time (NAFNet on ``edge_npu``: 0.1 to 2 s of scheduling against
40 to 100 ms of simulation and measurement), so points whose plans are provably the same are
scheduled once. Which spec fields the scheduler reads (``hwsim/schedule``, read for this):

* **never**: ``energy.*`` (energy is only measured) and ``dram.channels``, ``dram.turnaround``
  (only the simulator's DMA model reads them). Points that differ only in these share one plan.
* **only for streamed layers**: ``dram.bandwidth``, ``dram.efficiency``, ``dram.latency`` and
  ``clock`` reach the scheduler through one door, ``tiling.Room.transfer`` / ``Room.latency``
  (``schedule/context.py``), which only the choice between one and two tile slots of a
  *streamed* layer reads (``tiling._Shape.time``: a DMA-bound layer keeps fewer, taller
  bands). Whether a layer streams does not depend on them (its own tensors against the SRAM
  size, ``tiling.choose_mode``), and neither do spill and eviction decisions (bytes, not
  cycles), the cascades, the layer order or the compute costs. In layer execution the
  scheduler builds one set of layer modes, so a plan with no streamed layer is the plan of
  every DRAM bandwidth, efficiency, latency and clock: it is shared. In cascade execution
  ``schedule`` may also walk the layers without cascades and keep whichever moves fewer
  DRAM bytes, and the walk it dropped may have streamed: a cascade plan is shared only when
  it has cascades, no streamed layer and no spill (then no other walk was tried, or only
  the same layers at finer stripes, whose modes the plan shows). Any other plan is not
  shared: each such point is scheduled again (:func:`shareable`).
* **always**: everything else (``sram.*``, ``compute.*``, ``datatype.*``, ``policy.*``,
  ``name``, which the plan carries): these are in the key of a plan group.

A failed schedule (a UserError: the SRAM cannot hold one tile) or an internal error is
not shared across DRAM/clock values either (it may come after a streamed layer): each such
point is scheduled on its own, and gets its own row. With ``share=False`` every point is
scheduled (what ``tests/sweep/test_share.py`` compares byte for byte).

This is the same split as Timeloop's mapper and model (a mapping is searched once; energy
tables are applied after) and Stream's, where the cost model's energy figures do not enter
the scheduling: there, as here, bandwidth can change decisions and is not shared blindly.
Arm Vela schedules per configuration: it has no sweep.
"""

from __future__ import annotations

from typing import Any, Sequence

from hwsim.errors import UserError
from hwsim.graph.ir import Graph
from hwsim.spec import AcceleratorSpec
from hwsim.sweep.grid import Point
from hwsim.sweep.run import STATUS_ERROR, STATUS_INVALID, STATUS_OK, metric_cells, point_spec

NEVER_READ = ("energy.", "dram.channels", "dram.turnaround")
"""Spec fields (or prefixes) the scheduler never reads."""
STREAMED_ONLY = ("dram.bandwidth", "dram.efficiency", "dram.latency", "clock")
"""Spec fields the scheduler reads only for the tile slots of streamed layers."""


def _matches(name: str, fields: Sequence[str]) -> bool:
    return any(name == f or (f.endswith(".") and name.startswith(f)) for f in fields)


def plan_group(point: Point) -> str:
    """Points of one plan group may share a plan (module docstring): same graph, same value of
    every axis the scheduler always reads."""
    kept = tuple((n, v) for n, v in point.values if not _matches(n, NEVER_READ + STREAMED_ONLY))
    return Point(point.graph, kept).key


def timing_group(point: Point) -> tuple:
    """Inside a plan group: the values of the axes read for streamed layers only."""
    return tuple((n, v) for n, v in point.values if _matches(n, STREAMED_ONLY))


def shareable(plan) -> bool:
    """Whether ``plan`` is provably the plan of every value of the STREAMED_ONLY fields
    (module docstring)."""
    if any(layer.streamed for layer in plan.layers):
        return False
    if plan.execution == "layer":
        return True
    spilled = any(c.traffic in ("spill_write", "spill_read") for c in plan.commands)
    return bool(plan.cascades) and not spilled


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


def _plan(graph: Graph, spec: AcceleratorSpec):
    """The planned graph, or the row of a point whose schedule failed."""
    from hwsim.pipeline import plan_graph

    try:
        return plan_graph(graph, spec), None
    except Exception as err:  # noqa: BLE001 - UserError: invalid point; else a bug, on its row
        return None, _failed(err)


def run_points(graph: Graph, spec: AcceleratorSpec, points: Sequence[Point], share: bool = True) -> dict[str, dict]:
    """The results rows of ``points`` (one plan group, or any points with ``share=False``) by
    point key: each row is what :func:`hwsim.sweep.run.run_point` gives for it."""
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
            planned, failed = _plan(graph, specs[p.key])
            rows[p.key] = failed or _row(planned, specs[p.key])
        return rows
    if len({plan_group(p) for p in live}) > 1:
        raise ValueError("run_points shares plans within one plan group only")
    by_timing: dict[tuple, list[Point]] = {}
    for p in live:
        by_timing.setdefault(timing_group(p), []).append(p)
    shared = None  # a plan with no streamed layer: every timing group's plan
    for group in by_timing.values():
        planned, failed = shared or _plan(graph, specs[group[0].key])
        if failed is not None:
            for p in group:  # energy-only siblings: the same schedule, the same failure
                rows[p.key] = dict(failed)
            continue
        if shared is None and shareable(planned.plan):
            shared = (planned, None)
        for p in group:
            rows[p.key] = _row(planned, specs[p.key])
    return rows
