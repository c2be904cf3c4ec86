"""Lowering a streamed layer's ``tiles`` command to the per-tile commands it stands for.

A plan holds a streamed layer as one ``tiles`` command (:class:`~hwsim.schedule.plan.TileRun`),
so that scheduling, simulating and measuring cost grows with layers, not bands. What the
tiles do one by one is fixed by the run (``hwsim.schedule.stream`` describes it); this module
writes it out, for the numerics interpreter, which moves real bytes tile by tile, and for
tests, which simulate and verify the expanded plan against the compact one.

Tile ``k`` (in program order): with two slots, the bands of tile ``k + 1`` load first (into
slot ``(k + 1) % 2``, after tile ``k - 1``'s input tiles there are freed); with one, tile
``k``'s own bands load right before it. A new weight chunk is loaded (after the previous
chunk's buffer is freed) before its first tile's loads. Then compute ``k`` (it allocates its
output tiles in slot ``k % slots``, after the stores of tile ``k - slots`` freed them, and at
tile 0 the outputs the layer writes in place), the free of its input tiles, and for each
banded output a store and the free of its tile.

In the expanded plan the run's arena is not a buffer of its own (its tile buffers are); the
``free`` that released it is dropped, and a command that depended on it depends on every
``free`` of the expansion instead; one that depended on the run depends on its last compute
and on all its stores.
"""

from __future__ import annotations

from dataclasses import replace

from hwsim.schedule.plan import Buffer, Command, Plan, TileRun
from hwsim.schedule.plan import ENGINE_OF


def tile_name(tensor: str, k: int, layer: int) -> str:
    """The name of tile ``k``'s buffer of ``tensor`` in layer ``layer``'s run.

    The layer is part of it: two runs that stream the same tensor (its writer and a reader,
    or two readers) hold different buffers for one band, which need not wait for each other.
    """
    return f"{tensor}@tile{k}/L{layer}"


class _Emitter:
    def __init__(self, first_id: int, layer: int):
        self.commands: list[Command] = []
        self.next_id, self.layer = first_id, layer

    def emit(self, kind: str, deps, **fields) -> int:
        cid = self.next_id
        self.commands.append(Command(cid, kind, ENGINE_OF[kind], self.layer, tuple(sorted(set(deps))), **fields))
        self.next_id += 1
        return cid


def tile_commands(command: Command, first_id: int) -> list[Command]:
    """The per-tile commands of ``tiles`` command ``command``, numbered from ``first_id``.

    The run's own deps go to every load, to the computes of the first ``slots`` tiles, and to
    a compute that is the first to write an output tile into its slot (a band may write no
    rows of an output, so that can come later): they hold the writers of the bands it reads,
    the frees of what last used its arena, its resident operands.
    """
    run: TileRun = command.run
    sram = [b for b in command.allocs if b.space == "sram"]
    arena = next((b for b in sram if b.role == "arena"), None)
    outs = tuple(b for b in sram if b is not arena)
    base = arena.address if arena is not None else 0
    out = _Emitter(first_id, command.layer)
    ext = command.deps
    in_free: dict[int, int] = {}  # slot -> the free of the input tiles that last used it
    out_free: dict[tuple[str, int], int] = {}  # (tensor, slot) -> the free of its output tile there
    weight, weight_load, chunk_free = None, None, None
    last_compute = None

    def load_band(k: int) -> list[tuple[Buffer, int]]:
        loaded = []
        for s in run.reads:
            if s.nbytes[k]:
                b = Buffer(tile_name(s.tensor, k, run.layer), base + s.slots[k % run.slots], s.size, role="tile", tensor=s.tensor, tile=k)
                deps = ext + ((in_free[k % run.slots],) if k % run.slots in in_free else ())
                cid = out.emit("load", deps, tensor=s.tensor, dram_bytes=s.nbytes[k], traffic=s.traffic,
                               cause="streamed", allocs=(b,), tile=k)
                loaded.append((b, cid))
        return loaded

    ahead = run.slots > 1
    loaded = load_band(0) if ahead else []
    for k in range(run.tiles):
        c = run.chunk(k)
        if run.chunk_bytes and (k == 0 or c != run.chunk(k - 1)) and run.chunk_bytes[c]:
            if weight is not None:
                chunk_free = out.emit("free", (weight_load, last_compute), frees=(weight,))
            name = run.weight_block if len(run.chunk_bytes) == 1 else f"{run.weight_block}@chunk{c}"
            at = run.weight_at + (base if run.weight_space == "sram" else 0)
            weight = Buffer(name, at, run.weight_size, run.weight_space, "weights")
            weight_load = out.emit("load", ext + ((chunk_free,) if chunk_free is not None else ()),
                                   tensor=name, dram_bytes=run.chunk_bytes[c], traffic="weights",
                                   cause="weights", allocs=(weight,), tile=c if len(run.chunk_bytes) > 1 else None)
        if not ahead:
            loaded = load_band(k)
        following = load_band(k + 1) if ahead and k + 1 < run.tiles else []
        written = [(s, Buffer(tile_name(s.tensor, k, run.layer), base + s.slots[k % run.slots], s.size, role="tile", tensor=s.tensor, tile=k))
                   for s in run.writes if s.nbytes[k]]
        deps = [cid for _, cid in loaded] + [out_free[s.tensor, k % run.slots] for s, _ in written
                                            if (s.tensor, k % run.slots) in out_free]
        first_in_slot = any((s.tensor, k % run.slots) not in out_free for s, _ in written)
        deps += ([last_compute] if last_compute is not None else []) + \
            (list(ext) if k < run.slots or first_in_slot else [])  # what last used the arena
        deps += [weight_load] if weight is not None else []
        reads = tuple(b.name for b, _ in loaded) + run.resident + ((weight.name,) if weight is not None else ())
        last_compute = out.emit("compute", deps, allocs=tuple(b for _, b in written) + (outs if k == 0 else ()),
                                reads=reads, cycles=run.cycles[k], tile=k)
        if loaded:
            in_free[k % run.slots] = out.emit("free", [cid for _, cid in loaded] + [last_compute],
                                              frees=tuple(b for b, _ in loaded))
        for s, b in written:
            sid = out.emit("store", (last_compute,), tensor=s.tensor, dram_bytes=s.nbytes[k], traffic=s.traffic,
                           cause="streamed", reads=(b.name,), tile=k)
            out_free[s.tensor, k % run.slots] = out.emit("free", (last_compute, sid), frees=(b,))
        loaded = following
    if weight is not None:
        out.emit("free", (weight_load, last_compute), frees=(weight,))
    return out.commands


def _finals(commands: list[Command]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(what a dependant of the run waits for: its last compute and its stores; its frees)."""
    computes = [c.id for c in commands if c.kind == "compute"]
    stores = [c.id for c in commands if c.kind == "store"]
    return tuple(computes[-1:] + stores), tuple(c.id for c in commands if c.kind == "free")


def expand(plan: Plan) -> Plan:
    """``plan`` with every ``tiles`` command lowered to its per-tile commands (ids renumbered)."""
    if not any(c.kind == "tiles" for c in plan.commands):
        return plan
    new_ids: dict[int, tuple[int, ...]] = {}
    internal: dict[str, tuple[int, ...]] = {}  # a run's arena / weight buffer name -> the run's frees
    commands: list[Command] = []
    for c in plan.commands:
        deps = tuple(sorted({d for old in c.deps for d in new_ids[old]}))
        if c.kind == "tiles":
            lowered = tile_commands(replace(c, deps=deps), len(commands))
            commands += lowered
            finals, frees = _finals(lowered)
            new_ids[c.id] = finals
            for b in c.allocs:
                if b.role in ("arena", "weights"):
                    internal[b.name] = frees
            continue
        if c.kind == "free" and c.frees and all(b.name in internal for b in c.frees):
            new_ids[c.id] = tuple(sorted({d for b in c.frees for d in internal.pop(b.name)}))
            continue
        new_ids[c.id] = (len(commands),)
        commands.append(replace(c, id=len(commands), deps=deps))
    runs = tuple(c.run for c in plan.commands if c.kind == "tiles")
    return replace(plan, commands=tuple(commands), lowered=plan.lowered + runs)
