"""Graph validation: every problem, each with its JSON path.

Checked: names (graph, tensors, ops, layers, modules) of printable characters, at most
``errors.MAX_NAME`` of them; unique tensor, op and layer names; shapes of at most
:data:`MAX_RANK` dimensions, each from 1 to ``MAX_EXTENT``, at most :data:`MAX_ELEMENTS`
elements; every op input exists; every activation produced exactly once and by an op, never
an input or a parameter; views point at an existing tensor of the same kind with the same
element count, and chains of views end (resolved iteratively, so a chain of any length
costs no recursion); every op's attributes follow their rules (``attrs.py``) before its
shape rule runs; ops in a valid execution order (inputs produced before use, hence
acyclic); every op's declared output shapes equal the op kind's rule; every op in exactly
one layer, layers contiguous in op order; graph inputs and outputs exist.
"""

from __future__ import annotations

import math

from hwsim.errors import name_problem
from hwsim.graph.attrs import MAX_EXTENT, check_attrs
from hwsim.graph.ir import TENSOR_KINDS, Graph
from hwsim.graph.opkinds import OP_KINDS, ShapeError, infer_shapes

MAX_RANK = 8
MAX_ELEMENTS = 2**40


def _check_names(g: Graph, problems: list[str]) -> None:
    named = [("$.name", g.name)]
    for what, items in (("tensors", g.tensors), ("ops", g.ops), ("layers", g.layers)):
        named += [(f"$.{what}[{i}].name", item.name) for i, item in enumerate(items)]
    named += [(f"$.ops[{i}].module", op.module) for i, op in enumerate(g.ops)]
    for where, name in named:
        if (reason := name_problem(name)) is not None:
            problems.append(f"{where}: {reason}")


def _names(items, what: str, problems: list[str]) -> dict[str, int]:
    index: dict[str, int] = {}
    for i, item in enumerate(items):
        if item.name in index:
            problems.append(f"$.{what}[{i}].name: duplicate name {item.name!r}")
        index.setdefault(item.name, i)
    return index


def _shape_problem(shape: tuple[int, ...]) -> str | None:
    if len(shape) > MAX_RANK:
        return f"at most {MAX_RANK} dimensions, got {len(shape)}"
    if any(not 1 <= d <= MAX_EXTENT for d in shape):
        shown = list(shape) if len(str(list(shape))) <= 60 else "[...]"
        return f"dimensions must be from 1 to {MAX_EXTENT}, got {shown}"
    if math.prod(shape) > MAX_ELEMENTS:
        return f"{math.prod(shape)} elements, more than {MAX_ELEMENTS} (2^40)"
    return None


def view_roots(g: Graph, tix: dict[str, int]) -> tuple[dict[str, str], list[int]]:
    """The root of every tensor whose chain of views ends at a tensor that is no view, and
    the index of one tensor on each cycle of views. Iterative, each tensor visited once."""
    roots: dict[str, str | None] = {}  # None: the chain ends nowhere (a cycle, a missing name)
    cycles: list[int] = []
    for t in g.tensors:
        path: dict[str, None] = {}
        name = t.name
        while name not in roots:
            if name not in tix or name in path:
                if name in path:
                    cycles.append(tix[name])
                roots[name] = None
                break
            path[name] = None
            base = g.tensors[tix[name]].view_of
            if base is None:
                roots[name] = name
                break
            name = base
        for step in path:
            roots[step] = roots[name]
    return {k: v for k, v in roots.items() if v is not None}, cycles


MAX_TENSOR_BITS = 64
"""Widest stored tensor a file may declare (TFLite's 16x8 mode stores int64 biases)."""


def _check_tensors(g: Graph, tix: dict[str, int], problems: list[str]) -> dict[str, str]:
    roots, cycles = view_roots(g, tix)
    for i, t in enumerate(g.tensors):
        where = f"$.tensors[{i}]"
        if t.kind not in TENSOR_KINDS:
            problems.append(f"{where}.kind: {t.kind!r} is not one of {list(TENSOR_KINDS)}")
        if (reason := _shape_problem(t.shape)) is not None:
            problems.append(f"{where}.shape: {reason}")
        if t.bits is not None and not (isinstance(t.bits, int) and 1 <= t.bits <= MAX_TENSOR_BITS):
            problems.append(f"{where}.bits: {t.bits!r} is not a bit-width from 1 to {MAX_TENSOR_BITS}")
        if t.view_of is not None:
            base = g.tensors[tix[t.view_of]] if t.view_of in tix else None
            if base is None:
                problems.append(f"{where}.view_of: no tensor named {t.view_of!r}")
            elif base.elements != t.elements:
                problems.append(f"{where}.view_of: a view of {t.view_of!r} must have its "
                                f"{base.elements} elements, has {t.elements}")
            elif base.kind != t.kind:
                problems.append(f"{where}.view_of: a view of {t.view_of!r} has its kind "
                                f"{base.kind!r}, not {t.kind!r}")
    for i in cycles:
        problems.append(f"$.tensors[{i}].view_of: {g.tensors[i].name!r} is a view of itself (a cycle of view_of links)")
    for name in g.inputs:
        if name not in tix or g.tensors[tix[name]].kind != "input":
            problems.append(f"$.inputs: {name!r} is not a tensor of kind 'input'")
    for name in g.outputs:
        if name not in tix:
            problems.append(f"$.outputs: no tensor named {name!r}")
    return roots


def _check_ops(g: Graph, tix: dict[str, int], roots: dict[str, str], problems: list[str]) -> None:
    available = {t.name for t in g.tensors if t.kind in ("input", "param")}
    produced: dict[str, str] = {}

    def ready(name: str) -> bool:
        return name in available or roots.get(name, name) in available

    for i, op in enumerate(g.ops):
        where = f"$.ops[{i}]"
        if op.kind not in OP_KINDS:
            problems.append(f"{where}.kind: unknown op kind {op.kind!r}")
        for j, name in enumerate(op.inputs):
            if name not in tix:
                problems.append(f"{where}.inputs[{j}]: no tensor named {name!r}")
            elif name not in roots:
                pass  # a view whose chain of views ends nowhere: reported with the tensor
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
        bad_attrs = check_attrs(op.kind, op.attrs, where) if op.kind in OP_KINDS else []
        problems += bad_attrs
        if op.kind in OP_KINDS and not bad_attrs and all(n in tix for n in op.inputs + op.outputs):
            _check_shapes(g, tix, op, where, problems)
    for t in g.tensors:
        if t.kind == "activation" and t.view_of is None and t.name not in produced:
            problems.append(f"$.tensors[{tix[t.name]}]: activation {t.name!r} is produced by no op")


def _check_shapes(g: Graph, tix: dict[str, int], op, where: str, problems: list[str]) -> None:
    shapes = [g.tensors[tix[n]].shape for n in op.inputs]
    if any(_shape_problem(s) for s in shapes):
        return  # reported with the tensor
    try:
        expect = infer_shapes(op.kind, shapes, op.attrs)
    except ShapeError as exc:
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
        if len(layer.ops) > 1 and any(n in oix and g.ops[oix[n]].kind == "host" for n in layer.ops):
            problems.append(f"$.layers[{i}].ops: a host op is a layer of its own (it runs on the host CPU)")
    missing = [op.name for op in g.ops if op.name not in seen]
    if missing:
        problems.append(f"$.layers: ops in no layer: {missing[:5]}{' ...' if len(missing) > 5 else ''}")
    elif order != sorted(order):
        problems.append("$.layers: layers must list the ops in op order, each layer a contiguous run")


def validate(g: Graph) -> list[str]:
    """Every problem of ``g``, each prefixed by its JSON path; empty when the graph is valid."""
    problems: list[str] = []
    _check_names(g, problems)
    tix = _names(g.tensors, "tensors", problems)
    oix = _names(g.ops, "ops", problems)
    _names(g.layers, "layers", problems)
    roots = _check_tensors(g, tix, problems)
    _check_ops(g, tix, roots, problems)
    _check_layers(g, oix, problems)
    if not problems and not g.ops:
        problems.append("$.ops: a graph needs at least one op")
    return problems
