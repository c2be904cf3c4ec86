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

    def span(self, lo: int, hi: int) -> tuple[int, int]:
        """``(i, j)``: ``items[i:j]`` are the intervals overlapping ``[lo, hi)`` (disjoint and
        sorted, so they are consecutive); ``i`` is where ``[lo, hi)`` goes when none does."""
        items = self.items
        i = bisect.bisect_right(self.starts, lo) - 1  # the last starting at or before lo
        if i < 0:
            i = 0
        elif items[i][1] <= lo:  # it ends before lo
            i += 1
        j = i
        while j < len(items) and items[j][0] < hi:
            j += 1
        return i, j

    def claim(self, lo: int, hi: int, key: int, span: tuple[int, int] | None = None) -> None:
        """``[lo, hi)`` now held by ``key`` (``span``: ``self.span(lo, hi)``, if known): what
        other intervals keep of themselves outside it stays theirs."""
        i, j = self.span(lo, hi) if span is None else span
        items = self.items
        new = []
        if i < j and items[i][0] < lo:
            new.append((items[i][0], lo, items[i][2]))
        new.append((lo, hi, key))
        if i < j and items[j - 1][1] > hi:
            new.append((hi, items[j - 1][1], items[j - 1][2]))
        items[i:j] = new
        self.starts[i:j] = [item[0] for item in new]


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
        cmds = self.cmds
        computes = [c.id for c in cmds if c.kind in COMPUTING]
        self.chained = all(a in cmds[b].deps for a, b in zip(computes, computes[1:]))
        self.cmax = cmax = []
        for c in cmds:
            if c.kind in COMPUTING:
                cmax.append(c.id)
            else:
                cid = c.id
                cmax.append(max([cmax[d] for d in c.deps if d < cid], default=-1))
        never = len(cmds)
        self.first = first = [never] * len(cmds)
        for c in reversed(cmds):
            cid = c.id
            mine = cid if c.kind in COMPUTING else first[cid]
            for d in c.deps:
                if 0 <= d < cid and mine < first[d]:
                    first[d] = mine

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
        kind, deps = c.kind, c.deps
        ok = c.id == i and kind in COMMAND_KINDS and ENGINE.get(kind) == c.engine
        ok = ok and (not deps or (min(deps) >= 0 and max(deps) < i))
        if not ok:
            self.bad(c, "bad id, kind, engine or deps")
        if (kind == "load" or kind == "store") and (c.traffic not in TRAFFIC_KINDS or c.cause not in STALL_CAUSES):
            self.bad(c, f"traffic {c.traffic!r} / cause {c.cause!r} not known")
        if kind == "free":
            if c.allocs or not c.frees:
                self.bad(c, "a free must free buffers and allocate none")
        elif c.frees:
            self.bad(c, "only a free releases buffers")
        if kind == "load" and not c.allocs:
            self.bad(c, "a load allocates its destination")
        if kind == "store" and len(c.reads) != 1:
            self.bad(c, "a store reads one buffer")
        if (kind == "tiles") != (c.run is not None):
            self.bad(c, "a tiles command, and only one, carries a tile run")
        elif kind == "tiles":
            self.tile_geometry(c)
        if c.parts:
            if kind != "compute" or sum(p.cycles for p in c.parts) != c.cycles \
                    or (c.layer, c.tile) != (c.parts[0].layer, c.parts[0].stripe):
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
            occupants = self.occupants[b.space]
            span = occupants.span(b.address, b.address + b.size)
            for _, _, key in occupants.items[span[0]:span[1]]:
                if key not in self.freed_by:
                    self.bad(c, f"buffer {b.name!r} overlaps a buffer still allocated")
                elif self.freed_by[key] not in c.deps:
                    self.bad(c, f"buffer {b.name!r} does not depend directly on free {self.freed_by[key]}")
            self.keys += 1
            occupants.claim(b.address, b.address + b.size, self.keys, span)
            self.live[b.name] = (b, self.keys, c.id, [])
            self.used[b.space] += b.size
            if self.used[b.space] > self.capacity[b.space]:
                self.bad(c, f"{self.used[b.space]} B allocated in {b.space!r}, capacity {self.capacity[b.space]} B")

    def release(self, c: Command) -> None:
        for b in c.frees:
            entry = self.live.get(b.name)
            if entry is None or (entry[0] is not b and entry[0] != b):
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
        for c in self.cmds:  # each check called only for the commands it can have work on
            kind = c.kind
            if c.reads or kind == "store" or kind == "tiles":
                self.read(c)
            if kind == "load" or kind == "tiles":
                self.dram_source(c)
            if kind == "host":
                self.host_wrote(c)
            if c.allocs:
                self.allocate(c)
            if c.frees:
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
