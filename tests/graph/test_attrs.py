"""Attribute rules cover every op kind; chains of views of any length resolve without recursion."""

import json

from hwsim.graph.attrs import ATTR_RULES, check_attrs
from hwsim.graph.io import graph_from_dict
from hwsim.graph.opkinds import OP_KINDS
from hwsim.graph.validate import validate
from tests.bad_inputs.bases import all_kinds_graph
from tests.bad_inputs.generators import view_chain


def test_every_op_kind_has_rules_and_the_all_kinds_graph_follows_them():
    assert set(ATTR_RULES) == set(OP_KINDS)
    g = all_kinds_graph()
    assert {op.kind for op in g.ops} == set(OP_KINDS)
    assert validate(g) == []


def test_rules_take_tuples_as_lists():
    """A loaded graph's attrs are frozen (lists become tuples): the rules read both alike."""
    assert check_attrs("conv2d", {"stride": (2, 2), "padding": (1,)}, "$.ops[0]") == []
    assert check_attrs("conv2d", {"stride": ()}, "$.ops[0]") == [
        "$.ops[0].attrs.stride: must be an integer from 1 to 2147483647 or a list of 1 or 2 of them, got []"]


def test_a_chain_of_20000_views_loads_and_resolves_to_its_root():
    g = graph_from_dict(json.loads(view_chain(20_000)), "chain.json")
    assert g.root("v19999") == "e1" and g.root("e1") == "e1"
    assert g.consumers["e1"][:2] == ("p1", "s1")
