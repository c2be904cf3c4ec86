"""Graph + AcceleratorSpec -> Plan: which walks over the layers to make, and which to keep.

The walk over the layers (``walk``: what each step reserves, loads, prefetches, computes and
frees; streamed layers, host ops and layers that move no data included) runs in graph order
(``policy.order: graph``).

**Placement.** The walk runs first with the SRAM placed *offline* (``placement``): the
SRAM counts bytes but chooses no address (a request, a prefetch's included, is refused
only when the bytes reserved would exceed it; the walk then evicts by the spill policy,
counting bytes). If its blocks, packed once the walk is over, fit in the SRAM, the packed
addresses are the plan's: placing every lifetime at once fragments far less than placing
in program order, and a spill is then never forced by a missing hole. When the packing
overshoots, the walk runs again leaving that many bytes free at every step that can
(``_placed``); only when that fails too does it run with the SRAM placed *online*
(``allocate``: best fit in program order), evicting as needed, emptying the SRAM when no
hole fits. Policy ``optimal`` first tries margins only where the packing overshot
(``repack``), and keeps the walk that packs moving the fewest DRAM bytes; when it needed a
margin or the online placement, or moved more than the optimum, it also makes the walk by
Belady, and keeps the one that moves fewer DRAM bytes (``_walk``).
"""

from __future__ import annotations

from hwsim.gc_pause import paused
from hwsim.graph.analysis import layer_io
from hwsim.graph.ir import Graph
from hwsim.schedule.cascade import finest
from hwsim.schedule.context import Context, build_context, with_cascades
from hwsim.schedule.lower import lower
from hwsim.schedule.optimum import optimum_decisions, solved
from hwsim.schedule.exact_packing import EXACT_NODES, EXACT_SECONDS
from hwsim.schedule.placement import Full
from hwsim.schedule.plan import Plan
from hwsim.schedule.repack import Tried, decided_bytes, locally
from hwsim.schedule.stream import band_bytes
from hwsim.schedule.walk import Walk
from hwsim.spec.model import AcceleratorSpec

__all__ = ["Context", "Walk", "build_context", "schedule"]


@paused
def schedule(graph: Graph, spec: AcceleratorSpec, *, online: bool = False, guards: list | None = None) -> Plan:
    """The plan of ``graph`` on ``spec`` (see the module docstring). ``online``: place the SRAM
    online from the start, as the fallback does (a compiler without a static memory planner;
    the tests of that path). ``guards``: a list receiving its every read of DRAM timing (``guards``).

    In cascade mode, a plan that spills or streams is tried again with every cascade at its
    finest stripes (the least memory it can take), and the plan with the cascades is kept only
    if it moves fewer DRAM bytes than the same layers run one at a time, as a compiler keeps a
    cascade only when it pays. Either alternative is walked only if it could move fewer
    (``least_dram_bytes``)."""
    layer_io(graph)
    ctx = build_context(graph, spec, guards=guards)
    cascade_commands: dict = {}  # a cascade's compute commands, the same in every walk
    walk = _walk(ctx, cascade_commands, online)
    if ctx.cascades and walk.spills():  # stripes as tall as fit left the packing no room
        sram, bits = spec.sram, spec.datatype
        fine = finest(graph, bits.activation_bits, bits.weight_bits, sram.alignment_bytes,
                      sram.weight_buffer_bytes if sram.separate_weights else None, ctx.cascades,
                      bias_bits=bits.bias_bits)
        thin_ctx = with_cascades(ctx, fine) if fine != ctx.cascades else None
        if thin_ctx is not None and _may_move_less(thin_ctx, walk):
            thin = _walk(thin_ctx, cascade_commands, online)
            walk = thin if thin.dram_bytes() < walk.dram_bytes() else walk
    flat_ctx = build_context(graph, spec, cascades=(), guards=guards) if ctx.cascades and walk.spills() else None
    if flat_ctx is not None and _may_move_less(flat_ctx, walk):  # only weights, input and output is the least
        flat = _walk(flat_ctx, cascade_commands, online)
        if flat.dram_bytes() < walk.dram_bytes():
            flat.notes.append(f"the {len(ctx.cascades)} cascades planned moved {walk.dram_bytes():,} DRAM bytes, "
                              f"layer by layer moves {flat.dram_bytes():,}: no cascade kept")
            walk = flat
    return lower(walk.decisions())


def least_dram_bytes(ctx: Context) -> int | None:
    """No walk of ``ctx`` moves fewer DRAM bytes, under any policy and placement: the bound of
    its spill program (``optimum``: loads and stores besides weights and bands; None when the
    program has none), every layer's weights once, and the streamed layers' bands, which their
    modes fix (``stream.band_bytes``)."""
    found = solved(ctx)[1]
    if found is None:
        return None
    weights = sum(c.nbytes for t, mode in enumerate(ctx.modes) if t not in ctx.host_cycles for c in mode.chunks)
    return found.bound + weights + sum(band_bytes(ctx, t) for t, mode in enumerate(ctx.modes) if mode.streamed)


def _may_move_less(ctx: Context, walk: Walk) -> bool:
    """Whether a walk of ``ctx`` could move fewer DRAM bytes than ``walk``, which is kept on a
    tie: when its least cannot, it is not made (a walk of a NAFNet layer by layer, 1-1.5 s
    in cascade mode at 1-5 MiB, where its least is above the cascades' plan)."""
    least = least_dram_bytes(ctx)
    return least is None or least < walk.dram_bytes()


def _walk(ctx: Context, cascade_commands: dict, online: bool = False) -> Walk:
    """The walk of ``ctx`` under its spill policy, placed (``_placed``). Policy ``optimal``:
    when the optimum's decisions could not be placed as they are (they needed a margin, or
    the online placement), or the walk moved more than the optimum besides weights all the
    same (it evicts by bytes where the optimum's decisions leave a step short, as when a
    prefetch took the room), the walk by Belady is made too (unless no walk of ``ctx`` can
    move fewer bytes: ``least_dram_bytes``), and the one moving fewer DRAM bytes kept, so the
    default policy is never worse than Belady's."""
    walk = _placed(ctx, cascade_commands, online, ctx.spec.policy.spill)
    if ctx.spec.policy.spill != "optimal":
        return walk
    compromise = walk.compromise
    if compromise is None:
        found = solved(ctx)[1]
        moved = decided_bytes(walk)
        if found is not None and found.bytes is not None and moved > found.bytes:
            compromise = f"its walk moved {moved:,} B besides weights, the optimum {found.bytes:,}"
    if compromise:
        other = _placed(ctx, cascade_commands, online, "belady") if _may_move_less(ctx, walk) else None
        if other is not None and other.dram_bytes() < walk.dram_bytes():
            other.notes.append(f"spill policy 'optimal': {compromise}, {walk.dram_bytes():,} DRAM bytes; "
                               f"evictions by Belady move fewer, {other.dram_bytes():,}: kept")
            return other
        walk.notes.append(f"spill policy 'optimal': {compromise}")
    return walk


MARGIN_TRIES = 3  # offline walks with a growing margin before the online placement


def _placed(ctx: Context, cascade_commands: dict, online: bool, policy: str) -> Walk:
    """The walk placed offline (evicting by bytes) if its blocks pack into the SRAM, else online.

    Evicting up to the last byte can leave the packing no room: when the packed peak
    overshoots the SRAM, the walk is tried again with that many bytes more left free at every
    step that can leave them (its *margin*: weight chunks and prefetches stop that much
    lower, and for policy ``optimal`` the spill program is solved again keeping that much
    less resident), up to ``MARGIN_TRIES`` times, the last without prefetches, before giving
    in to the online placement. Policy ``optimal`` first tries margins only at the steps
    where the packing overshot (``repack.locally``, two ways of finding them); of the walks that
    pack, it keeps the one moving the fewest DRAM bytes.
    The walk's ``compromise`` says which it took (None: neither)."""
    graph, capacity = ctx.graph, ctx.spec.sram.size_bytes
    optimal = policy == "optimal"
    margin, tries = 0, 0 if online else MARGIN_TRIES + 1
    stopped: tuple[str, ...] = ()
    packed: list[Walk] = []  # walks placed offline with a margin
    tried = Tried()  # walks and packings made, none twice
    notes, out_at = optimum_decisions(ctx) if optimal else ((), None)
    while tries:
        tries -= 1
        attempt = build_context(graph, ctx.spec, ctx.cascades, margin, ctx.guards) if margin else ctx
        if margin and optimal:
            notes, out_at = optimum_decisions(attempt, margin)
        limit = 0 if not tries else capacity - margin if margin else None  # the last try prefetches nothing
        walk = Walk(attempt, offline=True, optional_limit=limit, cascade_commands=cascade_commands,
                    out_at=out_at, policy=policy)
        try:
            for t in range(len(graph.layers)):
                walk.step(t)
        except Full:
            break
        # the exact packing once: where it fails, margins help more
        placed = walk.place(exact=not margin, memo=tried.packings)
        if not margin and walk.mem.sram.exact_stopped:
            stopped = (f"placement: the exact packing stopped at its limits ({EXACT_NODES} nodes, "
                       f"{EXACT_SECONDS} s) without a packing, so this plan may differ on a faster or "
                       f"less loaded machine",)
        if placed and not margin:
            walk.notes += notes + stopped
            return walk
        if placed:
            walk.notes += notes
            walk.compromise = (f"placed with {margin:,} B left free at every step that can leave them"
                               + ("" if tries else ", prefetching nothing"))
            packed.append(walk)
            break
        if not margin and optimal:
            tried.first(ctx, walk)
            packed += [w for w in (locally(ctx, walk, cascade_commands, whole, tried) for whole in (False, True))
                       if w]
        margin += walk.mem.sram.high_water - capacity
        if margin >= capacity // 2:
            break
    if packed:
        walk = min(packed, key=Walk.dram_bytes)  # ties: the first
        walk.notes += stopped
        return walk
    notes, out_at = optimum_decisions(ctx) if optimal else ((), None)
    walk = Walk(ctx, offline=False, cascade_commands=cascade_commands, out_at=out_at, policy=policy)
    for t in range(len(graph.layers)):
        walk.step(t)
    walk.notes += notes + stopped
    if not online:
        walk.compromise = "its evictions could not be packed into the SRAM offline, placed online"
    return walk
