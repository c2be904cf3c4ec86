"""Roofline lower bounds on latency, computed from the same plan the simulator runs.

As LLMCompass pairs a roofline estimate with its simulation, hwsim bounds every run from
below, without any timing model beyond "the array and the DRAM bus each do one thing at a
time":

* ``compute_cycles``: the sum of the layers' compute cycles (the array is never faster);
* ``dram_cycles``: every DRAM byte the plan moves, at full bandwidth (the bus is shared by
  reads and writes, so it cannot move them faster);
* ``host_cycles``: the time of the host ops (``--fallback host``), during which the
  accelerator does nothing (neither computes nor moves data), so it adds to any bound;
* ``roofline_cycles``: the larger of the two, plus ``host_cycles``;
* ``min_dram_cycles``: the bytes no schedule can avoid (every weight once, the network
  input once, the output once: ``floor_dram_bytes``; with host ops, also each host op's
  input the accelerator made, out once, and its output the accelerator reads, back once,
  while what only the host reads or writes is left out) at full bandwidth, latency excluded.

The simulation is never faster than ``roofline_cycles`` (the pipeline checks it). These use
the plan's own bytes, so they cannot flag a wasteful schedule; the spill bounds do
(``Plan.spill_bounds``, from ``hwsim.schedule.optimum``): for the plan's order and modes,

* ``spill_lp_bytes``: the LP relaxation's bound on the loads and stores besides weights
  (computed only when the integer program is not proven optimal in time);
* ``spill_optimum_bytes``: the integer program's optimum (None unless proven in time), and
  ``spill_solver_bound_bytes``, its proven bound (the LP's when it did not finish);
* ``plan_spill_bytes``: the plan's own loads and stores besides weights, to compare;
* ``dram_bound_cycles``: the DRAM bytes any such schedule must move (the plan's, less its
  loads and stores besides weights, plus the proven bound) at full bandwidth;
* ``zero_spill_sram_bytes``: the peak of live bytes in this order (layer mode), below which
  no plan avoids activation traffic beyond the input and the output.

Not modelled by them: addresses (fragmentation can force a placed plan above the optimum),
other orders and modes.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from hwsim.graph.analysis import tensor_bytes
from hwsim.graph.ir import Graph
from hwsim.measure.facts import plan_facts
from hwsim.measure.memo import plan_memo
from hwsim.schedule.plan import Plan
from hwsim.spec.model import AcceleratorSpec


@dataclass(frozen=True)
class Bounds:
    compute_cycles: int
    dram_cycles: int
    min_dram_cycles: int
    floor_dram_bytes: int = 0
    plan_spill_bytes: int = 0
    spill_lp_bytes: int | None = None  # None: no spill bounds in the plan
    spill_optimum_bytes: int | None = None
    spill_solver_bound_bytes: int | None = None
    dram_bound_cycles: int | None = None
    spill_status: str = ""
    zero_spill_sram_bytes: int | None = None  # peak live bytes (layer mode)
    host_cycles: int = 0  # the host ops' time: the accelerator waits through it

    @property
    def roofline_cycles(self) -> int:
        return max(self.compute_cycles, self.dram_cycles) + self.host_cycles

    @property
    def spill_gap_pct(self) -> float | None:
        """How far the plan's loads and stores besides weights are above the optimum (or the
        solver's bound), in % of it."""
        best = self.spill_optimum_bytes if self.spill_optimum_bytes is not None else self.spill_solver_bound_bytes
        if best is None:
            return None
        return 100.0 * (self.plan_spill_bytes - best) / best if best else 0.0


def unavoidable_dram_bytes(plan: Plan, graph: Graph, activation_bits: int) -> int:
    """Weights once + network input once + network output once; with host ops (``--fallback
    host``), what the accelerator itself must move: the network inputs some accelerator layer
    reads, the outputs an accelerator layer produces, every host op's input an accelerator layer
    produced (stored once) and every host op's output an accelerator layer reads (loaded once)."""
    weights = plan_memo(plan, "weight_bytes", lambda p: sum(layer.weight_bytes for layer in p.layers))
    host_steps = {h.layer for h in plan.hosts}
    if not host_steps:
        return weights + graph.memo(("measure.edge_bytes", activation_bits), lambda g: _edge_bytes(g, activation_bits))
    from hwsim.graph.analysis import layer_io

    io = layer_io(graph)
    read_here = {t for x in io if x.index not in host_steps for t in x.reads}
    made_here = {t for x in io if x.index not in host_steps for t in x.writes}
    host_in = {t for x in io if x.index in host_steps for t in x.reads}
    host_out = {t for x in io if x.index in host_steps for t in x.writes}
    moved = ({graph.root(i) for i in graph.inputs} & read_here) | ({graph.root(o) for o in graph.outputs} & made_here)
    moved |= (host_in & made_here) | (host_out & read_here)
    return weights + sum(tensor_bytes(graph.tensor[t].elements, activation_bits) for t in moved)


def _edge_bytes(graph: Graph, activation_bits: int) -> int:
    """The network inputs' and outputs' bytes, each once (a graph's figure, kept in its memo)."""
    inputs = sum(tensor_bytes(graph.tensor[name].elements, activation_bits) for name in graph.inputs)
    outputs = sum(tensor_bytes(graph.tensor[name].elements, activation_bits)
                  for name in dict.fromkeys(graph.root(o) for o in graph.outputs))
    return inputs + outputs


def _plan_sums(plan: Plan) -> tuple[int, int, int, int]:
    """(compute cycles, DRAM bytes moved, bytes a spill policy decided, host cycles) of ``plan``."""
    facts = plan_facts(plan)
    return (sum(layer.compute_cycles for layer in plan.layers), facts.moved_bytes, facts.decided_bytes,
            sum(h.cycles for h in plan.hosts))


def roofline(plan: Plan, spec: AcceleratorSpec, graph: Graph) -> Bounds:
    """The roofline bounds of ``plan`` on ``spec`` (see the module docstring). The plan's sums
    are worked out once per plan (``hwsim.measure.facts``); the spec's timing turns them into cycles."""
    compute, moved, own, host = plan_memo(plan, "roofline_sums", _plan_sums)
    unavoidable = unavoidable_dram_bytes(plan, graph, spec.datatype.activation_bits)
    bounds = Bounds(compute, spec.dram_transfer_cycles(moved), spec.dram_transfer_cycles(unavoidable), unavoidable, own,
                    host_cycles=host)
    s = plan.spill_bounds
    if s is None or s.status.startswith("not computed"):
        return replace(bounds, spill_status=s.status if s is not None else "")
    return replace(bounds, zero_spill_sram_bytes=s.zero_spill_sram_bytes, spill_lp_bytes=s.lp_bytes, spill_optimum_bytes=s.best_bytes if s.optimal else None,
                   spill_solver_bound_bytes=s.bound_bytes, dram_bound_cycles=spec.dram_transfer_cycles(
                       moved - own + s.bound_bytes), spill_status=s.status)
