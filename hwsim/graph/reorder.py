"""The layers' dependency DAG, and a graph with its layers in another topological order.

A layer depends on the layer that writes each activation it reads (views resolved to their
roots, as :func:`~hwsim.graph.analysis.layer_io` reads them); parameters and the network
input depend on nothing. Any topological order of this DAG is a valid schedule: keeping each
layer's ops in their order and laying the layers' ops end to end gives an op order in which
every op's inputs come first, so the reordered graph passes :func:`~hwsim.graph.validate.validate`
like the original. Everything derived from a graph (``layer_io``, live ranges, skip tensors,
the SRAM layout) is then derived from the new order, step by step.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:
    import networkx as nx


from hwsim.graph.analysis import layer_io
from hwsim.graph.ir import Graph
from hwsim.graph.validate import validate


def layer_dag(g: Graph) -> nx.DiGraph:
    """Layers ``0 .. n-1`` (graph order) as nodes; an edge ``u -> v`` when ``v`` reads what ``u`` writes."""
    return g.memo("layer_dag", _layer_dag)


def _layer_dag(g: Graph) -> nx.DiGraph:
    import networkx as nx  # here: only policy.order memory needs it, and it takes a third of a second to load

    dag = nx.DiGraph()
    dag.add_nodes_from(range(len(g.layers)))
    for io in layer_io(g):
        for t in io.reads:
            op = g.producer.get(t)
            if op is not None:
                dag.add_edge(g.layer_of[op], io.index)
    return dag


def is_layer_order(g: Graph, order: Sequence[int]) -> bool:
    """True when ``order`` lists every layer once, each after the layers it reads from."""
    if sorted(order) != list(range(len(g.layers))):
        return False
    step = {layer: i for i, layer in enumerate(order)}
    return all(step[u] < step[v] for u, v in layer_dag(g).edges)


def reorder_layers(g: Graph, order: Sequence[int]) -> Graph:
    """``g`` with its layers (and their ops) in ``order``, a topological order of :func:`layer_dag`
    given as the layers' indices in ``g``; ``g`` itself when ``order`` is its own order."""
    order = list(order)
    if not is_layer_order(g, order):
        raise ValueError(f"not a topological order of the {len(g.layers)} layers of {g.name!r}")
    if order == list(range(len(g.layers))):
        return g
    layers = tuple(g.layers[i] for i in order)
    ops = tuple(g.op[name] for layer in layers for name in layer.ops)
    reordered = Graph(g.name, g.tensors, ops, layers, g.inputs, g.outputs, g.fuse)
    problems = validate(reordered)
    if problems:
        raise RuntimeError(f"reordering {g.name!r} made an invalid graph: {'; '.join(problems[:3])}")
    return reordered
