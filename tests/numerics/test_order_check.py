"""The numerics check on a graph whose layers ``policy.order: memory`` reorders."""

import pytest

from hwsim.numerics.check import check_model
from hwsim.schedule.order import order_layers
from hwsim.spec import load_spec

pytestmark = pytest.mark.torch
pytest.importorskip("torch")

MODEL = "tests/numerics/branch_models.py:TwoBranches"


def test_reordered_plan_computes_what_torch_computes(prepared):
    spec = load_spec("accelerators/edge_npu.yaml", ["policy.order=memory"])
    graph, _ = prepared(MODEL, (1, 3, 8, 8))
    ordering = order_layers(graph, spec)
    assert [la.name for la in graph.layers][:3] != [la.name for la in ordering.graph.layers][:3]
    assert ordering.summary.peak_bytes < ordering.summary.graph_peak_bytes
    result = check_model(spec, MODEL, (1, 3, 8, 8))
    assert result.passed, (result.report.first_divergent_layer, result.plan_problems)
