"""The numerics check: two questions about a plan run on real data, answered apart.

1. **The schedule** (pass/fail, bit-exact, at every bit-width): the quantised network run
   through the memory image (``interpreter*.py``: SRAM bytes, DRAM copies, bands, stripes,
   in-place concatenation) must hold, byte for byte, what the same quantised network computes
   with no memory model (``golden.py``). Any difference is a schedule fault; the first one is
   reported with its layer, tensor, address range and the commands involved (``exact.py``).
2. **The quantisation** (reported; fails only on thresholds a user asks for): every tensor a
   layer writes and every output of the quantised network against torch in float: SQNR, max
   abs and rel error, the worst layers (``quality.py``).

How tensors are quantised (per-channel weights, calibrated activation ranges, shared formats
of concatenations) is ``deploy.py``. ``spills`` and ``reloads`` count the plan's
``spill_write`` stores and ``spill_read`` loads: the traffic the check exercised.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hwsim.graph.analysis import layer_io
from hwsim.graph.ir import Graph
from hwsim.numerics.deploy import Quantisation, codecs_from_ranges, stored_tensors, value_ranges
from hwsim.numerics.exact import Fault, Probe
from hwsim.numerics.golden import QuantisedRun, run_quantised
from hwsim.numerics.interpreter import InterpreterError, PlanRun, run_plan
from hwsim.numerics.memory import weight_store
from hwsim.numerics.quality import WORST_LISTED, TensorCheck, Thresholds, compare
from hwsim.schedule.plan import Plan


@dataclass(frozen=True)
class LayerCheck:
    index: int
    name: str
    tensors: tuple[TensorCheck, ...]
    exact: bool | None  # its written bytes equal the quantised network's (None: an in-place alias, not run)

    @property
    def within(self) -> bool:
        return all(c.within for c in self.tensors)

    @property
    def passed(self) -> bool:
        return self.exact is not False and self.within


@dataclass(frozen=True)
class NumericsReport:
    graph: str
    spec: str
    activation_bits: int
    weight_bits: int
    quantisation: Quantisation
    thresholds: Thresholds
    schedule_passed: bool
    first_fault: Fault | None
    faults: int
    layers: tuple[LayerCheck, ...]
    outputs: tuple[TensorCheck, ...]
    spills: int
    reloads: int
    notes: tuple[str, ...] = ()
    error: str | None = None

    @property
    def quality_passed(self) -> bool | None:
        """None when no threshold was asked; else whether every tensor is within them."""
        if not self.thresholds.asked:
            return None
        return all(layer.within for layer in self.layers) and all(o.within for o in self.outputs)

    @property
    def passed(self) -> bool:
        return self.schedule_passed and self.quality_passed is not False

    @property
    def first_divergent_layer(self) -> str | None:
        """The layer of the first schedule fault; else the first layer outside the thresholds."""
        if self.first_fault is not None:
            f = self.first_fault
            return f"output {f.tensor}" if f.access == "output" else f.layer_name
        if not self.schedule_passed:
            return None
        outside = next((layer.name for layer in self.layers if not layer.within), None)
        if outside is None and not all(o.within for o in self.outputs):
            return f"output {next(o.name for o in self.outputs if not o.within)}"
        return outside

    def worst_layers(self, n: int = WORST_LISTED) -> list[tuple[str, TensorCheck]]:
        """The ``n`` layer tensors of lowest SQNR (layer name, its check)."""
        found = [(layer.name, c) for layer in self.layers for c in layer.tensors]
        return sorted(found, key=lambda lc: (lc[1].sqnr_db, lc[0]))[:n]

    def to_dict(self) -> dict:
        fault = self.first_fault
        quality = {
            "passed": self.quality_passed, **self.thresholds.to_dict(),
            "outputs": [o.to_dict() for o in self.outputs],
            "worst_layers": [{"layer": name, **c.to_dict()} for name, c in self.worst_layers()],
            "layers_outside": sum(not layer.within for layer in self.layers),
        }
        schedule = {
            "passed": self.schedule_passed, "first_fault": fault.to_dict() if fault else None,
            "faults": self.faults, "layers_compared": sum(layer.exact is not None for layer in self.layers),
            "layers_inexact": sum(layer.exact is False for layer in self.layers), "error": self.error,
        }
        return {
            "graph": self.graph, "spec": self.spec, "activation_bits": self.activation_bits,
            "weight_bits": self.weight_bits, "passed": self.passed, "quantisation": self.quantisation.to_dict(),
            "first_divergent_layer": self.first_divergent_layer, "spills": self.spills, "reloads": self.reloads,
            "schedule": schedule, "quality": quality, "outputs": quality["outputs"],
            "layers_checked": sum(layer.exact is not None for layer in self.layers),  # compared bit for bit
            "layers_failed": sum(not layer.passed for layer in self.layers),
            "notes": list(self.notes), "error": self.error,
        }


def activation_codecs(graph: Graph, values: dict[str, np.ndarray], bits: int,
                      asymmetric: bool = False) -> dict:
    """A codec per stored tensor, calibrated on one run's ``values`` (``deploy.codecs_from_ranges``)."""
    return codecs_from_ranges(graph, value_ranges([values], stored_tensors(graph)), bits, asymmetric)


def count_spills(plan: Plan) -> tuple[int, int]:
    spills = sum(1 for c in plan.commands if c.kind == "store" and c.traffic == "spill_write")
    reloads = sum(1 for c in plan.commands if c.kind == "load" and c.traffic == "spill_read")
    return spills, reloads


@dataclass(frozen=True)
class Quantised:
    """The quantised network of one check: its codecs, weight store and memory-free run."""

    codecs: dict
    weights: object  # memory.WeightStore
    run: QuantisedRun
    inputs: dict = field(default_factory=dict)


def quantise(graph: Graph, spec, reference, quantisation: Quantisation = Quantisation(),
             calibration: tuple[dict, ...] | None = None) -> Quantised:
    """Codecs from the calibration runs (default: the reference run itself), the weight store and
    the quantised network's run on the reference input."""
    abits, wbits = spec.datatype.activation_bits, spec.datatype.weight_bits
    runs = calibration if calibration else (reference.values,)
    ranges = value_ranges(runs, stored_tensors(graph))
    codecs = codecs_from_ranges(graph, ranges, abits, quantisation.activations == "asymmetric")
    weights = weight_store(graph, reference.params, wbits, quantisation.weights == "per-channel",
                           bias_bits=spec.datatype.bias_bits)
    inputs = {graph.root(n): reference.values[graph.root(n)] for n in graph.inputs}
    return Quantised(codecs, weights, run_quantised(graph, inputs, weights.values, codecs), inputs)


def schedule_faults(graph: Graph, plan: Plan, run: PlanRun, probe: Probe) -> dict[int, bool]:
    """Layer -> bit-exact, after the run (adds the faults only visible in what layers assembled)."""
    aliases = {a for a, _, _ in plan.aliases}
    io = layer_io(graph)
    skipped = {i.index for i in io if i.writes and all(w in aliases for w in i.writes)}
    exact = probe.check_layers(probe.machine, run.layer_values, {i.index: i.writes for i in io}, skipped, run.computes)
    for name in graph.outputs:
        if name in run.outputs:
            probe.check_output(probe.machine, name, graph.root(name), run.outputs[name])
    return exact


def check_plan(graph: Graph, plan: Plan, spec, reference, quantisation: Quantisation = Quantisation(),
               thresholds: Thresholds = Thresholds(), calibration: tuple[dict, ...] | None = None,
               progress=None) -> NumericsReport:
    """Run ``plan`` on ``reference``'s input and weights (a :class:`~hwsim.numerics.reference.Reference`,
    or anything with ``values`` and ``params``): the schedule check against the quantised network,
    and the quantised network's quality against ``reference``. ``progress``: see ``run_plan``."""
    q = quantise(graph, spec, reference, quantisation, calibration)
    spills, reloads = count_spills(plan)
    head = (graph.name, spec.name, spec.datatype.activation_bits, spec.datatype.weight_bits, quantisation, thresholds)
    probe = Probe(graph, q.run)
    error, exact, notes = None, {}, ()
    try:
        run = run_plan(graph, plan, q.weights, q.codecs, q.inputs, spec, probe, progress)
        notes = tuple(run.notes[:50])
        exact = schedule_faults(graph, plan, run, probe)
    except InterpreterError as exc:
        error = str(exc)
        if exc.layer is not None:
            probe.faults.append(Fault(exc.layer, graph.layers[exc.layer].name, "", "never runs", "image", 0, 0, 0,
                                      None, None, ""))
    values = reference.values
    layers = []
    for io in layer_io(graph):
        if not io.writes:
            continue
        checks = tuple(compare(w, values[w], q.run.values[w], thresholds, exact.get(io.index))
                       for w in io.writes if w in values)
        layers.append(LayerCheck(io.index, io.name, checks, exact.get(io.index)))
    outputs = tuple(compare(n, values[graph.root(n)], q.run.values[graph.root(n)], thresholds,
                            None if error else not any(f.access == "output" and f.tensor == n for f in probe.faults))
                    for n in graph.outputs if graph.root(n) in values)
    passed = error is None and not probe.faults and not notes
    return NumericsReport(*head, passed, probe.first(), len(probe.faults), tuple(layers), outputs, spills, reloads,
                          notes, error)


# ---- the whole check of a model (the ``hwsim check`` command) -------------------------------------
@dataclass(frozen=True)
class CheckResult:
    report: NumericsReport
    input_shape: tuple[int, ...]
    seed: int
    streamed_layers: int
    plan_problems: tuple[str, ...]
    cascades: int = 0  # cascades the plan runs in stripes (policy.execution: cascade)
    inputs: tuple = ()  # (graph input name, shape) of every input (the first's shape is input_shape)

    @property
    def passed(self) -> bool:
        return self.report.passed and not self.plan_problems

    def to_dict(self) -> dict:
        d = self.report.to_dict()
        d.update({"input": list(self.input_shape), "seed": self.seed, "streamed_layers": self.streamed_layers,
                  "cascades": self.cascades,
                  "inputs": [{"name": n, "shape": list(s)} for n, s in self.inputs] or
                  [{"name": "input", "shape": list(self.input_shape)}],
                  "plan_problems": list(self.plan_problems), "passed": self.passed})
        return d


def refuse_host_ops(graph: Graph, where: str) -> None:
    """Raise a ``UserError`` naming every host op (``--fallback host``) of ``graph``, if it has any.

    The check compares the accelerator's arithmetic through the simulated memory with the
    framework's; a host op's arithmetic is the host CPU's (float, the framework's own op), which
    hwsim does not model, so a graph holding one is refused rather than passed over it."""
    from hwsim.errors import UserError

    hosts = [o for o in graph.ops if o.kind == "host"]
    if hosts:
        listed = "; ".join(f"{o.attrs['op']} at {o.module or '<top>'}" for o in hosts[:8])
        raise UserError(f"the numerics check runs only graphs the accelerator runs whole; this one has "
                        f"{len(hosts)} host op(s) (--fallback host), run on the host CPU: {listed}"
                        f"{' ...' if len(hosts) > 8 else ''}", where)


def missing_kernels(graph: Graph) -> dict[str, list[str]]:
    """Op kinds of ``graph`` without a numerics kernel -> the modules of their ops."""
    from hwsim.numerics.kernels import KERNELS

    found: dict[str, list[str]] = {}
    for op in graph.ops:
        if op.kind not in KERNELS:
            found.setdefault(op.kind, []).append(op.module or "<top>")
    return found


def check_spec_bits(spec) -> None:
    """A ``UserError`` naming the spec field whose bit-width the numerics check cannot store."""
    from hwsim.errors import UserError
    from hwsim.numerics.quantize import UnsupportedBits, check_bits

    for field_name, bits in (("datatype.activation_bits", spec.datatype.activation_bits),
                             ("datatype.weight_bits", spec.datatype.weight_bits),
                             ("datatype.bias_bits", spec.datatype.bias_bits)):
        try:
            check_bits(bits)
        except UnsupportedBits:
            raise UserError(f"{bits} bits: the numerics check stores 8-, 16- or 32-bit values only",
                            field_name) from None


def check_model(spec, model: str, input_shape: tuple[int, ...], seed: int = 0,
                quantisation: Quantisation = Quantisation(), thresholds: Thresholds = Thresholds(),
                calibration: int | str | None = None, weights: str | None = None, progress=None,
                fallback: str = "none") -> CheckResult:
    """Extract ``model`` (seeded weights, or the state dict file ``weights``), schedule it on ``spec``,
    run the schedule check and measure the quantisation (activation ranges from ``calibration``:
    None for the checked input, N seeded random inputs, or a ``.npy`` file). User errors are
    raised as :class:`~hwsim.errors.UserError`."""
    from hwsim.errors import UserError
    from hwsim.numerics.reference import prepare
    from hwsim.schedule import schedule, verify_plan
    from hwsim.schedule.order import order_layers

    check_spec_bits(spec)
    graph, reference = prepare(model, input_shape, seed, weights=weights, calibration=calibration, fallback=fallback)
    refuse_host_ops(graph, model)
    missing = missing_kernels(graph)
    if missing:
        listed = "; ".join(f"{k} at {', '.join(v[:3])}" for k, v in missing.items())
        raise UserError(f"the numerics interpreter has no kernel for {len(missing)} op kind(s): {listed}", model)
    graph = order_layers(graph, spec).graph  # policy.order
    plan = schedule(graph, spec)
    problems = tuple(str(p) for p in verify_plan(plan, spec, graph))
    if reference.calibration_text:
        from dataclasses import replace

        quantisation = replace(quantisation, calibration=reference.calibration_text)
    try:
        report = check_plan(graph, plan, spec, reference, quantisation, thresholds, reference.calibration or None,
                            progress)
    except (KeyError, ValueError) as exc:
        raise UserError(f"cannot run the numerics check: {exc.args[0] if exc.args else exc}", model) from None
    streamed = sum(layer.streamed for layer in plan.layers)
    inputs = tuple((name, graph.tensor[name].shape) for name in graph.inputs)
    return CheckResult(report, inputs[0][1], seed, streamed, problems, len(plan.cascades), inputs)
