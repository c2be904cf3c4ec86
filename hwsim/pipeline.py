"""The straight driver: graph -> order -> schedule -> verify -> simulate -> measure, checks in between.

Each stage is a plain function of the previous stage's output (DESIGN.md, "The pipeline").
A user's mistake (a bad file, a bad ``--set``) surfaces from the loaders as a
:class:`~hwsim.errors.UserError`; anything that goes wrong after that is a bug in hwsim and
is raised as a RuntimeError naming what broke.
"""

from __future__ import annotations

import os
from typing import NamedTuple, Sequence

from hwsim.errors import UserError
from hwsim.graph.io import load_graph
from hwsim.graph.ir import Graph
from hwsim.graph.widths import effective_spec
from hwsim.measure import Metrics, measure
from hwsim.schedule import schedule, verify_plan
from hwsim.schedule.order import order_layers
from hwsim.schedule.plan import Plan
from hwsim.sim import Trace, simulate
from hwsim.spec import AcceleratorSpec, load_spec, spec_from_dict, spec_to_dict

MAX_LISTED_PROBLEMS = 10


class RunResult(NamedTuple):
    graph: Graph
    spec: AcceleratorSpec
    plan: Plan
    trace: Trace
    metrics: Metrics


def _spec(spec: str | os.PathLike | AcceleratorSpec, overrides: Sequence[str]) -> AcceleratorSpec:
    if isinstance(spec, AcceleratorSpec):
        return spec_from_dict(spec_to_dict(spec), f"spec '{spec.name}'", overrides) if overrides else spec
    return load_spec(spec, overrides)


def _check_plan(plan: Plan, graph: Graph, spec: AcceleratorSpec) -> None:
    problems = list(verify_plan(plan, spec))
    if problems:
        more = len(problems) - MAX_LISTED_PROBLEMS
        listed = "; ".join(map(str, problems[:MAX_LISTED_PROBLEMS])) + (f"; and {more} more" if more > 0 else "")
        raise RuntimeError(f"the scheduler made an invalid plan for {graph.name!r} on {spec.name!r} "
                           f"({len(problems)} problems): {listed}")
    if len(plan.layers) != len(graph.layers):
        raise RuntimeError(f"plan has {len(plan.layers)} layers, graph {graph.name!r} has {len(graph.layers)}")


def _check_trace(trace: Trace, plan: Plan) -> None:
    if len(trace.events) != len(plan.commands):
        raise RuntimeError(f"trace has {len(trace.events)} events for {len(plan.commands)} plan commands")


def _check_metrics(metrics: Metrics) -> None:
    if metrics.latency_cycles < metrics.bounds.roofline_cycles:
        raise RuntimeError(f"simulated latency {metrics.latency_cycles} cycles is below the roofline "
                           f"bound {metrics.bounds.roofline_cycles}: the simulator is too optimistic")


def require_host(graph: Graph, spec: AcceleratorSpec, spec_file: str) -> None:
    """A UserError at ``spec_file``'s ``host`` field when ``graph`` has host ops and the spec no
    host section (before any work)."""
    from hwsim.schedule.host_run import host_cycles

    try:
        host_cycles(graph, spec)
    except UserError as exc:
        raise UserError(exc.what, f"{spec_file}: host") from None


class Planned(NamedTuple):
    """The first half of :func:`run`: the graph in the order used, its plan (verified), and the
    order's summary. A plan depends only on the spec fields the scheduler reads
    (``hwsim.sweep.share`` says which), so a sweep simulates one plan under several specs."""

    graph: Graph
    spec: AcceleratorSpec
    plan: Plan
    order_summary: object


def plan_graph(graph: Graph, spec: AcceleratorSpec, where: str | None = None, guards: list | None = None) -> Planned:
    """Order, schedule and verify ``graph`` on ``spec`` (UserError when the SRAM cannot hold one
    tile of some layer, located at ``where``). A graph that carries its file's bit-widths is
    planned at them unless ``datatype.widths`` is ``spec`` (``hwsim.graph.widths``). ``guards``:
    a list receiving the schedule's reads of DRAM timing (``hwsim.schedule.guards``), for a
    sweep that shares the plan."""
    spec = effective_spec(graph, spec)
    ordering = order_layers(graph, spec)  # policy.order: the graph with its layers in the order used
    graph = ordering.graph
    try:
        plan = schedule(graph, spec, guards=guards)
    except UserError as exc:  # the SRAM cannot hold one tile of some layer: a problem of the spec
        if exc.where == "host":  # host ops and no host section: the spec file's field
            spec_file = where.rpartition(": ")[0] if where else f"spec '{spec.name}'"
            raise UserError(exc.what, f"{spec_file}: host") from None
        raise UserError(exc.what, exc.where or where) from None
    _check_plan(plan, graph, spec)
    return Planned(graph, spec, plan, ordering.summary)


def simulate_plan(planned: Planned, spec: AcceleratorSpec) -> RunResult:
    """Simulate and measure a plan on ``spec`` (``planned.spec`` itself, or one that differs from
    it only in fields the scheduler does not read: the caller's promise)."""
    spec = effective_spec(planned.graph, spec)
    plan = planned.plan
    trace = simulate(plan, spec)
    _check_trace(trace, plan)
    metrics = measure(trace, plan, spec, planned.graph, planned.order_summary)
    _check_metrics(metrics)
    return RunResult(planned.graph, spec, plan, trace, metrics)


def run(graph: str | os.PathLike | Graph, spec: str | os.PathLike | AcceleratorSpec,
        overrides: Sequence[str] = ()) -> RunResult:
    """Load, schedule, verify, simulate and measure one graph on one accelerator.

    ``graph`` and ``spec`` are file paths or already-built objects; ``overrides`` are
    ``KEY=VALUE`` strings applied to the spec (``sram.size=256KiB``). The result's graph has
    its layers in the order ``policy.order`` chose (the one the plan's steps follow).
    """
    where = None if isinstance(spec, AcceleratorSpec) else f"{spec}: sram.size"
    graph = graph if isinstance(graph, Graph) else load_graph(graph)
    spec = _spec(spec, overrides)
    return simulate_plan(plan_graph(graph, spec, where), spec)
