"""Metrics: every figure the reports show, measured from a trace (and the plan it ran).

Totals come from the trace's events (:mod:`hwsim.measure.stalls`): latency, compute busy,
stalls, DMA bytes by traffic kind. Stalls are also attributed to causes independently, and
the two are checked to agree. ``live_peak_bytes`` is the largest SRAM occupancy the trace
recorded (bytes of buffers allocated at once, alignment included); ``sram_peak_bytes`` is
the allocator's high-water mark (``plan.sram_peak_bytes`` when the scheduler set it, else
the highest end address of any SRAM buffer in the plan). Cycles and bytes are integers;
seconds appear only in ``latency_s``.

How it is computed, for speed (the figures are those of one pass per figure, which
``experiments/bench_measure.py`` compares with): the trace's events are read in one pass
(:mod:`hwsim.measure.scan`), and what depends on the plan alone (its command tables, SRAM
high-water mark, the array's SRAM bytes, the roofline's sums, the tensor rows) is worked out
once per plan and kept on it (:mod:`hwsim.measure.facts`, :mod:`hwsim.measure.memo`), so the
several bandwidths of a sweep point that share a plan share them.
"""

from __future__ import annotations

from dataclasses import dataclass

from hwsim.gc_pause import paused
from hwsim.graph.analysis import msc_curve
from hwsim.graph.ir import Graph
from hwsim.graph.widths import widths_note
from hwsim.measure.bounds import Bounds, roofline
from hwsim.measure.energy import Energy, run_energy
from hwsim.measure.facts import layer_names
from hwsim.measure.host import HostMetrics, host_metrics
from hwsim.measure.memo import plan_memo
from hwsim.measure.peak import SramPeak, sram_high_water, sram_peak
from hwsim.measure.scan import READ_KINDS, WRITE_KINDS, Scan, scan_events
from hwsim.measure.stalls import account_stalls
from hwsim.schedule.order import OrderSummary
from hwsim.schedule.plan import Cascade, Plan
from hwsim.records import stored_at_once
from hwsim.sim.trace import Trace
from hwsim.spec.model import AcceleratorSpec



@stored_at_once
@dataclass(frozen=True)
class LayerMetrics:
    index: int
    name: str
    macs: int
    vector_ops: int
    cycles: int  # compute busy cycles measured (all tiles)
    utilisation: float
    start: int | None  # first compute event of the layer (None if it has none)
    end: int | None
    stall_cycles: int  # compute idle time just before this layer's compute commands
    dram_read_bytes: int  # loads serving this layer
    dram_write_bytes: int  # stores serving this layer
    streamed: bool
    tiles: int
    bottleneck: str = ""  # the cost's bound (hwsim.schedule.cost), or "dram" when its own DRAM bytes take longer
    mapping: str = ""  # the array mapping of its MAC op ("" without one)


@stored_at_once
@dataclass(frozen=True)
class TensorMetrics:
    name: str
    bytes: int
    producer: str  # layer name
    last_consumer: str
    producer_step: int
    last_consumer_step: int
    skip: bool
    address: int | None
    spilled: bool
    dram_bytes: int  # measured: bytes of the trace's loads and stores of this tensor
    module: str = ""  # the nn.Module path of the op that produced it (where it is in the network)
    held: str = "whole"  # "whole", or inside a cascade "rows" (a rolling buffer) / "delay_line" (a skip)
    held_bytes: int = 0  # SRAM bytes it takes when resident: its bytes, or its rolling buffer's


@dataclass(frozen=True)
class Metrics:
    graph: str
    spec: str
    policy: str
    concat: str
    execution: str
    cascades: tuple[Cascade, ...]
    clock_hz: int
    sram_bytes: int  # SRAM capacity the plan was made for
    latency_cycles: int
    compute_cycles: int
    stall_cycles: int
    stall_by_cause: dict[str, int]  # every cause of STALL_CAUSES (host included), zeros included (read-only)
    dram_bytes_by_kind: dict[str, int]  # every kind of TRAFFIC_KINDS (host_write, host_read included), zeros included
    sram_peak_bytes: int
    live_peak_bytes: int
    sram_peak: SramPeak
    msc_bytes: int
    energy: Energy
    bounds: Bounds
    layers: tuple[LayerMetrics, ...]
    tensors: tuple[TensorMetrics, ...]
    tensor_dram_bytes: tuple[tuple[str, int], ...]  # every non-weight tensor moved, most bytes first
    order: OrderSummary | None = None  # the layer order used (policy.order) and its peak of live bytes
    peak_macs_per_cycle: int = 0  # compute.macs_per_cycle (for utilisation)
    bit_widths: tuple[int, int, int] = (0, 0, 0)  # activation, weight, bias bits the run sized tensors at
    widths_note: str = ""  # where they come from, when the graph's file set them (hwsim.graph.widths)
    hosts: tuple[HostMetrics, ...] = ()  # the host ops (--fallback host), in step order
    host_name: str | None = None  # the spec's host.name

    @property
    def host_cycles(self) -> int:
        """Cycles the host CPU ran host ops, the accelerator waiting (part of ``stall_by_cause['host']``)."""
        return sum(h.cycles for h in self.hosts)

    @property
    def array_utilisation(self) -> float | None:
        """MACs / (compute cycles x peak MACs per cycle); None without compute."""
        if not self.compute_cycles or not self.peak_macs_per_cycle:
            return None
        return sum(la.macs for la in self.layers) / (self.compute_cycles * self.peak_macs_per_cycle)

    @property
    def latency_s(self) -> float:
        return self.latency_cycles / self.clock_hz

    @property
    def dram_read_bytes(self) -> int:
        return sum(self.dram_bytes_by_kind[k] for k in READ_KINDS)

    @property
    def dram_write_bytes(self) -> int:
        return sum(self.dram_bytes_by_kind[k] for k in WRITE_KINDS)

    @property
    def dram_bytes(self) -> int:
        return self.dram_read_bytes + self.dram_write_bytes

    @property
    def spill_bytes(self) -> int:
        return self.dram_bytes_by_kind["spill_write"] + self.dram_bytes_by_kind["spill_read"]


def _bottleneck(layer, dram_bytes: int, spec: AcceleratorSpec) -> str:
    """The cost's bound, or ``dram`` when the layer's own DRAM bytes (its weights, reloads,
    streamed bands, stores) at the achieved bandwidth take longer than its compute."""
    if dram_bytes and spec.dram_transfer_cycles(dram_bytes) > layer.compute_cycles:
        return "dram"
    return layer.bottleneck


def _layers(scan: Scan, plan: Plan, stall_by_layer: dict[int, int],
            spec: AcceleratorSpec) -> tuple[LayerMetrics, ...]:
    """Each layer's row: measured cycles, span, stalls and DRAM bytes (``scan``), the rest from the plan."""
    if scan.parts_error is not None:
        raise RuntimeError(scan.parts_error)
    first, last, busy, read, written = scan.first, scan.last, scan.busy, scan.read, scan.written
    rows = []
    for layer in plan.layers:
        i = layer.index
        cycles, r, w = busy.get(i, 0), read.get(i, 0), written.get(i, 0)
        if cycles != layer.compute_cycles:
            raise RuntimeError(f"layer {layer.name!r}: compute events total {cycles} cycles, "
                               f"the plan says {layer.compute_cycles}")
        rows.append(LayerMetrics(i, layer.name, layer.macs, layer.vector_ops, cycles, layer.utilisation,
                                 first.get(i), last.get(i), stall_by_layer.get(i, 0), r, w, layer.streamed,
                                 layer.tiles, _bottleneck(layer, r + w, spec), layer.mapping))
    return tuple(rows)


def _tensor_rows(plan: Plan) -> tuple[tuple[tuple, tuple], ...]:
    """Per tensor of the plan, its row's fields before ``dram_bytes`` and after ``module`` (the
    plan's alone, worked out once per plan)."""
    names = layer_names(plan)
    rolling = {r.tensor: r for c in plan.cascades for r in c.rolling}
    rows = []
    for t in plan.tensors:
        r = rolling.get(t.name)
        held = ("whole", t.bytes) if r is None else ("delay_line" if r.delay_line else "rows", r.nbytes)
        rows.append(((t.name, t.bytes, names[t.producer] if t.producer in names else str(t.producer),
                      names[t.last_consumer] if t.last_consumer in names else str(t.last_consumer), t.producer,
                      t.last_consumer, t.skip, t.address, t.spilled), held))
    return tuple(rows)


def _modules(graph: Graph) -> dict[str, str]:
    """Tensor name -> the nn.Module path of the op that produced it (a graph's, kept in its memo)."""
    ops = graph.op
    return {tensor: ops[op].module for tensor, op in graph.producer.items()}


def _tensors(plan: Plan, moved: dict[str, int], graph: Graph) -> tuple[TensorMetrics, ...]:
    modules = graph.memo("measure.modules", _modules)
    return tuple(TensorMetrics(*head, moved.get(head[0], 0), modules.get(head[0], ""), *held)
                 for head, held in plan_memo(plan, "tensor_rows", _tensor_rows))


def _msc_bytes(graph: Graph, bits: int) -> int:
    """M_sc, the largest bytes of skip tensors live at once (a graph's, kept in its memo)."""
    return graph.memo(("measure.msc_bytes", bits), lambda g: max(msc_curve(g, bits), default=0))


@paused
def measure(trace: Trace, plan: Plan, spec: AcceleratorSpec, graph: Graph,
            order: OrderSummary | None = None) -> Metrics:
    """All figures of one run (``order``: how the graph's layers were ordered, reported as is).
    Raises RuntimeError when the trace contradicts itself or the plan."""
    if len(trace.events) != len(plan.commands):
        raise RuntimeError(f"trace has {len(trace.events)} events for {len(plan.commands)} plan commands")
    scan = scan_events(trace.events, plan)  # one pass over the events for every figure below
    account = account_stalls(trace, plan, scan)
    if scan.traffic_error is not None:
        raise RuntimeError(scan.traffic_error)
    by_kind, moved = scan.by_kind, scan.moved
    live_peak = max((s.sram_bytes for s in trace.occupancy), default=0)
    high_water = sram_high_water(plan)
    if live_peak > high_water:
        raise RuntimeError(f"{live_peak} B in use at once in a plan whose buffers end by address {high_water}")
    dram_total = sum(by_kind.values())
    return Metrics(
        graph=plan.graph, spec=plan.spec, policy=plan.policy, concat=plan.concat,
        execution=plan.execution, cascades=plan.cascades, clock_hz=spec.clock_hz, sram_bytes=plan.sram_bytes,
        latency_cycles=account.latency_cycles, compute_cycles=account.compute_cycles,
        stall_cycles=account.stall_cycles, stall_by_cause=account.by_cause,
        dram_bytes_by_kind=by_kind,
        sram_peak_bytes=plan.sram_peak_bytes or high_water,
        live_peak_bytes=live_peak,
        sram_peak=sram_peak(trace, plan),
        msc_bytes=_msc_bytes(graph, spec.datatype.activation_bits),
        energy=run_energy(plan, spec, dram_total, account.latency_cycles),
        bounds=roofline(plan, spec, graph),
        layers=_layers(scan, plan, account.by_layer, spec),
        tensors=_tensors(plan, moved, graph),
        tensor_dram_bytes=tuple(sorted(moved.items(), key=lambda kv: (-kv[1], kv[0]))),
        order=order,
        peak_macs_per_cycle=spec.compute.macs_per_cycle,
        hosts=host_metrics(trace, plan),
        host_name=spec.host.name if spec.host is not None else None,
        bit_widths=(spec.datatype.activation_bits, spec.datatype.weight_bits, spec.datatype.bias_bits),
        widths_note=widths_note(graph, spec),
    )
