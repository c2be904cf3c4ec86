"""What measuring needs of a plan alone, worked out once per plan and kept on it.

Every measure used to walk the plan's commands again for figures that do not depend on the
trace: the SRAM high-water mark, the array's SRAM bytes (energy), the roofline's byte sums,
which commands are computes and which transfers, each compute's parts. :class:`PlanFacts`
works them out in one pass over the commands, kept in the plan's memo
(:func:`hwsim.measure.memo.plan_memo`, where why that is sound is written down), so that a
plan measured under several specs (a sweep point's bandwidths) reads them, and a plan measured
once walks its commands once instead of four times. A contradiction met on the way (a compute
reading a buffer no command allocated) is kept and raised by :func:`array_sram_bytes`, where
the figure it breaks is asked for.

Vela and Stream work out the same kind of per-schedule tables once (Vela's
``npu_performance`` walks a finished schedule once per estimate; Stream's cost model caches
per-layer figures); hwsim keeps them beside the plan because one plan is measured several
times.
"""

from __future__ import annotations

from hwsim.measure.memo import plan_memo
from hwsim.measure.sram_bytes import compute_read_bytes, tiles_sram_bytes
from hwsim.schedule.plan import Plan


class PlanFacts:
    """The command tables the trace's measures read (:func:`plan_facts`), made in one pass.

    ``kinds``: every command's kind, by id; ``timeline``: ``(id, kind, layer)`` of the commands
    that occupy the compute engine (compute, host, tiles) in program order, those whose idle
    gaps the stall attribution charges; ``transfers``: the ids of every load, store and tiles
    command in program order; ``parts``: by id, a compute's ``(layer, cycles)`` pieces (its
    parts one after the other, a cascade's, or the command itself), None for other commands;
    ``moved_bytes``: the DRAM bytes of its loads, stores and tiles; ``decided_bytes``: those of
    its loads and stores besides weights (``Plan.decided_bytes``); ``high_water``: the highest
    end address of any SRAM buffer it allocates; ``array_bytes``: the SRAM bytes its compute and
    tiles commands read and write (``hwsim.measure.energy``'s rule; ``array_error``: why it
    could not be worked out, or None); ``tie_rank``: by id, the command's rank among
    dependencies that finished at the same cycle (``n + id`` for a load, store or compute, ``id``
    for a free: the stall attribution's tie rule, ``hwsim.measure.stalls``); ``causes``: command
    id -> the stall cause a wait on it is charged to (filled as the stall attribution asks)."""

    __slots__ = ("kinds", "timeline", "transfers", "parts", "moved_bytes", "decided_bytes", "high_water",
                 "array_bytes", "array_error", "tie_rank", "causes")

    def __init__(self, plan: Plan):
        kinds: list[str] = []
        timeline, transfers = [], []
        parts: list[tuple[tuple[int, int], ...] | None] = []
        moved = decided = high = array = 0
        size_of: dict[str, int] = {}  # buffer name -> size of its latest allocation
        error = None
        for c in plan.commands:
            kind = c.kind
            kinds.append(kind)
            allocs = c.allocs
            for b in allocs:
                size = size_of[b.name] = b.size
                if b.space == "sram" and b.address + size > high:
                    high = b.address + size
            if kind == "compute":
                timeline.append((c.id, kind, c.layer))
                parts.append(tuple((part.layer, part.cycles) for part in c.parts) if c.parts else
                             ((c.layer, c.cycles),))
                if error is None:
                    try:
                        array += compute_read_bytes(c, size_of)
                    except RuntimeError as exc:
                        error = str(exc)
                    for b in allocs:
                        array += b.size
                continue
            parts.append(None)
            if kind == "free":
                continue
            if kind == "host":
                timeline.append((c.id, kind, c.layer))
                continue
            if kind == "tiles":
                timeline.append((c.id, kind, c.layer))
                if error is None:
                    try:
                        array += tiles_sram_bytes(c, size_of)
                    except RuntimeError as exc:
                        error = str(exc)
            if kind in ("load", "store", "tiles"):
                transfers.append(c.id)
                moved += c.dram_bytes
                if kind != "tiles" and c.traffic != "weights":
                    decided += c.dram_bytes
        self.kinds, self.timeline, self.transfers, self.parts = kinds, tuple(timeline), tuple(transfers), parts
        self.moved_bytes, self.decided_bytes, self.high_water = moved, decided, high
        self.array_bytes, self.array_error = array, error
        n = len(kinds)
        self.tie_rank = [i if kind == "free" else n + i for i, kind in enumerate(kinds)]
        self.causes: dict[int, str] = {}


def plan_facts(plan: Plan) -> PlanFacts:
    """The plan's :class:`PlanFacts`, made once per plan."""
    return plan_memo(plan, "facts", PlanFacts)


def array_sram_bytes(plan: Plan) -> int:
    """SRAM bytes the compute commands read (``reads``) and write (``allocs``), by the rule of
    ``hwsim.measure.energy``; RuntimeError if a compute reads a buffer no command allocated."""
    facts = plan_facts(plan)
    if facts.array_error is not None:
        raise RuntimeError(facts.array_error)
    return facts.array_bytes


def layer_names(plan: Plan) -> dict[int, str]:
    """Layer step -> layer name."""
    return plan_memo(plan, "layer_names", lambda p: {layer.index: layer.name for layer in p.layers})
