"""The numerics check: a plan run on real data, compared with torch layer by layer.

Tolerances are fixed (never tuned to make a model pass); they follow the narrowest storage
width of the spec, ``min(activation_bits, weight_bits)``:

* 32 bits: every compared tensor's max abs error <= 1e-4 x max |reference|;
* 16 bits: SQNR >= 60 dB;
* 8 bits: SQNR >= 20 dB.

Every tensor a layer writes is compared with torch's value of it, as the layer wrote it (so
an error shows at the first layer that reads corrupted bytes, not later);
``first_divergent_layer`` is the first layer in order with a tensor outside tolerance (or
that never ran). The graph outputs, as read back from DRAM at the end, are reported and
checked too. ``spills`` and ``reloads`` count the plan's ``spill_write`` stores and
``spill_read`` loads: the traffic the check exercised.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from hwsim.graph.analysis import layer_io
from hwsim.graph.ir import Graph
from hwsim.numerics.interpreter import InterpreterError, PlanRun, run_plan
from hwsim.numerics.memory import weight_store
from hwsim.numerics.quantize import Codec, calibrated, check_bits, sqnr_db
from hwsim.schedule.plan import Plan

REL_TOLERANCE_32 = 1e-4
SQNR_TOLERANCE_DB = {16: 60.0, 8: 20.0}


def tolerance_text(bits: int) -> str:
    return f"max abs error <= {REL_TOLERANCE_32:g} x max|reference|" if bits == 32 \
        else f"SQNR >= {SQNR_TOLERANCE_DB[bits]:g} dB"


@dataclass(frozen=True)
class TensorCheck:
    name: str
    max_abs_error: float
    max_rel_error: float  # max abs error / max |reference|
    sqnr_db: float
    passed: bool

    def to_dict(self) -> dict:
        return {"name": self.name, "max_abs_error": _finite(self.max_abs_error),
                "max_rel_error": _finite(self.max_rel_error), "sqnr_db": _finite(self.sqnr_db),
                "passed": self.passed}


@dataclass(frozen=True)
class LayerCheck:
    index: int
    name: str
    tensors: tuple[TensorCheck, ...]
    passed: bool


@dataclass(frozen=True)
class NumericsReport:
    graph: str
    spec: str
    activation_bits: int
    weight_bits: int
    tolerance: str
    passed: bool
    first_divergent_layer: str | None
    layers: tuple[LayerCheck, ...]
    outputs: tuple[TensorCheck, ...]
    spills: int
    reloads: int
    notes: tuple[str, ...] = ()
    error: str | None = None

    def to_dict(self) -> dict:
        return {
            "graph": self.graph, "spec": self.spec, "activation_bits": self.activation_bits,
            "weight_bits": self.weight_bits, "tolerance": self.tolerance, "passed": self.passed,
            "first_divergent_layer": self.first_divergent_layer, "spills": self.spills, "reloads": self.reloads,
            "outputs": [o.to_dict() for o in self.outputs],
            "layers_checked": len(self.layers), "layers_failed": sum(not layer.passed for layer in self.layers),
            "notes": list(self.notes), "error": self.error,
        }


def _finite(x: float) -> float | str:
    """JSON has no inf or NaN: those become strings."""
    return x if math.isfinite(x) else str(x)


def compare(name: str, reference: np.ndarray, got: np.ndarray, bits: int) -> TensorCheck:
    """Errors of ``got`` against ``reference`` and whether they are within the tolerance for ``bits``."""
    ref = np.asarray(reference, np.float64)
    diff = np.abs(np.asarray(got, np.float64) - ref)
    max_abs = float(diff.max()) if diff.size else 0.0
    if diff.size and np.isnan(diff).any():
        max_abs = math.nan
    peak = float(np.abs(ref).max()) if ref.size else 0.0
    rel = max_abs / peak if peak > 0 else (0.0 if max_abs == 0 else math.inf)
    sqnr = sqnr_db(ref, got)
    if bits == 32:
        passed = rel <= REL_TOLERANCE_32  # False for NaN
    else:
        passed = sqnr >= SQNR_TOLERANCE_DB[bits]
    return TensorCheck(name, max_abs, rel, sqnr, bool(passed))


def activation_codecs(graph: Graph, values: dict[str, np.ndarray], bits: int) -> dict[str, Codec]:
    """A codec per activation root and network input, calibrated on its reference values."""
    check_bits(bits)
    needed = {graph.root(i) for i in graph.inputs}
    for t in graph.tensors:
        if t.kind == "activation" and t.view_of is None:
            needed.add(t.name)
    missing = sorted(n for n in needed if n not in values)
    written = {w for io in layer_io(graph) for w in io.writes} | {graph.root(i) for i in graph.inputs}
    lost = [n for n in missing if n in written]
    if lost:
        raise KeyError(f"the torch reference has no value for {len(lost)} tensor(s) the graph writes: "
                       f"{', '.join(lost[:5])}{' ...' if len(lost) > 5 else ''}")
    return {n: calibrated(bits, float(np.abs(values[n]).max()) if values[n].size else 0.0)
            for n in needed if n in values}


def count_spills(plan: Plan) -> tuple[int, int]:
    spills = sum(1 for c in plan.commands if c.kind == "store" and c.traffic == "spill_write")
    reloads = sum(1 for c in plan.commands if c.kind == "load" and c.traffic == "spill_read")
    return spills, reloads


def evaluate(graph: Graph, run: PlanRun, values: dict[str, np.ndarray], bits: int,
             skipped: set[int]) -> tuple[tuple[LayerCheck, ...], tuple[TensorCheck, ...], str | None]:
    """Per-layer and per-output checks of a plan run, and the first divergent layer."""
    layers, first = [], None
    for io in layer_io(graph):
        if io.index in skipped or not io.writes:
            continue
        written = run.layer_values.get(io.index)
        if written is None:
            checks = tuple(TensorCheck(w, math.nan, math.nan, -math.inf, False) for w in io.writes)
        else:
            checks = tuple(compare(w, values[w], written[w], bits) for w in io.writes if w in values)
        passed = all(c.passed for c in checks)
        layers.append(LayerCheck(io.index, io.name, checks, passed))
        if not passed and first is None:
            first = io.name
    outputs = tuple(compare(name, values[graph.root(name)], run.outputs[name], bits)
                    for name in graph.outputs if name in run.outputs)
    return tuple(layers), outputs, first


def check_plan(graph: Graph, plan: Plan, spec, reference) -> NumericsReport:
    """Run ``plan`` on ``reference``'s input and weights and compare with ``reference`` (a
    :class:`~hwsim.numerics.reference.Reference`, or anything with ``values`` and ``params``)."""
    abits, wbits = spec.datatype.activation_bits, spec.datatype.weight_bits
    bits = min(abits, wbits)
    codecs = activation_codecs(graph, reference.values, abits)
    weights = weight_store(graph, reference.params, wbits)
    inputs = {graph.root(n): reference.values[graph.root(n)] for n in graph.inputs}
    spills, reloads = count_spills(plan)
    head = (graph.name, spec.name, abits, wbits, tolerance_text(bits))
    try:
        run = run_plan(graph, plan, weights, codecs, inputs, spec)
    except InterpreterError as exc:
        layer = graph.layers[exc.layer].name if exc.layer is not None else None
        return NumericsReport(*head, False, layer, (), (), spills, reloads, (), str(exc))
    skipped = {io.index for io in layer_io(graph)
               if io.writes and all(w in {a for a, _, _ in plan.aliases} for w in io.writes)}
    layers, outputs, first = evaluate(graph, run, reference.values, bits, skipped)
    passed = first is None and all(o.passed for o in outputs) and len(outputs) == len(graph.outputs)
    return NumericsReport(*head, passed, first, layers, outputs, spills, reloads, tuple(run.notes[:50]))


# ---- the whole check of a model (the ``hwsim check`` command) -------------------------------------
@dataclass(frozen=True)
class CheckResult:
    report: NumericsReport
    input_shape: tuple[int, ...]
    seed: int
    streamed_layers: int
    plan_problems: tuple[str, ...]
    cascades: int = 0  # cascades the plan runs in stripes (policy.execution: cascade)

    @property
    def passed(self) -> bool:
        return self.report.passed and not self.plan_problems

    def to_dict(self) -> dict:
        d = self.report.to_dict()
        d.update({"input": list(self.input_shape), "seed": self.seed, "streamed_layers": self.streamed_layers,
                  "cascades": self.cascades,
                  "plan_problems": list(self.plan_problems), "passed": self.passed})
        return d


def missing_kernels(graph: Graph) -> dict[str, list[str]]:
    """Op kinds of ``graph`` without a numerics kernel -> the modules of their ops."""
    from hwsim.numerics.kernels import KERNELS

    found: dict[str, list[str]] = {}
    for op in graph.ops:
        if op.kind not in KERNELS:
            found.setdefault(op.kind, []).append(op.module or "<top>")
    return found


def check_model(spec, model: str, input_shape: tuple[int, ...], seed: int = 0) -> CheckResult:
    """Extract ``model`` with seeded weights, schedule it on ``spec``, run and compare (user errors raised
    as :class:`~hwsim.errors.UserError`)."""
    from hwsim.errors import UserError
    from hwsim.numerics.quantize import UnsupportedBits
    from hwsim.numerics.reference import prepare
    from hwsim.schedule import schedule, verify_plan
    from hwsim.schedule.order import order_layers

    for field_name, bits in (("datatype.activation_bits", spec.datatype.activation_bits),
                             ("datatype.weight_bits", spec.datatype.weight_bits)):
        try:
            check_bits(bits)
        except UnsupportedBits:
            raise UserError(f"{bits} bits: the numerics check stores 8-, 16- or 32-bit values only",
                            field_name) from None
    graph, reference = prepare(model, input_shape, seed)
    missing = missing_kernels(graph)
    if missing:
        listed = "; ".join(f"{k} at {', '.join(v[:3])}" for k, v in missing.items())
        raise UserError(f"the numerics interpreter has no kernel for {len(missing)} op kind(s): {listed}", model)
    graph = order_layers(graph, spec).graph  # policy.order
    plan = schedule(graph, spec)
    problems = tuple(str(p) for p in verify_plan(plan, spec, graph))
    try:
        report = check_plan(graph, plan, spec, reference)
    except (KeyError, ValueError) as exc:
        raise UserError(f"cannot run the numerics check: {exc.args[0] if exc.args else exc}", model) from None
    streamed = sum(layer.streamed for layer in plan.layers)
    return CheckResult(report, tuple(input_shape), seed, streamed, problems, len(plan.cascades))
