"""Graph + AcceleratorSpec -> Plan: the walk over the layers in graph order.

For each layer ``t`` (``policy.order: graph``):

1. **setup**: reserve its weight block (or, for weights in chunks, the chunk region) and
   the storages it touches, evicting other blocks by ``policy.spill`` when they do not fit
   (``memory``); then load on demand whatever it reads that is not resident. If the blocks
   cannot be placed online even with everything else evicted (the bytes fit but
   no hole does), the layer's own prefetched weight block, when weights share the SRAM, is
   released first and reloaded after its activations are placed (a small block between two
   holes should not cost a store and reload of activations); if that is not enough,
   everything is evicted, dirty data stored, and the setup runs again on an empty SRAM,
   where it fits by construction (a plan note records either).
2. **prefetch**: for layers ``t+1 .. t+prefetch``, load weight blocks (in layer order,
   stopping at the first that does not fit or belongs to a streamed or chunked layer:
   double buffering, and a layer's weights never wait behind a later layer's) and reloads
   into free space only, never evicting. These loads come before compute ``t`` in program order
   and do not depend on it, so the DMA overlaps it. Nothing is prefetched during a layer
   whose weights come in chunks.
3. **compute**: one compute per weight chunk; it allocates the layer's outputs.
4. **after**: graph outputs are stored (``output``, cause ``drain``), the layer's weights
   are freed, and every storage whose last use this was is freed (a piece that a later
   streamed layer reads from DRAM is stored first).

Streamed layers run in ``stream``, host ops (``--fallback host``) in ``host_run``; layers that
move no data (in-place concat and slice, see ``storage``) are a one-cycle compute that reads
nothing.

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
from hwsim.graph.analysis import layer_io, live_ranges, skip_tensors, tensor_bytes
from hwsim.graph.ir import Graph
from hwsim.schedule.allocate import Allocator
from hwsim.schedule.cascade import finest
from hwsim.schedule.cascade_run import run_cascade
from hwsim.schedule.context import Context, build_context, resident_storages, with_cascades
from hwsim.schedule.cost import split_cycles
from hwsim.schedule.host_run import host_ops, run_host
from hwsim.schedule.lower import Decisions, lower
from hwsim.schedule.memory import DramCopy, Memory, NoRoom
from hwsim.schedule.optimum import optimum_decisions, solved, spill_bounds
from hwsim.schedule.placement import EXACT_NODES, EXACT_SECONDS, Full, Reservations
from hwsim.schedule.plan import LayerPlan, Plan, TensorPlan
from hwsim.schedule.program import Program
from hwsim.schedule.repack import decided_bytes, locally
from hwsim.schedule.stream import run_streamed
from hwsim.schedule.tiling import Chunk, Mode
from hwsim.spec.model import AcceleratorSpec

__all__ = ["Context", "Walk", "build_context", "schedule"]


class Walk:
    """The mutable state of one scheduling run (lives only inside :func:`schedule`)."""

    def __init__(self, ctx: Context, offline: bool, optional_limit: int | None = None,
                 cascade_commands: dict | None = None, out_at=None, policy: str | None = None,
                 quiet: frozenset[int] = frozenset()):
        spec = ctx.spec
        self.ctx = ctx
        self.quiet = quiet  # steps that prefetch nothing (where a packing overshot: ``repack``)
        # a cascade's compute commands (cascade_run), shared by the walks of one schedule
        self.cascade_commands = {} if cascade_commands is None else cascade_commands
        self.offline = offline
        self.program = Program("sram" if offline else None)
        weights = Allocator(spec.sram.weight_buffer_bytes, spec.sram.alignment_bytes) \
            if spec.sram.separate_weights else None
        sram = Reservations(spec.sram.size_bytes, spec.sram.alignment_bytes, optional_limit) if offline \
            else Allocator(spec.sram.size_bytes, spec.sram.alignment_bytes)
        self.mem = Memory(ctx.layout, ctx.usage, self.program, sram, weights, policy or spec.policy.spill,
                          out_at[0] if out_at else None)
        self.evict_at = out_at[1] if out_at else None
        for name in ctx.graph.inputs:
            self.mem.dram[ctx.graph.root(name)] = DramCopy("input", ())
        self.tiles = [1] * len(ctx.modes)
        self.notes: list[str] = []
        self.compromise: str | None = None  # how the placement departed from the policy's decisions

    def step(self, t: int) -> None:
        ctx = self.ctx
        if self.offline:
            self.mem.sram.at_step(t)
        if self.evict_at is not None:  # policy "optimal": what the optimum has out from this step on
            for s in self.evict_at(t):
                if s in self.mem.queue:
                    self.mem.evict(s, t)
        if t in ctx.cascade_at:
            for u, count in run_cascade(self, ctx.cascade_at[t]).items():
                self.tiles[u] = count
        elif t in ctx.inside:
            pass  # run by its cascade
        elif t in ctx.host_cycles:
            run_host(self, t)  # on the host CPU, through DRAM, the accelerator waiting
        elif t in ctx.layout.alias_layers:
            self.program.emit("compute", t, cycles=ctx.costs[t].cycles)
        elif ctx.modes[t].streamed:
            self.tiles[t] = run_streamed(self, t)
        else:
            self.setup(t, ctx.modes[t])
            if len(ctx.modes[t].chunks) <= 1:
                self.prefetch(t)
            self.compute(t, ctx.modes[t])
        self.after(t)

    # --- setup ----------------------------------------------------------------------------
    def setup(self, t: int, mode: Mode, extra: tuple[tuple[str, int], ...] = ()) -> None:
        """Reserve everything layer ``t`` needs resident (plus ``extra`` (name, bytes) SRAM
        blocks), releasing its own prefetched weights, then restarting on an empty SRAM, if
        fragmentation defeats eviction; load its reads."""
        ctx = self.ctx
        storages = ctx.storages[t] if mode is ctx.modes[t] else resident_storages(ctx.layout, mode)
        protect = {*storages, self.ctx.block(t), *(name for name, _ in extra)}
        try:
            self._reserve(t, mode, storages, protect, extra)
        except NoRoom:
            if not self._reserve_without_weights(t, mode, storages, protect, extra):
                self.notes.append(f"layer {self.ctx.graph.layers[t].name!r}: no hole fits, SRAM emptied")
                self.mem.evict_all(t)
                self._reserve(t, mode, storages, protect, extra)
        block = self.ctx.block(t)
        if not mode.streamed and len(mode.chunks) == 1 and not self.mem.weight_blocks.get(block):
            self.mem.load_weights(block, block, mode.chunks[0].nbytes, t, t)
        for p in mode.resident_reads:
            if p not in self.mem.present:
                self.mem.load(p, t)

    def _reserve_without_weights(self, t: int, mode: Mode, storages, protect, extra) -> bool:
        """Release layer ``t``'s own prefetched weight block from the shared SRAM (a small block
        that may split the hole its activations need; reloading it costs only its bytes) and
        reserve again; False if that still leaves no hole."""
        mem, block = self.mem, self.ctx.block(t)
        if mem.weights is not None or not mem.weight_blocks.get(block):
            return False
        mem.free_weights(block, t)
        try:
            self._reserve(t, mode, storages, protect, extra)
        except NoRoom:
            return False
        self.notes.append(f"layer {self.ctx.graph.layers[t].name!r}: no hole fits beside its prefetched "
                          f"weights, reloaded them after its activations")
        return True

    def _reserve(self, t: int, mode: Mode, storages, protect, extra) -> None:
        """Reserve the blocks layer ``t`` lacks, largest first (it fragments the SRAM least)."""
        mem, block = self.mem, self.ctx.block(t)
        wanted = [(self.ctx.layout.storages[s].nbytes, s) for s in storages if s not in mem.sram]
        wanted += [(size, name) for name, size in extra if name not in mem.sram]
        in_arena = mode.streamed and mem.weights is None  # shared weights of a streamed layer
        if mode.chunks and block not in mem.weight_allocator() and not in_arena:
            if mem.weights is not None:
                mem.make_room(mem.weights, block, mode.weight_region, protect, t)
                mem.weight_blocks[block] = []
            else:
                wanted.append((mode.weight_region, block))
        for size, name in sorted(wanted, key=lambda x: -x[0]):
            mem.make_room(mem.sram, name, size, protect, t)
            if name == block:
                mem.weight_blocks[block] = []
        for s in storages:
            mem.touch(s, t)

    # --- prefetch ---------------------------------------------------------------------------
    def prefetch(self, t: int) -> None:
        if t in self.quiet:
            return
        if self.offline:
            self.mem.sram.optional = True
        try:
            self._prefetch(t)
        finally:
            if self.offline:
                self.mem.sram.optional = False

    def _prefetch(self, t: int) -> None:
        ctx, mem = self.ctx, self.mem
        weights_open = True
        for u in ctx.next_steps(t, ctx.spec.policy.prefetch):
            mode = ctx.modes[u]
            if u in ctx.layout.alias_layers:
                continue
            if mode.streamed or len(mode.chunks) > 1:
                weights_open = False  # its weights are not prefetched, so no later ones are
                continue
            if weights_open and mode.chunks:
                weights_open = self._prefetch_weights(u, mode.chunks[0])
            for p in mode.resident_reads:
                if p not in mem.present and p in mem.dram and mem.try_reserve(ctx.layout.storage_of[p], t):
                    mem.load(p, u)

    def _prefetch_weights(self, u: int, chunk: Chunk) -> bool:
        mem, block = self.mem, self.ctx.block(u)
        if block in mem.weight_blocks:
            return True
        allocator = mem.weight_allocator()
        if allocator.alloc(block, chunk.nbytes) is None:
            return False
        mem.weight_blocks[block] = []
        mem.load_weights(block, block, chunk.nbytes, u, u)
        return True

    # --- compute ------------------------------------------------------------------------------
    def compute(self, t: int, mode: Mode) -> None:
        mem, block = self.mem, self.ctx.block(t)
        outs = tuple([mem.produce(p) for p in mode.resident_writes])
        reads = tuple([mem.present[p].name for p in mode.resident_reads])
        chunks = mode.chunks or (Chunk(0, 1, 0),)
        channels = mode.out_channels if mode.chunks else 1
        many = len(chunks) > 1
        for c, chunk in enumerate(chunks):
            weight = ()
            if many:
                buffer = mem.load_weights(block, f"{block}@chunk{c}", chunk.nbytes, t, t, chunk=c)
                weight = (buffer.name,)
            elif chunk.nbytes:
                weight = (block,)
            cycles = split_cycles(self.ctx.costs[t].cycles, chunk.first, chunk.end, channels)
            self.program.emit("compute", t, allocs=outs if c == 0 else (), reads=reads + weight,
                              writes=tuple(o.name for o in outs) if c else (), cycles=cycles,
                              tile=c if many else None)
            if many:
                mem.free_weight_buffer(block, buffer, t)
        self.tiles[t] = len(chunks)
        if many:
            self.notes.append(f"layer {self.ctx.graph.layers[t].name!r}: weights in {len(chunks)} chunks")

    # --- after ----------------------------------------------------------------------------------
    def after(self, t: int) -> None:
        ctx, mem = self.ctx, self.mem
        for p in ctx.modes[t].resident_writes if t not in ctx.layout.alias_layers else ():
            if p in ctx.outputs:
                mem.store(p, t, "output", "drain", "spill")
        if ctx.block(t) in mem.weight_blocks:
            mem.free_weights(ctx.block(t), t)
        for s in ctx.dies_at[t]:
            mem.drop(s, t, t + 1, "streamed")

    # --- offline placement ----------------------------------------------------------------
    def place(self, exact: bool = False) -> bool:
        """Pack the blocks of a walk placed offline and move its buffers to their addresses;
        False (nothing moved) if the packed peak exceeds the SRAM. ``exact``: try the integer
        program too when the heuristics overshoot (``Reservations.place``)."""
        sram = self.mem.sram
        if sram.place(exact) > self.ctx.spec.sram.size_bytes:
            return False
        self.program.relocate(sram.real)
        self.mem.first_address = {p: sram.real(a) for p, a in self.mem.first_address.items()}
        return True

    # --- the plan -----------------------------------------------------------------------------
    def dram_bytes(self) -> int:
        return sum(self.program.traffic().values())

    def spills(self) -> bool:
        """Whether the walk spilled or streamed a layer."""
        return not {"spill_write", "spill_read"}.isdisjoint(self.program.traffic()) or \
            any(mode.streamed for mode in self.ctx.modes)

    def decisions(self) -> Decisions:
        """What the walk decided (``lower`` makes the plan of it)."""
        ctx, mem, g = self.ctx, self.mem, self.ctx.graph
        layers = tuple(
            LayerPlan(t, g.layers[t].name, cost.macs, cost.vector_ops, cost.cycles, ctx.needs[t].weight_bytes,
                      ctx.modes[t].streamed, self.tiles[t], cost.utilisation, cost.bottleneck, cost.mapping)
            for t, cost in enumerate(ctx.costs)
        )
        outline = Plan(g.name, ctx.spec.name, (), layers, self._tensors(),
                       ctx.spec.sram.size_bytes, ctx.spec.sram.weight_buffer_bytes if ctx.spec.sram.separate_weights
                       else 0, ctx.spec.policy.concat, ctx.spec.policy.spill, tuple(self.notes), mem.sram.high_water,
                       self._aliases(), ctx.spec.policy.execution, ctx.cascades,
                       spill_bounds=spill_bounds(ctx), hosts=host_ops(ctx))
        return Decisions(self.program.finish(), outline)


    def _tensors(self) -> tuple[TensorPlan, ...]:
        ctx, mem, g = self.ctx, self.mem, self.ctx.graph
        skips = set(skip_tensors(g))
        bits = ctx.spec.datatype.activation_bits
        rows = []
        for name, r in live_ranges(g).items():
            first = ctx.layout.covers[name][0]
            address = mem.first_address.get(first)
            if address is not None and ctx.layout.is_alias(name):
                address += ctx.layout.alias_offset.get(name, 0)
            rows.append(TensorPlan(name, tensor_bytes(r.elements, bits), r.start, r.end, name in skips,
                                   address, name in mem.spilled, mem.tensor_traffic.get(name, 0)))
        return tuple(rows)

    def _aliases(self) -> tuple[tuple[str, tuple[str, ...], int], ...]:
        layout = self.ctx.layout
        return tuple((t, pieces, layout.alias_offset.get(t, 0))
                     for t, pieces in layout.covers.items() if pieces != (t,))


@paused
def schedule(graph: Graph, spec: AcceleratorSpec, *, online: bool = False, guards: list | None = None) -> Plan:
    """The plan of ``graph`` on ``spec`` (see the module docstring). ``online``: place the SRAM
    online from the start, as the fallback does (a compiler without a static memory planner;
    the tests of that path). ``guards``: a list receiving its every read of DRAM timing (``guards``).

    In cascade mode, a plan that spills or streams is tried again with every cascade at its
    finest stripes (the least memory it can take), and the plan with the cascades is kept only
    if it moves fewer DRAM bytes than the same layers run one at a time, as a compiler keeps a
    cascade only when it pays."""
    layer_io(graph)
    ctx = build_context(graph, spec, guards=guards)
    cascade_commands: dict = {}  # a cascade's compute commands, the same in every walk
    walk = _walk(ctx, cascade_commands, online)
    if ctx.cascades and walk.spills():  # stripes as tall as fit left the packing no room
        sram, bits = spec.sram, spec.datatype
        fine = finest(graph, bits.activation_bits, bits.weight_bits, sram.alignment_bytes,
                      sram.weight_buffer_bytes if sram.separate_weights else None, ctx.cascades,
                      bias_bits=bits.bias_bits)
        if fine != ctx.cascades:
            thin = _walk(with_cascades(ctx, fine), cascade_commands, online)
            walk = thin if thin.dram_bytes() < walk.dram_bytes() else walk
    if ctx.cascades and walk.spills():  # a plan that moves only weights, input and output is the least
        flat = _walk(build_context(graph, spec, cascades=(), guards=guards), cascade_commands, online)
        if flat.dram_bytes() < walk.dram_bytes():
            flat.notes.append(f"the {len(ctx.cascades)} cascades planned moved {walk.dram_bytes():,} DRAM bytes, "
                              f"layer by layer moves {flat.dram_bytes():,}: no cascade kept")
            walk = flat
    return lower(walk.decisions())


def _walk(ctx: Context, cascade_commands: dict, online: bool = False) -> Walk:
    """The walk of ``ctx`` under its spill policy, placed (``_placed``). Policy ``optimal``:
    when the optimum's decisions could not be placed as they are (they needed a margin, or
    the online placement), or the walk moved more than the optimum besides weights all the
    same (it evicts by bytes where the optimum's decisions leave a step short, as when a
    prefetch took the room), the walk by Belady is made too, and the one moving fewer DRAM
    bytes kept, so the default policy is never worse than Belady's."""
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
        other = _placed(ctx, cascade_commands, online, "belady")
        if other.dram_bytes() < walk.dram_bytes():
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
        placed = walk.place(exact=not margin)  # the exact packing once: where it fails, margins help more
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
            packed += [w for w in (locally(ctx, walk, cascade_commands, whole) for whole in (False, True)) if w]
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
