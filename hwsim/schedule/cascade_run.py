"""A cascade in the scheduler's walk: its commands, stripe by stripe.

1. The tensors it reads whole and writes whole are made resident as for one layer (loaded,
   or reserved, evicting others by the spill policy), together with one *arena* holding its
   rolling buffers and its weight block (every layer's weights, loaded once).
2. For each stripe, each layer that has rows to compute in it does one :class:`Part` of the
   work (the stripe's share of the layer's cycles): it reads its inputs' rolling buffers
   (``<tensor>@rows``, with ``Buffer.tensor`` and ``Buffer.rows``), the whole tensors it reads,
   and the weights, and writes its outputs' rolling buffers or whole buffers. Rolling buffers
   are allocated by the cascade's first compute and freed after its last.
3. Its whole outputs are then ordinary resident tensors.

**Compact commands.** Between the setup and the end of a cascade only the compute engine
works (no DMA is emitted), so its parts run back to back except where one waits for a
command from outside the cascade. Consecutive parts therefore share one ``compute`` command
(``Command.parts``) and are cut into several only where the timeline needs it (:func:`runs`):

* a command starts at the first part reading a buffer made before the cascade (a whole
  read, the weights): its load may still be running, and only that part waits for it;
  and the second command at the first part reading a buffer the first allocates (a
  command reads only what is allocated when it starts);
* a command ends at the last part touching a buffer that outlives the cascade's commands
  (a whole read or write: a later store or free depends on it), and at the last part touching
  a rolling buffer (their free depends on it).

A command then waits only where one of its parts would, and whatever comes after the cascade
depends on a command that ends when the part it needs ends: the simulated times of every
part and of every other command are those of one command per part.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple, Sequence

from hwsim.schedule.cost import split_cycles
from hwsim.schedule.plan import Buffer, Cascade, Part

if TYPE_CHECKING:
    from hwsim.schedule.context import Context
    from hwsim.schedule.walk import Walk


class _Command(NamedTuple):
    """One compute command of a cascade, but for its buffers' addresses."""

    parts: tuple[Part, ...]
    reads: tuple[str, ...]
    cycles: int
    writes: tuple[str, ...]  # the buffers its parts write


def run_cascade(walk: "Walk", c: Cascade) -> dict[int, int]:
    """Emit cascade ``c``; returns the number of parts of each of its layers."""
    ctx, mem, program = walk.ctx, walk.mem, walk.program
    mode = ctx.modes[c.first]
    arena = f"stripes:{ctx.graph.layers[c.first].name}"
    walk.setup(c.first, mode, ((arena, c.arena_bytes),) if c.arena_bytes else ())
    walk.prefetch(c.first)
    rolling: dict[str, Buffer] = {}
    if c.arena_bytes:
        at = mem.sram.address(arena)
        for r in c.rolling:
            rolling[r.tensor] = Buffer(f"{r.tensor}@rows", at, mem.sram.aligned(r.nbytes), role="rows", tensor=r.tensor,
                                       rows=r.rows)
            at += mem.sram.aligned(r.nbytes)
    outs = {p: mem.produce(p) for p in mode.resident_writes}
    block = ctx.block(c.first)
    weights = (block,) if mem.weight_blocks.get(block) else ()
    reads, writes = {}, {}
    for t in c.layers:
        names = [rolling[r].name if r in rolling else mem.present[p].name
                 for r in ctx.io[t].reads for p in ((r,) if r in rolling else ctx.layout.covers[r])]
        reads[t] = tuple(dict.fromkeys(names)) + weights
        writes[t] = tuple((rolling[w] if w in rolling else outs[w]).name
                          for w in ctx.io[t].writes if w in rolling or w in outs)
    key = (c.first, c.last, c.stripes, tuple(reads.values()), tuple(writes.values()))
    if key not in walk.cascade_commands:  # the same in every walk of one schedule
        walk.cascade_commands[key] = _commands(ctx, c, reads, writes, {b.name for b in outs.values()})
    allocs = (*rolling.values(), *outs.values())
    for i, command in enumerate(walk.cascade_commands[key]):
        first = command.parts[0]
        program.emit("compute", first.layer, allocs=allocs if i == 0 else (), reads=command.reads,
                     writes=command.writes, cycles=command.cycles, tile=first.stripe, parts=command.parts)
    if rolling:
        program.free(c.first, tuple(rolling.values()))
    if c.arena_bytes:
        mem.sram.free(arena)
    walk.notes.append(f"layers {ctx.graph.layers[c.first].name!r}..{ctx.graph.layers[c.last].name!r}: "
                      f"a cascade of {c.last - c.first + 1} layers in {c.stripes} stripes")
    counts = dict.fromkeys(c.layers, 0)
    for command in walk.cascade_commands[key]:
        for p in command.parts:
            counts[p.layer] += 1
    return counts


def _commands(ctx: "Context", c: Cascade, reads: dict[int, tuple[str, ...]], writes: dict[int, tuple[str, ...]],
              made: set[str]) -> list[_Command]:
    """The compute commands of cascade ``c`` whose layers read and write the buffers named."""
    cycles = [ctx.costs[t].cycles for t in c.layers]
    parts = []
    for stripe in range(c.stripes):
        for i, t in enumerate(c.layers):
            o0, o1 = c.progress[i][stripe], c.progress[i][stripe + 1]
            if o0 < o1:
                parts.append(Part(t, stripe, split_cycles(cycles[i], o0, o1, c.rows[i]), reads[t]))
    commands = []
    for lo, hi in runs(parts, writes, {f"{r.tensor}@rows" for r in c.rolling}, made):
        run = tuple(parts[lo:hi])
        layers = dict.fromkeys(p.layer for p in run)  # a layer reads and writes the same in every part
        commands.append(_Command(run, tuple(dict.fromkeys(name for t in layers for name in reads[t])),
                                 sum(p.cycles for p in run),
                                 tuple(dict.fromkeys(name for t in layers for name in writes[t]))))
    return commands


def runs(parts: Sequence[Part], writes: dict[int, tuple[str, ...]], rolling: set[str],
         made: set[str]) -> list[tuple[int, int]]:
    """``[lo, hi)`` index ranges of ``parts`` that may share one compute command (the module
    docstring): ``writes``, the buffers each layer writes; ``rolling``, the rolling buffers;
    ``made``, the whole buffers the cascade's first command allocates."""
    first: dict[str, int] = {}  # buffer -> the first part touching it
    last: dict[str, int] = {}  # buffer -> the last part touching it
    seen: set[int] = set()
    for i in range(len(parts) - 1, -1, -1):  # a layer touches the same buffers in every part
        layer = parts[i].layer
        if layer not in seen:
            seen.add(layer)
            for name in (*parts[i].reads, *writes[layer]):
                last[name] = max(last.get(name, i), i)
    seen.clear()
    for i, p in enumerate(parts):
        if p.layer not in seen:
            seen.add(p.layer)
            for name in p.reads:
                first.setdefault(name, i)
    cuts = {0, len(parts)}
    cuts.update(i for name, i in first.items() if name not in rolling and name not in made)
    cuts.add(min((i for name, i in first.items() if name in rolling or name in made), default=0))
    cuts.update(i + 1 for name, i in last.items() if name not in rolling)
    cuts.add(1 + max((i for name, i in last.items() if name in rolling), default=-1))
    edges = sorted(cuts)
    return [(lo, hi) for lo, hi in zip(edges, edges[1:]) if lo < hi]
