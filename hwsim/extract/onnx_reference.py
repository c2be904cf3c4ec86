"""The reference of ``hwsim check`` for an ONNX model: ONNX Runtime's values of every tensor.

The file's own weights are used (they are the model under test); the input is drawn from
``--seed``: standard normal, ``numpy.random.default_rng(seed)``. ONNX Runtime runs the model
with every value the graph needs added as a graph output, so each layer's written tensor is
compared with the runtime's value of it (``Imported.values_from`` maps the tensors hwsim
named or folded to the value that holds theirs). Parameters are the initializers, and the
values of nodes computing constants (a DequantizeLinear of int8 weights gives the float
weights it stands for); ``W^T`` is the transpose of ``W`` (a MatMul/Gemm weight), ``b[flat]``
a bias flattened.

Only ``onnxruntime`` and ``onnx`` are imported (lazily); no torch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hwsim.errors import UserError
from hwsim.extract.frontend import Imported


@dataclass(frozen=True)
class OnnxReference:
    """What the numerics check reads: the input and activation values, and the parameters."""

    seed: int
    values: dict  # IR tensor name -> np.ndarray (the network input, activation roots)
    params: dict  # parameter name (and batch-norm statistics) -> np.ndarray


def seeded_input(shape: tuple[int, ...], seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def onnx_reference(path: str, imported: Imported, seed: int) -> OnnxReference:
    try:
        import onnxruntime as ort
    except ImportError:
        raise UserError("checking an ONNX model needs onnxruntime: pip install 'hwsim[onnx]'") from None
    import onnx
    from onnx import helper, numpy_helper

    g = imported.graph
    model = onnx.load(path)
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    produced = {o for node in model.graph.node for o in node.output}
    wanted: dict[str, str] = {}  # IR name -> ONNX value to fetch
    for t in g.tensors:
        if t.view_of is not None or t.kind == "input":
            continue
        source = imported.values_from.get(t.name, t.name)
        if t.kind == "param" and (source.endswith("^T") or source.endswith("[flat]")):
            continue
        if source in produced:
            wanted[t.name] = source
    listed = {o.name for o in model.graph.output}
    extra = sorted(set(wanted.values()) - listed)
    model.graph.output.extend(helper.make_empty_tensor_value_info(name) for name in extra)
    x = seeded_input(g.tensor[g.inputs[0]].shape, seed)
    try:
        session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        names = [o.name for o in session.get_outputs()]
        outs = dict(zip(names, session.run(None, {g.inputs[0]: x})))
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise UserError(f"ONNX Runtime cannot run the model: {first}", path) from None
    values = {g.inputs[0]: x}
    params = {k: v.astype(np.float32) for k, v in inits.items() if np.issubdtype(v.dtype, np.floating)}
    for ir, source in wanted.items():
        target = params if g.tensor[ir].kind == "param" else values
        target[ir] = np.asarray(outs[source], np.float32).reshape(g.tensor[ir].shape)
    for t in g.tensors:
        base = imported.values_from.get(t.name)
        if t.kind == "param" and base is not None and base in params:
            v = params[base]
            params[t.name] = v.T.copy() if t.name.endswith("^T") else v.reshape(t.shape)
    integer = [t.name for t in g.tensors if t.kind == "param" and t.view_of is None and t.name not in params
               and t.name in inits and not np.issubdtype(inits[t.name].dtype, np.floating)]
    if integer:
        raise UserError(f"{len(integer)} parameters are integers read by QLinear operators (e.g. {integer[0]!r}); the "
                        "check runs float weights: check the QDQ form of the model", path)
    return OnnxReference(seed, values, params)
