"""A host op's step (``--fallback host``): its inputs out to DRAM, the host runs, its outputs back.

Arm's Vela compiles the operators the Ethos-U cannot run to the Cortex-M CPU: the network
becomes NPU command streams with CPU operators between them, every tensor handed to or from
a CPU operator lives in memory the CPU reads (the tensor arena, not the NPU's SRAM), and the
NPU does nothing while the CPU runs. hwsim schedules a host op the same way, inside one
plan:

1. **Inputs out.** Every piece of every activation the host op reads that is resident in
   SRAM and not in DRAM yet is stored (``host_write``, cause ``host``); a piece already
   clean in DRAM (the network input, a spilled or stored tensor, a host op's output) costs
   nothing. A piece whose resident life ends before the host op is stored when it is freed
   (``Memory.clean``: the next reader is the host).
2. **The host runs.** One ``host`` command on the compute engine, ``host_cycles`` long
   (``AcceleratorSpec.host_cycles``: ``per_op + ops / ops_per_second`` at the accelerator's
   clock). It is a barrier (``lower``): it waits for every load, store and compute before it
   in program order, and nothing after it starts before it ends: the accelerator waits while
   the host runs, its DMA included, as between two Vela command streams. The SRAM keeps what
   it held (a skip tensor waiting across the host op stays resident; Vela, compiling each
   NPU subgraph on its own, would write it out and read it back).
3. **Outputs back.** The outputs are in DRAM only (written by the host); a later layer loads
   them (``host_read``, cause ``host``; read again after an eviction, a reload). An output
   that is a graph output is left in DRAM, no traffic of the accelerator's.

The host's own DRAM accesses (reading the inputs, writing the outputs) are part of its time,
not of the accelerator's DMA bytes; a host op's parameters stay in DRAM for the host, never
loaded into the SRAM.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hwsim.errors import UserError
from hwsim.graph.analysis import layer_io
from hwsim.graph.host import host_layers
from hwsim.graph.ir import Graph
from hwsim.schedule.memory import DramCopy
from hwsim.schedule.plan import HostOp
from hwsim.schedule.tiling import Mode
from hwsim.spec.model import AcceleratorSpec

if TYPE_CHECKING:
    from hwsim.schedule.context import Context
    from hwsim.schedule.walk import Walk


def host_mode(g: Graph, index: int) -> Mode:
    """A host layer as a mode: nothing resident, its reads out of DRAM and its writes into it
    (as a streamed layer's bands; the spill optimum then counts their stores and loads)."""
    io = layer_io(g)[index]
    return Mode(False, (), 1, 0, (), (), band_reads=io.reads, band_writes=io.writes)


def host_cycles(g: Graph, spec: AcceleratorSpec) -> dict[int, int]:
    """Step -> cycles of each host layer of ``g`` on ``spec``; a UserError (located at the spec's
    ``host`` field) when ``g`` has host ops and the spec no host section."""
    steps = host_layers(g)
    if steps and spec.host is None:
        ops = [g.op[g.layers[t].ops[0]] for t in steps]
        listed = "; ".join(f"{o.attrs['op']} at {o.module or '<top>'}" for o in ops[:4])
        raise UserError(f"the graph {g.name!r} has {len(ops)} host op(s) (--fallback host: {listed}"
                        f"{' ...' if len(ops) > 4 else ''}) and the spec has no host section to time them: add "
                        "host: with ops_per_second (e.g. 200 Mop/s) and/or per_op (e.g. 50 us)", "host")
    return {t: spec.host_cycles(int(g.op[g.layers[t].ops[0]].attrs["ops"])) for t in steps}


def run_host(walk: "Walk", t: int) -> None:
    """Emit host layer ``t`` (the module docstring)."""
    ctx, mem = walk.ctx, walk.mem
    mode = ctx.modes[t]
    pieces = [p for name in mode.band_reads for p in ctx.layout.covers[name]]
    for p in pieces:
        mem.clean(p, t, t, "streamed")  # the next reader is this host op: a host_write store
    writers = {w for p in pieces for w in mem.dram[p].writers}
    cid = walk.program.emit("host", t, deps=writers, cycles=ctx.host_cycles[t], tensor=ctx.graph.layers[t].name,
                            cause="host")
    for name in mode.band_writes:
        for p in ctx.layout.covers[name]:
            mem.dram[p] = DramCopy("host", (cid,))


def host_ops(ctx: "Context") -> tuple[HostOp, ...]:
    """The plan's record of every host op (``Plan.hosts``), in step order."""
    g = ctx.graph
    inputs = {g.root(i) for i in g.inputs}
    rows = []
    for t, cycles in sorted(ctx.host_cycles.items()):
        op, mode = g.op[g.layers[t].ops[0]], ctx.modes[t]
        reads = tuple(dict.fromkeys(p for n in mode.band_reads for p in ctx.layout.covers[n]))
        writes = tuple(dict.fromkeys(p for n in mode.band_writes for p in ctx.layout.covers[n]))
        rows.append(HostOp(t, g.layers[t].name, str(op.attrs["op"]), op.module, int(op.attrs["ops"]),
                           str(op.attrs.get("ops_rule", "elements")), cycles, reads, writes,
                           tuple(p for p in reads if p in inputs)))
    return tuple(rows)
