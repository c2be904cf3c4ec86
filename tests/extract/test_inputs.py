"""Several inputs (positional or named), non-tensor arguments fixed at extraction, and MODEL with
literal constructor arguments (issue 13). The user errors are in the bad-input corpus
(tests/bad_inputs/cases/models.yaml)."""

import pytest

from hwsim.errors import UserError
from hwsim.extract.resolve import MAX_INPUT_ELEMENTS, as_inputs, parse_inputs

FILE = "tests/extract/input_models.py"


def test_parse_inputs_positional_named_and_single():
    assert parse_inputs("1x3x64x64,1x1x64x64") == [(None, (1, 3, 64, 64)), (None, (1, 1, 64, 64))]
    assert parse_inputs("x=1x3x8x8, t=1") == [("x", (1, 3, 8, 8)), ("t", (1,))]
    assert parse_inputs("1x3x8x8") == [(None, (1, 3, 8, 8))] == as_inputs((1, 3, 8, 8))


@pytest.mark.parametrize("text, needle", [
    ("x=1x3x8x8,1x1x8x8", "name every input"),
    ("x=1x3x8x8,x=1x1x8x8", "input 'x' given twice"),
    ("2x=1x3x8x8", "NAME a Python identifier"),
    ("1x3x8x8,", "is not a shape"),
    (f"1x{MAX_INPUT_ELEMENTS // 2}x1,1x{MAX_INPUT_ELEMENTS // 2 + 1}x1", "more than"),
])
def test_parse_inputs_refuses(text, needle):
    with pytest.raises(UserError) as err:
        parse_inputs(text)
    assert needle in str(err.value) and err.value.where == "--input"


@pytest.mark.torch
def test_two_named_inputs_with_constructor_arguments_extract_and_check():
    """Two(width=8, depth=2): convs 3->8 and 8->8 (3x3) and 1->8 (1x1) on 16x16, by hand:
    256 x 8 x (27 + 72 + 1) = 204,800 MACs; ``scale`` keeps its default (2.0), ``t`` is an input."""
    pytest.importorskip("torch")
    from hwsim.extract import extract_model
    from hwsim.graph.analysis import graph_stats
    from hwsim.numerics.check import check_model
    from hwsim.spec import load_spec

    model = f"{FILE}:Two(width=8, depth=2, mode='relu')"
    inputs = parse_inputs("x=1x3x16x16,mask=1x1x16x16,t=1")
    g = extract_model(model, inputs)
    assert g.inputs == ("x", "mask", "t")
    assert [g.tensor[i].shape for i in g.inputs] == [(1, 3, 16, 16), (1, 1, 16, 16), (1,)]
    assert graph_stats(g, 8)["macs"] == 256 * 8 * (27 + 72 + 1)
    assert any(op.kind == "relu" for op in g.ops)  # mode='relu' reached the constructor
    assert any(op.kind == "mul" and op.attrs.get("scalar") == 2.0 for op in g.ops)  # scale fixed at 2.0
    spec = load_spec("accelerators/edge_npu.yaml", ["datatype.activation_bits=32", "datatype.weight_bits=32"])
    result = check_model(spec, model, inputs)
    assert result.passed, result.report.first_divergent_layer
    assert [i["name"] for i in result.to_dict()["inputs"]] == ["x", "mask", "t"]


@pytest.mark.torch
def test_positional_inputs_follow_forward_order():
    pytest.importorskip("torch")
    from hwsim.extract import extract_model

    g = extract_model(f"{FILE}:Two", parse_inputs("1x3x8x8,1x1x8x8"))
    assert g.inputs == ("x", "mask")
    assert not any(op.kind == "relu" for op in g.ops)


@pytest.mark.torch
def test_a_module_instance_takes_no_arguments(tmp_path):
    pytest.importorskip("torch")
    from hwsim.extract.resolve import resolve_model

    src = tmp_path / "inst.py"
    src.write_text("import torch.nn as nn\nnet = nn.Conv2d(3, 3, 1)\n")
    with pytest.raises(UserError) as err:
        resolve_model(f"{src}:net(3)")
    assert "is a module instance: it takes no arguments" in str(err.value)
