"""Streamed layers alike share their modes' making and their tiles' setting up (``alike.Searched``,
``alike.Shared``, ``alike.remembered``), and it changes nothing: against a reference that searches,
chooses and sets up every streamed layer on its own, by names (the code before the sharing),
the modes, the guards and the plans are equal, on a graph seen for the first time and again."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest
from hypothesis import given, strategies as st

from hwsim.errors import UserError
from hwsim.schedule import schedule, stream, tiling, walk
from hwsim.schedule.bands import band_model, bands
from hwsim.schedule.chunks import Chunk
from hwsim.schedule.context import build_context
from hwsim.schedule.guards import SlotChoice, SlotGuard, prefer_two
from hwsim.schedule.memory import DramCopy
from hwsim.schedule.plan import BandStream, Buffer, TileRun
from hwsim.schedule.tiling import Mode
from tests.graph.handmade import Net
from tests.schedule.helpers import make_spec
from tests.schedule.test_properties import SETTINGS, build, specs


# --- the reference: every streamed layer on its own --------------------------------------------
def reference_resident(model, layout, kept):
    whole_reads = tuple(p for t in model.whole_reads for p in layout.covers[t])
    whole_writes = tuple(w for w in model.whole_writes if not layout.is_alias(w))
    reads = whole_reads + tuple(p for t in model.reads if t in kept for p in layout.covers[t])
    return tuple(dict.fromkeys(reads)), whole_writes + tuple(w for w in model.writes if w in kept)


def reference_streamed(g, index, need, layout, room, *, in_dram=frozenset(), outputs=frozenset(), cycles=0,
                       alike=None) -> Mode:
    """``tiling._streamed`` searching layer ``index`` itself (``_Shape``, by names), choosing its
    tile slots itself and naming its mode's tensors as it goes."""
    model = band_model(g, index)
    if model is None:
        total = sum(room.aligned(layout.storages[s].nbytes) for s in need.storages)
        raise UserError(f"layer {g.layers[index].name!r} needs {total:,} B at once and cannot be tiled, "
                        f"SRAM is {room.sram:,} B")
    banded = tuple(model.reads) + tuple(model.writes)
    shape = tiling._Shape(g, index, layout, room, need, frozenset(in_dram), outputs)
    best = {slots: f for slots in (2, 1) if (f := shape.best(slots)) is not None}
    if not best:
        raise UserError(f"layer {g.layers[index].name!r} needs {shape.one_tile():,} B for one tile, "
                        f"SRAM is {room.sram:,} B")
    two = False
    if 2 in best and 1 in best:
        choice = {n: SlotChoice(f[3], f[1] * (len(banded) - len(f[4])), f[1], f[0]) for n, f in best.items()}
        two = prefer_two(room.objective, cycles, choice[2], choice[1], room.transfer, room.latency)
        if room.guards is not None:
            room.guards.append(SlotGuard(index, room.objective, cycles, choice[2], choice[1], two))
    slots = 2 if 2 in best and (1 not in best or two) else 1
    *_, kept, height, chunks = best[slots]
    banded_reads = tuple(r for r in model.reads if r not in kept)
    banded_writes = tuple(w for w in model.writes if w not in kept)
    cut = bands(model.rows, height)
    if len(cut) * max(len(chunks), 1) == 1:
        slots = 1
    tiles = dict(zip(banded, shape.table.tiles(height)))
    return Mode(True, chunks, need.out_channels, tiling._region(chunks, room), *reference_resident(model, layout, kept),
                banded_reads, banded_writes, cut, model.rows, model,
                {n: tiles[n] for n in banded_reads + banded_writes}, slots)


def reference_arena(w, mode):
    offsets, at = {}, 0
    for name in mode.band_reads + mode.band_writes:
        slots = []
        for _ in range(mode.slots):
            slots.append(at)
            if mode.tile_bytes[name]:
                at += w.mem.sram.aligned(mode.tile_bytes[name])
        offsets[name] = tuple(slots)
    return offsets, at, at + (mode.weight_region if w.mem.weights is None else 0)


def reference_tile_run(w, t, offsets, weight_offset) -> TileRun:
    """``stream.tile_run`` working out layer ``t``'s figures itself (``_work_out_figures``)."""
    ctx, mem, mode = w.ctx, w.mem, w.ctx.modes[t]
    layout = ctx.layout
    chunks = mode.chunks or (Chunk(0, 1, 0),)
    channels = mode.out_channels if mode.chunks else 1
    inputs = {ctx.graph.root(i) for i in ctx.graph.inputs}
    hosted = {p for u in ctx.host_cycles for n in ctx.modes[u].band_writes for p in layout.covers[n]}
    kinds = tuple("input" if set(layout.covers[n]) <= inputs else "host_read" if set(layout.covers[n]) <= hosted
                  else "streamed_read" for n in mode.band_reads)
    kinds += tuple("output" if n in ctx.outputs else "streamed_write" for n in mode.band_writes)
    cycles, moved = stream._work_out_figures(ctx, t, chunks, channels)
    streams = [BandStream(name, kind, nbytes, offsets[name], mem.sram.aligned(mode.tile_bytes[name]))
               for name, kind, nbytes in zip(mode.band_reads + mode.band_writes, kinds, moved)]
    reads, writes = streams[:len(mode.band_reads)], streams[len(mode.band_reads):]
    chunk_bytes = tuple(c.nbytes for c in chunks) if mode.chunks else ()
    block, space, at = ctx.block(t), mem.weight_space(), weight_offset
    if mem.weights is not None and sum(chunk_bytes):
        at = mem.weights.address(block)
    weight_size = mem.weight_allocator().aligned(max(chunk_bytes)) if sum(chunk_bytes) else 0
    return TileRun(t, mode.bands, mode.slots, cycles, tuple(reads), tuple(writes),
                   tuple(mem.present[p].name for p in mode.resident_reads),
                   block if sum(chunk_bytes) else None, chunk_bytes, at, space, weight_size,
                   tuple((c.first, c.end) for c in chunks), channels, mode.resident_writes, mode.model)


def reference_run_streamed(w, t: int) -> int:
    ctx, mem = w.ctx, w.mem
    mode = ctx.modes[t]
    for name in mode.band_reads:
        for p in ctx.layout.covers[name]:
            mem.clean(p, t, t, "streamed")
    offsets, weight_offset, arena_bytes = reference_arena(w, mode)
    arena = f"tiles:{ctx.graph.layers[t].name}"
    w.setup(t, mode, ((arena, arena_bytes),) if arena_bytes else ())
    run = reference_tile_run(w, t, offsets, weight_offset)
    outs = tuple(mem.produce(p) for p in mode.resident_writes)
    allocs = ((Buffer(arena, mem.sram.address(arena), mem.sram.aligned(arena_bytes), role="arena"),) if arena_bytes else ())
    if run.weight_space == "weights" and run.weight_size:
        allocs += (Buffer(run.weight_block, run.weight_at, run.weight_size, "weights", "weights"),)
    writers = {d for s in run.reads for p in ctx.layout.covers[s.tensor] for d in mem.dram[p].writers}
    for s in run.reads + run.writes:
        mem.count(s.tensor, sum(s.nbytes))
    cid = w.program.emit("tiles", t, deps=writers, allocs=allocs + outs,
                         reads=run.resident, cycles=sum(run.cycles), tensor=ctx.graph.layers[t].name,
                         dram_bytes=sum(run.traffic().values()), cause="streamed", run=run)
    for name in mode.band_writes:
        mem.dram[name] = DramCopy("streamed", (cid,))
    if allocs:
        w.program.emit("free", t, frees=allocs)
    if arena_bytes:
        mem.sram.free(arena)
    w.notes.append(f"layer {ctx.graph.layers[t].name!r}: streamed in {run.tiles} tiles "
                   f"({len(mode.bands)} bands of {mode.bands[0][1] - mode.bands[0][0]} rows"
                   f"{f', {len(mode.chunks)} weight chunks' if len(mode.chunks) > 1 else ''}"
                   f"{', double-buffered' if mode.slots > 1 else ''})")
    return run.tiles


# --- graphs with repeated blocks: layers alike -----------------------------------------------
def blocks(seed: int):
    """A chain of 2-5 like blocks (3x3 then 1x1 convolution, a residual addition, now and then a
    pooling or a concatenation), so that many streamed layers are alike; a ReLU after some 3x3
    convolutions gives layers alike other compute cycles."""
    rng = random.Random(seed)
    c, size = rng.choice([2, 4, 8]), rng.choice([8, 16])
    net, x = Net(f"blocks{seed}").input("x", 1, c, size, size), "x"
    for i in range(rng.randint(2, 5)):
        net.conv(f"a{i}", x, c, k=3)
        a = f"a{i}"
        if rng.random() < 0.5:
            net.relu(f"r{i}", a)
            a = f"r{i}"
        net.conv(f"b{i}", a, c, k=1).binary(f"s{i}", "add", f"b{i}", x)
        x = f"s{i}"
        if rng.random() < 0.2 and size >= 4:
            net.pool(f"p{i}", x)
            x, size = f"p{i}", size // 2
        elif rng.random() < 0.2:
            net.cat(f"c{i}", x, f"a{i}").conv(f"d{i}", f"c{i}", c, k=1)
            x = f"d{i}"
    return net.build([x])


def outcome(make, spec, other):
    """(the context's modes, the guards recorded, the plan), or the error raised, on a graph
    scheduled first on ``other`` (so that it remembers searches and figures of other rooms);
    the plan made again of the same graph (which remembers its own now) is the same."""
    guards: list = []
    g = make()
    try:
        schedule(g, other)
    except UserError:
        pass
    try:
        modes = build_context(g, spec).modes
        plan, again = timeless(schedule(g, spec, guards=guards)), timeless(schedule(g, spec))
    except UserError as e:
        return str(e)
    assert again == plan
    return modes, guards, plan


def timeless(plan):
    """``plan`` without the seconds its spill bound's solver took."""
    bounds = plan.spill_bounds
    return plan if bounds is None else replace(plan, spill_bounds=replace(bounds, seconds=0.0))


def check(make, fields, sram, objective, other):
    """The outcomes with layers alike sharing and with every layer alone are the same; ``other``:
    how the SRAM of the spec the graph is scheduled on first differs (bytes more, alignment)."""
    spec = make_spec(sram=sram, **fields)
    spec = replace(spec, policy=replace(spec.policy, stream_objective=objective))
    before = replace(spec, sram=replace(spec.sram, size_bytes=sram + other[0], alignment_bytes=other[1]))
    shared = outcome(make, spec, before)
    with pytest.MonkeyPatch.context() as m:
        m.setattr(tiling, "_streamed", reference_streamed)
        m.setattr(walk, "run_streamed", reference_run_streamed)
        alone = outcome(make, spec, before)
    assert shared == alone


OTHER = st.tuples(st.sampled_from([0, 16, 64]), st.sampled_from([1, 16, 64]))  # SRAM bytes more, alignment


@SETTINGS
@given(st.integers(0, 10_000), specs(), st.sampled_from([96, 160, 256, 400, 1024]),
       st.sampled_from(["latency", "traffic"]), st.sampled_from(["layer", "cascade"]), OTHER)
def test_streamed_layers_alike_are_set_up_as_each_alone(seed, fields, sram, objective, execution, other):
    # 2 vector ops a cycle: a ReLU's vector ops outweigh its layer's MACs, so layers alike
    # differ in compute cycles (their tiles' cycles, and their tile slots).
    check(lambda: blocks(seed), {**fields, "execution": execution, "vector_ops_per_cycle": 2}, sram, objective, other)


@SETTINGS
@given(st.integers(0, 10_000), specs(), st.sampled_from([96, 160, 256, 400]),
       st.sampled_from(["latency", "traffic"]), OTHER)
def test_random_graphs_stream_as_each_layer_alone(seed, fields, sram, objective, other):
    check(lambda: build(seed, most=12), fields, sram, objective, other)
