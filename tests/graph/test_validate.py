"""Validation reports every problem with its JSON path; the JSON round trip is exact."""

import copy
import json

import pytest

from hwsim.errors import UserError
from hwsim.graph.io import graph_from_dict, graph_to_json, load_graph

from tests.graph.handmade import two_level_u


def problems(d) -> str:
    with pytest.raises(UserError) as info:
        graph_from_dict(d, "g.json")
    assert info.value.where == "g.json"
    return info.value.what


def base():
    return two_level_u().dict()


def test_valid_graph_round_trips_exactly(tmp_path):
    g = two_level_u().build()
    text = graph_to_json(g)
    assert graph_from_dict(json.loads(text)) == g
    p = tmp_path / "g.json"
    p.write_text(text)
    assert graph_to_json(load_graph(p)) == text


def test_duplicate_names():
    d = base()
    d["tensors"].append(copy.deepcopy(d["tensors"][0]))
    assert "$.tensors[" in problems(d) and "duplicate name 'x'" in problems(d)


def test_cycle_is_reported_as_an_order_problem():
    d = base()
    d["ops"][0]["inputs"][0] = "d1"  # e1 now reads the last op's output
    msg = problems(d)
    assert "$.ops[0].inputs[0]: 'd1' is produced later" in msg


def test_dangling_input_and_unproduced_activation():
    d = base()
    d["ops"][1]["inputs"] = ["nowhere"]
    d["tensors"].append({"name": "orphan", "shape": [1, 2], "kind": "activation"})
    msg = problems(d)
    assert "$.ops[1].inputs[0]: no tensor named 'nowhere'" in msg
    assert "activation 'orphan' is produced by no op" in msg


def test_wrong_shape_names_the_op():
    d = base()
    for t in d["tensors"]:
        if t["name"] == "e1":
            t["shape"] = [1, 8, 15, 16]
    assert "$.ops[0].outputs: conv2d 'e1' gives shapes [[1, 8, 16, 16]]" in problems(d)


def test_schema_version_and_structure():
    d = base()
    d["schema_version"] = 99
    d["ops"][2]["inputs"] = "e1"
    del d["layers"][0]["name"]
    msg = problems(d)
    assert "$.schema_version: 99 is not supported" in msg
    assert "$.ops[2].inputs: expected a list" in msg
    assert "$.layers[0].name: missing" in msg


def test_ops_in_no_layer_or_two():
    d = base()
    d["layers"][1]["ops"].append("e1")
    assert "op 'e1' is already in layer 0" in problems(d)
    d = base()
    d["layers"].pop()
    assert "ops in no layer: ['d1']" in problems(d)


def test_unknown_kind_and_bad_view():
    d = base()
    d["ops"][0]["kind"] = "frobnicate"
    d["tensors"].append({"name": "v", "shape": [3], "kind": "activation", "view_of": "e1"})
    msg = problems(d)
    assert "$.ops[0].kind: unknown op kind 'frobnicate'" in msg
    assert "a view of 'e1' must have its 2048 elements, has 3" in msg


def test_published_schema_accepts_a_graph_and_rejects_a_bad_one():
    jsonschema = pytest.importorskip("jsonschema")
    from importlib.resources import files

    schema = json.loads(files("hwsim.graph").joinpath("schema.json").read_text())
    jsonschema.validate(base(), schema)
    bad = base()
    bad["tensors"][0]["kind"] = "weights"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)
