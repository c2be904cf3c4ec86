"""What measuring needs of a plan alone, worked out once per plan and kept on it.

A sweep point measures one plan under several specs (``hwsim.sweep.share``: the four
bandwidths of a plan group are four traces of the same plan), and every measure used to walk
the plan's commands again for figures that do not depend on the trace: the SRAM high-water
mark, the array's SRAM bytes (energy), the roofline's byte and cycle sums, which commands are
computes and which transfers, each compute's parts. :func:`plan_memo` keeps each such figure
in the plan's own ``__dict__``, as ``Graph.memo`` does for a graph, so the second and later
measures of a plan read them. This is sound because a Plan is immutable (frozen dataclasses
all the way down: commands, buffers, parts, tile runs are tuples of frozen records), so a
figure computed from it once holds for its lifetime; ``dataclasses.replace`` makes a new plan
with no memo. The memo holds plain data only (ints, tuples, lists, dicts of the plan's own
records), never the graph or the spec, so a plan still pickles, and no figure that depends on
them is kept here (those that depend on the graph alone go to ``Graph.memo``). Nothing is
computed until asked for, so a plan that contradicts itself fails where it did before.

Vela and Stream compute the same kind of per-schedule tables once (Vela's
``npu_performance`` walks a finished schedule once per estimate; Stream's cost model caches
per-layer figures); hwsim keeps them beside the plan because one plan is measured several
times.
"""

from __future__ import annotations

from typing import Callable, TypeVar

from hwsim.schedule.plan import Buffer, Plan

T = TypeVar("T")

_MEMO = "_measure_memo"  # the key of the plan's __dict__ holding the memo


def plan_memo(plan: Plan, key: str, compute: Callable[[Plan], T]) -> T:
    """``compute(plan)``, computed once per plan and ``key`` (the module docstring)."""
    cache = plan.__dict__.get(_MEMO)
    if cache is None:
        cache = plan.__dict__.setdefault(_MEMO, {})
    if key in cache:
        return cache[key]
    value = cache[key] = compute(plan)
    return value


def kinds(plan: Plan) -> list[str]:
    """Every command's kind, by id."""
    return plan_memo(plan, "kinds", lambda p: [c.kind for c in p.commands])


def timeline(plan: Plan) -> tuple[tuple[int, str, int], ...]:
    """``(id, kind, layer)`` of the commands that occupy the compute engine (compute, host,
    tiles), in program order: the commands whose idle gaps the stall attribution charges."""
    return plan_memo(plan, "timeline", lambda p: tuple((c.id, c.kind, c.layer) for c in p.commands
                                                       if c.kind in ("compute", "host", "tiles")))


def transfers(plan: Plan) -> tuple[tuple[int, str], ...]:
    """``(id, engine)`` of every load, store and tiles command, in program order."""
    return plan_memo(plan, "transfers", lambda p: tuple((c.id, c.engine) for c in p.commands
                                                        if c.kind in ("load", "store", "tiles")))


def compute_parts(plan: Plan) -> list[tuple[tuple[int, int], ...] | None]:
    """By command id: a compute's ``(layer, cycles)`` pieces (its parts one after the other, a
    cascade's, or the command itself); None for any other command."""
    def build(p: Plan):
        return [tuple((part.layer, part.cycles) for part in c.parts or (c,)) if c.kind == "compute" else None
                for c in p.commands]
    return plan_memo(plan, "compute_parts", build)


def sram_changes(plan: Plan) -> list[tuple[tuple[Buffer, ...], tuple[Buffer, ...]] | None]:
    """By command id: None for a command that allocates and frees nothing (in any space), else
    the SRAM buffers it allocates and those it frees (weight-buffer ones left out)."""
    def build(p: Plan):
        return [None if not (c.allocs or c.frees) else
                (tuple(b for b in c.allocs if b.space == "sram"), tuple(b for b in c.frees if b.space == "sram"))
                for c in p.commands]
    return plan_memo(plan, "sram_changes", build)


def layer_names(plan: Plan) -> dict[int, str]:
    """Layer step -> layer name."""
    return plan_memo(plan, "layer_names", lambda p: {layer.index: layer.name for layer in p.layers})


def dep_order(plan: Plan) -> dict[int, tuple[int, ...]]:
    """Command id -> its deps, a load, store or compute before a free, then the later command
    first: ``max(order, key=ends.__getitem__)`` then picks the dependency that finished last
    with ties broken as ``hwsim.measure.stalls`` breaks them (filled as commands are asked for)."""
    return plan_memo(plan, "dep_order", lambda p: {})
