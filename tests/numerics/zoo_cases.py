"""One zoo model's numerics check at 32 bits, roomy and tight SRAM: run in a worker process.

Kept torch-free at import so that a spawned worker imports it cheaply; returns plain figures
for ``test_zoo.py`` to assert on.
"""

from __future__ import annotations


def input_shape(model: str) -> tuple[int, ...]:
    """The smallest input each zoo model accepts cheaply: 32x32, KBNet 16x16 (its minimum)."""
    return (1, 3, 16, 16) if model.startswith("kbnet") else (1, 3, 32, 32)


def run_case(model: str) -> dict:
    import torch

    torch.set_num_threads(1)
    from hwsim.graph.analysis import skip_tensors
    from hwsim.numerics.check import check_plan
    from hwsim.numerics.reference import prepare
    from hwsim.schedule import schedule, verify_plan
    from hwsim.schedule.search import live_piece_peak, with_sram
    from hwsim.spec import load_spec

    graph, ref = prepare(model, input_shape(model))
    spec = load_spec("accelerators/edge_npu.yaml", ["datatype.activation_bits=32", "datatype.weight_bits=32"])
    roomy = with_sram(spec, schedule(graph, with_sram(spec, 1 << 40)).sram_peak_bytes)
    tight = with_sram(spec, live_piece_peak(graph, spec) // 2 // 64 * 64)
    skips = set(skip_tensors(graph))
    result = {"skips": len(skips)}
    for label, s in (("roomy", roomy), ("tight", tight)):
        plan = schedule(graph, s)
        report = check_plan(graph, plan, s, ref)
        result[label] = {
            "sram": s.sram.size_bytes, "verify": verify_plan(plan, s, graph)[:3], "passed": report.passed,
            "first": report.first_divergent_layer, "error": report.error, "notes": list(report.notes[:3]),
            "spills": report.spills, "reloads": report.reloads,
            "skip_spills": len(skips & {c.tensor for c in plan.commands if c.traffic == "spill_write"}),
            "skip_reloads": len(skips & {c.tensor for c in plan.commands if c.traffic == "spill_read"}),
            "streamed": sum(layer.streamed for layer in plan.layers),
            "worst_rel": max((c.max_rel_error for layer in report.layers for c in layer.tensors), default=0.0),
            "layers": len(report.layers),
        }
    return result
