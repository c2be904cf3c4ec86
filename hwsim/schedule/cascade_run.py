"""A cascade in the scheduler's walk: its commands, stripe by stripe.

1. The tensors it reads whole and writes whole are made resident as for one layer (loaded,
   or reserved, evicting others by the spill policy), together with one *arena* holding its
   rolling buffers and its weight block (every layer's weights, loaded once).
2. For each stripe, each layer that has rows to compute in it runs one ``compute`` command
   (``tile`` = the stripe) for its share of the layer's cycles; it reads its inputs' rolling
   buffers (``<tensor>@rows``, with ``Buffer.tensor`` and ``Buffer.rows``), the whole tensors
   it reads, and the weights, and writes its outputs' rolling buffers or whole buffers.
   Rolling buffers are allocated by the cascade's first compute and freed after its last.
3. Its whole outputs are then ordinary resident tensors.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hwsim.schedule.cost import split_cycles
from hwsim.schedule.plan import Buffer, Cascade

if TYPE_CHECKING:
    from hwsim.schedule.scheduler import Walk


def run_cascade(walk: "Walk", c: Cascade) -> dict[int, int]:
    """Emit cascade ``c``; returns the number of computes of each of its layers."""
    ctx, mem, program = walk.ctx, walk.mem, walk.program
    mode = ctx.modes[c.first]
    arena = f"stripes:{ctx.graph.layers[c.first].name}"
    walk.setup(c.first, mode, ((arena, c.arena_bytes),) if c.arena_bytes else ())
    walk.prefetch(c.first)
    rolling: dict[str, Buffer] = {}
    if c.arena_bytes:
        at = mem.sram.address(arena)
        for r in c.rolling:
            rolling[r.tensor] = Buffer(f"{r.tensor}@rows", at, mem.sram.aligned(r.nbytes), tensor=r.tensor, rows=r.rows)
            at += mem.sram.aligned(r.nbytes)
    outs = {p: mem.produce(p) for p in mode.resident_writes}
    block = ctx.block(c.first)
    weights = (block,) if mem.weight_blocks.get(block) else ()
    io = ctx.io
    first = True
    counts = {t: 0 for t in c.layers}
    for stripe in range(c.stripes):
        for t in c.layers:
            o0, o1 = c.done(t, stripe)
            if o0 == o1:
                continue
            reads = [rolling[r].name if r in rolling else mem.present[p].name
                     for r in io[t].reads for p in ((r,) if r in rolling else ctx.layout.covers[r])]
            allocs = (*rolling.values(), *outs.values()) if first else ()
            cid = program.emit("compute", t, allocs=allocs, reads=tuple(dict.fromkeys(reads)) + weights,
                               cycles=split_cycles(ctx.costs[t].cycles, o0, o1, c.rows[t - c.first]), tile=stripe)
            first = False
            counts[t] += 1
            for w in io[t].writes:
                if w in rolling or w in outs:
                    program.wrote((rolling[w] if w in rolling else outs[w]).name, cid)
    if rolling:
        program.emit("free", c.first, frees=tuple(rolling.values()))
    if c.arena_bytes:
        mem.sram.free(arena)
    walk.notes.append(f"layers {ctx.graph.layers[c.first].name!r}..{ctx.graph.layers[c.last].name!r}: "
                      f"a cascade of {c.last - c.first + 1} layers in {c.stripes} stripes")
    return counts
