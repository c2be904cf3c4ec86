"""``hwsim check SPEC MODEL --input 1x3x64x64 [--set KEY=VALUE ...] [--seed N] [--json]
[--weights model.pt] [--calibration N|FILE.npy] [--weight-scales per-channel|per-tensor]
[--activations symmetric|asymmetric] [--min-sqnr 20dB] [--max-rel 1e-3]``.

Extracts MODEL (seeded weights, or ``--weights``), schedules it on SPEC and answers two
questions apart (``hwsim.numerics.check``):

1. **schedule**: the quantised network run through the simulated SRAM and DRAM equals, bit for
   bit, the same quantised network run with no memory model; else the first fault: the layer
   that reads (or writes) bad bytes, the tensor, the address range, the command that ran and
   the command that produced the bytes. Always judged.
2. **quantisation**: SQNR and max abs/rel error of the quantised network against torch float,
   per layer and per output, the worst layers named. Judged only against ``--min-sqnr`` /
   ``--max-rel`` when given (every tensor a layer writes, and every output).

MODEL may be a ``model.onnx`` file: its own weights, a seeded input, and ONNX Runtime as the
float reference (``hwsim.extract.onnx_reference``); ``--weights`` and ``--calibration`` are for
PyTorch models only.

``--json`` prints one object: ``passed``, ``schedule`` (``passed``, ``first_fault`` with
``layer``, ``tensor``, ``access``, ``space``, ``address`` [lo, hi), ``bytes_differing``,
``command``, ``producer``; ``faults``, ``layers_compared``, ``layers_inexact``), ``quality``
(``passed``: null when no threshold was asked, ``min_sqnr_db``, ``max_rel``, ``outputs``,
``worst_layers``, ``layers_outside``), ``quantisation``, ``first_divergent_layer``, ``spills``,
``reloads``, ``cascades``, ``outputs``, ``plan_problems`` ...; a non-finite figure is the string
``"inf"``, ``"-inf"`` or ``"nan"``. Exit status 0 when both answers pass, 1 when not; a user
error is one ``hwsim: error:`` line and status 2. Progress over the layers of the plan run goes
to stderr (a bar on a terminal, a line every ten seconds otherwise; none with ``--quiet``).
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

from hwsim.errors import UserError, one_line
from hwsim.files import write_stdout

MAX_FAILED_LISTED = 5


def add_parser(sub) -> None:
    p = sub.add_parser("check", help="check the schedule bit for bit on real data, and measure quantisation",
                       description="Schedule MODEL (a zoo name, path/to/file.py:Name or package.module:Name, or "
                                   "a model.onnx file) on SPEC; check that the plan run through a simulated SRAM "
                                   "holds exactly the quantised network's bytes, and report the quantisation "
                                   "error against PyTorch in float (ONNX Runtime for an ONNX file).")
    p.add_argument("spec", help="accelerator YAML file, e.g. accelerators/edge_npu.yaml")
    p.add_argument("model")
    p.add_argument("--input", help="input shape, e.g. 1x3x64x64 (required for a PyTorch model; for an ONNX "
                                   "file it fixes dynamic dimensions)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a spec field, e.g. --set datatype.activation_bits=16 (repeatable)")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the weights and the input, 0 to 2^64 - 1 (default 0)")
    p.add_argument("--weights", metavar="FILE", help="a PyTorch state dict file to load instead of seeded weights")
    p.add_argument("--calibration", metavar="N|FILE.npy",
                   help="activation ranges from N random inputs or the inputs in a .npy file "
                        "(default: the checked input itself)")
    p.add_argument("--weight-scales", default="per-channel", metavar="per-channel|per-tensor",
                   help="convolution and linear weight scales (default per-channel)")
    p.add_argument("--activations", default="symmetric", metavar="symmetric|asymmetric",
                   help="activation quantisation (default symmetric; asymmetric adds a zero point)")
    p.add_argument("--min-sqnr", metavar="DB", help="fail when a tensor's SQNR is below this, e.g. 20dB")
    p.add_argument("--max-rel", metavar="X", help="fail when a tensor's max abs error exceeds X x max|torch|")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    from hwsim.commands.extract import add_fallback

    add_fallback(p)
    p.set_defaults(handler=run)


MAX_SEED = 2**64 - 1
"""Seeds torch's generator takes (an unsigned 64-bit integer)."""


def options(args):
    """(Quantisation, Thresholds, calibration) from the arguments, each validated as a user error."""
    from hwsim.numerics.deploy import ACTIVATION_SCHEMES, WEIGHT_SCHEMES, Quantisation
    from hwsim.numerics.quality import Thresholds, parse_rel, parse_sqnr
    from hwsim.numerics.user_files import calibration_count

    if args.weight_scales not in WEIGHT_SCHEMES:
        raise UserError(f"{args.weight_scales!r}: one of {', '.join(WEIGHT_SCHEMES)}", "--weight-scales")
    if args.activations not in ACTIVATION_SCHEMES:
        raise UserError(f"{args.activations!r}: one of {', '.join(ACTIVATION_SCHEMES)}", "--activations")
    try:
        min_sqnr = None if args.min_sqnr is None else parse_sqnr(args.min_sqnr)
    except ValueError as exc:
        raise UserError(str(exc), "--min-sqnr") from None
    try:
        max_rel = None if args.max_rel is None else parse_rel(args.max_rel)
    except ValueError as exc:
        raise UserError(str(exc), "--max-rel") from None
    calibration = None if args.calibration is None else calibration_count(args.calibration)
    for flag, path in (("--weights", args.weights), ("--calibration", calibration)):
        if isinstance(path, str) and not Path(path).is_file():  # before the model is exported
            raise UserError("no such file", f"{flag} {one_line(path)}")
    return Quantisation(args.weight_scales, args.activations), Thresholds(min_sqnr, max_rel), calibration


class LayerProgress:
    """``progress(total, layer)`` for the numerics check: a ProgressBar made at the first call."""

    def __init__(self, quiet: bool):
        self.quiet, self.bar = quiet, None

    def __call__(self, total: int, layer: str) -> None:
        if self.bar is None:
            from hwsim.progress import ProgressBar

            self.bar = ProgressBar(total, sys.stderr, quiet=self.quiet, unit="layers")
        self.bar.step(layer)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def run(args) -> int:
    progress = LayerProgress(args.quiet)
    try:
        return _run(args, progress)
    finally:
        progress.close()


def _run(args, progress) -> int:
    if not 0 <= args.seed <= MAX_SEED:
        raise UserError(f"{args.seed} is not a seed from 0 to {MAX_SEED}", "--seed")
    from hwsim.extract.resolve import parse_inputs, parse_shape
    from hwsim.numerics import check_model
    from hwsim.spec import load_spec

    quantisation, thresholds, calibration = options(args)
    onnx = args.model.lower().endswith(".onnx")
    shape = (parse_shape if onnx else parse_inputs)(args.input) if args.input is not None else None
    spec = load_spec(args.spec, args.overrides)
    if onnx:
        for flag, given in (("--weights", args.weights), ("--calibration", args.calibration)):
            if given is not None:
                raise UserError("is for PyTorch models; an ONNX file is checked with its own weights and "
                                "the checked input's ranges", flag)
        result = check_onnx(spec, args.model, shape, args.seed, quantisation, thresholds, progress, args.fallback)
    elif shape is None:
        raise UserError("is required for a PyTorch model (e.g. --input 1x3x64x64)", "--input")
    else:
        result = check_model(spec, args.model, shape, args.seed, quantisation, thresholds, calibration,
                             args.weights, progress, fallback=args.fallback)
    data = result.to_dict()
    if args.json:
        write_stdout(json.dumps(data, sort_keys=True, indent=1) + "\n")
    else:
        write_stdout(render(data, result) + "\n")
    return 0 if data["passed"] else 1


def check_onnx(spec, path: str, shape, seed: int, quantisation=None, thresholds=None, progress=None,
               fallback: str = "none"):
    """The numerics check of an ONNX file against ONNX Runtime (the steps of ``check_model``)."""
    from hwsim.extract.onnx_import import read_onnx
    from hwsim.extract.onnx_reference import onnx_reference
    from hwsim.numerics.check import CheckResult, check_plan, check_spec_bits, missing_kernels, refuse_host_ops
    from hwsim.schedule import schedule, verify_plan
    from hwsim.schedule.order import order_layers

    from hwsim.graph.widths import effective_spec

    imported = read_onnx(path, shape, fallback=fallback)
    graph = imported.graph
    refuse_host_ops(graph, path)
    spec = effective_spec(graph, spec)  # a quantised file is checked at its own widths
    check_spec_bits(spec)
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
        from hwsim.numerics.deploy import Quantisation
        from hwsim.numerics.quality import Thresholds

        report = check_plan(graph, plan, spec, reference, quantisation or Quantisation(), thresholds or Thresholds(),
                            progress=progress)
    except (KeyError, ValueError) as exc:
        raise UserError(f"cannot run the numerics check: {exc.args[0] if exc.args else exc}", path) from None
    streamed = sum(layer.streamed for layer in plan.layers)
    shape = graph.tensor[graph.inputs[0]].shape
    return CheckResult(report, tuple(shape), seed, streamed, problems, len(plan.cascades))


def _fmt(x, spec: str) -> str:
    return format(x, spec) if isinstance(x, (int, float)) and math.isfinite(x) else str(x)


def render(d: dict, result) -> str:
    shown = d.get("inputs") or [{"name": "", "shape": d["input"]}]
    shape = ", ".join((f"{i['name']} " if len(shown) > 1 else "") + "x".join(map(str, i["shape"])) for i in shown)
    q, sched, qual = d["quantisation"], d["schedule"], d["quality"]
    report = result.report
    lines = [
        f"numerics check: {d['graph']} on {d['spec']}, activations {d['activation_bits']} bits, "
        f"weights {d['weight_bits']} bits, input {shape}, seed {d['seed']}",
        f"  quantisation: weights {q['weights']} symmetric, activations {q['activations']} per tensor, "
        f"ranges from {q['calibration']}",
        f"  plan: {d['spills']} spills, {d['reloads']} reloads, {d['streamed_layers']} streamed layers, "
        f"{d['cascades']} cascades",
    ]
    if d["plan_problems"]:
        lines.append(f"  the plan verifier found {len(d['plan_problems'])} problem(s): {d['plan_problems'][0]}")
    lines.append(f"1. schedule, bit for bit against the quantised network without a memory model: "
                 f"{'PASSED' if sched['passed'] else 'FAILED'} ({sched['layers_compared']} layers compared, "
                 f"{sched['layers_inexact']} inexact, {sched['faults']} faults)")
    if report.first_fault is not None:
        lines.append(f"  first fault: {report.first_fault.text()}")
    if d["error"]:
        lines.append(f"  the run stopped: {d['error']}")
    for note in d["notes"][:MAX_FAILED_LISTED]:
        lines.append(f"  note: {note}")
    verdict = {None: "reported", True: "PASSED", False: "FAILED"}[qual["passed"]]
    lines.append(f"2. quantisation against torch in float (thresholds: {report.thresholds.text()}): {verdict}")
    width = max([len("output")] + [len(o["name"]) for o in d["outputs"]])
    lines.append(f"  {'output':<{width}}  {'max abs err':>12}  {'max rel err':>12}  {'SQNR dB':>8}")
    for o in d["outputs"]:
        lines.append(f"  {o['name']:<{width}}  {_fmt(o['max_abs_error'], '12.3e'):>12}  "
                     f"{_fmt(o['max_rel_error'], '12.3e'):>12}  {_fmt(o['sqnr_db'], '8.1f'):>8}"
                     f"{'' if o['within_thresholds'] else '  outside'}")
    worst = ", ".join(f"{name} {_fmt(c.sqnr_db, '.1f')} dB" for name, c in report.worst_layers())
    if worst:
        lines.append(f"  lowest SQNR: {worst}")
    if qual["passed"] is False:
        lines.append(f"  {qual['layers_outside']} layer(s) outside the thresholds")
    lines.append(verdict_line(d, report))
    return "\n".join(lines)


def verdict_line(d: dict, report) -> str:
    """PASSED, or FAILED naming which question failed and where."""
    failed = []
    if not report.schedule_passed:
        failed.append(f"schedule (first fault at {report.first_divergent_layer or 'the run'})")
    elif d["plan_problems"]:
        failed.append("schedule (the plan verifier)")
    if report.quality_passed is False:
        failed.append(f"quantisation (first outside the thresholds: {report.first_divergent_layer})")
    return "FAILED: " + "; ".join(failed) if failed else "PASSED"
