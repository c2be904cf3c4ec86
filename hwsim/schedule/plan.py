"""The plan: every decision the scheduler made, as a command stream with dependencies.

The scheduler (graph + spec -> Plan) decides the order, where every buffer lives in SRAM,
what is spilled, reloaded, prefetched and streamed; the simulator only consumes the
commands. Nothing in a plan refers back to mutable state, so sweeps compare plans freely.

Commands and their engines:

* ``compute`` (engine ``compute``): runs one layer (or one tile of a streamed layer) for
  ``cycles`` cycles. It allocates its outputs (``allocs``) when it starts. In a cascade
  one compute runs several :class:`Part` s back to back (``parts``): the work of a layer in
  a stripe each, in order, with no wait between them (:meth:`Command.spans`).
* ``load`` (engine ``dma_read``): DRAM -> SRAM, ``dram_bytes`` bytes; allocates its
  destination buffer when it starts.
* ``store`` (engine ``dma_write``): SRAM -> DRAM, ``dram_bytes`` bytes; allocates nothing.
* ``free`` (engine ``none``, instantaneous): releases ``frees`` once its deps are done.
* ``host`` (engine ``compute``: the accelerator waits): a host op (``--fallback host``,
  ``hwsim.schedule.host_run``) running ``cycles`` cycles on the host CPU; it reads and
  allocates no buffer (its inputs were stored to DRAM, its outputs are loaded from DRAM
  after it, ``host_write`` / ``host_read`` traffic) and it is a barrier: it depends on every
  earlier load, store and compute, and every engine's first command after it depends on it.
* ``tiles`` (engine ``tiles``: it occupies the compute engine and both DMA engines): all the
  tiles of one streamed layer, described compactly by its :class:`TileRun` (``run``); it
  allocates the layer's tile arena (and the outputs the layer writes in place) when it
  starts. ``hwsim.schedule.expand`` lowers it to the per-tile loads, computes, stores and
  frees it stands for; ``hwsim.sim.pipeline`` times it in bulk.

Plan invariants (checked by ``verify.py``, independently of how the plan was made):

1. ids are 0..n-1 in program order and every dep points to an earlier command;
2. an allocation never overlaps, in address, a buffer that is still allocated in program
   order, and it lists among its direct deps the ``free`` of every earlier buffer that
   overlapped its range (so no execution order the deps allow can overlap them);
3. at every point of program order the bytes allocated never exceed the SRAM (or the
   weight buffer, for ``space="weights"``);
4. a compute command's inputs are allocated (resident) when it starts, their producing
   command (load or compute) among its transitive deps, and freed only after it
   (their free depends on it);
5. a store reads a resident buffer and its free depends on the store;
6. a cascade's parts, in program order, are each of its layers in each stripe where it has
   rows, stripe by stripe; a compute's parts add up to its cycles and read only its reads;
7. a host command (``hosts``) follows a store of every input piece not in DRAM from the
   start, no compute writes its outputs, every load of one follows it, and it is a barrier.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Iterator, NamedTuple

from hwsim.records import stored_at_once

ENGINES = ("compute", "dma_read", "dma_write", "none", "tiles")
COMMAND_KINDS = ("compute", "load", "store", "free", "tiles", "host")
ENGINE_OF = {"compute": "compute", "load": "dma_read", "store": "dma_write", "free": "none", "tiles": "tiles",
             "host": "compute"}
TRAFFIC_KINDS = ("weights", "input", "output", "spill_write", "spill_read", "streamed_read", "streamed_write",
                 "host_write", "host_read")
BUFFER_ROLES = ("activation", "weights", "arena", "tile", "rows")
STALL_CAUSES = ("weights", "reload", "spill_store", "streamed", "input", "drain", "host")


@stored_at_once
@dataclass(frozen=True)
class Buffer:
    """One SRAM allocation, typed by its ``role`` (one of :data:`BUFFER_ROLES`):

    * ``activation``: a whole tensor (or a piece of one, see ``Plan.aliases``), named after it;
      its bytes are its elements in NCHW (row-major) order at its storage width;
    * ``weights``: a layer's (or a cascade's) weight block, or one chunk of it;
    * ``arena``: a streamed layer's tile arena (its tile slots and weight chunk live inside);
    * ``tile``: one band tile of a streamed layer (``tensor`` and ``tile`` set), made only by
      ``hwsim.schedule.expand``;
    * ``rows``: a cascade's rolling buffer (``tensor`` and ``rows`` set), a ring of ``rows``
      slots: row ``r`` of the tensor (its H) lives in slot ``r mod rows``, which starts at
      ``address + slot * nbytes(tensor) / H`` and holds that row for every image and channel,
      ``N * C * W`` elements in (n, c, w) order (see :class:`RollingBuffer`).

    Names are unique among the buffers allocated at one time and carry no meaning: what a
    buffer is, downstream code reads from ``role``, ``tensor``, ``tile`` and ``rows``.
    """

    name: str
    address: int
    size: int  # bytes reserved (alignment included)
    space: str = "sram"  # "sram" | "weights" (a separate weight buffer, when the spec has one)
    role: str = "activation"  # one of BUFFER_ROLES
    tensor: str | None = None  # tile, rows: the tensor whose rows it holds
    tile: int | None = None  # tile: the tile (compute) of its streamed layer it serves
    rows: int = 0  # rows: how many rows of ``tensor`` it holds (row r at slot r mod rows)

    def holds(self) -> str | None:
        """The tensor whose bytes it holds (None for weights and a tile arena)."""
        return self.tensor if self.role in ("tile", "rows") else self.name if self.role == "activation" else None


class Part(NamedTuple):
    """The work of one layer of a cascade in one stripe, inside a compute command."""

    layer: int
    stripe: int  # 0-based; the driver rows it makes are ``Cascade.done(layer, stripe)``
    cycles: int
    reads: tuple[str, ...]  # the buffers it reads (a subset of its command's ``reads``)


@stored_at_once
@dataclass(frozen=True)
class Command:
    id: int
    kind: str  # one of COMMAND_KINDS
    engine: str  # one of ENGINES
    layer: int  # the layer step this command serves (compute: the layer it runs)
    deps: tuple[int, ...] = ()
    tensor: str | None = None  # load/store: the tensor moved
    dram_bytes: int = 0  # load/store: bytes on the DRAM bus
    traffic: str | None = None  # load/store: one of TRAFFIC_KINDS
    cycles: int = 0  # compute: busy cycles
    allocs: tuple[Buffer, ...] = ()  # allocated when the command starts
    frees: tuple[Buffer, ...] = ()  # free: released when it runs
    reads: tuple[str, ...] = ()  # compute: buffer names it reads; store: the buffer it copies out
    cause: str | None = None  # load/store: the STALL_CAUSES entry a compute wait on it is charged to
    tile: int | None = None  # a tile of a streamed layer (or a weight chunk); a cascade's: its first part's stripe
    parts: tuple[Part, ...] = ()  # compute in a cascade: its parts in order (``layer``: the first one's)
    run: "TileRun | None" = None  # tiles: the streamed layer's tiles

    def spans(self, start: int) -> Iterator[tuple[int, int | None, int, int]]:
        """``(layer, tile, start, end)`` of each piece of work of this command when it starts at
        cycle ``start``: its parts one after the other (a cascade's), or the command itself."""
        if not self.parts:
            yield self.layer, self.tile, start, start + self.cycles
        for part in self.parts:
            yield part.layer, part.stripe, start, start + part.cycles
            start += part.cycles


@stored_at_once
@dataclass(frozen=True)
class BandStream:
    """One banded tensor of a streamed layer: what each tile moves of it and where its tile
    buffers sit (``slots`` offsets from the start of the layer's arena, ``size`` bytes each)."""

    tensor: str
    traffic: str  # reads: "streamed_read" | "input"; writes: "streamed_write" | "output"
    nbytes: tuple[int, ...]  # bytes moved per tile (0: nothing of it in that tile)
    slots: tuple[int, ...]
    size: int


@stored_at_once
@dataclass(frozen=True)
class TileRun:
    """The tiles of one streamed layer (``hwsim.schedule.stream``), in the order they run.

    Tile ``k`` runs driver rows ``bands[k % len(bands)]`` with weight chunk
    ``k // len(bands)``. Its input bands load into slot ``k % slots`` of each read stream,
    its output bands are written into slot ``k % slots`` of each write stream and stored;
    ``cycles[k]`` is its compute. With two slots tile ``k + 1`` loads while tile ``k``
    computes. Chunk ``c`` (``chunk_bytes[c]``, 0 without weights) is loaded, as
    ``weights:<layer>`` (``...@chunk<c>`` when there are several), before its first tile,
    after the previous chunk's last tile; it lives at ``weight_at`` (an offset in the arena
    when weights share the SRAM, an address in the weight buffer otherwise).
    """

    layer: int
    bands: tuple[tuple[int, int], ...]
    slots: int
    cycles: tuple[int, ...]  # per tile
    reads: tuple[BandStream, ...]
    writes: tuple[BandStream, ...]
    resident: tuple[str, ...]  # buffers the tiles read in place (whole tensors kept resident)
    weight_block: str | None = None
    chunk_bytes: tuple[int, ...] = ()
    weight_at: int = 0
    weight_space: str = "sram"
    weight_size: int = 0  # bytes reserved for a chunk (aligned, the largest)
    # What the tiles compute: output channels ``[first, end)`` of each chunk (of ``out_channels``),
    # the outputs written in place (pieces), and the band model (``hwsim.schedule.bands``:
    # which rows of each tensor a band touches) that the numerics check cuts bands with.
    channels: tuple[tuple[int, int], ...] = ((0, 1),)
    out_channels: int = 1
    resident_writes: tuple[str, ...] = ()
    model: object = field(default=None, compare=False, repr=False)

    @property
    def tiles(self) -> int:
        return len(self.cycles)

    def band(self, k: int) -> tuple[int, int]:
        return self.bands[k % len(self.bands)]

    def chunk(self, k: int) -> int:
        return k // len(self.bands)

    def moves(self) -> tuple[tuple[str, str, int], ...]:
        """``(tensor, traffic kind, DRAM bytes)`` of every banded tensor, then the weight chunks."""
        return self._moves

    @cached_property
    def _moves(self) -> tuple[tuple[str, str, int], ...]:  # summed once: a run is read many times
        moved = tuple((s.tensor, s.traffic, sum(s.nbytes)) for s in self.reads + self.writes)
        return moved + (((self.weight_block, "weights", sum(self.chunk_bytes)),) if sum(self.chunk_bytes) else ())

    def traffic(self) -> dict[str, int]:
        """DRAM bytes by traffic kind (weight chunks included)."""
        moved: dict[str, int] = {}
        for _, kind, nbytes in self.moves():
            moved[kind] = moved.get(kind, 0) + nbytes
        return moved


@stored_at_once
@dataclass(frozen=True)
class LayerPlan:
    index: int
    name: str
    macs: int
    vector_ops: int
    compute_cycles: int  # whole layer, all tiles
    weight_bytes: int
    streamed: bool = False
    tiles: int = 1
    utilisation: float = 1.0  # MACs / (cycles * macs_per_cycle), for the report
    bottleneck: str = ""  # the bound that set the cycles (hwsim.schedule.cost.BOTTLENECKS), for the report
    mapping: str = ""  # the array mapping the cost chose for the layer's MAC op, for the report


@stored_at_once
@dataclass(frozen=True)
class TensorPlan:
    """What happened to one activation a layer writes (the report's ``tensors`` rows)."""

    name: str
    bytes: int
    producer: int  # layer step
    last_consumer: int  # layer step
    skip: bool
    address: int | None  # first SRAM address (None if it never lived in SRAM)
    spilled: bool  # stored to DRAM because SRAM was full
    dram_bytes: int  # DRAM traffic this tensor caused (spill writes, reloads, streamed, output)


@dataclass(frozen=True)
class RollingBuffer:
    """Rows of a tensor made and used inside one cascade (``hwsim.schedule.rows``).

    Laid out as a ring of ``rows`` slots of one tensor row each (the :class:`Buffer` docstring):
    ``nbytes = ceil(bytes of the whole tensor * rows / of_rows)``.
    """

    tensor: str
    rows: int  # rows held at most
    of_rows: int  # rows of the tensor
    nbytes: int  # bytes of those rows
    delay_line: bool  # a skip tensor kept in the cascade


@dataclass(frozen=True)
class Cascade:
    """Layers ``first..last`` run together in ``stripes`` horizontal stripes (``hwsim.schedule.cascade``).

    Its weights are one block, ``weights:<name of layer first>``, loaded by one ``load``
    (layer ``first``) of ``weight_bytes``: the weight images of its layers one after the other
    in layer order (each layer's image: its parameters packed end to end in ``layer_io``
    order), so layer ``t``'s parameters start after the images of layers ``first .. t - 1``.
    """

    first: int
    last: int
    stripes: int
    progress: tuple[tuple[int, ...], ...]  # per layer: its driver rows finished after stripe 0..stripes
    rows: tuple[int, ...]  # per layer: its band model's driver rows (output H; a global pooling's input H)
    rolling: tuple[RollingBuffer, ...]
    reads: tuple[str, ...]  # tensors read whole, made before the cascade
    writes: tuple[str, ...]  # tensors written whole: read after it, or graph outputs
    weight_bytes: int  # all its layers' weights, resident while it runs
    arena_bytes: int  # its rolling buffers, aligned
    need_bytes: int  # whole reads and writes + arena + weights
    ends: str = ""  # why it ends where it does

    @property
    def layers(self) -> range:
        return range(self.first, self.last + 1)

    def done(self, layer: int, stripe: int) -> tuple[int, int]:
        """Driver rows ``[o0, o1)`` layer ``layer`` computes in stripe ``stripe`` (0-based)."""
        p = self.progress[layer - self.first]
        return p[stripe], p[stripe + 1]


@dataclass(frozen=True)
class SpillBounds:
    """How few loads and stores besides weights any spill policy could make with this plan's
    order and modes (``hwsim.schedule.optimum``: capacity in bytes, no addresses); the plan's
    own figure is ``optimum.plan_spill_bytes``."""

    lp_bytes: int | None  # the LP relaxation's bound (None: not needed, the optimum is proven)
    best_bytes: int | None  # the integer program's best solution (None: none found in time)
    bound_bytes: int  # the solver's proven bound (== best_bytes when optimal)
    optimal: bool
    seconds: float  # solver time
    status: str
    # the peak of live bytes in this order (layer mode; None in cascade mode, whose rolling
    # buffers hold less): no plan without activation traffic beyond input and output needs less
    zero_spill_sram_bytes: int | None = None


@dataclass(frozen=True)
class HostOp:
    """A host op's step (``hwsim.schedule.host_run``): what the host runs and what it moves."""

    layer: int  # its step
    name: str  # its layer's name
    op: str  # the original op (``aten.cumsum.default``, ONNX ``CumSum``, TFLite ``CUMSUM``)
    module: str  # the nn.Module path (PyTorch) or the node name (files)
    ops: int  # host operations (``hwsim.graph.host``)
    ops_rule: str  # "flop_counter" | "elements"
    cycles: int  # accelerator cycles the host takes (``AcceleratorSpec.host_cycles``)
    reads: tuple[str, ...]  # the pieces it reads from DRAM
    writes: tuple[str, ...]  # the pieces it writes to DRAM (read by later layers, or graph outputs)
    in_dram: tuple[str, ...] = ()  # of ``reads``, those in DRAM from the start (network inputs)


@dataclass(frozen=True)
class Plan:
    graph: str
    spec: str
    commands: tuple[Command, ...]
    layers: tuple[LayerPlan, ...]
    tensors: tuple[TensorPlan, ...]
    sram_bytes: int  # capacity the plan was made for
    weight_buffer_bytes: int = 0  # 0 when weights share the SRAM
    concat: str = "inplace"  # "inplace" | "copy": how concatenation and slicing were modelled
    policy: str = "optimal"
    notes: tuple[str, ...] = field(default=())
    sram_peak_bytes: int = 0  # allocator high-water mark (fragmentation and alignment included)
    # In-place concat / slice: tensors with no buffer of their own, as (tensor, the piece
    # buffers holding its bytes in order, byte offset of its first byte in the first one).
    aliases: tuple[tuple[str, tuple[str, ...], int], ...] = field(default=())
    execution: str = "layer"  # "layer" | "cascade"
    cascades: tuple[Cascade, ...] = field(default=())
    lowered: tuple[TileRun, ...] = field(default=())  # the runs ``expand`` lowered to per-tile commands
    spill_bounds: SpillBounds | None = None
    hosts: tuple[HostOp, ...] = field(default=())  # the host ops (``--fallback host``), in step order

    def decided_bytes(self) -> int:
        """Bytes of its loads and stores besides weights: what a spill policy decides (the
        figure ``spill_bounds`` bound; a streamed layer's bands are not in it)."""
        return sum(c.dram_bytes for c in self.commands if c.kind in ("load", "store") and c.traffic != "weights")
