"""``hwsim check SPEC MODEL --input 1x3x64x64 [--set KEY=VALUE ...] [--seed N] [--json]``.

Extracts MODEL (seeded weights), schedules it on SPEC, runs the plan on a seeded input in a
simulated SRAM byte array (``hwsim.numerics``) and compares every layer's output with the
torch model's. MODEL may be a ``model.onnx`` file: its own weights, a seeded input, and
ONNX Runtime as the reference (``hwsim.extract.onnx_reference``). Prints a per-output table (``--json``: one object with ``passed``, ``spills``,
``reloads``, ``cascades`` (how many the plan runs in stripes), ``first_divergent_layer`` (null
when none), ``outputs`` (``name``, ``max_abs_error``, ``max_rel_error``, ``sqnr_db``),
``plan_problems`` ...; a non-finite figure
is written as the string ``"inf"``, ``"-inf"`` or ``"nan"``). Exit status 0 when everything is
within tolerance, 1 when not; a user error is one ``hwsim: error:`` line and status 2.
"""

from __future__ import annotations

import json
import math

from hwsim.errors import UserError
from hwsim.files import write_stdout

MAX_FAILED_LISTED = 5


def add_parser(sub) -> None:
    p = sub.add_parser("check", help="run the schedule on real data and compare with PyTorch or ONNX Runtime, "
                                     "layer by layer",
                       description="Schedule MODEL (a zoo name, path/to/file.py:Name or package.module:Name, or "
                                   "a model.onnx file) on SPEC, run the plan on numbers in a simulated SRAM at "
                                   "the spec's bit-widths, and compare each layer's output with PyTorch's (ONNX "
                                   "Runtime's for an ONNX file).")
    p.add_argument("spec", help="accelerator YAML file, e.g. accelerators/edge_npu.yaml")
    p.add_argument("model")
    p.add_argument("--input", help="input shape, e.g. 1x3x64x64 (required for a PyTorch model; for an ONNX "
                                   "file it fixes dynamic dimensions)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a spec field, e.g. --set datatype.activation_bits=16 (repeatable)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the weights and the input, 0 to 2^64 - 1 (default 0)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(handler=run)


MAX_SEED = 2**64 - 1
"""Seeds torch's generator takes (an unsigned 64-bit integer)."""


def run(args) -> int:
    if not 0 <= args.seed <= MAX_SEED:
        raise UserError(f"{args.seed} is not a seed from 0 to {MAX_SEED}", "--seed")
    from hwsim.extract.resolve import parse_shape
    from hwsim.numerics import check_model
    from hwsim.spec import load_spec

    shape = parse_shape(args.input) if args.input is not None else None
    spec = load_spec(args.spec, args.overrides)
    if args.model.lower().endswith(".onnx"):
        result = check_onnx(spec, args.model, shape, args.seed)
    elif shape is None:
        raise UserError("is required for a PyTorch model (e.g. --input 1x3x64x64)", "--input")
    else:
        result = check_model(spec, args.model, shape, args.seed)
    data = result.to_dict()
    if args.json:
        write_stdout(json.dumps(data, sort_keys=True, indent=1) + "\n")
    else:
        write_stdout(render(data, result) + "\n")
    return 0 if data["passed"] else 1


def check_onnx(spec, path: str, shape, seed: int):
    """The numerics check of an ONNX file against ONNX Runtime (the steps of ``check_model``)."""
    from hwsim.extract.onnx_import import read_onnx
    from hwsim.extract.onnx_reference import onnx_reference
    from hwsim.numerics.check import CheckResult, check_plan, missing_kernels
    from hwsim.numerics.quantize import UnsupportedBits, check_bits
    from hwsim.schedule import schedule, verify_plan
    from hwsim.schedule.order import order_layers

    for field_name, bits in (("datatype.activation_bits", spec.datatype.activation_bits),
                             ("datatype.weight_bits", spec.datatype.weight_bits)):
        try:
            check_bits(bits)
        except UnsupportedBits:
            raise UserError(f"{bits} bits: the numerics check stores 8-, 16- or 32-bit values only",
                            field_name) from None
    imported = read_onnx(path, shape)
    graph = imported.graph
    if imported.inexact:
        raise UserError(f"hwsim's graph computes other numbers than the file at {len(imported.inexact)} node(s) "
                        f"(same shapes and MACs): {'; '.join(imported.inexact[:3])}", path)
    if len(graph.inputs) != 1:
        raise UserError(f"the numerics check runs models with one input, this one has {len(graph.inputs)}", path)
    missing = missing_kernels(graph)
    if missing:
        listed = "; ".join(f"{k} at {', '.join(v[:3])}" for k, v in missing.items())
        raise UserError(f"the numerics interpreter has no kernel for {len(missing)} op kind(s): {listed}", path)
    reference = onnx_reference(path, imported, seed)
    graph = order_layers(graph, spec).graph
    plan = schedule(graph, spec)
    problems = tuple(str(p) for p in verify_plan(plan, spec, graph))
    try:
        report = check_plan(graph, plan, spec, reference)
    except (KeyError, ValueError) as exc:
        raise UserError(f"cannot run the numerics check: {exc.args[0] if exc.args else exc}", path) from None
    streamed = sum(layer.streamed for layer in plan.layers)
    shape = graph.tensor[graph.inputs[0]].shape
    return CheckResult(report, tuple(shape), seed, streamed, problems, len(plan.cascades))


def _fmt(x, spec: str) -> str:
    return format(x, spec) if isinstance(x, (int, float)) and math.isfinite(x) else str(x)


def render(d: dict, result) -> str:
    shape = "x".join(map(str, d["input"]))
    lines = [
        f"numerics check: {d['graph']} on {d['spec']}, activations {d['activation_bits']} bits, "
        f"weights {d['weight_bits']} bits, input {shape}, seed {d['seed']}",
        f"  tolerance: {d['tolerance']} (every tensor a layer writes, and every output)",
        f"  plan: {d['spills']} spills, {d['reloads']} reloads, {d['streamed_layers']} streamed layers, "
        f"{d['cascades']} cascades, "
        f"{d['layers_checked']} layers checked, {d['layers_failed']} outside tolerance",
    ]
    if d["plan_problems"]:
        lines.append(f"  the plan verifier found {len(d['plan_problems'])} problem(s): {d['plan_problems'][0]}")
    width = max([len("output")] + [len(o["name"]) for o in d["outputs"]])
    lines.append(f"  {'output':<{width}}  {'max abs err':>12}  {'max rel err':>12}  {'SQNR dB':>8}  ok")
    for o in d["outputs"]:
        lines.append(f"  {o['name']:<{width}}  {_fmt(o['max_abs_error'], '12.3e'):>12}  "
                     f"{_fmt(o['max_rel_error'], '12.3e'):>12}  {_fmt(o['sqnr_db'], '8.1f'):>8}  "
                     f"{'yes' if o['passed'] else 'NO'}")
    if d["error"]:
        lines.append(f"  the run stopped: {d['error']}")
    failed = [layer for layer in result.report.layers if not layer.passed]
    for layer in failed[:MAX_FAILED_LISTED]:
        worst = min(layer.tensors, key=lambda c: (c.passed, c.sqnr_db))
        lines.append(f"  outside tolerance: layer {layer.name}: {worst.name} max rel err "
                     f"{_fmt(worst.max_rel_error, '.3e')}, SQNR {_fmt(worst.sqnr_db, '.1f')} dB")
    if len(failed) > MAX_FAILED_LISTED:
        lines.append(f"  ... and {len(failed) - MAX_FAILED_LISTED} more layers")
    for note in d["notes"][:MAX_FAILED_LISTED]:
        lines.append(f"  note: {note}")
    if d["passed"]:
        lines.append("PASSED")
    else:
        first = d["first_divergent_layer"]
        lines.append(f"FAILED{f': first divergent layer {first}' if first else ''}")
    return "\n".join(lines)
