"""One zoo model's numerics check at one bit-width (32 by default), roomy and tight SRAM, in layer and
in cascade mode: run in a worker process (``experiments/numerics_zoo_matrix.py`` runs every model at
8, 16 and 32 bits with it).

Kept torch-free at import so that a spawned worker imports it cheaply; returns plain figures
for ``test_zoo.py`` to assert on.

Cascade mode keeps all the weights of a cascade resident while it runs; at 32 bits a shared
SRAM half the activation peak cannot hold them (UNet's deepest layers alone take MiBs), so
cascades would hardly form. Cascade cases therefore give the weights a buffer of their own
holding every weight (``sram.weights: separate``) and size the activation SRAM: "roomy" the
peak of live bytes, "tight" a share of it (``TIGHT_CASCADE``, percent) at which the plan runs
cascades of several stripes and spills or streams.
"""

from __future__ import annotations

TIGHT_CASCADE = {"kbnet": 10, "kbnet_unetmm": 10, "unet_sat": 25,  # percent of the live peak; others 50
                 "mscan_tiny": 25, "mscan_tiny_noskip": 25, "mscan_tiny_unetmm": 25}


def input_shape(model: str) -> tuple[int, ...]:
    """The smallest input each zoo model accepts cheaply: 32x32, KBNet 16x16 (its minimum); MSCAN-tiny
    64x64 (at 32x32 its last stage is 1x1 and E3 no skip, and no cascade of several stripes forms)."""
    if model.startswith("mscan"):
        return (1, 3, 64, 64)
    return (1, 3, 16, 16) if model.startswith("kbnet") else (1, 3, 32, 32)


def figures(graph, plan, spec, report, skips) -> dict:
    from hwsim.schedule import verify_plan

    return {
        "sram": spec.sram.size_bytes, "verify": verify_plan(plan, spec, graph)[:3], "passed": report.passed,
        "schedule_passed": report.schedule_passed, "faults": report.faults,
        "fault": report.first_fault.text() if report.first_fault else None,
        "output_sqnr": min((o.sqnr_db for o in report.outputs), default=float("nan")),
        "worst": [(name, c.sqnr_db) for name, c in report.worst_layers(3)],
        "first": report.first_divergent_layer, "error": report.error, "notes": list(report.notes[:3]),
        "spills": report.spills, "reloads": report.reloads,
        "skip_spills": len(skips & {c.tensor for c in plan.commands if c.traffic == "spill_write"}),
        "skip_reloads": len(skips & {c.tensor for c in plan.commands if c.traffic == "spill_read"}),
        "streamed": sum(layer.streamed for layer in plan.layers),
        "worst_rel": max((c.max_rel_error for layer in report.layers for c in layer.tensors), default=0.0),
        "layers": len(report.layers),
        "cascades": [(c.first, c.last, c.stripes) for c in plan.cascades],
        "rolling": sum(len(c.rolling) for c in plan.cascades),
        "delay_lines": sum(r.delay_line for c in plan.cascades for r in c.rolling),
    }


def two_pass_layers(graph, plan) -> list[str]:
    """Layers inside a cascade that reduce a value over the rows and use it on every row (a GRN's
    global statistic): the band model folds their two passes into one loop of tiles, which a
    stripe cannot do (the statistic needs rows later stripes make)."""
    from hwsim.schedule.bands import band_model

    return [graph.layers[t].name for c in plan.cascades for t in c.layers
            if (model := band_model(graph, t)) is not None and model.two_pass]


def run_case(model: str, shape: tuple[int, ...] | None = None, labels: tuple[str, ...] | None = None,
             bits: int = 32) -> dict:
    """The figures of each case (``labels``: those of roomy, tight, cascade_roomy, cascade_tight
    to run; all by default) at input ``shape`` (default :func:`input_shape`), activations and
    weights at ``bits``."""
    return run_cases(model, (bits,), shape, labels)[bits]


def run_cases(model: str, bits: tuple[int, ...], shape: tuple[int, ...] | None = None,
              labels: tuple[str, ...] | None = None) -> dict:
    """:func:`run_case` at each bit-width of ``bits`` (one export): bits -> its figures."""
    import torch

    torch.set_num_threads(1)
    from hwsim.numerics.reference import prepare

    graph, ref = prepare(model, shape or input_shape(model))
    return {b: _cases(model, graph, ref, b, labels) for b in bits}


def _cases(model: str, graph, ref, bits: int, labels) -> dict:
    import dataclasses

    from hwsim.graph.analysis import skip_tensors, tensor_bytes
    from hwsim.numerics.check import check_plan
    from hwsim.schedule import schedule
    from hwsim.schedule.search import live_piece_peak, with_sram
    from hwsim.spec import load_spec

    spec = load_spec("accelerators/edge_npu.yaml", [f"datatype.activation_bits={bits}", f"datatype.weight_bits={bits}"])
    peak = live_piece_peak(graph, spec)
    roomy = with_sram(spec, schedule(graph, with_sram(spec, 1 << 40)).sram_peak_bytes)
    tight = with_sram(spec, peak // 2 // 64 * 64)
    # every rank-1 parameter at 32 bits (biases are; norm vectors are not): a bound for sizing the buffer
    weights = sum(tensor_bytes(t.elements, 32 if len(t.shape) == 1 else bits)
                  for t in graph.tensors if t.kind == "param" and t.view_of is None)
    cascade = dataclasses.replace(spec, sram=dataclasses.replace(
        spec.sram, weights="separate", weight_buffer_bytes=-(-weights // (1 << 20)) << 20),
        policy=dataclasses.replace(spec.policy, execution="cascade"))
    skips = set(skip_tensors(graph))
    result = {"skips": len(skips)}
    cases = (("roomy", roomy), ("tight", tight), ("cascade_roomy", with_sram(cascade, peak // 64 * 64)),
             ("cascade_tight", with_sram(cascade, peak * TIGHT_CASCADE.get(model, 50) // 100 // 64 * 64)))
    for label, s in cases:
        if labels is not None and label not in labels:
            continue
        plan = schedule(graph, s)
        result[label] = figures(graph, plan, s, check_plan(graph, plan, s, ref), skips)
        result[label]["two_pass"] = two_pass_layers(graph, plan)
    return result
