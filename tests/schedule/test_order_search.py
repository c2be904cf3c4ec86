"""The order search against brute force over every topological order, on random graphs.

Brute force here is ``networkx.all_topological_sorts`` and, for the peak, either the tool's own
``live_piece_peak`` on the reordered graph or the problem's step count (checked against the
former first). Graphs are kept to orders that can be listed (``MAX_ORDERS``).
"""

import dataclasses
import itertools
from unittest import mock

import networkx as nx
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from hwsim.graph.reorder import is_layer_order, layer_dag, reorder_layers
from hwsim.schedule import order_search
from hwsim.schedule.order import order_layers, order_problem, shared_concat_inputs
from hwsim.schedule.order_search import Segment, best_order, cuts, peak_bytes, search_segment
from hwsim.schedule.storage import live_piece_peak
from tests.graph.dags import random_graphs
from tests.schedule.helpers import make_spec

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MAX_ORDERS = 3000
CONCAT = st.sampled_from(("inplace", "copy"))


def all_orders(g):
    orders = list(itertools.islice(nx.all_topological_sorts(layer_dag(g)), MAX_ORDERS + 1))
    assume(len(orders) <= MAX_ORDERS)
    return orders


def memory_spec(concat: str):
    spec = make_spec(concat=concat)
    return dataclasses.replace(spec, policy=dataclasses.replace(spec.policy, order="memory"))


@SETTINGS
@given(random_graphs(max_layers=9), CONCAT, st.data())
def test_problem_peak_is_live_piece_peak_of_the_reordered_graph(g, concat, data):
    assume(not shared_concat_inputs(g, concat))  # else the pieces themselves depend on the order
    spec = make_spec(concat=concat)
    problem = order_problem(g, 8, concat)
    orders = all_orders(g)
    for order in data.draw(st.lists(st.sampled_from(orders), min_size=1, max_size=5)):
        assert peak_bytes(problem, order) == live_piece_peak(reorder_layers(g, order), spec)


@SETTINGS
@given(random_graphs(max_layers=12), CONCAT)
def test_exact_search_finds_the_brute_force_minimum(g, concat):
    problem = order_problem(g, 8, concat)
    orders = all_orders(g)
    lowest = min(peak_bytes(problem, o) for o in orders)
    found = best_order(problem)
    assert found.exact and found.peak_bytes == lowest == peak_bytes(problem, found.order)
    assert is_layer_order(g, found.order)
    whole = Segment(problem, 0, len(g.layers))  # the search alone, no split, no shortcut
    assert whole.peak(search_segment(whole, upper=lowest + 1)) == lowest
    assert search_segment(whole, upper=lowest) is None


@SETTINGS
@given(random_graphs(max_layers=12))
def test_cuts_are_the_layers_at_the_same_step_in_every_order(g):
    orders = all_orders(g)
    fixed = [v for v in range(len(g.layers)) if len({o.index(v) for o in orders}) == 1]
    assert cuts(order_problem(g, 8, "inplace")) == fixed


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_graphs(max_layers=8), CONCAT)
def test_memory_order_is_the_lowest_live_piece_peak_of_any_order(g, concat):
    spec = memory_spec(concat)
    assume(not shared_concat_inputs(g, concat))
    lowest = min(live_piece_peak(reorder_layers(g, o), spec) for o in all_orders(g))
    ordering = order_layers(g, spec)
    s = ordering.summary
    assert (s.search, s.peak_bytes, s.graph_peak_bytes) == ("exact", lowest, live_piece_peak(g, spec))
    assert live_piece_peak(ordering.graph, spec) == lowest
    assert (ordering.graph is g) == (lowest == s.graph_peak_bytes)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_graphs(min_layers=20, max_layers=40, reach=8), CONCAT)
def test_heuristic_never_has_a_higher_peak_than_the_graph_order(g, concat):
    spec = memory_spec(concat)
    with mock.patch.object(order_search, "MAX_STATES", 8), mock.patch.object(order_search, "MAX_MOVES", 300):
        ordering = order_layers(g, spec)
    s = ordering.summary
    assert s.peak_bytes == live_piece_peak(ordering.graph, spec) <= live_piece_peak(g, spec) == s.graph_peak_bytes
    order = [g.layers.index(la) for la in ordering.graph.layers]
    assert is_layer_order(g, order)
