"""The scheduling problem: everything about one graph on one spec that the walk does not change.

:func:`build_context` decides, before the walk, how every layer runs (whole, with weights in
chunks, or streamed: ``tiling``), which layers run together as cascades (``cascade``, in
cascade mode), where each activation's bytes live (``storage``), and when each storage is
needed (``Usage``). The walk (``scheduler``) then places, spills and emits commands.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Mapping

from hwsim.graph.analysis import LayerIO, layer_io, live_ranges, skip_tensors
from hwsim.graph.ir import Graph
from hwsim.schedule.cascade import plan_cascades
from hwsim.schedule.chunks import Chunk
from hwsim.schedule.cost import LayerCost, layer_costs
from hwsim.schedule.host_run import host_cycles, host_mode
from hwsim.schedule.memory import Usage
from hwsim.schedule.order import order_layers
from hwsim.schedule.plan import Cascade
from hwsim.schedule.spill import POLICIES
from hwsim.schedule.storage import Layout, LayerNeed, build_layout, layer_needs
from hwsim.schedule.tiling import Mode, Room, choose_mode
from hwsim.spec.model import AcceleratorSpec


@dataclass(frozen=True)
class Context:
    """Everything about one scheduling problem that does not change during the walk."""

    graph: Graph
    spec: AcceleratorSpec
    layout: Layout
    needs: tuple[LayerNeed, ...]
    modes: tuple[Mode, ...]
    costs: tuple[LayerCost, ...]
    usage: Usage
    dies_at: tuple[tuple[str, ...], ...]  # storages whose last resident use is each step
    outputs: frozenset[str]  # pieces that are graph outputs
    io: tuple[LayerIO, ...]
    cascades: tuple[Cascade, ...] = ()
    cascade_at: dict[int, Cascade] | None = None  # first layer of each cascade -> it
    inside: frozenset[int] = frozenset()  # the other layers of the cascades
    storages: tuple[tuple[str, ...], ...] = ()  # the storages each step's mode keeps resident
    blocks: tuple[str, ...] = ()  # each layer's weight block name
    host_cycles: Mapping[int, int] = field(default_factory=dict)  # host layer (``host_run``) -> its host cycles
    guards: list | None = None  # where the modes' tile slots choices are recorded (``guards``), if anywhere
    # figures the streamed layers alike share within this problem (``stream.tile_run``)
    alike: dict = field(default_factory=dict, compare=False, repr=False)

    def block(self, t: int) -> str:
        return self.blocks[t]

    def next_steps(self, t: int, count: int) -> list[int]:
        """The first layers of the ``count`` steps after layer ``t`` (a cascade is one step)."""
        found, u = [], t + 1
        while u < len(self.modes) and len(found) < count:
            if u not in self.inside:
                found.append(u)
            u += 1
        return found


def build_context(g: Graph, spec: AcceleratorSpec, cascades: tuple[Cascade, ...] | None = None,
                  slack: int = 0, guards: list | None = None) -> Context:
    """The scheduling problem; ``cascades``: those of a plan already made (None: plan them
    when the spec's execution mode is ``cascade``); ``slack``: bytes that weight chunks leave
    free beside everything live (room for the offline packing); ``guards``: a list to record
    the streamed layers' tile slots choices in (``guards``)."""
    policy = spec.policy
    if policy.order != "graph" and order_layers(g, spec).graph is not g:
        raise ValueError(f"policy.order {policy.order!r}: schedule the graph order_layers gives, not {g.name!r}'s")
    if policy.spill not in POLICIES:
        raise ValueError(f"policy.spill must be one of {POLICIES}, got {policy.spill!r}")
    separate = spec.sram.separate_weights
    if cascades is None:
        cascades = _cascades(g, spec)
    inside = frozenset(t for c in cascades for t in c.layers if t != c.first)
    layout, needs, live_beside = _needs(g, spec, frozenset(t for c in cascades for t in c.layers))
    room = Room(spec.sram.size_bytes, spec.sram.weight_buffer_bytes if separate else None, spec.sram.aligned,
                spec.dram_transfer_cycles, spec.dram_latency_cycles(), spec.policy.stream_objective, guards)
    outputs = frozenset(g.root(o) for o in g.outputs) - {g.root(i) for i in g.inputs}
    costs = layer_costs(g, spec)
    hosts = host_cycles(g, spec)
    beside = [b + slack for b in live_beside]
    modes = list(_modes(g, layout, needs, room, outputs, costs, beside, inside, frozenset(hosts)))
    for c in cascades:
        modes[c.first] = _cascade_mode(c, layout, room)
    modes = tuple(modes)
    storages = tuple(need.storages if (mode.resident_reads, mode.resident_writes) == (need.reads, need.writes)
                     else resident_storages(layout, mode) for mode, need in zip(modes, needs))
    usage, dies_at = _usage(g, layout, modes, storages, frozenset(hosts))
    return Context(g, spec, layout, needs, modes, costs, usage, dies_at, outputs, layer_io(g), cascades,
                   {c.first: c for c in cascades}, inside, storages, tuple(f"weights:{la.name}" for la in g.layers),
                   hosts, guards)


def resident_storages(layout: Layout, mode: Mode) -> tuple[str, ...]:
    """The storages that ``mode`` keeps resident, in the order of its pieces."""
    return tuple(dict.fromkeys(layout.storage_of[p] for p in mode.resident_reads + mode.resident_writes))


def _needs(g: Graph, spec: AcceleratorSpec, copied: frozenset[int]) -> tuple[Layout, tuple[LayerNeed, ...],
                                                                           tuple[int, ...]]:
    """The layout (``copied``: the layers inside cascades), each layer's needs and the bytes live
    beside it. They depend on the graph and on the spec's bit-widths, concat policy and alignment
    only, so they are memoised on the graph (a sweep over SRAM sizes works them out once)."""
    bits, concat = spec.datatype, spec.policy.concat

    def work_out(_: Graph) -> tuple[Layout, tuple[LayerNeed, ...], tuple[int, ...]]:
        layout = build_layout(g, bits.activation_bits, concat, copied)
        needs = layer_needs(g, layout, bits.weight_bits, bits.bias_bits)
        return layout, needs, tuple(_live_beside(g, layout, needs, spec.sram.aligned))

    key = ("layer_needs", bits.activation_bits, bits.weight_bits, bits.bias_bits, concat, spec.sram.alignment_bytes, copied)
    return g.memo(key, work_out)


def _cascades(g: Graph, spec: AcceleratorSpec) -> tuple[Cascade, ...]:
    """The cascades (cascade mode).

    Inside a cascade a concatenation or slice moves rows between rolling buffers: a copy.
    Outside, an in-place concatenation holds a tensor that leaves a cascade in one storage with
    the other pieces: a cascade whose whole tensors, counted as the storages holding them,
    do not fit the SRAM is forbidden and the cascades planned again."""
    bits, sram, policy = spec.datatype, spec.sram, spec.policy
    if policy.execution != "cascade":
        return ()
    forbidden: set[tuple[int, int]] = set()
    while True:
        cascades = plan_cascades(g, bits.activation_bits, bits.weight_bits, sram.size_bytes, sram.alignment_bytes,
                                 sram.weight_buffer_bytes if sram.separate_weights else None, frozenset(forbidden),
                                 bias_bits=bits.bias_bits)
        layout = build_layout(g, bits.activation_bits, policy.concat, frozenset(t for c in cascades for t in c.layers))
        too_big = {(c.first, c.last) for c in cascades if _storage_need(c, layout, spec) > sram.size_bytes}
        if not too_big:
            return cascades
        forbidden |= too_big


def _storage_need(c: Cascade, layout: Layout, spec: AcceleratorSpec) -> int:
    names = {layout.storage_of[p] for t in (*c.reads, *c.writes) for p in layout.covers[t]}
    weights = spec.sram.aligned(c.weight_bytes) if c.weight_bytes and not spec.sram.separate_weights else 0
    return sum(spec.sram.aligned(layout.storages[s].nbytes) for s in names) + c.arena_bytes + weights


def _live_beside(g: Graph, layout: Layout, needs: tuple[LayerNeed, ...], aligned) -> list[int]:
    """For each step, the bytes of the storages live across it other than the layer's own (a
    storage lives from its first piece's producer to the last reader of any tensor it holds)."""
    span: dict[str, list[int]] = {}
    for name, r in live_ranges(g).items():
        for p in layout.covers[name]:
            s = span.setdefault(layout.storage_of[p], [r.start, r.end])
            s[0], s[1] = min(s[0], r.start), max(s[1], r.end)
    for name in g.inputs:
        s = span.setdefault(layout.storage_of[g.root(name)], [0, 0])
        s[0] = 0
        s[1] = max([s[1], *(t for t, need in enumerate(needs) if g.root(name) in need.reads)])
    delta = [0] * (len(needs) + 1)
    for storage, (start, end) in span.items():
        delta[start] += aligned(layout.storages[storage].nbytes)
        delta[end + 1] -= aligned(layout.storages[storage].nbytes)
    beside, live = [], 0
    for t, need in enumerate(needs):
        live += delta[t]
        beside.append(live - sum(aligned(layout.storages[s].nbytes) for s in need.storages))
    return beside


def _idle() -> Mode:
    """A layer run by the cascade it belongs to (at its first layer's step)."""
    return Mode(False, (), 1, 0, (), ())


def _cascade_mode(c: Cascade, layout: Layout, room: Room) -> Mode:
    """A cascade as one step: whole reads and writes resident, all its weights in one block."""
    reads = tuple(dict.fromkeys(p for t in c.reads for p in layout.covers[t]))
    writes = tuple(w for w in c.writes if not layout.is_alias(w))
    chunks = (Chunk(0, 1, c.weight_bytes),) if c.weight_bytes else ()
    return Mode(False, chunks, 1, room.aligned(c.weight_bytes) if c.weight_bytes else 0, reads, writes)


def _modes(g: Graph, layout: Layout, needs: tuple[LayerNeed, ...], room: Room, outputs: frozenset[str],
           costs: tuple[LayerCost, ...], beside: list[int], inside: frozenset[int],
           hosts: frozenset[int] = frozenset()) -> tuple[Mode, ...]:
    """Each layer's mode, in order: a streamed layer's choices depend on what DRAM holds
    already (the network input, what earlier streamed layers sent out in bands, what host
    ops read and wrote; ``choose_mode`` reads the set during its call only, so it is handed the
    set itself, not a copy)."""
    in_dram = {g.root(i) for i in g.inputs}
    modes = []
    alike: dict = {}  # streamed layers alike share one search (``hwsim.schedule.alike``)
    for t, need in enumerate(needs):
        if t in inside:
            modes.append(_idle())
            continue
        if t in hosts:
            modes.append(host_mode(g, t))
            in_dram.update(modes[-1].band_reads + modes[-1].band_writes)
            continue
        modes.append(choose_mode(g, t, need, layout, room, beside=beside[t], in_dram=in_dram,
                                 outputs=outputs, cycles=costs[t].cycles, alike=alike))
        in_dram.update(modes[-1].band_writes)
    return tuple(modes)


def _usage(g: Graph, layout: Layout, modes: tuple[Mode, ...], storages: tuple[tuple[str, ...], ...],
           hosts: frozenset[int] = frozenset()) -> tuple[Usage, tuple[tuple[str, ...], ...]]:
    touches: dict[str, list[int]] = {}
    reads: dict[str, list[int]] = {}
    for t, mode in enumerate(modes):
        for s in storages[t]:
            touches.setdefault(s, []).append(t)
        band = [p for name in mode.band_reads for p in layout.covers[name]]
        for p in dict.fromkeys(mode.resident_reads + tuple(band)):
            reads.setdefault(p, []).append(t)
    dies: list[list[str]] = [[] for _ in modes]
    for s, steps in touches.items():
        dies[steps[-1]].append(s)
    skips = frozenset(layout.storage_of[p] for t in skip_tensors(g) for p in layout.covers[t])
    return Usage(touches, reads, skips, hosts), tuple(tuple(d) for d in dies)


def with_cascades(ctx: Context, cascades: tuple[Cascade, ...]) -> Context:
    """``ctx`` with the same layers in cascades of other stripes: what ``build_context`` would
    make of them, for a cascade's layers, whole reads and writes and weights do not depend on
    its stripes (nor, then, the layout, the modes or the usage)."""
    if [(c.first, c.last, c.reads, c.writes, c.weight_bytes) for c in cascades] != \
            [(c.first, c.last, c.reads, c.writes, c.weight_bytes) for c in ctx.cascades]:
        raise ValueError("other cascades than the context's, not the same ones in other stripes")
    return replace(ctx, cascades=cascades, cascade_at={c.first: c for c in cascades})
