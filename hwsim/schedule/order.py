"""``policy.order``: the layer order the scheduler walks, applied to the graph before scheduling.

* ``graph``: the graph's own order.
* ``memory``: a topological order of the layers with a lower peak of live bytes, if one exists.

The peak is the one the tool already uses as the zero-spill SRAM's lower bound
(:func:`hwsim.schedule.storage.live_piece_peak`): the bytes of pieces of data written by
layers (the network input is not counted) live from their producer's step to the last step
of a layer reading any tensor holding their bytes, so with ``policy.concat: inplace`` a
concatenation's inputs stay live until the last reader of the concatenation, and a slice
keeps its source alive. :func:`order_problem` turns a graph into that problem with no graph
in it, :mod:`hwsim.schedule.order_search` solves it (exactly when it can, see there), and the
chosen order is applied as a graph transform (:func:`hwsim.graph.reorder.reorder_layers`):
the scheduler, the reports and the numerics check work on the graph with its layers in that
order, and every figure that depends on the order (steps, live ranges, skip tensors, M_sc)
follows it.

The order is kept only if the tool's own peak, measured on the reordered graph (whose SRAM
layout is rebuilt for its order), is below the graph order's; otherwise the graph's order is
used. So ``memory`` never has a higher peak than ``graph``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from hwsim.graph.analysis import layer_io, live_ranges
from hwsim.graph.ir import Graph
from hwsim.graph.reorder import layer_dag, reorder_layers
from hwsim.schedule.order_search import OrderProblem, Piece, best_order, peak_bytes
from hwsim.schedule.storage import build_layout, live_piece_peak
from hwsim.spec.model import ORDER_POLICIES, AcceleratorSpec


@dataclass(frozen=True)
class OrderSummary:
    """What the reports say about the order: the policy, how it was found, the two peaks."""

    policy: str  # policy.order
    search: str  # "none" (policy graph), "exact" (no order has a lower peak) or "heuristic"
    graph_peak_bytes: int  # peak of live bytes in the graph's order
    peak_bytes: int  # peak of live bytes in the order used
    moved_layers: int  # layers at another step than in the graph's order


@dataclass(frozen=True)
class Ordering:
    graph: Graph  # the graph with its layers in the order used
    summary: OrderSummary


def order_problem(g: Graph, bits: int, concat: str) -> OrderProblem:
    """The layers' dependencies and the pieces of :func:`~hwsim.schedule.storage.live_piece_peak`:
    each piece with its producer and every layer writing or reading a tensor holding its bytes.

    The pieces are those of the graph's order. With in-place concatenation they can depend on
    the order (an input of two concatenations is written into the first one's buffer), so the
    peak of another order is measured again on the reordered graph, with its own layout, and
    the search is not called exact (:func:`shared_concat_inputs`)."""
    layout = build_layout(g, bits, concat)
    ranges = live_ranges(g)
    members: dict[str, set[int]] = {}
    for io in layer_io(g):
        for t in (*io.writes, *io.reads):
            for piece in layout.covers[t] if t in ranges else ():
                if piece in ranges:  # not the network input
                    members.setdefault(piece, set()).add(io.index)
    dag = layer_dag(g)
    return OrderProblem(
        tuple(frozenset(dag.predecessors(v)) for v in range(len(g.layers))),
        tuple(Piece(ranges[p].start, frozenset(ms), layout.piece_bytes[p]) for p, ms in members.items()))


def shared_concat_inputs(g: Graph, concat: str) -> bool:
    """True when, with in-place concatenation, a tensor is read by two concatenation layers: it
    goes into the buffer of whichever runs first, so the pieces depend on the order."""
    if concat != "inplace":
        return False
    readers = Counter(g.root(t) for layer in g.layers if len(layer.ops) == 1 and g.op[layer.ops[0]].kind == "concat"
                      for t in dict.fromkeys(g.op[layer.ops[0]].inputs))
    return any(count > 1 for count in readers.values())


def order_layers(g: Graph, spec: AcceleratorSpec) -> Ordering:
    """The graph in the order ``spec.policy.order`` gives, and its summary (memoised per graph)."""
    policy, bits, concat = spec.policy.order, spec.datatype.activation_bits, spec.policy.concat
    if policy not in ORDER_POLICIES:
        raise ValueError(f"policy.order must be one of {ORDER_POLICIES}, got {policy!r}")
    return g.memo(("order", policy, bits, concat), lambda _: _order(g, spec))


def _peak(g: Graph, spec: AcceleratorSpec) -> int:
    key = ("live_piece_peak", spec.datatype.activation_bits, spec.policy.concat)
    return g.memo(key, lambda _: live_piece_peak(g, spec))


def _order(g: Graph, spec: AcceleratorSpec) -> Ordering:
    policy, bits, concat = spec.policy.order, spec.datatype.activation_bits, spec.policy.concat
    own = _peak(g, spec)
    if policy == "graph":
        return Ordering(g, OrderSummary(policy, "none", own, own, 0))
    problem = order_problem(g, bits, concat)
    if peak_bytes(problem, range(len(g.layers))) != own:
        raise RuntimeError(f"{g.name!r}: the order search's peak of the graph's order is not live_piece_peak's")
    found = best_order(problem)
    shared = shared_concat_inputs(g, concat)
    chosen, exact = g, found.exact and not shared
    if found.peak_bytes < own:
        reordered = reorder_layers(g, found.order)
        peak = _peak(reordered, spec)
        if peak != found.peak_bytes and not shared:
            raise RuntimeError(f"{g.name!r}: the order search's peak of its order is not live_piece_peak's")
        chosen = reordered if peak < own else g
    moved = sum(a.name != b.name for a, b in zip(g.layers, chosen.layers))
    summary = OrderSummary(policy, "exact" if exact else "heuristic", own, _peak(chosen, spec), moved)
    if chosen is not g:  # its memory order is itself (what the scheduler checks)
        chosen.memo(("order", policy, bits, concat), lambda _: Ordering(chosen, summary))
    return Ordering(chosen, summary)
