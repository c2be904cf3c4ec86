"""PyTorch -> Graph through ``torch.export`` (the one place, with the numerics reference, that imports torch).

``torch.export.export`` gives the pre-decomposition ATen graph: ``conv2d``, ``linear``,
``layer_norm``, ``pixel_shuffle`` ... stay single ops, every node carries its fake-tensor
shape and its ``nn_module_stack``. Each node goes through the op table
(``aten_table.py``, ``aten_eltwise.py``); unsupported targets are collected and reported
together, each with the module paths it came from, as one error.
"""

from __future__ import annotations

import contextlib
import logging
import math
import operator
from typing import Any, Iterator

from hwsim.errors import UserError
from hwsim.extract import aten_eltwise  # noqa: F401  (registers the element-wise converters)
from hwsim.extract import aten_attention, aten_more  # noqa: F401  (register issue 13's converters)
from hwsim.extract.aten_table import CONVERTERS, Node, Unsupported
from hwsim.extract.builder import GraphBuilder
from hwsim.gc_pause import paused
from hwsim.graph.ir import Graph

_IGNORED = ("aten._assert_tensor_metadata", "aten.sym_size", "aten._assert_scalar", "aten.sym_constrain_range")


@contextlib.contextmanager
def _logging_silenced() -> Iterator[None]:
    """No log records while it lasts: when a model fails on an input, torch's fake tensors log
    the whole traceback (dozens of lines) before the exception that hwsim turns into one line."""
    previous = logging.root.manager.disable
    logging.disable(logging.CRITICAL)
    try:
        yield
    finally:
        logging.disable(previous)


@paused
def export_program(model, example: Any, where: str, names: list | None = None):
    """``torch.export`` of ``model`` on ``example`` (one tensor, or a list of them: positional,
    or passed by the ``names`` of ``forward``'s parameters; other parameters keep their defaults)."""
    import torch

    tensors = list(example) if isinstance(example, (list, tuple)) else [example]
    names = names or [None] * len(tensors)
    args = tuple(t for t, n in zip(tensors, names) if n is None)
    kwargs = {n: t for t, n in zip(tensors, names) if n is not None}
    if kwargs:
        _check_names(model, list(kwargs), where)
    model.eval()
    try:
        with torch.no_grad(), _logging_silenced():
            return torch.export.export(model, args, kwargs or None)
    except (Exception, SystemExit) as exc:  # the model's own error for this input: a user problem
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        shown = ", ".join(f"{n}={list(t.shape)}" if n else str(list(t.shape)) for t, n in zip(tensors, names))
        raise UserError(f"the model cannot run on input {shown}: {type(exc).__name__}: {first}", where) from None


def _check_names(model, names: list[str], where: str) -> None:
    """Every named input is a parameter of ``model.forward`` (else a UserError listing them)."""
    import inspect

    try:
        params = inspect.signature(model.forward).parameters
    except (TypeError, ValueError):
        return
    if any(p.kind == p.VAR_KEYWORD for p in params.values()):
        return
    unknown = [n for n in names if n not in params]
    if unknown:
        raise UserError(f"forward() has no parameter {unknown[0]!r} (it takes {', '.join(params) or 'none'})", where)


def _module_path(node) -> str:
    stack = node.meta.get("nn_module_stack") or {}
    if not stack:
        return ""
    return list(stack.values())[-1][0]


def _shapes(val) -> list[tuple[int, ...]]:
    if isinstance(val, (list, tuple)):
        return [tuple(int(d) for d in v.shape) for v in val if hasattr(v, "shape")]
    return [tuple(int(d) for d in val.shape)] if hasattr(val, "shape") else []


def _bind(node, b: GraphBuilder) -> dict[str, Any]:
    """Schema argument name -> value, tensors replaced by IR names (None where unknown)."""
    import torch.fx

    def conv(v):
        if isinstance(v, torch.fx.Node):
            return b.value_of.get(v.name)
        if isinstance(v, (list, tuple)):
            return [conv(x) for x in v]
        return v

    out = {}
    for i, arg in enumerate(node.target._schema.arguments):
        if i < len(node.args):
            v = node.args[i]
        elif arg.name in node.kwargs:
            v = node.kwargs[arg.name]
        else:
            v = arg.default_value if arg.has_default_value() else None
        out[arg.name] = conv(v)
    return out


def _placeholders(ep, b: GraphBuilder) -> list[str]:
    kinds = {}
    for spec in ep.graph_signature.input_specs:
        kinds[spec.arg.name] = (spec.kind.name, spec.target)
    inputs = []
    for node in ep.graph.nodes:
        if node.op != "placeholder":
            continue
        kind, target = kinds.get(node.name, ("USER_INPUT", None))
        shape = _shapes(node.meta["val"])[0]
        if kind == "USER_INPUT":
            inputs.append(b.add_tensor(node.name, shape, "input"))
            if _is_bool(node.meta["val"]):
                b.booleans.add(node.name)
            b.value_of[node.name] = node.name
        else:  # PARAMETER, BUFFER, CONSTANT_TENSOR: values that live with the model
            b.value_of[node.name] = b.add_tensor(target, shape, "param")
            if _is_bool(node.meta["val"]):
                b.booleans.add(target)
            if kind == "CONSTANT_TENSOR":
                _keep_indices(b, target, ep.constants.get(target))
    return inputs


MAX_INDEX_CONSTANT = 65536
"""Integer constants up to this many elements keep their values (index lists of ``x[:, [0, 2]]``)."""


def _keep_indices(b: GraphBuilder, name: str, value) -> None:
    if value is None or value.is_floating_point() or value.dim() != 1 or value.numel() > MAX_INDEX_CONSTANT:
        return
    b.constants[name] = [int(v) for v in value.tolist()]


def _call(node, b: GraphBuilder, fallback: str = "none") -> None:
    module = _module_path(node)
    if node.target is operator.getitem:
        src, index = node.args
        values = b.value_of.get(src.name)
        b.value_of[node.name] = values[index] if isinstance(values, list) else None
        return
    target = str(node.target)
    if target.startswith(_IGNORED):
        return
    convert = CONVERTERS.get(target) or CONVERTERS.get(target.rsplit(".", 1)[0])
    if convert is None or not hasattr(node.target, "_schema"):
        if fallback != "host" or not _host(node, b, target, module):
            b.mark_unsupported(target, module)
        return
    args = _bind(node, b)
    tensor_args = [n for n in node.all_input_nodes]
    if any(b.value_of.get(n.name) is None for n in tensor_args):
        return  # downstream of an unsupported op: already reported there
    n = Node(node.name, target, args, _shapes(node.meta.get("val")), module)
    try:
        if target != "aten.cat.default" and any(
                math.prod(b.tensors[b.value_of[t.name]].shape) == 0 for t in tensor_args
                if isinstance(b.value_of[t.name], str)):
            raise Unsupported("reads a tensor with no elements (only a concatenation drops one)")
        convert(b, n)
    except Unsupported as exc:
        if fallback != "host" or not _host(node, b, target, module, str(exc)):
            b.mark_unsupported(f"{target} ({exc})", module)
        return
    value = b.value_of.get(node.name)
    if isinstance(value, str):
        b.users[value] = b.users.get(value, 0) + len(node.users)
        if _is_bool(node.meta.get("val")):
            b.booleans.add(b.root(value))


def _host(node, b: GraphBuilder, target: str, module: str, reason: str | None = None) -> bool:
    """Write ``node`` as a host op (``--fallback host``); False when it cannot be one (an input
    that is no tensor hwsim holds, an output without a shape)."""
    from hwsim.extract.fallback import emit_host

    inputs = [b.value_of.get(n.name) for n in node.all_input_nodes]
    val = node.meta.get("val")
    shapes = _shapes(val)
    if any(not isinstance(i, str) for i in inputs) or not shapes or \
            (isinstance(val, (list, tuple)) and len(shapes) != len(val)):
        return False
    outs = emit_host(b, name=node.name, op=target, source="torch", node=node.name, module=module, inputs=inputs,
                     out_shapes=shapes, ops=_flop_count(node), reason=reason)
    b.value_of[node.name] = outs if isinstance(val, (list, tuple)) else outs[0]
    for out in outs:
        b.users[out] = b.users.get(out, 0) + len(node.users)
    return True


def _flop_count(node) -> int | None:
    """FlopCounterMode's flops for ``node`` where torch has a formula for its op, else None."""
    import torch
    from torch.utils.flop_counter import flop_registry

    packet = getattr(node.target, "overloadpacket", None)
    formula = flop_registry.get(packet) if packet is not None else None
    if formula is None:
        return None

    def value(a):
        return a.meta.get("val") if isinstance(a, torch.fx.Node) else a

    try:
        args = torch.utils._pytree.tree_map(value, (node.args, node.kwargs))
        return int(formula(*args[0], out_val=node.meta.get("val"), **args[1]))
    except Exception:  # a formula that does not take this form: count elements instead
        return None


def _is_bool(val) -> bool:
    import torch

    return isinstance(val, torch.Tensor) and val.dtype == torch.bool


@paused
def program_to_graph(ep, name: str, fuse: str, where: str, fallback: str = "none") -> Graph:
    """The graph of an exported program; ``fallback="host"``: unmapped ops become host ops."""
    b = GraphBuilder()
    inputs = _placeholders(ep, b)
    outputs: list[str] = []
    for node in ep.graph.nodes:
        if node.op == "call_function":
            _call(node, b, fallback)
        elif node.op == "output":
            flat = node.args[0] if isinstance(node.args[0], (list, tuple)) else [node.args[0]]
            outputs = [b.value_of.get(getattr(x, "name", None)) for x in flat]
    if b.unsupported:
        listed = "; ".join(f"{t} at {', '.join(p or '<top>' for p in paths[:3])}"
                           f"{' ...' if len(paths) > 3 else ''}" for t, paths in b.unsupported.items())
        from hwsim.extract.fallback import suggestion

        raise UserError(f"{len(b.unsupported)} unsupported op(s): {listed}{suggestion(fallback)}", where)
    if any(o is None for o in outputs):
        raise UserError("the model returns something that is not a tensor", where)
    outputs = [_materialise(b, o) for o in outputs]
    return b.build(name, inputs, list(dict.fromkeys(outputs)), fuse)


def _materialise(b: GraphBuilder, name: str) -> str:
    """A graph output must be an activation: a view of one is resolved to its root."""
    root = b.root(name)
    if b.tensors[root].kind != "activation":
        raise UserError(f"the model returns {root!r} ({b.tensors[root].kind}) unchanged; hwsim needs computed outputs")
    return name if b.tensors[name].view_of is None else root
