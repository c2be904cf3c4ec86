"""An independent checker of plans: the invariants of ``plan.py``, from the commands alone.

It shares no code with the scheduler. Walking the commands in program order it keeps the
buffers allocated in each space and who last held every byte, and checks:

1. ids are 0..n-1, every dep points to an earlier command, kinds, engines, traffic kinds
   and causes are known;
2. an allocation overlaps no allocated buffer, lies within its space, and lists among its
   direct deps the ``free`` of every buffer that last held any of its bytes; a name freed
   before is allocated again only after that free (a transitive dep);
3. the bytes allocated in each space never exceed its capacity;
4. a compute or store reads only allocated buffers whose allocating command is among its
   transitive deps, and a buffer's ``free`` depends on its allocation and on every
   command that read it;
5. a ``spill_read`` / ``streamed_read`` load depends on a store of the same data (of each
   piece, for an alias), unless DRAM held it from the start (an earlier ``input`` load of it:
   the network input read again);
6. nothing is left allocated at the end;
7. a streamed layer's ``tiles`` command (read like a compute; it stores its banded outputs
   and reads its banded inputs from DRAM like the loads and stores it stands for) keeps every
   tile slot and its weight chunk inside its arena, and every band within its slot (the
   per-tile commands it stands for are checked by verifying ``hwsim.schedule.expand``'s
   lowering of the plan);
8. a compute's parts (a cascade's) add up to its cycles, start at its layer and tile and
   read only buffers it lists; a cascade's parts, in program order, are each of its
   layers in each stripe where it has rows (``Cascade.progress``), stripe by stripe;
9. a host op (``Plan.hosts``; ``host_check``) runs as one ``host`` command of its cycles that
   reads and allocates nothing, after a store of every input piece not in DRAM from the start
   (or after the host op that wrote it); no compute writes its outputs and every load of one
   follows it; it is a barrier (every earlier transfer and compute before it, the first
   command of each engine after it depending on it);

and, given the graph, that every layer's computes read every tensor the layer reads (its
buffer, the buffers an alias lives in, a band tile or a cascade's rolling buffer holding its
rows (``Buffer.tensor``), or the bands of a streamed layer's run; a cascade's layer: in its
parts' reads).

Transitive deps are checked by a depth-first search backwards from the later command,
pruned below the earlier one (deps always point back, so no path can go below it), after
O(1) shortcuts that are exact when the computes form a dependency chain (``index``).
"""

from __future__ import annotations

import bisect

from hwsim.gc_pause import paused
from hwsim.graph.analysis import layer_io
from hwsim.graph.ir import Graph
from hwsim.schedule.plan import COMMAND_KINDS, STALL_CAUSES, TRAFFIC_KINDS, Buffer, Command, Plan

ENGINE = {"compute": "compute", "load": "dma_read", "store": "dma_write", "free": "none", "tiles": "tiles",
          "host": "compute"}
COMPUTING = ("compute", "tiles")


class _Occupants:
    """Disjoint address intervals of one space -> the buffer key that last held them."""

    def __init__(self):
        self.starts: list[int] = []
        self.items: list[tuple[int, int, int]] = []  # (lo, hi, key), sorted by lo

    def overlapping(self, lo: int, hi: int) -> list[tuple[int, int, int]]:
        i = max(0, bisect.bisect_right(self.starts, lo) - 1)
        found = []
        while i < len(self.items) and self.items[i][0] < hi:
            if self.items[i][1] > lo:
                found.append(self.items[i])
            i += 1
        return found

    def claim(self, lo: int, hi: int, key: int) -> None:
        keep = []
        for a, b, k in self.overlapping(lo, hi):
            if a < lo:
                keep.append((a, lo, k))
            if b > hi:
                keep.append((hi, b, k))
            i = self.items.index((a, b, k))
            del self.items[i], self.starts[i]
        for item in keep + [(lo, hi, key)]:
            i = bisect.bisect_left(self.starts, item[0])
            self.starts.insert(i, item[0])
            self.items.insert(i, item)


class _Checker:
    def __init__(self, plan: Plan):
        self.plan = plan
        self.cmds = plan.commands
        self.problems: list[str] = []
        self.capacity = {"sram": plan.sram_bytes, "weights": plan.weight_buffer_bytes}
        self.used = {"sram": 0, "weights": 0}
        self.live: dict[str, tuple[Buffer, int, int, list[int]]] = {}  # name -> (buffer, key, alloc id, readers)
        self.occupants = {"sram": _Occupants(), "weights": _Occupants()}
        self.freed_by: dict[int, int] = {}
        self.last_free: dict[str, int] = {}
        self.stores_of: dict[str, list[int]] = {}  # tensor -> its stores so far
        self.inputs: set[str] = set()  # tensors loaded as the network input so far
        self.aliases = {t: pieces for t, pieces, _ in plan.aliases}
        self.keys = 0

    def bad(self, c: Command, what: str) -> None:
        self.problems.append(f"command {c.id} ({c.kind}, layer {c.layer}): {what}")

    def index(self) -> None:
        """Shortcuts for :meth:`reaches` when the computes form a chain (each depends on the
        previous one): ``cmax[c]``, the last compute among c and its ancestors, and
        ``first[c]``, the first compute that has c among its ancestors."""
        computes = [c.id for c in self.cmds if c.kind in COMPUTING]
        self.chained = all(a in self.cmds[b].deps for a, b in zip(computes, computes[1:]))
        self.cmax = []
        for c in self.cmds:
            best = max((self.cmax[d] for d in c.deps if d < c.id), default=-1)
            self.cmax.append(c.id if c.kind in COMPUTING else best)
        never = len(self.cmds)
        self.first = [never] * len(self.cmds)
        for c in reversed(self.cmds):
            mine = c.id if c.kind in COMPUTING else self.first[c.id]
            for d in c.deps:
                if 0 <= d < c.id and mine < self.first[d]:
                    self.first[d] = mine

    def reaches(self, earlier: int, later: int) -> bool:
        """Whether ``earlier`` is among the transitive deps of ``later``.

        With chained computes: a compute ``x`` is an ancestor of ``c`` iff ``x <= cmax[c]``,
        and any ``x`` is one if ``first[x] <= cmax[c]``; otherwise (or without a chain) a
        depth-first search backwards from ``later`` decides."""
        if earlier in self.cmds[later].deps:
            return True
        if self.chained:
            if self.cmds[earlier].kind in COMPUTING:
                return earlier <= self.cmax[later]
            if self.first[earlier] <= self.cmax[later]:
                return True
        stack, seen = [later], {later}
        while stack:
            for d in self.cmds[stack.pop()].deps:
                if d == earlier:
                    return True
                if d > earlier and d not in seen:
                    seen.add(d)
                    stack.append(d)
        return False

    def shape(self, i: int, c: Command) -> bool:
        ok = c.id == i and c.kind in COMMAND_KINDS and ENGINE.get(c.kind) == c.engine
        ok = ok and all(0 <= d < i for d in c.deps)
        if not ok:
            self.bad(c, "bad id, kind, engine or deps")
        if c.kind in ("load", "store") and (c.traffic not in TRAFFIC_KINDS or c.cause not in STALL_CAUSES):
            self.bad(c, f"traffic {c.traffic!r} / cause {c.cause!r} not known")
        if c.kind == "free" and (c.allocs or not c.frees):
            self.bad(c, "a free must free buffers and allocate none")
        if c.kind != "free" and c.frees:
            self.bad(c, "only a free releases buffers")
        if c.kind == "load" and not c.allocs:
            self.bad(c, "a load allocates its destination")
        if c.kind == "store" and len(c.reads) != 1:
            self.bad(c, "a store reads one buffer")
        if (c.kind == "tiles") != (c.run is not None):
            self.bad(c, "a tiles command, and only one, carries a tile run")
        elif c.kind == "tiles":
            self.tile_geometry(c)
        if c.parts and (c.kind != "compute" or sum(p.cycles for p in c.parts) != c.cycles
                        or (c.layer, c.tile) != (c.parts[0].layer, c.parts[0].stripe)):
            self.bad(c, "its parts do not add up to it (cycles, first layer and stripe)")
        if any(name not in c.reads for p in c.parts for name in p.reads):
            self.bad(c, "a part reads a buffer the command does not list")
        return ok

    def tile_geometry(self, c: Command) -> None:
        """A run's tile buffers and weight chunk lie inside its arena, and every band fits its slot."""
        run = c.run
        arena = next((b for b in c.allocs if b.role == "arena"), None)
        size = arena.size if arena is not None else 0
        for s in run.reads + run.writes:
            if len(s.nbytes) != run.tiles or len(s.slots) != run.slots or max(s.nbytes, default=0) > s.size:
                self.bad(c, f"tiles of {s.tensor!r}: bands do not match the run or exceed their {s.size} B slot")
            if any(at < 0 or at + s.size > size for at in s.slots):
                self.bad(c, f"a tile slot of {s.tensor!r} lies outside the {size} B arena")
        if run.weight_block and run.weight_space == "sram" and run.weight_at + run.weight_size > size:
            self.bad(c, f"the weight chunk region lies outside the {size} B arena")

    def read(self, c: Command) -> None:
        for name in c.reads:
            if name not in self.live:
                self.bad(c, f"reads {name!r}, which is not allocated")
                continue
            buffer, key, alloc_id, readers = self.live[name]
            if not self.reaches(alloc_id, c.id):
                self.bad(c, f"reads {name!r} without depending on command {alloc_id}, which produced it")
            readers.append(c.id)
        if c.kind == "store" and c.tensor is not None:
            self.stores_of.setdefault(c.tensor, []).append(c.id)
        if c.kind == "tiles":
            for s in c.run.writes:
                self.stores_of.setdefault(s.tensor, []).append(c.id)

    def host_wrote(self, c: Command) -> None:
        """A host command is the writer of its outputs' DRAM copies (``sourced``)."""
        for h in self.plan.hosts:
            if h.layer == c.layer and c.kind == "host":
                for piece in h.writes:
                    self.stores_of.setdefault(piece, []).append(c.id)

    def dram_source(self, c: Command) -> None:
        if c.kind == "tiles":
            for s in c.run.reads:
                if s.traffic in ("streamed_read", "host_read"):
                    self.sourced(c, s.tensor)
        if c.kind == "load" and c.traffic == "input":
            self.inputs.add(c.tensor)
        if c.kind != "load" or c.traffic not in ("spill_read", "streamed_read", "host_read"):
            return
        self.sourced(c, c.tensor)

    def sourced(self, c: Command, tensor: str) -> None:
        for piece in self.aliases.get(tensor, (tensor,)):
            if piece in self.inputs:
                continue  # in DRAM from the start
            stores = self.stores_of.get(piece, [])
            direct = set(c.deps)
            if not any(s in direct for s in stores) and not any(self.reaches(s, c.id) for s in reversed(stores)):
                self.bad(c, f"reads {piece!r} from DRAM without depending on a store of it")

    def allocate(self, c: Command) -> None:
        for b in c.allocs:
            cap = self.capacity.get(b.space)
            if cap is None or b.address < 0 or b.size <= 0 or b.address + b.size > cap:
                self.bad(c, f"buffer {b.name!r} [{b.address}, {b.address + b.size}) outside {b.space!r}")
                continue
            if b.name in self.live:
                self.bad(c, f"allocates {b.name!r}, which is already allocated")
                continue
            if b.name in self.last_free and not self.reaches(self.last_free[b.name], c.id):
                self.bad(c, f"allocates {b.name!r} again without depending on its last free")
            for _, _, key in self.occupants[b.space].overlapping(b.address, b.address + b.size):
                if key not in self.freed_by:
                    self.bad(c, f"buffer {b.name!r} overlaps a buffer still allocated")
                elif self.freed_by[key] not in c.deps:
                    self.bad(c, f"buffer {b.name!r} does not depend directly on free {self.freed_by[key]}")
            self.keys += 1
            self.occupants[b.space].claim(b.address, b.address + b.size, self.keys)
            self.live[b.name] = (b, self.keys, c.id, [])
            self.used[b.space] += b.size
            if self.used[b.space] > self.capacity[b.space]:
                self.bad(c, f"{self.used[b.space]} B allocated in {b.space!r}, capacity {self.capacity[b.space]} B")

    def release(self, c: Command) -> None:
        for b in c.frees:
            entry = self.live.get(b.name)
            if entry is None or entry[0] != b:
                self.bad(c, f"frees {b.name!r}, which is not allocated as {b}")
                continue
            buffer, key, alloc_id, readers = entry
            for r in [alloc_id, *readers]:
                if not self.reaches(r, c.id):
                    self.bad(c, f"frees {b.name!r} without depending on command {r}, which used it")
            del self.live[b.name]
            self.freed_by[key] = c.id
            self.last_free[b.name] = c.id
            self.used[b.space] -= b.size

    def run(self) -> list[str]:
        for i, c in enumerate(self.cmds):
            if not self.shape(i, c):
                return self.problems
        self.index()
        for c in self.cmds:
            self.read(c)
            self.dram_source(c)
            self.host_wrote(c)
            self.allocate(c)
            self.release(c)
        if self.live:
            self.problems.append(f"{len(self.live)} buffers never freed: {sorted(self.live)[:5]}")
        return self.problems


def _check_layer_reads(plan: Plan, graph: Graph) -> list[str]:
    aliases = {t: pieces for t, pieces, _ in plan.aliases}
    reads_of: dict[int, set[str]] = {}
    holds: dict[str, str] = {}  # a rolling buffer or band tile -> the tensor whose rows it holds
    banded: dict[int, set[str]] = {}  # streamed layer -> the tensors it reads in bands
    for c in plan.commands:
        holds.update((b.name, b.tensor) for b in c.allocs if b.role in ("rows", "tile"))
        for layer, reads in ((p.layer, p.reads) for p in c.parts) if c.parts else \
                ((c.layer, c.reads),) if c.kind == "compute" else ():
            reads_of.setdefault(layer, set()).update(reads)
        if c.kind == "tiles":
            reads_of.setdefault(c.layer, set()).update(c.run.resident)
            banded.setdefault(c.layer, set()).update(s.tensor for s in c.run.reads)
    problems = []
    hosts = {h.layer for h in plan.hosts}  # read from DRAM by the host: ``host_check``
    for io in layer_io(graph):
        if io.writes and all(w in aliases for w in io.writes) or io.index in hosts:
            continue  # moves no data
        got = reads_of.get(io.index, set())
        for t in io.reads:
            pieces = aliases.get(t, (t,))
            if not (all(p in got for p in pieces) or t in banded.get(io.index, ())
                    or any(holds.get(n) == t for n in got)):
                problems.append(f"layer {io.index} ({io.name}) computes without reading {t!r}")
    return problems


def _check_parts(plan: Plan) -> list[str]:
    """A cascade's parts, in program order, are each of its layers in each stripe where it has rows,
    stripe by stripe, in layer order; no compute outside a cascade has parts."""
    cascade_of = {t: c.first for c in plan.cascades for t in c.layers}
    got: dict[int, list[tuple[int, int]]] = {}
    problems = []
    for cmd in plan.commands:
        for p in cmd.parts:
            if p.layer not in cascade_of:
                problems.append(f"command {cmd.id}: a part of layer {p.layer}, which is in no cascade")
                continue
            got.setdefault(cascade_of[p.layer], []).append((p.layer, p.stripe))
    for c in plan.cascades:
        rows = [c.progress[t - c.first] for t in c.layers]
        want = [(t, s) for s in range(c.stripes) for t in c.layers if rows[t - c.first][s] < rows[t - c.first][s + 1]]
        if got.get(c.first, []) != want:
            problems.append(f"cascade of layers {c.first}..{c.last}: its parts are not each layer's stripes "
                            "with rows, once, in order")
    return problems


@paused
def verify_plan(plan: Plan, spec=None, graph: Graph | None = None) -> list[str]:
    """Every problem found in ``plan`` (empty: it satisfies the plan invariants).

    ``spec`` is accepted for symmetry with the scheduler (capacities come from the plan);
    if given, the plan must have been made for its SRAM size. With ``graph``, the layers'
    reads are checked too.
    """
    problems = []
    if spec is not None and spec.sram.size_bytes != plan.sram_bytes:
        problems.append(f"plan made for {plan.sram_bytes} B of SRAM, spec has {spec.sram.size_bytes} B")
    checker = _Checker(plan)
    problems += checker.run() + _check_parts(plan)
    if plan.hosts and not problems:
        from hwsim.schedule.host_check import check_hosts

        problems += check_hosts(plan, checker.reaches, graph)
    if graph is not None:
        problems += _check_layer_reads(plan, graph)
    return problems
