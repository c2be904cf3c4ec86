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

from hwsim.schedule.plan import Plan

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


class PlanFacts:
    """The command tables the trace's measures read (:func:`plan_facts`), made in one pass.

    ``kinds``: every command's kind, by id; ``timeline``: ``(id, kind, layer)`` of the commands
    that occupy the compute engine (compute, host, tiles) in program order, those whose idle
    gaps the stall attribution charges; ``transfers``: ``(id, engine)`` of every load, store and
    tiles command in program order; ``parts``: by id, a compute's ``(layer, cycles)`` pieces (its
    parts one after the other, a cascade's, or the command itself), None for other commands;
    ``moved_bytes``: the DRAM bytes of its loads, stores and tiles; ``decided_bytes``: those of
    its loads and stores besides weights (``Plan.decided_bytes``); ``high_water``: the highest
    end address of any SRAM buffer it allocates; ``tie_rank``: by id, the command's rank among
    dependencies that finished at the same cycle (``n + id`` for a load, store or compute, ``id``
    for a free: the stall attribution's tie rule, ``hwsim.measure.stalls``); ``causes``: command
    id -> the stall cause a wait on it is charged to (filled as the stall attribution asks)."""

    __slots__ = ("kinds", "timeline", "transfers", "parts", "moved_bytes", "decided_bytes", "high_water",
                 "tie_rank", "causes")

    def __init__(self, plan: Plan):
        kinds: list[str] = []
        timeline, transfers = [], []
        parts: list[tuple[tuple[int, int], ...] | None] = []
        moved = decided = high = 0
        for c in plan.commands:
            kind = c.kind
            kinds.append(kind)
            for b in c.allocs:
                if b.space == "sram" and b.address + b.size > high:
                    high = b.address + b.size
            if kind == "compute":
                timeline.append((c.id, kind, c.layer))
                parts.append(tuple((part.layer, part.cycles) for part in c.parts) if c.parts else
                             ((c.layer, c.cycles),))
                continue
            parts.append(None)
            if kind == "free":
                continue
            if kind == "host":
                timeline.append((c.id, kind, c.layer))
                continue
            if kind == "tiles":
                timeline.append((c.id, kind, c.layer))
            if kind in ("load", "store", "tiles"):
                transfers.append((c.id, c.engine))
                moved += c.dram_bytes
                if kind != "tiles" and c.traffic != "weights":
                    decided += c.dram_bytes
        self.kinds, self.timeline, self.transfers, self.parts = kinds, tuple(timeline), tuple(transfers), parts
        self.moved_bytes, self.decided_bytes, self.high_water = moved, decided, high
        n = len(kinds)
        self.tie_rank = [i if kind == "free" else n + i for i, kind in enumerate(kinds)]
        self.causes: dict[int, str] = {}


def plan_facts(plan: Plan) -> PlanFacts:
    """The plan's :class:`PlanFacts`, made once per plan."""
    return plan_memo(plan, "facts", PlanFacts)


def layer_names(plan: Plan) -> dict[int, str]:
    """Layer step -> layer name."""
    return plan_memo(plan, "layer_names", lambda p: {layer.index: layer.name for layer in p.layers})
