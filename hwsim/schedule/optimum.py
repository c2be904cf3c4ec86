"""The least DRAM traffic any spill policy could reach: an integer program, and its LP bound.

The walk (``scheduler``) fixes the order, how every layer runs (its mode: whole, in weight
chunks, streamed in bands, a cascade) and so what each step needs resident; a spill policy
only chooses which resident storages to evict when room is short. :func:`spill_problem`
states that choice exactly as the walk's class of schedules allows it, and :func:`solve`
finds its optimum with SciPy's ``milp`` (HiGHS):

* **Capacity, in bytes, no addresses.** At every step, the storages the step touches
  (``Context.storages``), its fixed region (its weight block when weights share the SRAM; a
  streamed layer's tile arena; a cascade's rolling buffers and weights) and every storage
  kept across the step must fit the SRAM (sizes aligned as the allocator aligns them).
  Fragmentation is not modelled: a placed plan can only need more.
* **Decisions.** For every storage and every gap between two consecutive steps that touch it
  with at least one step in between, ``keep`` (1: resident through the gap; 0: evicted in it,
  back by the next touch). An evicted storage loses every piece it holds.
* **Traffic.** A piece is loaded when a step reads it resident and it has not been present
  since its last read or write (some gap since was not kept), or it was never in SRAM (the
  network input, a tensor a streamed layer wrote in bands); a piece a layer wrote in SRAM is
  stored once if it is evicted while read later, or if a streamed layer later reads it from
  DRAM, or if it is a graph output (drained). Weights and the band traffic of streamed layers
  do not depend on the decisions and are left out: the objective is the bytes of the plan's
  loads and stores other than weights (its ``tiles`` commands' bands excluded).

Every plan the walk makes, under any policy, is a feasible point of this program with the
same or more traffic (the walk may evict a storage in the middle of a gap, and it may have
to evict more when no hole is large enough), so the optimum bounds every policy from below;
:func:`plan_spill_bytes` gives a plan's figure to compare. The LP relaxation (keep, stores
and loads between 0 and 1) bounds the optimum from below in a fraction of the time. When the
solver stops at its time limit, the result carries its incumbent, bound and gap, never a
claimed optimum.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from typing import Callable

import numpy as np

from hwsim.schedule.context import Context
from hwsim.schedule.plan import Plan, SpillBounds
from hwsim.schedule.storage import live_piece_peak


@dataclass(frozen=True)
class Gap:
    """Storage ``storage`` between touches at ``after`` and ``before`` (steps strictly between)."""

    storage: str
    after: int
    before: int
    nbytes: int


@dataclass(frozen=True)
class SpillProblem:
    gaps: tuple[Gap, ...]
    # per step: bytes that must be resident (touched storages + the fixed region), and the gaps
    # that span it (indices into ``gaps``)
    required: tuple[int, ...]
    spans: tuple[tuple[int, ...], ...]
    capacity: int
    # one-of constraints: (bytes, gaps): that many bytes are moved unless every gap is kept
    # (a load, or a store, of one piece)
    charges: tuple[tuple[int, tuple[int, ...]], ...]
    forced_bytes: int  # loads and stores no decision avoids
    infeasible_steps: tuple[int, ...]  # steps whose required bytes alone exceed the SRAM
    # bytes left free for the placement (``solved``): the same at every step (an int), or one
    # per step (``local_margins``); a step keeps at most ``capacity - margin`` bytes resident,
    # or only what it requires if that is more
    margin: int | tuple[int, ...] = 0

    def room(self, t: int) -> int:
        """Bytes of kept storages step ``t`` has room for."""
        margin = self.margin if isinstance(self.margin, int) else self.margin[t]
        return max(self.capacity - margin - self.required[t], 0) if margin else self.capacity - self.required[t]

    def rooms(self) -> list[int]:
        """``room(t)`` of every step, in order."""
        capacity, margin = self.capacity, self.margin
        if isinstance(margin, int):
            return [max(capacity - margin - r, 0) if margin else capacity - r for r in self.required]
        return [max(capacity - m - r, 0) if m else capacity - r for m, r in zip(margin, self.required)]

    def resident(self, t: int, keep: tuple[bool, ...]) -> int:
        """Bytes resident at step ``t`` in the solution ``keep``: what it requires and the gaps kept across it."""
        return self.required[t] + sum(self.gaps[i].nbytes for i in self.spans[t] if keep[i])


@dataclass(frozen=True)
class SpillOptimum:
    """``bytes``: the best traffic found (None if none); ``bound``: no schedule moves less;
    ``optimal``: proven (``gap_pct`` 0)."""

    bytes: int | None
    bound: int
    optimal: bool
    status: str
    seconds: float
    variables: int
    keep: tuple[bool, ...] = ()  # per gap of the problem, in the best solution found

    @property
    def gap_pct(self) -> float | None:
        if self.bytes is None:
            return None
        return 0.0 if self.bytes == self.bound else 100.0 * (self.bytes - self.bound) / max(self.bytes, 1)


def spill_problem(ctx: Context) -> SpillProblem:
    """The spill decisions of ``ctx``'s walk as an integer program (the module docstring)."""
    layout, spec = ctx.layout, ctx.spec
    aligned = spec.sram.aligned
    shared = not spec.sram.separate_weights
    steps = [t for t in range(len(ctx.modes)) if t not in ctx.inside and t not in layout.alias_layers]
    touches: dict[str, list[int]] = {}
    required = [0] * len(ctx.modes)
    key = f"_aligned_{spec.sram.alignment_bytes}"  # storage bytes aligned: the same in every context of a layout
    size = layout.__dict__.get(key)
    if size is None:
        size = layout.__dict__[key] = {
            s: aligned(storage.nbytes) for s, storage in layout.storages.items()}
    for t in steps:
        for s in ctx.storages[t]:
            touches.setdefault(s, []).append(t)
            required[t] += size[s]
        required[t] += _fixed(ctx, t, aligned, shared)
    gaps: list[Gap] = []
    gaps_of: dict[str, list[int]] = {}
    spans: list[list[int]] = [[] for _ in ctx.modes]
    for s, ts in touches.items():
        for a, b in zip(ts, ts[1:]):
            if b - a > 1:
                gaps_of.setdefault(s, []).append(len(gaps))
                for u in range(a + 1, b):
                    spans[u].append(len(gaps))
                gaps.append(Gap(s, a, b, size[s]))

    def between(s: str, lo: int, hi: int) -> tuple[int, ...]:
        """The gaps of ``s`` that start at or after step ``lo`` and end at or before ``hi``."""
        return tuple(i for i in gaps_of.get(s, ()) if gaps[i].after >= lo and gaps[i].before <= hi)

    charges: list[tuple[int, tuple[int, ...]]] = []
    forced = 0
    last_present: dict[str, int] = {}  # piece -> the step it was last read or written in SRAM
    written: dict[str, int] = {}  # piece -> the step a layer wrote it in SRAM
    band_read_after: dict[str, bool] = {}
    last_read: dict[str, int] = {}  # piece -> the last step reading it (resident or in bands)
    for t in steps:
        mode = ctx.modes[t]
        for n in mode.band_reads:
            for p in layout.covers[n]:
                last_read[p] = t
                if p in written:
                    band_read_after[p] = True
        for p in mode.resident_reads:
            last_read[p] = t
            nbytes = layout.piece_bytes[p]
            if p not in last_present:
                forced += nbytes  # never in SRAM yet: the network input, or sent out in bands
            elif layout.storage_of[p] in gaps_of:  # (a storage with no gap is present all along: no charge)
                charges.append((nbytes, between(layout.storage_of[p], last_present[p], t)))
            last_present[p] = t
        for p in mode.resident_writes:
            written[p] = t
            last_present[p] = t
        for n in mode.band_writes:
            for p in layout.covers[n]:
                last_present.pop(p, None)
    for p, w in written.items():
        nbytes = layout.piece_bytes[p]
        if p in ctx.outputs or band_read_after.get(p):
            forced += nbytes
            continue
        last = last_read.get(p, w)
        s = layout.storage_of[p]
        if last > w and s in gaps_of:
            charges.append((nbytes, tuple(i for i in gaps_of[s] if w <= gaps[i].after < last)))
    charges = [(n, gs) for n, gs in charges if n and gs]  # no gap between: present all along
    capacity = spec.sram.size_bytes
    return SpillProblem(tuple(gaps), tuple(required), tuple(tuple(s) for s in spans), capacity, tuple(charges),
                        forced, tuple(t for t in steps if required[t] > capacity))


def _fixed(ctx: Context, t: int, aligned, shared: bool) -> int:
    """Bytes step ``t`` reserves beside its storages: its weight block (shared SRAM), a
    streamed layer's tile arena, a cascade's rolling buffers."""
    mode = ctx.modes[t]
    weights = mode.weight_region if shared and mode.chunks else 0
    if mode.streamed:
        tiles = sum(mode.slots * aligned(mode.tile_bytes[n]) for n in mode.band_reads + mode.band_writes
                    if mode.tile_bytes[n])
        return aligned(tiles + weights) if tiles + weights else 0
    if ctx.cascade_at and t in ctx.cascade_at and ctx.cascade_at[t].arena_bytes:
        return weights + aligned(ctx.cascade_at[t].arena_bytes)
    return weights


EXHAUSTIVE_GAPS = 12  # at most this many gaps left to decide: every keep vector is tried (solve)


def solve(problem: SpillProblem, *, relax: bool = False, time_limit: float = 60.0,
          exhaustive: int = EXHAUSTIVE_GAPS) -> SpillOptimum:
    """The least traffic of ``problem`` (``relax``: its LP relaxation, a bound only).

    Only the steps where keeping every gap across them would overfill the SRAM (*binding*)
    constrain anything: a gap spanning none of them is kept outright (keeping it breaks no
    capacity and can only save charges, so neither the optimum nor the LP bound changes), and
    the solver gets the rest. NAFNet at 8 MiB, layer mode: 20 binding steps of 410, and 9 gaps
    and 17 charges of 145 and 289 left to the solver, which then takes a quarter of the time
    (most of it was building the program and SciPy's wrapper reading it).

    When at most ``exhaustive`` gaps are left, every one of their keep vectors is tried first
    (:func:`_every_keep`; 2^9 = 512 on NAFNet at 8 MiB). That least is the optimum; it is
    returned only when one keep vector alone reaches it, so that the result is the one the
    integer program has (its only optimum; HiGHS may stop within its default relative gap,
    1e-4, of it, which on every program compared it did not). With ties, or no feasible
    vector, the integer program decides as before."""
    import time

    if problem.infeasible_steps:
        raise ValueError(f"steps {problem.infeasible_steps[:3]} need more than the SRAM on their own")
    n_gaps, n_charges = len(problem.gaps), len(problem.charges)
    n = n_gaps + n_charges
    start = time.process_time()
    if n == 0:
        return SpillOptimum(problem.forced_bytes, problem.forced_bytes, True, "no decision", 0.0, 0)
    across = [0] * (len(problem.spans) + 1)  # bytes of the gaps spanning each step, as changes
    for gap in problem.gaps:
        across[gap.after + 1] += gap.nbytes
        across[gap.before] -= gap.nbytes
    rooms = problem.rooms()
    binding = [t for t, held in enumerate(itertools.accumulate(across[:-1])) if held > rooms[t]]
    if not binding:  # keeping every storage through every gap fits: no charge is paid, nothing can do better
        return SpillOptimum(problem.forced_bytes, problem.forced_bytes, True, "everything kept fits",
                            time.process_time() - start, n, (True,) * n_gaps)
    from scipy.optimize import Bounds, LinearConstraint, milp
    from scipy.sparse import coo_matrix

    # Kept for free: a gap spanning no binding step (keeping it never breaks a capacity). The
    # program is over the others (``free``) and the charges that name one of them.
    free = sorted({i for t in binding for i in problem.spans[t]})
    column = {g: j for j, g in enumerate(free)}
    charges = [(nbytes, [column[i] for i in gaps if i in column]) for nbytes, gaps in problem.charges]
    charges = [(nbytes, cols) for nbytes, cols in charges if cols]
    n_free = len(free)
    if not relax and n_free <= exhaustive:
        chosen = _every_keep(problem, binding, rooms, column, charges)
        if chosen is not None:
            least, kept = chosen
            keep = [True] * n_gaps
            for g, k in zip(free, kept):
                keep[g] = k
            found = problem.forced_bytes + least
            return SpillOptimum(found, found, True, "optimal", time.process_time() - start, n, tuple(keep))
    size = n_free + len(charges)
    # variables: keep[g] (g < n_free), then moved[c] for each charge; minimise bytes of charges
    cost = np.zeros(size)
    cost[n_free:] = [nbytes for nbytes, _ in charges]
    rows, cols, vals, lo, hi = [], [], [], [], []
    for r, t in enumerate(binding):  # capacity: sum(keep * bytes) <= room left at t
        for i in problem.spans[t]:
            rows.append(r), cols.append(column[i]), vals.append(problem.gaps[i].nbytes)
        lo.append(-np.inf), hi.append(rooms[t])
    r = len(binding)
    for c, (_, gaps) in enumerate(charges):  # moved[c] + keep[g] >= 1 for each gap g
        for j in gaps:
            rows += [r, r]
            cols += [n_free + c, j]
            vals += [1, 1]
            lo.append(1), hi.append(np.inf)
            r += 1
    matrix = coo_matrix((vals, (rows, cols)), shape=(r, size)).tocsr()
    result = milp(cost, constraints=LinearConstraint(matrix, lo, hi), bounds=Bounds(0, 1),
                  integrality=np.zeros(size) if relax else np.ones(size),
                  options={"time_limit": time_limit, "disp": False, "presolve": True})
    seconds = time.process_time() - start
    forced = problem.forced_bytes
    if relax:
        if result.status != 0:
            raise RuntimeError(f"the LP relaxation did not solve: {result.message}")
        bound = forced + int(np.ceil(result.fun - 1e-6))
        return SpillOptimum(None, bound, False, "lp", seconds, n)
    if result.x is None:
        bound = forced + int(np.ceil(getattr(result, "mip_dual_bound", 0) or 0))
        return SpillOptimum(None, bound, False, result.message, seconds, n)
    found = forced + int(round(result.fun))
    dual = getattr(result, "mip_dual_bound", None)
    bound = found if result.status == 0 else forced + int(np.ceil((dual or 0) - 1e-6))
    keep = [True] * n_gaps
    for g, x in zip(free, result.x[:n_free]):
        keep[g] = bool(round(x))
    keep = tuple(keep)
    return SpillOptimum(found, min(bound, found), result.status == 0, "optimal" if result.status == 0
                        else result.message, seconds, n, keep)


def _every_keep(problem: SpillProblem, binding: list[int], rooms: list[int], column: dict[int, int],
                charges: list[tuple[int, list[int]]]) -> tuple[int, tuple[bool, ...]] | None:
    """(least charges, the keep vector reaching it) over every keep vector of the gaps left to
    decide (``column``: gap -> its place in the vector; the others are kept): a vector is
    feasible when the kept gaps spanning each binding step fit its room (``rooms``, by step),
    and pays each charge with a gap not kept (``charges``: bytes and columns). None when no
    vector is feasible or two reach the least."""
    n = len(column)
    vectors = (np.arange(1 << n)[:, None] >> np.arange(n)) & 1  # row v: gap j kept when bit j of v is set
    held = np.zeros((len(binding), n), dtype=np.int64)
    for r, t in enumerate(binding):
        for i in problem.spans[t]:
            held[r, column[i]] = problem.gaps[i].nbytes
    room = np.array([rooms[t] for t in binding], dtype=np.int64)
    feasible = ((vectors @ held.T) <= room).all(axis=1)
    if not feasible.any():
        return None
    cost = np.zeros(1 << n, dtype=np.int64)
    for nbytes, cols in charges:  # paid unless every gap it names is kept
        cost += nbytes * (vectors[:, cols].min(axis=1) == 0)
    least = int(cost[feasible].min())
    best = np.flatnonzero(feasible & (cost == least))
    if len(best) != 1:
        return None
    return least, tuple(bool(b) for b in vectors[best[0]])


def out_of_sram(problem: SpillProblem, found: SpillOptimum) -> tuple[Callable[[int], frozenset[str]],
                                                                     Callable[[int], tuple[str, ...]]]:
    """Two maps of the solution ``found`` (its gaps not kept): step -> the storages out of SRAM
    then, and step -> the storages that leave SRAM then (the first step of their gap), in name
    order (the walk evicts them in that order: a set's order would vary with the hash seed)."""
    out: dict[int, set[str]] = {}
    leave: dict[int, set[str]] = {}
    for gap, kept in zip(problem.gaps, found.keep):
        if not kept:
            leave.setdefault(gap.after + 1, set()).add(gap.storage)
            for u in range(gap.after + 1, gap.before):
                out.setdefault(u, set()).add(gap.storage)
    frozen_out = {u: frozenset(s) for u, s in out.items()}
    frozen_leave = {u: tuple(sorted(s)) for u, s in leave.items()}
    return (lambda step: frozen_out.get(step, frozenset())), (lambda step: frozen_leave.get(step, ()))


def local_margins(problem: SpillProblem, found: SpillOptimum, over: dict[int, int]) -> tuple[int, ...]:
    """Per-step margins (``SpillProblem.margin``) that ask the solution ``found`` of ``problem``
    to keep ``over[t]`` bytes fewer resident at each step ``t`` where the packing of its walk's
    blocks reached that far above the SRAM (``Reservations.overflow``):
    ``margin[t] = capacity - (resident[t] - over[t])``, never below ``problem``'s margin at
    ``t`` (margins only grow, so that retries do not cycle), and the margin unchanged at
    every other step. A uniform margin leaves the same bytes free at every step and pays
    traffic wherever it binds; these bind only where the packing failed. Where a step keeps
    nothing it can evict (its required bytes alone overshoot), the margin cannot help there:
    it binds at the neighbouring steps the overflowing blocks live in."""
    margins = []
    for t in range(len(problem.required)):
        margin = problem.margin if isinstance(problem.margin, int) else problem.margin[t]
        if t in over:
            margin = max(margin, problem.capacity - problem.resident(t, found.keep) + over[t])
        margins.append(margin)
    return tuple(margins)


_SOLVED: dict[tuple[int, int | tuple[int, ...]], tuple[Context, SpillProblem, SpillOptimum]] = {}  # the last few


def solved(ctx: Context, margin: int | tuple[int, ...] = 0) -> tuple[SpillProblem, SpillOptimum | None]:
    """``ctx``'s spill problem (with ``margin`` bytes left free at every step that can leave
    them, or ``margin[t]`` at step ``t``, for a placement that fragments:
    ``SpillProblem.margin``) and its integer program's
    result within the spec's time limit (None when a step alone exceeds the SRAM in the
    model), solved once per context and margin: the ``optimal`` policy and the plan's bounds
    (margin 0) share it."""
    hit = _SOLVED.get((id(ctx), margin))
    if hit is not None and hit[0] is ctx:
        return hit[1], hit[2]
    problem = replace(solved(ctx)[0], margin=margin) if margin else spill_problem(ctx)
    found = None if problem.infeasible_steps else solve(problem, time_limit=ctx.spec.policy.solver_seconds)
    while len(_SOLVED) >= 8:  # the oldest with a margin first: margin 0 is asked again (the plan's bounds)
        del _SOLVED[next((key for key in _SOLVED if key[1]), next(iter(_SOLVED)))]
    _SOLVED[(id(ctx), margin)] = (ctx, problem, found)
    return problem, found


def spill_bounds(ctx: Context) -> SpillBounds:
    """The integer program's result for ``ctx`` and, when it is not proven optimal, the LP
    relaxation's bound (the module docstring)."""
    problem, best = solved(ctx)
    if best is None:  # the walk placed those steps, so the model is wrong there: say so, bound nothing
        names = ", ".join(ctx.graph.layers[t].name for t in problem.infeasible_steps[:3])
        return SpillBounds(None, None, 0, False, 0.0, f"not computed: {names} exceed the SRAM in the spill model")
    lp = None if best.optimal else solve(problem, relax=True, time_limit=ctx.spec.policy.solver_seconds)
    bound = best.bound if lp is None else max(best.bound, lp.bound)
    peak = live_piece_peak(ctx.graph, ctx.spec) if not ctx.cascades else None
    return SpillBounds(None if lp is None else lp.bound, best.bytes, bound, best.optimal,
                       best.seconds + (lp.seconds if lp else 0.0), best.status, peak)


def plan_spill_bytes(plan: Plan) -> int:
    """The plan's figure the optimum bounds: bytes of its loads and stores other than weights."""
    return plan.decided_bytes()


def optimum_decisions(ctx: Context, margin: int | tuple[int, ...] = 0):
    """Notes, and (step -> the storages out of SRAM then, step -> those that leave it then) of
    the spill program's best solution (``optimum``) within the spec's time limit (policy
    ``optimal``): the walk evicts the latter at the start of each step, and picks among the
    former first when it must evict more. ``margin``: solved with that many bytes left free
    (``SpillProblem.margin``)."""
    problem, found = solved(ctx, margin)
    if found is None:
        return ("spill policy 'optimal': a step needs more than the SRAM in the spill model; evictions by Belady",), None
    out = out_of_sram(problem, found)
    if found.bytes is None:
        return ((f"spill policy 'optimal': the solver found no solution in {found.seconds:.1f} s "
                 f"({found.status}); evictions by Belady"),), None
    what = "the optimum" if found.optimal else \
        f"the best found in {found.seconds:.1f} s (bound {found.bound:,} B, gap {found.gap_pct:.1f} %)"
    if isinstance(margin, tuple):
        steps = sum(1 for m in margin if m)
        program = f"the spill program with bytes left free at {steps} step{'s' * (steps != 1)}" if steps \
            else "the spill program"
    else:
        program = f"the spill program with {margin:,} B left free per step" if margin else "the spill program"
    return ((f"spill policy 'optimal': evicts what {what} of {program} evicts: {found.bytes:,} B of "
             f"loads and stores besides weights, without addresses"),), out
