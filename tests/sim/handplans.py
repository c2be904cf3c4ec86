"""Plans and specs written by hand for the simulator and measure tests (no scheduler needed).

``make_spec()`` is a 1 GHz accelerator whose DRAM moves 10 B per cycle after 5 cycles of
latency, so transfer times can be worked out on paper: 1000 B take 5 + 100 cycles.
"""

from __future__ import annotations

from hwsim.schedule.plan import Buffer, Command, LayerPlan, Plan, TensorPlan
from hwsim.spec.model import (
    AcceleratorSpec, ComputeSpec, DatatypeSpec, DramSpec, EnergySpec, PolicySpec, SramSpec,
)


def make_spec(bytes_per_cycle: int = 10, latency_cycles: int = 5, channels: int = 1,
              sram_bytes: int = 1 << 20, weight_buffer_bytes: int = 0,
              energy: EnergySpec | None = None) -> AcceleratorSpec:
    clock = 10**9
    return AcceleratorSpec(
        name="hand-npu",
        clock_hz=clock,
        compute=ComputeSpec(macs_per_cycle=16, vector_ops_per_cycle=4),
        sram=SramSpec(sram_bytes, 1, "separate" if weight_buffer_bytes else "shared", weight_buffer_bytes),
        dram=DramSpec(bytes_per_cycle * clock, latency_cycles / clock, channels),
        datatype=DatatypeSpec(8, 8),
        policy=PolicySpec(),
        energy=energy or EnergySpec(mac_pj=1.0, sram_byte_pj=0.5, dram_byte_pj=10.0, vector_op_pj=0.25),
    )


class PlanBuilder:
    """Append commands in program order; each method returns the new command's id."""

    def __init__(self):
        self.commands: list[Command] = []
        self.layers: list[LayerPlan] = []
        self.tensors: list[TensorPlan] = []

    def _add(self, **fields) -> int:
        cid = len(self.commands)
        fields["deps"] = tuple(fields.get("deps", ()))
        fields["allocs"] = tuple(fields.get("allocs", ()))
        fields["frees"] = tuple(fields.get("frees", ()))
        self.commands.append(Command(id=cid, **fields))
        return cid

    def compute(self, layer: int, cycles: int, deps=(), allocs=(), reads=(), tile=None) -> int:
        return self._add(kind="compute", engine="compute", layer=layer, cycles=cycles, deps=deps,
                         allocs=allocs, reads=tuple(reads), tile=tile)

    def load(self, layer: int, nbytes: int, traffic: str, cause: str | None = None, deps=(),
             tensor: str | None = None, allocs=(), tile=None) -> int:
        return self._add(kind="load", engine="dma_read", layer=layer, dram_bytes=nbytes, traffic=traffic,
                         cause=cause, deps=deps, tensor=tensor, allocs=allocs, tile=tile)

    def store(self, layer: int, nbytes: int, traffic: str, cause: str | None = None, deps=(),
              tensor: str | None = None, tile=None) -> int:
        return self._add(kind="store", engine="dma_write", layer=layer, dram_bytes=nbytes, traffic=traffic,
                         cause=cause, deps=deps, tensor=tensor, reads=(tensor,) if tensor else (), tile=tile)

    def free(self, layer: int, buffers, deps=()) -> int:
        return self._add(kind="free", engine="none", layer=layer, deps=deps, frees=buffers)

    def layer(self, name: str, cycles: int, macs: int = 0, vector_ops: int = 0, weight_bytes: int = 0,
              streamed: bool = False, tiles: int = 1) -> None:
        index = len(self.layers)
        self.layers.append(LayerPlan(index, name, macs, vector_ops, cycles, weight_bytes, streamed, tiles))

    def tensor(self, name: str, nbytes: int, producer: int, last_consumer: int, skip=False,
               address=None, spilled=False, dram_bytes=0) -> None:
        self.tensors.append(TensorPlan(name, nbytes, producer, last_consumer, skip, address, spilled, dram_bytes))

    def plan(self, sram_bytes: int = 1 << 20, **extra) -> Plan:
        return Plan("hand", "hand-npu", tuple(self.commands), tuple(self.layers), tuple(self.tensors),
                    sram_bytes, **extra)


def chain_plan(layers: int, cycles: int = 100, weight_bytes: int = 256, act_bytes: int = 512) -> Plan:
    """A chain of ``layers`` layers: input load; per layer a weight prefetch, a compute, frees.

    Buffers ping-pong between two activation slots and two weight slots, so every allocation
    depends on the free of the slot's previous occupant (as the plan contract requires).
    """
    b = PlanBuilder()
    act = [Buffer("x", 0, act_bytes), None]
    prev_compute = b.load(0, act_bytes, "input", "input", tensor="x", allocs=[act[0]])
    free_act = [None, None]
    free_w = [None, None]
    for i in range(layers):
        w = Buffer(f"weights:l{i}", 2 * act_bytes + (i % 2) * weight_bytes, weight_bytes, role="weights")
        wdeps = [free_w[i % 2]] if free_w[i % 2] is not None else []
        load_w = b.load(i, weight_bytes, "weights", "weights", deps=wdeps, tensor=w.name, allocs=[w])
        out = Buffer(f"t{i}", ((i + 1) % 2) * act_bytes, act_bytes)
        cdeps = [prev_compute, load_w] + ([free_act[(i + 1) % 2]] if free_act[(i + 1) % 2] is not None else [])
        comp = b.compute(i, cycles, deps=cdeps, allocs=[out], reads=[act[i % 2].name, w.name])
        free_act[i % 2] = b.free(i, [act[i % 2]], deps=[comp])
        free_w[i % 2] = b.free(i, [w], deps=[comp])
        act[(i + 1) % 2] = out
        prev_compute = comp
        b.layer(f"l{i}", cycles, macs=cycles * 16, weight_bytes=weight_bytes)
    last = act[layers % 2]
    store = b.store(layers - 1, act_bytes, "output", "drain", deps=[prev_compute], tensor=last.name)
    b.free(layers - 1, [last], deps=[store])
    return b.plan()


def chain_graph(layers: int, channels: int = 4, size: int = 8):
    """A chain of ``layers`` 1x1 convolutions named l0, l1, ... on a 1 x channels x size x size input.

    Every activation is channels x size x size elements (256 B at 8 bits by default).
    """
    from tests.graph.handmade import Net

    net = Net("chain").input("x", 1, channels, size, size)
    previous = "x"
    for i in range(layers):
        net.conv(f"l{i}", previous, channels)
        previous = f"l{i}"
    return net.build()


def prefetch_chain() -> PlanBuilder:
    """Three layers of 50 cycles with weights prefetched one layer ahead (worked out in tests).

    x 200 B, weights 100 B per layer, outputs 300 B; the output store waits for the last layer.
    """
    x, w = Buffer("x", 0, 200), [Buffer(f"weights:l{i}", 200 + 100 * i, 100, role="weights") for i in range(3)]
    t = [Buffer(f"l{i}", 500 + 300 * i, 300) for i in range(3)]
    b = PlanBuilder()
    b.load(0, 200, "input", "input", tensor="x", allocs=[x])                        # 0
    b.load(0, 100, "weights", "weights", tensor=w[0].name, allocs=[w[0]])            # 1
    b.compute(0, 50, deps=[0, 1], allocs=[t[0]], reads=["x", w[0].name])             # 2
    b.load(1, 100, "weights", "weights", tensor=w[1].name, allocs=[w[1]])            # 3
    b.free(0, [x, w[0]], deps=[2])                                                   # 4
    b.compute(1, 50, deps=[2, 3], allocs=[t[1]], reads=["l0", w[1].name])            # 5
    b.load(2, 100, "weights", "weights", tensor=w[2].name, allocs=[w[2]])            # 6
    b.free(1, [t[0], w[1]], deps=[5])                                                # 7
    b.compute(2, 50, deps=[5, 6], allocs=[t[2]], reads=["l1", w[2].name])            # 8
    b.free(2, [w[2], t[1]], deps=[8])                                                # 9
    b.store(2, 300, "output", "drain", deps=[8], tensor="l2")                        # 10
    b.free(2, [t[2]], deps=[10])                                                     # 11
    for i in range(3):
        b.layer(f"l{i}", 50, macs=1000, vector_ops=100, weight_bytes=100)
        b.tensor(f"l{i}", 300, i, i + 1 if i < 2 else 2, address=500 + 300 * i, dram_bytes=300 if i == 2 else 0)
    return b


def prefetch_metrics(**spec_fields):
    """measure() of :func:`prefetch_chain` on :func:`make_spec` (the figures of tests/measure)."""
    from hwsim.measure import measure
    from hwsim.sim import simulate

    plan = prefetch_chain().plan(sram_bytes=1400)
    spec = make_spec(sram_bytes=1400, **spec_fields)
    return measure(simulate(plan, spec), plan, spec, chain_graph(3))
