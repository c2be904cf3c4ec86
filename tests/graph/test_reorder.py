"""The layers' dependency DAG and reordered graphs, on the two-branch graph worked out by hand."""

import itertools

import networkx as nx
import pytest

from hwsim.graph.analysis import live_ranges
from hwsim.graph.reorder import is_layer_order, layer_dag, reorder_layers
from hwsim.graph.validate import validate
from tests.graph.dags import two_branches

R, A1, B1, A2, B2, J = range(6)


def test_dag_edges_are_the_reads():
    assert sorted(layer_dag(two_branches()).edges) == [(R, A1), (R, B1), (A1, A2), (B1, B2), (A2, J), (B2, J)]


def test_layer_orders_are_the_six_interleavings_of_the_branches():
    # r first, j last, a1 before a2 and b1 before b2: C(4, 2) = 6 of the 720 permutations
    g = two_branches()
    valid = [p for p in itertools.permutations(range(6)) if is_layer_order(g, p)]
    assert len(valid) == 6
    assert all(p[0] == R and p[-1] == J and p.index(A1) < p.index(A2) and p.index(B1) < p.index(B2) for p in valid)
    assert sorted(valid) == sorted(map(tuple, nx.all_topological_sorts(layer_dag(g))))


def test_reordered_graph_is_valid_and_its_steps_follow_the_new_order():
    g = reorder_layers(two_branches(), [R, A1, A2, B1, B2, J])
    assert [la.name for la in g.layers] == ["r", "a1", "a2", "b1", "b2", "j"]
    assert [op.name for op in g.ops] == ["r", "a1", "a2", "b1", "b2", "j"]
    assert validate(g) == []
    spans = {t: (r.start, r.end) for t, r in live_ranges(g).items()}
    assert spans == {"r": (0, 3), "a1": (1, 2), "a2": (2, 5), "b1": (3, 4), "b2": (4, 5), "j": (5, 5)}


def test_own_order_gives_the_graph_itself():
    g = two_branches()
    assert reorder_layers(g, range(6)) is g


@pytest.mark.parametrize("order", [[A1, R, B1, A2, B2, J], [R, A1, B1, A2, B2], [R, A1, A1, A2, B2, J]])
def test_orders_breaking_a_dependency_or_not_a_permutation_are_refused(order):
    with pytest.raises(ValueError, match="not a topological order"):
        reorder_layers(two_branches(), order)
