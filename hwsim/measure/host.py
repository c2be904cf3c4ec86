"""The host ops of a run (``--fallback host``): what each cost, measured from the trace.

For every host op (``Plan.hosts``) the report lists its original op, its module path or node
name, its host operations (and what they count: ``hwsim.graph.host``), the time the host took
(the ``host`` command's event; the accelerator waits through it) and its DRAM traffic:

* ``bytes_out``: the accelerator's stores of its inputs (``host_write``), each charged to the
  first host op after it that reads the piece;
* ``bytes_in``: the accelerator's loads of its outputs (``host_read``, also the bands a
  streamed layer reads of one, halo rows included); a later reload after an eviction is
  spill traffic, not the host op's.

The host's own accesses to DRAM (reading the inputs, writing the outputs) are part of its
time, not of these bytes: they are the accelerator's DMA, as in every other DRAM figure.
"""

from __future__ import annotations

from dataclasses import dataclass

from hwsim.schedule.plan import Plan
from hwsim.sim.trace import Trace


@dataclass(frozen=True)
class HostMetrics:
    layer: int
    name: str  # its layer's name
    op: str  # the original op
    module: str  # nn.Module path (PyTorch) or node name (ONNX, TFLite)
    ops: int
    ops_rule: str  # "flop_counter" | "elements"
    cycles: int  # measured: its host command's duration
    bytes_out: int  # host_write: its inputs stored by the accelerator
    bytes_in: int  # host_read: its outputs loaded by the accelerator


def host_metrics(trace: Trace, plan: Plan) -> tuple[HostMetrics, ...]:
    """Every host op's figures (the module docstring); RuntimeError if the trace lacks one's run."""
    if not plan.hosts:
        return ()
    command_of = {plan.commands[e.command].layer: e for e in trace.events if e.kind == "host"}
    order = sorted(plan.hosts, key=lambda h: h.layer)
    out_bytes = {h.layer: 0 for h in order}
    in_bytes = {h.layer: 0 for h in order}
    writer = {p: h.layer for h in order for p in h.writes}
    for e in trace.events:
        for tensor, kind, nbytes in e.moves:  # a streamed layer reading a host op's output in bands
            if kind == "host_read":
                in_bytes[writer[tensor]] += nbytes
        if e.traffic == "host_write":
            reader = next((h.layer for h in order if e.tensor in h.reads and command_of[h.layer].command > e.command),
                          None)
            if reader is None:
                raise RuntimeError(f"store {e.command} of {e.tensor!r} is host traffic, but no host op reads it after")
            out_bytes[reader] += e.dram_bytes
        elif e.traffic == "host_read":
            if e.tensor not in writer:
                raise RuntimeError(f"load {e.command} of {e.tensor!r} is host traffic, but no host op writes it")
            in_bytes[writer[e.tensor]] += e.dram_bytes
    rows = []
    for h in order:
        event = command_of.get(h.layer)
        if event is None:
            raise RuntimeError(f"host op {h.name!r} has no host event in the trace")
        rows.append(HostMetrics(h.layer, h.name, h.op, h.module, h.ops, h.ops_rule, event.end - event.start,
                                out_bytes[h.layer], in_bytes[h.layer]))
    return tuple(rows)
