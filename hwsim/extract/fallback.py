"""``--fallback host``: an op no converter maps becomes a host op (``hwsim.graph.host``).

Every front end (PyTorch, ONNX, TFLite) collects the ops it cannot map and, without the
flag, reports them all at once in one error that ends with :data:`SUGGESTION`. With
``--fallback host`` each such op is written as one ``host`` op instead, carrying its original
op name, its module path (PyTorch) or node name (files), its input and output shapes and
the host operations it performs, so that the rest of the network is extracted and
scheduled around it, as Vela leaves an operator the Ethos-U cannot run to the CPU.
"""

from __future__ import annotations

from typing import Sequence

from hwsim.errors import UserError
from hwsim.extract.builder import GraphBuilder
from hwsim.graph.host import HOST, element_ops, host_attrs

FALLBACKS = ("none", "host")
SUGGESTION = "; to run them on the host CPU instead, extract with --fallback host (and give the spec a host: section)"
NOT_HOSTED = ("; --fallback host could not make host ops of them (an output whose shape the front end does not "
              "know, or an input that is no tensor)")


def suggestion(fallback: str) -> str:
    """What the unsupported-op error ends with: the flag, or why the flag did not help."""
    return NOT_HOSTED if fallback == "host" else SUGGESTION


def check_fallback(value: str) -> str:
    """``value`` if it is a fallback mode, else a UserError naming the option."""
    if value not in FALLBACKS:
        raise UserError(f"must be one of {', '.join(FALLBACKS)}, got {value!r}", "--fallback")
    return value


def emit_host(b: GraphBuilder, *, name: str, op: str, source: str, node: str, module: str,
              inputs: Sequence[str], out_shapes: Sequence[Sequence[int]], out_names: Sequence[str] | None = None,
              ops: int | None = None, reason: str | None = None) -> list[str]:
    """Add the host op standing for one unmapped op; returns its output tensor names.

    ``ops``: the host operations when a counter knows them (FlopCounterMode's flops), else
    None: one per element read or written (``hwsim.graph.host``)."""
    shapes = [tuple(int(d) for d in s) for s in out_shapes]
    inputs = list(dict.fromkeys(inputs))
    activations = [b.tensors[i].shape for i in inputs if b.tensors[b.root(i)].kind != "param"]
    rule = "flop_counter" if ops is not None else "elements"
    count = ops if ops is not None else element_ops(activations, shapes)
    attrs = host_attrs(op, source, node, shapes, count, rule, reason)
    names = list(out_names) if out_names is not None else None
    return b.emit(name, HOST, inputs, attrs, module, shapes, names)


def onnx_host(ctx, n, key: str, reason: str | None = None) -> bool:
    """ONNX node ``n`` (an ``onnx_import.OnnxNode`` in its ``Context``) as a host op, its output
    shapes from ONNX shape inference; False when an output's shape is unknown (``--input``
    changed the file's shapes) or an input is not a tensor hwsim holds."""
    from hwsim.extract.aten_table import Unsupported

    shapes = [ctx.inferred.get(o) for o in n.outputs]
    if not n.outputs or any(s is None for s in shapes):
        return False
    try:
        inputs = [ctx.tensor(n, i) for i in range(len(n.inputs)) if ctx.has(n, i)]
    except Unsupported:
        return False
    if any(not isinstance(i, str) for i in inputs):
        return False
    outs = emit_host(ctx.b, name=ctx._unique_op(n.name), op=key, source="onnx", node=n.name, module=n.name,
                     inputs=inputs, out_shapes=shapes, out_names=n.outputs, reason=reason)
    for k, out in enumerate(outs):
        ctx.set(n, out, k)
    return True
