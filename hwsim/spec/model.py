"""The accelerator, as plain frozen data: what the scheduler and the simulator are given.

Built by :func:`hwsim.spec.load.load_spec` from a YAML file (the YAML keys are in each
docstring, the units are written in the values there). Field names carry their unit
(``size_bytes``, ``clock_hz``, ``mac_pj``); bytes and cycles are integers. The helper
methods do no I/O and round the way hardware does: a transfer or a latency that takes part
of a cycle takes the whole cycle.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

from hwsim.schedule.spill import POLICIES as _SPILL_REGISTRY

from hwsim.spec.mappings import ARRAY_DIMS, ArrayMapping  # noqa: F401  (the registry of mapping words)

WEIGHT_PLACEMENTS = ("shared", "separate")
ORDER_POLICIES = ("graph", "memory")  # hwsim.schedule.order
RESERVED_ORDER_POLICIES: tuple[str, ...] = ()
SPILL_POLICIES = _SPILL_REGISTRY  # the scheduler's registry of spill policies: its names
CONCAT_MODES = ("inplace", "copy")
ELTWISE_MODES = ("fused", "separate")  # hwsim.schedule.cost: element-wise ops in the epilogue or as passes
TRANSPOSED_CONV_MODES = ("sub_pixel", "zero_insertion")  # hwsim.schedule.cost: how a transposed conv is lowered
EXECUTION_MODES = ("layer", "cascade")
WIDTH_SOURCES = ("graph", "spec")  # hwsim.graph.widths
STREAM_OBJECTIVES = ("latency", "traffic")  # hwsim.schedule.tiling


def _exact(seconds: float) -> Fraction:
    """A float of seconds as the decimal it was written as (1e-07 is exactly 100 ns)."""
    return Fraction(repr(seconds))


@dataclass(frozen=True)
class ArraySpec:
    """Shape of the MAC array (YAML ``compute.array``) and the mappings it supports.

    ``rows`` x ``cols`` MACs. ``mappings``: the dataflows the array can run
    (:mod:`hwsim.spec.mappings`: which loop dimensions each lays over the rows and the
    columns, which op classes it may run); the cost picks the fastest legal one per op. A
    layer whose mapped dimension is smaller than its extent, or not a multiple of it, leaves
    MACs idle: laid over 32 input channels, a 3-channel first layer uses 3/32 of the rows.
    The legacy keys ``rows_over`` / ``cols_over`` give one mapping for every op.
    """

    rows: int
    cols: int
    mappings: tuple[ArrayMapping, ...]

    @property
    def macs(self) -> int:
        """MACs in the array (``rows * cols``; equals ``compute.macs_per_cycle``)."""
        return self.rows * self.cols


@dataclass(frozen=True)
class ComputeSpec:
    """Compute engines (YAML ``compute``).

    ``macs_per_cycle`` (``macs_per_cycle``): peak multiply-accumulates per cycle at the spec's
    bit-widths. ``vector_ops_per_cycle`` (``vector_ops_per_cycle``): element-wise operations
    per cycle (activations, additions, pooling, requantisation) in the vector unit.
    May be fractional (``4/3``: an element-wise add every 0.75 cycles).
    ``array`` (``array``): the MAC array's shape, or None for an ideal array that any layer
    with enough work keeps fully busy. ``output_elements_per_cycle``
    (``output_elements_per_cycle``, optional, may be fractional): output elements the output
    stage (requantisation, activation, write-out) produces per cycle; None: never a bound.
    """

    macs_per_cycle: int
    vector_ops_per_cycle: int | Fraction
    array: ArraySpec | None = None
    output_elements_per_cycle: int | Fraction | None = None


@dataclass(frozen=True)
class SramSpec:
    """On-chip SRAM (YAML ``sram``).

    ``size_bytes`` (``size``): activation SRAM, also holding weights when ``weights`` is
    ``shared``. ``alignment_bytes`` (``alignment``, default 64 B, a power of two): every
    buffer starts at a multiple of it. ``weights`` (``weights``): ``shared`` (weights are
    loaded into the same SRAM) or ``separate`` (a weight buffer of its own,
    ``weight_buffer_bytes`` from ``weight_buffer``; 0 when shared). ``port_bytes_per_cycle``
    (``port_bytes``, optional): bytes the compute engines can read and write in SRAM per
    cycle, all ports together; None: never a bound.
    """

    size_bytes: int
    alignment_bytes: int = 64
    weights: str = "shared"
    weight_buffer_bytes: int = 0
    port_bytes_per_cycle: int | None = None

    @property
    def separate_weights(self) -> bool:
        """True when weights have their own buffer."""
        return self.weights == "separate"

    @property
    def total_bytes(self) -> int:
        """All on-chip SRAM: activation SRAM plus weight buffer (what leaks)."""
        return self.size_bytes + self.weight_buffer_bytes

    def aligned(self, nbytes: int) -> int:
        """``nbytes`` rounded up to the alignment: the space a buffer takes."""
        return -(-nbytes // self.alignment_bytes) * self.alignment_bytes


@dataclass(frozen=True)
class DramSpec:
    """External memory (YAML ``dram``).

    ``bandwidth_bytes_per_s`` (``bandwidth``): peak bytes per second, shared by reads and
    writes and by all channels; one transfer alone can use all of it.
    ``latency_s`` (``latency``): time from issuing a transfer to its first byte; every
    transfer pays it once. ``channels`` (``channels``, default 1): DMA transfers that can be
    in flight at once (their latencies overlap, their bytes share the bandwidth).
    ``efficiency`` (``efficiency``, default 100 %): the share of the peak that transfers
    achieve (refresh, page misses, bank conflicts): bytes move at ``bandwidth x efficiency``.
    ``turnaround_s`` (``turnaround``, default 0): bus time lost each time the DRAM switches
    between reading and writing (the simulator charges it to the transfer after a switch).
    """

    bandwidth_bytes_per_s: int
    latency_s: float
    channels: int = 1
    efficiency: Fraction = Fraction(1)
    turnaround_s: float = 0.0


@dataclass(frozen=True)
class DatatypeSpec:
    """Bit-widths (YAML ``datatype``), 1 to 32 each.

    ``activation_bits`` (``activation_bits``): every activation tensor.
    ``weight_bits`` (``weight_bits``): every parameter tensor but the biases.
    ``bias_bits`` (``bias_bits``, default 32): the bias of a convolution, transposed convolution
    or linear layer (:func:`hwsim.graph.analysis.bias_params`), as TFLite int8 and Arm Vela
    store it (int32 for 8-bit inputs; Vela packs it, with the channel's 32-bit requantisation
    scale and 6-bit shift, into a 10-byte record per output channel: the scale and shift are
    not counted here).
    Tensor bytes = ceil(elements x bits / 8).
    ``widths`` (``widths``, default ``graph``): ``graph`` runs a graph that carries the widths of
    its quantised file at those (:func:`hwsim.graph.widths.effective_spec`; then a bias may be up
    to 64 bits, as TFLite's 16x8 mode stores it); ``spec`` always at these. Any override of a
    ``*_bits`` field (``--set``, a sweep axis) implies ``spec`` unless ``widths`` is set too.
    """

    activation_bits: int
    weight_bits: int
    bias_bits: int = 32
    widths: str = "graph"

    def activation_bytes(self, elements: int) -> int:
        """Bytes of an activation tensor of ``elements`` elements."""
        return -(-elements * self.activation_bits // 8)

    def weight_bytes(self, elements: int) -> int:
        """Bytes of a parameter tensor (not a bias) of ``elements`` elements."""
        return -(-elements * self.weight_bits // 8)

    def bias_bytes(self, elements: int) -> int:
        """Bytes of a bias of ``elements`` elements."""
        return -(-elements * self.bias_bits // 8)


@dataclass(frozen=True)
class PolicySpec:
    """Scheduling choices (YAML ``policy``, optional; every key has a default).

    ``order`` (default ``graph``): layer order: ``graph`` (the graph's own) or ``memory`` (a
    topological order with a lower peak of live bytes, if one exists:
    ``hwsim.schedule.order``). ``spill`` (default ``optimal``): which tensor to evict when SRAM is full:
    ``belady`` (next use furthest away), ``lru`` (least recently used), ``largest``,
    ``skip_first`` (skip tensors first, then Belady), ``optimal`` (what the optimum of the
    spill integer program evicts first, ``hwsim.schedule.spill``). ``prefetch`` (default 1): how many
    layers ahead weights and reloads may be fetched, 0 = on demand. ``concat`` (default
    ``inplace``): ``inplace`` lets producers write straight into their slices of the
    concatenated buffer (as Arm's Vela does); ``copy`` makes concatenation and slicing
    copy data. ``execution`` (default ``layer``): ``layer`` runs one layer at a time;
    ``cascade`` runs chains of layers together in horizontal stripes, depth first, with the
    tensors inside a chain in rolling buffers (``hwsim.schedule.cascade``). ``solver_time``
    (``solver_seconds``, default 60 s): wall-clock time the integer-program solver may take for the
    spill optimum (``hwsim.schedule.optimum``; the ``optimal`` policy, ``--compare-policies``);
    when it stops early, its best solution, bound and gap are reported, not an optimum.
    ``eltwise`` (default ``fused``): ``fused`` runs the element-wise ops of a layer as an
    epilogue pipelined with its main op; ``separate`` applies single-input activations in the
    output stage and runs every other element-wise op (adds and products of two tensors,
    reductions, norms) as a pass of its own after the main op, as Ethos-U does
    (``hwsim.schedule.cost``). ``transposed_conv`` (default ``sub_pixel``): a transposed
    convolution runs as ``sub_pixel`` convolutions (stride^2 convolutions over the input
    grid, kernel ceil(k / stride) each) or as a ``zero_insertion`` convolution over the
    upsampled grid with the whole kernel (Vela's lowering).
    ``stream_objective`` (default ``latency``): how a streamed layer chooses between one tile
    slot and two (double-buffered, so that DMA overlaps compute, but each band half as tall):
    ``latency`` takes two when the layer's estimated time is no longer, as a compiler that
    minimises cycles does, though shorter bands re-read more halo rows, so a larger SRAM that
    makes double-buffering possible can move more DRAM bytes; ``traffic`` takes two only when
    they move no more bytes than one, so a layer's traffic never grows with the SRAM.
    """

    order: str = "graph"
    spill: str = "optimal"
    prefetch: int = 1
    concat: str = "inplace"
    execution: str = "layer"
    solver_seconds: float = 60.0
    eltwise: str = "fused"
    transposed_conv: str = "sub_pixel"
    stream_objective: str = "latency"


@dataclass(frozen=True)
class EnergySpec:
    """Energy figures (YAML ``energy``), dynamic energies in picojoules.

    ``mac_pj`` (``mac``): one multiply-accumulate. ``vector_op_pj`` (``vector_op``, default
    the MAC's): one element-wise operation. ``sram_byte_pj`` (``sram_byte``): one byte read
    or written in SRAM. ``dram_byte_pj`` (``dram_byte``): one byte moved to or from DRAM
    (the interface and the DRAM itself). ``sram_leakage_w_per_byte`` (``sram_leakage``,
    written per size, e.g. ``0.5 mW/MiB``; default 0): static power of each byte of SRAM,
    so that a bigger SRAM costs energy even when idle.
    """

    mac_pj: float
    sram_byte_pj: float
    dram_byte_pj: float
    vector_op_pj: float
    sram_leakage_w_per_byte: float = 0.0


@dataclass(frozen=True)
class HostSpec:
    """The host CPU that runs the ops of ``--fallback host`` (YAML ``host``, optional).

    ``name`` (``name``, optional): what it is, for reports (e.g. ``Cortex-M55``).
    ``ops_per_second`` (``ops_per_second``, e.g. ``200 Mop/s``): host operations per second
    (what a host op's ``ops`` counts: ``hwsim.graph.host``); None: not part of the cost.
    ``per_op_s`` (``per_op``, e.g. ``50 us``): a fixed cost per host op (the call, the cache
    misses of a cold op, handing control back); 0 when not given. At least one is given.
    A host op takes ``per_op + ops / ops_per_second`` seconds, during which the accelerator
    waits (:meth:`AcceleratorSpec.host_cycles`).
    """

    name: str | None = None
    ops_per_second: Fraction | None = None
    per_op_s: float = 0.0


@dataclass(frozen=True)
class AcceleratorSpec:
    """One accelerator: the whole YAML file (``name``, ``clock`` and the sections)."""

    name: str
    clock_hz: int
    compute: ComputeSpec
    sram: SramSpec
    dram: DramSpec
    datatype: DatatypeSpec
    policy: PolicySpec
    energy: EnergySpec
    host: HostSpec | None = None  # None: the spec has no host section (a graph with host ops is refused)

    def host_cycles(self, ops: int) -> int:
        """Accelerator cycles a host op of ``ops`` operations takes: ``(per_op + ops / ops_per_second)
        x clock``, rounded up (exact arithmetic). Raises ValueError without a ``host`` section."""
        if self.host is None:
            raise ValueError("the spec has no host section")
        seconds = _exact(self.host.per_op_s)
        if self.host.ops_per_second is not None:
            seconds += Fraction(ops) / self.host.ops_per_second
        return math.ceil(seconds * self.clock_hz)

    def dram_bytes_per_cycle(self) -> float:
        """Peak DRAM bytes per clock cycle (may be fractional: 12.8 at 12.8 GB/s, 1 GHz)."""
        return self.dram.bandwidth_bytes_per_s / self.clock_hz

    def dram_transfer_cycles(self, nbytes: int) -> int:
        """Cycles to stream ``nbytes`` at the achieved bandwidth (peak x efficiency), latency
        excluded (rounded up)."""
        eff = self.dram.efficiency
        return -(-nbytes * self.clock_hz * eff.denominator // (self.dram.bandwidth_bytes_per_s * eff.numerator))

    def dram_turnaround_cycles(self) -> int:
        """``dram.turnaround`` in cycles, rounded up."""
        return math.ceil(_exact(self.dram.turnaround_s) * self.clock_hz)

    def dram_latency_cycles(self) -> int:
        """``dram.latency`` in cycles, rounded up (100 ns at 1 GHz = 100)."""
        return math.ceil(_exact(self.dram.latency_s) * self.clock_hz)

    def cycles_to_seconds(self, cycles: int) -> float:
        """Seconds taken by ``cycles`` clock cycles (for reports)."""
        return cycles / self.clock_hz

    def peak_ops_per_s(self) -> int:
        """Peak arithmetic rate, counting a MAC as two operations (the "TOPS" figure)."""
        return 2 * self.compute.macs_per_cycle * self.clock_hz

    def sram_leakage_pj_per_cycle(self) -> float:
        """Leakage energy of all SRAM (weight buffer included) in one clock cycle."""
        watts = self.energy.sram_leakage_w_per_byte * self.sram.total_bytes
        return watts / self.clock_hz * 1e12
