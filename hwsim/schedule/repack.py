"""Walks made again where the packing of the spill optimum's evictions overshoots the SRAM.

The spill program (``optimum``) counts bytes per step, without addresses; the walk evicts
what its optimum evicts, and the offline placement (``placement``) then packs the walk's
blocks into addresses. On the NAFNet and MSCAN graphs (500-700 blocks, the busiest step
within 0.1 % of the SRAM) the greedy packings can overshoot by 1-20 %. The scheduler's
first remedy was a *uniform* margin: bytes left free at every step, the program solved
again; it pays traffic at every step for a problem at a few, and a 131 KiB tensor stored
and read back costs 10 % of NAFNet's optimum at 64x64. :func:`locally` asks only where the
packing failed (``Reservations.overflow``): first it prefetches nothing at those steps
(prefetches are optional: no byte more moves), then it leaves bytes free in the spill
program at those steps only (``optimum.local_margins``), and walks again, up to
``LOCAL_TRIES`` times.

Arm Vela decides in two passes too: which feature maps stay in fast storage is chosen from
their bytes over time (``use_fast_storage_for_feature_maps``: no addresses, as hwsim's spill
program), then its hill-climbing allocator finds addresses. Here the decisions are revisited
at the steps where the addresses did not fit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hwsim.schedule.context import Context
from hwsim.schedule.optimum import SpillOptimum, local_margins, optimum_decisions, solved
from hwsim.schedule.placement import Full

if TYPE_CHECKING:
    from hwsim.schedule.walk import Walk

LOCAL_TRIES = 4  # walks with margins where the packing overshot, for each way of finding those steps


class Tried:
    """The walks that one ``scheduler._placed`` made, so that none is made or packed twice.

    A walk placed offline under policy ``optimal`` is a function of its context, of the
    spill program's solution it evicts by (``SpillOptimum.keep``: a local margin often leaves
    it unchanged) and of its quiet steps (the two ways of finding the steps that overshot
    often find the same); so is its packing of the blocks it reserved (``packings``:
    ``Reservations.place``'s memo, which also serves walks that reserve the same blocks)."""

    def __init__(self) -> None:
        self.walks: dict[tuple, Walk | None] = {}  # (keep, quiet) -> its walk if it did not pack, else None
        self.packings: dict = {}

    def first(self, ctx: Context, walk: Walk) -> None:
        """``walk``, made from the solution of ``ctx``'s program without a margin, did not pack."""
        self.walks[(kept(solved(ctx)[1]), frozenset())] = walk


def kept(found: SpillOptimum | None) -> tuple[bool, ...] | None:
    """What a walk evicts by: the solution's ``keep``, or None (evictions by Belady)."""
    return found.keep if found is not None and found.bytes is not None else None


def locally(ctx: Context, walk: Walk, cascade_commands: dict, whole: bool, tried: Tried) -> Walk | None:
    """Policy ``optimal``, when the packing of ``walk`` (the optimum's evictions, walked
    offline) overshoots the SRAM: the walk made again with nothing prefetched at the steps
    where the packed blocks reached above the SRAM (``Reservations.overflow``, ``whole`` as
    it says), then, where that is not enough, from the optimum of the spill program with
    bytes left free at those steps only (``optimum.local_margins``); quiet steps and
    margins grow with each try, up to ``LOCAL_TRIES`` times or until they change nothing.
    The first walk that packs (its ``compromise`` says how), or None; None too when that
    walk was made before (``tried``: the scheduler kept it then)."""
    problem, found = solved(ctx)
    quiet: frozenset[int] = frozenset()
    for _ in range(LOCAL_TRIES):
        if found is None or found.bytes is None:
            return None
        over = walk.mem.sram.overflow(whole)
        if not quiet >= over.keys():  # first, prefetch nothing there: it moves no more bytes
            quiet = frozenset(quiet | over.keys())
            margins = problem.margin
        else:
            margins = local_margins(problem, found, over)
            if margins == problem.margin:
                return None  # the same walk again
        notes, out_at = optimum_decisions(ctx, margins)
        problem, found = solved(ctx, margins)
        key = (kept(found), quiet)
        if key in tried.walks:  # made before: on from where it failed, or done
            if (walk := tried.walks[key]) is None:
                return None
            continue
        tried.walks[key] = None
        walk = type(walk)(ctx, offline=True, cascade_commands=cascade_commands, out_at=out_at, policy="optimal",
                          quiet=quiet)
        try:
            for t in range(len(ctx.graph.layers)):
                walk.step(t)
        except Full:
            return None
        if walk.place(memo=tried.packings):
            steps = 0 if isinstance(margins, int) else sum(1 for m in margins if m)
            walk.notes += notes
            walk.compromise = (f"placed with nothing prefetched at the {len(quiet)} steps where the packing "
                               f"overshot the SRAM" + (f", and bytes left free at {steps}" if steps else ""))
            return walk
        tried.walks[key] = walk
    return None


def decided_bytes(walk: Walk) -> int:
    """``Plan.decided_bytes`` of a placed walk: its loads and stores besides weights."""
    return sum(a.dram_bytes for a in walk.program.finish() if a.kind in ("load", "store") and a.traffic != "weights")
