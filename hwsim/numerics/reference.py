"""The torch reference: seeded weights, a seeded input, and every intermediate the graph names.

The one module of ``hwsim.numerics`` that imports torch (lazily, inside its functions).

* :func:`seed_parameters` gives every floating parameter and buffer of the model fresh,
  seeded, non-zero values on the scale of its own initialisation: a tensor whose values
  spread over ``[lo, hi]`` is redrawn uniform on ``[lo, hi]`` (conv weights keep their
  +-1/sqrt(fan_in) range, a positive tensor stays positive); a constant ``c != 0`` becomes
  ``c * U(0.5, 1.5)`` (norm scales, per-channel scales); a constant zero becomes
  ``U(-0.1, 0.1)`` (biases, running means, and the zero-initialised residual scales such as
  NAFNet's beta/gamma that would otherwise hide whole branches); a batch-norm
  ``running_var`` becomes ``U(0.5, 1.5)``. Integer buffers are left alone.
* :func:`capture` runs the ``torch.export`` program's graph module with an FX interpreter
  and keeps every node's value under the node's name: activations of the IR are named
  after their fx node (multi-output splits ``<node>_<i>``; views are never compared, only
  their roots), parameters after their state_dict key; a constant the model creates in
  ``forward`` (``torch.ones``, ``arange`` ...) is a parameter named after its node.
* :func:`prepare` does it all from one export: the model resolved and seeded, the graph
  built from the same program (so names agree by construction) and the reference run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hwsim.errors import UserError
from hwsim.gc_pause import paused
from hwsim.graph.ir import Graph


@dataclass(frozen=True)
class Reference:
    """The torch run: values of the graph's inputs, activation roots and raw parameters (float32)."""

    seed: int
    values: dict  # tensor name -> np.ndarray: the network inputs and every activation root found
    params: dict  # state_dict key -> np.ndarray (unfolded: batch norm folding is the interpreter's)
    calibration: tuple = ()  # the float runs (dicts like ``values``) of the calibration inputs, if any
    calibration_text: str = ""  # what they were ("8 random inputs", "calib.npy (16 inputs)")


def seed_parameters(model, seed: int) -> None:
    """Overwrite every floating parameter and buffer of ``model`` with seeded values (in place)."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in model.state_dict(keep_vars=True).items():
            if t.is_floating_point() and t.numel():
                t.copy_(_seeded_like(name, t.detach(), gen).to(t.dtype))


def _seeded_like(name: str, t, gen):
    import torch

    u = torch.rand(t.shape, generator=gen, dtype=torch.float32)
    if name.endswith("running_var"):
        return u.add_(0.5)
    lo, hi = (float(v) for v in torch.aminmax(t.float()))
    if hi > lo:
        return u.mul_(hi - lo).add_(lo)
    if lo != 0:
        return u.add_(0.5).mul_(lo)
    return u.mul_(0.2).sub_(0.1)


def seeded_input(shape: tuple[int, ...], seed: int):
    """A standard-normal input of ``shape`` drawn from ``seed``."""
    import torch

    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def _snapshot(value):
    import torch

    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if isinstance(value, (list, tuple)):
        return [_snapshot(v) for v in value]
    return None


def _placeholder_args(ep, x) -> tuple[list, dict]:
    """The graph module's positional arguments, and the parameter values by state_dict key.
    ``x``: the input tensor, or a list of them in the order of the program's user inputs."""
    args, params = [], {}
    xs = list(x) if isinstance(x, (list, tuple)) else [x]
    for spec in ep.graph_signature.input_specs:
        if spec.kind.name == "USER_INPUT":
            args.append(xs.pop(0))
            continue
        value = ep.state_dict[spec.target] if spec.target in ep.state_dict else ep.constants[spec.target]
        args.append(value)
        params[spec.target] = value
    return args, params


def user_inputs(ep, xs: list, names: list) -> list:
    """``xs`` in the order of the program's user inputs (named ones matched by name)."""
    if not any(names):
        return list(xs)
    given = dict(zip(names, xs))
    return [given[s.arg.name] for s in ep.graph_signature.input_specs if s.kind.name == "USER_INPUT"]


def run_program(ep, x) -> tuple[dict, dict]:
    """(fx node name -> value snapshot, state_dict key -> tensor) of one run of ``ep`` on ``x``."""
    import torch
    import torch.fx

    args, params = _placeholder_args(ep, x)
    values: dict = {}

    class Recorder(torch.fx.Interpreter):
        def run_node(self, n):
            out = super().run_node(n)
            if n.op == "call_function":
                values[n.name] = _snapshot(out)  # a copy: later in-place ops must not change it
            return out

    with torch.no_grad():
        Recorder(ep.graph_module).run(*args)
    return values, params


def _to_numpy(t) -> np.ndarray:
    return t.detach().float().contiguous().numpy()


def _lookup(values: dict, name: str, shape: tuple[int, ...]):
    """The fx value of IR tensor ``name`` (a node's output, or piece i of ``<node>_<i>``)."""
    elements = math.prod(shape)
    candidates = [values.get(name)]
    base, _, index = name.rpartition("_")
    if index.isdigit() and isinstance(values.get(base), list) and int(index) < len(values[base]):
        candidates.append(values[base][int(index)])
    for c in candidates:
        if isinstance(c, list):
            c = c[0] if c else None  # an op with extra outputs (max_pool2d_with_indices): the first
        if c is not None and c.numel() == elements:
            return c.reshape(shape)
    return None


def _follow_folded_batch_norms(ep, graph: Graph, node_values: dict) -> None:
    """A convolution with a batch norm folded in is named after the conv node but holds the
    batch norm's output: take the value of the conv node's batch-norm user instead."""
    nodes = {n.name: n for n in ep.graph.nodes}
    for op in graph.ops:
        if not op.attrs.get("folded_bn") or op.name not in nodes:
            continue
        norms = [u for u in nodes[op.name].users if "batch_norm" in str(u.target)]
        if len(norms) == 1 and norms[0].name in node_values:
            node_values[op.outputs[0]] = node_values[norms[0].name]


def capture(ep, graph: Graph, x, seed: int = 0) -> Reference:
    """Run ``ep`` on ``x`` and collect the values of ``graph``'s inputs and activation roots."""
    node_values, params = run_program(ep, x)
    xs = list(x) if isinstance(x, (list, tuple)) else [x]
    for spec in ep.graph_signature.input_specs:
        if spec.kind.name == "USER_INPUT":
            node_values[spec.arg.name] = xs.pop(0)
    _follow_folded_batch_norms(ep, graph, node_values)
    found: dict[str, np.ndarray] = {}
    params = dict(params)
    for t in graph.tensors:
        if t.kind == "param" and t.view_of is None and t.name not in params and t.name in node_values:
            params[t.name] = node_values[t.name].float()  # a tensor created in forward (ones, arange ...)
        if t.kind == "param" or t.view_of is not None:
            continue
        value = _lookup(node_values, t.name, t.shape)
        if value is not None:
            found[t.name] = _to_numpy(value)
    raw = {k: _to_numpy(v) for k, v in params.items() if v.is_floating_point()}
    _fill_expanded(graph, found, raw)
    return Reference(seed, found, raw)


def _fill_expanded(graph: Graph, found: dict, params: dict) -> None:
    """Values of the tensors hwsim made up when it expanded one torch op into several (attention's
    transposed keys and probabilities, einsum's permuted operands): torch never computes them by
    those names, so each is computed, in graph order, with hwsim's kernel (tested against torch
    op by op in tests/numerics/test_kernels.py) from torch's values of its inputs. The expanded
    op's own output keeps torch's value, so the check still compares it with torch."""
    from hwsim.numerics.kernels import KERNELS, run_op

    def value(name: str):
        root = graph.root(name)
        v = params.get(root) if graph.tensor[root].kind == "param" else found.get(root)
        return None if v is None else v.reshape(graph.tensor[name].shape)

    for op in graph.ops:
        missing = [o for o in op.outputs if o not in found and graph.tensor[o].view_of is None]
        if len(op.outputs) != 1 or not missing or op.kind not in KERNELS:
            continue
        inputs = [value(i) for i in op.inputs]
        if any(v is None for v in inputs):
            continue
        found[op.outputs[0]] = run_op(op.kind, inputs, op.attrs)


def reference_for(model, graph: Graph, seed: int = 0) -> Reference:
    """Seed ``model``, export it on the graph's input shape and capture (names must match ``graph``)."""
    from hwsim.extract.torch_export import export_program

    seed_parameters(model, seed)
    xs = [seeded_input(graph.tensor[name].shape, (seed + i) % 2**64) for i, name in enumerate(graph.inputs)]
    ep = export_program(model, xs, graph.name)
    return capture(ep, graph, xs, seed)


def calibration_inputs(calibration: int | str, input_shape: tuple[int, ...], seed: int) -> tuple[list, str]:
    """The calibration inputs (torch tensors) and what they are: N seeded random inputs (seeds
    ``seed + 1 .. seed + N``, modulo 2^64) or the arrays of a ``.npy`` file."""
    import torch

    from hwsim.numerics.user_files import load_calibration

    if isinstance(calibration, int):
        xs = [seeded_input(input_shape, (seed + i) % 2**64) for i in range(1, calibration + 1)]
        return xs, f"{calibration} random input{'s' if calibration != 1 else ''} (seeds {seed}+1..+{calibration})"
    arrays = load_calibration(calibration, input_shape)
    plural = "s" if len(arrays) != 1 else ""
    return [torch.from_numpy(a.copy()) for a in arrays], f"{Path(calibration).name} ({len(arrays)} input{plural})"


@paused
def prepare(model_spec: str, input_shape, seed: int = 0, fuse: str = "elementwise",
            weights: str | None = None, calibration: int | str | None = None,
            fallback: str = "none") -> tuple[Graph, Reference]:
    """Resolve MODEL, seed it (or load the state dict file ``weights``), export once, and return its
    graph and its reference run (with the float runs of the ``calibration`` inputs, if any).
    ``input_shape``: one shape, or an InputSpec (several inputs: input i seeded with ``seed + i``)."""
    from hwsim.extract import require_torch

    require_torch("the numerics check")
    from hwsim.extract.resolve import as_inputs, resolve_model
    from hwsim.extract.torch_export import export_program, program_to_graph

    model, name = resolve_model(model_spec)
    if weights is not None:
        from hwsim.numerics.user_files import load_state_dict

        load_state_dict(weights, model)
    else:
        seed_parameters(model, seed)
    inputs = as_inputs(input_shape)
    names = [n for n, _ in inputs]
    xs = [seeded_input(shape, (seed + i) % 2**64) for i, (_, shape) in enumerate(inputs)]
    ep = export_program(model, xs, model_spec, names)
    graph = program_to_graph(ep, name, fuse, model_spec, fallback)
    if any(op.kind == "host" for op in graph.ops):
        return graph, None  # refused by the check (``check.refuse_host_ops``): no reference run
    if len(graph.inputs) != len(inputs):
        raise UserError(f"the model takes {len(graph.inputs)} tensor input(s), --input gives {len(inputs)}",
                        model_spec)
    reference = capture(ep, graph, user_inputs(ep, xs, names), seed)
    if calibration is None:
        return graph, reference
    if len(inputs) != 1:
        raise UserError("calibration inputs are for models with one input", "--calibration")
    input_shape = inputs[0][1]
    from dataclasses import replace

    xs, text = calibration_inputs(calibration, input_shape, seed)
    runs = tuple(capture(ep, graph, c, seed).values for c in xs)
    return graph, replace(reference, calibration=runs, calibration_text=text)
