"""One walk over the layers in order: what each step reserves, loads, prefetches, computes
and frees (``scheduler`` decides which walks to make and keeps one).

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
"""

from __future__ import annotations

from hwsim.graph.analysis import live_ranges, skip_tensors, tensor_bytes
from hwsim.schedule.allocate import Allocator
from hwsim.schedule.cascade_run import run_cascade
from hwsim.schedule.chunks import Chunk
from hwsim.schedule.context import Context, resident_storages
from hwsim.schedule.cost import split_cycles
from hwsim.schedule.host_run import host_ops, run_host
from hwsim.schedule.lower import Decisions
from hwsim.schedule.memory import DramCopy, Memory, NoRoom
from hwsim.schedule.optimum import spill_bounds
from hwsim.schedule.placement import Reservations
from hwsim.schedule.plan import LayerPlan, Plan, TensorPlan
from hwsim.schedule.program import Program
from hwsim.schedule.stream import run_streamed
from hwsim.schedule.tiling import Mode


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
        chunks, emit, cycles = mode.chunks, self.program.emit, self.ctx.costs[t].cycles
        if len(chunks) <= 1:
            weight = (block,) if chunks and chunks[0].nbytes else ()
            self.program.compute(t, outs, reads + weight, cycles)
            self.tiles[t] = 1
            return
        written, channels = tuple([o.name for o in outs]), mode.out_channels
        for c, chunk in enumerate(chunks):  # each chunk loaded, used and freed in turn (one region)
            buffer = mem.load_weights(block, f"{block}@chunk{c}", chunk.nbytes, t, t, chunk=c)
            emit("compute", t, allocs=() if c else outs, reads=reads + (buffer.name,), writes=written if c else (),
                 cycles=split_cycles(cycles, chunk.first, chunk.end, channels), tile=c)
            mem.free_weight_buffer(block, buffer, t)
        self.tiles[t] = len(chunks)
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
    def place(self, exact: bool = False, memo: dict | None = None) -> bool:
        """Pack the blocks of a walk placed offline and move its buffers to their addresses;
        False (nothing moved) if the packed peak exceeds the SRAM. ``exact``: try the integer
        program too when the heuristics overshoot; ``memo``: packings already made
        (``Reservations.place``)."""
        sram = self.mem.sram
        if sram.place(exact, memo) > self.ctx.spec.sram.size_bytes:
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
        return Decisions(self.program.finish(), outline, *self.program.relocation())

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
