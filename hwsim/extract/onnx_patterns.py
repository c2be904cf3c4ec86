"""Rewrites of an ONNX node list before the walk: patterns exporters write for one PyTorch op.

**Erf GELU.** Below opset 20 ONNX has no ``Gelu``; ``torch.onnx.export`` writes ``nn.GELU()``
(exact, ``approximate="none"``) as (torch/onnx/symbolic_opset9.py ``gelu``)::

    y = Mul(Mul(x, Add(Erf(Div(x, sqrt(2))), 1)), 0.5)        # x * (1 + erf(x / sqrt 2)) / 2

:func:`fuse_erf_gelu` replaces each such chain by one ``Gelu`` node (x -> y), so the walk emits
the single ``gelu`` op the PyTorch front end emits (same layers, no scalar constants counted
as parameters). Every intermediate must have exactly one reader, and the constants must be
sqrt(2), 1 and 1/2 to float32 precision; anything else is left as it is (and an ``Erf`` left
alone is then reported as unsupported). ONNX Runtime's transformer optimiser fuses the same
subgraph into its ``Gelu`` contrib op.
"""

from __future__ import annotations

import math

import numpy as np


def _constants(model) -> dict[str, np.ndarray]:
    from onnx import numpy_helper

    values = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer if np.prod(i.dims) == 1}
    for node in model.graph.node:
        if node.op_type == "Constant" and len(node.attribute) == 1 and node.attribute[0].name == "value":
            t = node.attribute[0].t
            if np.prod(t.dims) == 1:
                values[node.output[0]] = numpy_helper.to_array(t)
    return values


def _scalar(values: dict[str, np.ndarray], name: str, want: float) -> bool:
    v = values.get(name)
    return v is not None and v.size == 1 and abs(float(v.reshape(-1)[0]) - want) <= 1e-6 * max(1.0, abs(want))


def _other(node, name: str) -> str | None:
    """The input of a two-input ``node`` that is not ``name`` (None if ``name`` is not one)."""
    ins = list(node.input)
    if len(ins) != 2 or name not in ins:
        return None
    return ins[1] if ins[0] == name else ins[0]


def fuse_erf_gelu(model) -> int:
    """Replace every exported exact-GELU chain in ``model.graph.node`` by one ``Gelu`` node; how many."""
    from onnx import helper

    nodes = list(model.graph.node)
    values = _constants(model)
    producer = {o: k for k, n in enumerate(nodes) for o in n.output}
    readers: dict[str, list[int]] = {}
    for k, n in enumerate(nodes):
        for i in n.input:
            readers.setdefault(i, []).append(k)
    for o in model.graph.output:
        readers.setdefault(o.name, []).append(-1)

    def only_reader(value: str, op_type: str):
        r = readers.get(value, [])
        return nodes[r[0]] if len(r) == 1 and r[0] >= 0 and nodes[r[0]].op_type == op_type else None

    drop, place = set(), {}
    for k, erf in enumerate(nodes):
        if erf.op_type != "Erf" or erf.domain not in ("", "ai.onnx"):
            continue
        div = nodes[producer[erf.input[0]]] if erf.input[0] in producer else None
        if div is None or div.op_type != "Div" or not _scalar(values, div.input[1], math.sqrt(2)) \
                or len(readers.get(div.output[0], [])) != 1:
            continue
        x = div.input[0]
        add = only_reader(erf.output[0], "Add")
        if add is None or not _scalar(values, _other(add, erf.output[0]) or "", 1.0):
            continue
        mul = only_reader(add.output[0], "Mul")
        if mul is None or _other(mul, add.output[0]) != x:
            continue
        half = only_reader(mul.output[0], "Mul")
        if half is None or not _scalar(values, _other(half, mul.output[0]) or "", 0.5):
            continue
        chain = [div, erf, add, mul, half]
        drop.update(id(n) for n in chain)
        gelu = helper.make_node("Gelu", [x], [half.output[0]], name=(div.name or erf.name) + "/gelu")
        place[id(half)] = gelu
    if not place:
        return 0
    kept = [place.get(id(n), n) for n in nodes if id(n) not in drop or id(n) in place]
    del model.graph.node[:]
    model.graph.node.extend(kept)
    return len(place)
