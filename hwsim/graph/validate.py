"""Graph validation: every problem, each with its JSON path.

Checked: unique tensor, op and layer names; every op input exists; every activation
produced exactly once and by an op, never an input or a parameter; views point at an
existing tensor with the same element count; ops in a valid execution order (inputs
produced before use, hence acyclic); every op's declared output shapes equal the op
kind's rule; every op in exactly one layer, layers contiguous in op order; graph inputs
and outputs exist.
"""

from __future__ import annotations

from hwsim.graph.ir import TENSOR_KINDS, Graph
from hwsim.graph.opkinds import OP_KINDS, ShapeError, infer_shapes


def _names(items, what: str, problems: list[str]) -> dict[str, int]:
    index: dict[str, int] = {}
    for i, item in enumerate(items):
        if item.name in index:
            problems.append(f"$.{what}[{i}].name: duplicate name {item.name!r}")
        index.setdefault(item.name, i)
    return index


def _check_tensors(g: Graph, tix: dict[str, int], problems: list[str]) -> None:
    for i, t in enumerate(g.tensors):
        where = f"$.tensors[{i}]"
        if t.kind not in TENSOR_KINDS:
            problems.append(f"{where}.kind: {t.kind!r} is not one of {list(TENSOR_KINDS)}")
        if any(d <= 0 for d in t.shape):
            problems.append(f"{where}.shape: dimensions must be positive, got {list(t.shape)}")
        if t.view_of is not None:
            base = g.tensors[tix[t.view_of]] if t.view_of in tix else None
            if base is None:
                problems.append(f"{where}.view_of: no tensor named {t.view_of!r}")
            elif base.elements != t.elements:
                problems.append(f"{where}.view_of: a view of {t.view_of!r} must have its "
                                f"{base.elements} elements, has {t.elements}")
    for name in g.inputs:
        if name not in tix or g.tensors[tix[name]].kind != "input":
            problems.append(f"$.inputs: {name!r} is not a tensor of kind 'input'")
    for name in g.outputs:
        if name not in tix:
            problems.append(f"$.outputs: no tensor named {name!r}")


def _check_ops(g: Graph, tix: dict[str, int], problems: list[str]) -> None:
    available = {t.name for t in g.tensors if t.kind in ("input", "param")}
    produced: dict[str, str] = {}

    def ready(name: str) -> bool:
        t = g.tensors[tix[name]]
        return name in available or (t.view_of is not None and t.view_of in tix and ready(t.view_of))

    for i, op in enumerate(g.ops):
        where = f"$.ops[{i}]"
        if op.kind not in OP_KINDS:
            problems.append(f"{where}.kind: unknown op kind {op.kind!r}")
        for j, name in enumerate(op.inputs):
            if name not in tix:
                problems.append(f"{where}.inputs[{j}]: no tensor named {name!r}")
            elif not ready(name):
                later = name in {t for o in g.ops[i:] for t in o.outputs}
                why = "is produced later (a cycle or a wrong order)" if later else "is never produced"
                problems.append(f"{where}.inputs[{j}]: {name!r} {why}")
        for j, name in enumerate(op.outputs):
            t = g.tensors[tix[name]] if name in tix else None
            if t is None:
                problems.append(f"{where}.outputs[{j}]: no tensor named {name!r}")
            elif t.kind != "activation" or t.view_of is not None:
                problems.append(f"{where}.outputs[{j}]: {name!r} is a {t.kind}"
                                f"{' view' if t.view_of else ''}; ops produce activations")
            elif name in produced:
                problems.append(f"{where}.outputs[{j}]: {name!r} is already produced by {produced[name]!r}")
            produced.setdefault(name, op.name)
            available.add(name)
        if op.kind in OP_KINDS and all(n in tix for n in op.inputs + op.outputs):
            _check_shapes(g, tix, op, where, problems)
    for t in g.tensors:
        if t.kind == "activation" and t.view_of is None and t.name not in produced:
            problems.append(f"$.tensors[{tix[t.name]}]: activation {t.name!r} is produced by no op")


def _check_shapes(g: Graph, tix: dict[str, int], op, where: str, problems: list[str]) -> None:
    shapes = [g.tensors[tix[n]].shape for n in op.inputs]
    try:
        expect = infer_shapes(op.kind, shapes, op.attrs)
    except (ShapeError, KeyError, TypeError, ValueError) as exc:
        problems.append(f"{where}: {op.kind} {op.name!r}: {exc}")
        return
    got = [g.tensors[tix[n]].shape for n in op.outputs]
    if [tuple(s) for s in expect] != got:
        problems.append(f"{where}.outputs: {op.kind} {op.name!r} gives shapes "
                        f"{[list(s) for s in expect]}, the graph says {[list(s) for s in got]}")


def _check_layers(g: Graph, oix: dict[str, int], problems: list[str]) -> None:
    seen: dict[str, int] = {}
    order: list[int] = []
    for i, layer in enumerate(g.layers):
        if not layer.ops:
            problems.append(f"$.layers[{i}].ops: a layer needs at least one op")
        for j, name in enumerate(layer.ops):
            if name not in oix:
                problems.append(f"$.layers[{i}].ops[{j}]: no op named {name!r}")
            elif name in seen:
                problems.append(f"$.layers[{i}].ops[{j}]: op {name!r} is already in layer {seen[name]}")
            else:
                seen[name] = i
                order.append(oix[name])
    missing = [op.name for op in g.ops if op.name not in seen]
    if missing:
        problems.append(f"$.layers: ops in no layer: {missing[:5]}{' ...' if len(missing) > 5 else ''}")
    elif order != sorted(order):
        problems.append("$.layers: layers must list the ops in op order, each layer a contiguous run")


def validate(g: Graph) -> list[str]:
    """Every problem of ``g``, each prefixed by its JSON path; empty when the graph is valid."""
    problems: list[str] = []
    tix = _names(g.tensors, "tensors", problems)
    oix = _names(g.ops, "ops", problems)
    _names(g.layers, "layers", problems)
    _check_tensors(g, tix, problems)
    _check_ops(g, tix, problems)
    _check_layers(g, oix, problems)
    if not problems and not g.ops:
        problems.append("$.ops: a graph needs at least one op")
    return problems
