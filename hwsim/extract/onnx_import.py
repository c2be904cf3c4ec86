"""ONNX -> Graph (the ``hwsim[onnx]`` extra: the ``onnx`` package, imported lazily).

The file is checked and shape-inferred with ``onnx``'s own checker and shape inference,
then walked in its (topological) node order:

* nodes whose inputs are all constants (initializers, ``Constant``, ``Shape`` of a tensor
  whose shape is known) are evaluated with ``onnx.reference`` on the spot: the shape
  arithmetic that exporters write (``Shape -> Gather -> Div -> Slice``) disappears, as in
  onnx-simplifier (``onnx_fold``);
* every other node goes through the op table (``onnx_ops.py``, ``onnx_layout.py``, ...), which emits IR ops through
  the same builder as the PyTorch front end; each op's output shape is the IR's rule
  (``opkinds.infer_shapes``), checked against ONNX shape inference's where that is known;
* QuantizeLinear / DequantizeLinear are the identity on the graph and give the tensor
  they touch its stored bit-width (``frontend.Imported.bits``);
* patterns an exporter writes for one PyTorch op become that op: the Erf chain of an exact
  GELU below opset 20 (``onnx_patterns``, before the walk) and ``F.unfold``'s Pad / Gather /
  Transpose / Reshape (``onnx_unfold``).

Unsupported nodes are collected and reported together with their node names, as one
error naming the file. Stream (``stream/frontends``) and ZigZag read ONNX the same way:
shapes from ONNX, an op table, unknown ops collected.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hwsim.errors import UserError
from hwsim.extract.aten_table import Unsupported
from hwsim.extract.builder import GraphBuilder
from hwsim.extract.fallback import onnx_host
from hwsim.extract.frontend import Imported, PendingPad, unsupported_error
from hwsim.extract.onnx_fold import fold
from hwsim.graph.widths import with_widths

ONNX_CONVERTERS: dict[str, Any] = {}
INT_BITS = {1: 32, 2: 8, 3: 8, 4: 16, 5: 16, 6: 32, 7: 64, 10: 16, 11: 64, 12: 32, 13: 64, 16: 16, 21: 4, 22: 4}
"""ONNX TensorProto data type -> bits (FLOAT, UINT8, INT8, UINT16, INT16, INT32, INT64, FLOAT16, DOUBLE, UINT32,
UINT64, BFLOAT16, UINT4, INT4)."""
QUANTISED_TYPES = {2, 3, 4, 5, 21, 22}


def register_onnx_op(*op_types: str):
    def deco(fn):
        for t in op_types:
            ONNX_CONVERTERS[t] = fn
        return fn
    return deco


def require_onnx() -> None:
    try:
        import onnx  # noqa: F401
    except ImportError:
        raise UserError("reading ONNX files needs the onnx package: pip install 'hwsim[onnx]'") from None


@dataclass
class OnnxNode:
    """One ONNX node as the converters see it."""

    name: str
    op_type: str
    inputs: list[str]
    outputs: list[str]
    attrs: dict[str, Any]


@dataclass
class Context:
    """The walk's state: the builder, constant values, inferred shapes, bit-widths."""

    b: GraphBuilder
    consts: dict[str, np.ndarray] = field(default_factory=dict)
    inferred: dict[str, tuple[int, ...]] = field(default_factory=dict)
    readers: dict[str, int] = field(default_factory=dict)  # ONNX value -> nodes reading it (+ graph outputs)
    bits: dict[str, int] = field(default_factory=dict)  # IR tensor name -> stored bits
    quantised: bool = False
    op_names: set[str] = field(default_factory=set)
    onnx_values: set[str] = field(default_factory=set)  # every value name the file's nodes and inputs define
    values_from: dict[str, str] = field(default_factory=dict)  # IR tensor -> ONNX value holding its value
    inexact: list[str] = field(default_factory=list)  # where the IR's arithmetic differs from the file's
    integer_values: set[str] = field(default_factory=set)  # QuantizeLinear outputs (integers)

    # ---- reading inputs ----------------------------------------------------------------
    def const(self, n: OnnxNode, i: int) -> np.ndarray | None:
        name = n.inputs[i] if i < len(n.inputs) else ""
        return self.consts.get(name) if name else None

    def has(self, n: OnnxNode, i: int) -> bool:
        return i < len(n.inputs) and bool(n.inputs[i])

    def tensor(self, n: OnnxNode, i: int, pad_ok: bool = False):
        """The IR tensor for input ``i``: an activation, or a parameter made from a constant."""
        name = n.inputs[i]
        if name in self.consts:
            if name not in self.b.tensors:
                self.b.add_tensor(name, self.consts[name].shape, "param")
            return name
        value = self.b.value_of.get(name)
        if isinstance(value, PendingPad) and not pad_ok:  # a zero Pad nothing absorbs: a pad op of its own
            value = self.b.value_of[name] = self.lone_pad(name, value)
        if value is not None and not isinstance(value, (str, PendingPad)):
            raise Unsupported(f"reads PyTorch's unfold pattern half way (after {value.node!r})")
        return value

    def lone_pad(self, name: str, pending: PendingPad) -> str:
        """The ``pad`` op (constant zeros) of a zero Pad that no convolution, pooling or unfold
        absorbed, written where its first such reader needs it; later readers share it."""
        from hwsim.graph.opkinds import ShapeError, infer_shapes

        top, left, bottom, right = pending.pads
        attrs = {"pads": [left, right, top, bottom], "mode": "constant", "value": 0.0}
        try:
            shape = infer_shapes("pad", [self.shape(pending.source)], attrs)[0]
        except ShapeError as exc:
            raise Unsupported(f"pad: {exc}") from None
        out = self.b.emit(self._unique_op(pending.node or name), "pad", [pending.source], attrs, pending.node,
                          [shape], [name])[0]
        self.b.users[out] = self.readers.get(name, 0)
        return out

    def shape(self, ir_name: str) -> tuple[int, ...]:
        return self.b.tensors[ir_name].shape

    # ---- writing outputs -----------------------------------------------------------------
    def emit(self, n: OnnxNode, kind: str, inputs: list[str], attrs: dict, out: int = 0,
             name: str | None = None) -> str:
        """Add one IR op for ``n``'s output ``out`` (or an intermediate ``name``), shape by the IR rule."""
        from hwsim.graph.opkinds import ShapeError, infer_shapes

        try:
            shape = infer_shapes(kind, [self.shape(i) for i in inputs], attrs)[0]
        except ShapeError as exc:
            raise Unsupported(f"{kind}: {exc}") from None
        tensor = name or n.outputs[out]
        op_name = tensor if name else (n.name if out == 0 and n.name and n.name not in self.b.tensors else tensor)
        return self.b.emit(self._unique_op(op_name), kind, inputs, attrs, n.name, [shape], [tensor])[0]

    def _unique_op(self, name: str) -> str:
        base, k = name, 1
        while name in self.op_names:
            name, k = f"{base}#{k}", k + 1
        self.op_names.add(name)
        return name

    def set(self, n: OnnxNode, value, out: int = 0) -> None:
        """Output ``out`` of ``n`` is ``value`` (an IR tensor, a view of one, or a PendingPad)."""
        name = n.outputs[out]
        self.b.value_of[name] = value
        if isinstance(value, str):
            self.b.users[value] = self.b.users.get(value, 0) + self.readers.get(name, 0)
            root = self.b.root(value)
            if root not in self.onnx_values:  # a tensor hwsim named: its value is this output's
                self.values_from.setdefault(root, name)

    def view(self, n: OnnxNode, src: str, shape, out: int = 0) -> None:
        self.set(n, self.b.view(n.outputs[out], src, shape), out)


def _attrs(node) -> dict[str, Any]:
    from onnx import helper

    out = {}
    for a in node.attribute:
        v = helper.get_attribute_value(a)
        out[a.name] = v.decode() if isinstance(v, bytes) else v
    return out


def _load(path: str):
    """(the model, its shape-inferred twin): the ONNX checker and shape inference run on a copy
    whose large initializers are declared inputs of the same type and shape, so that they do
    not serialise hundreds of megabytes of weights they do not read."""
    import onnx

    p = Path(path)
    if not p.is_file():
        raise UserError("no such file", path)
    try:
        model = onnx.load(str(p))
    except Exception as exc:  # a protobuf decode error: not an ONNX file
        raise UserError(f"not an ONNX model ({type(exc).__name__})", path) from None
    try:
        light = _without_weights(model)
        onnx.checker.check_model(light)
        return model, onnx.shape_inference.infer_shapes(light, data_prop=True)
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise UserError(f"the ONNX checker or shape inference refuses the model: {first}", path) from None


SMALL_INITIALIZER = 64
"""Initializers of at most this many elements (shapes, axes, scales) keep their values for shape inference."""


def _without_weights(model):
    from onnx import helper

    g = model.graph
    small, declared = [], []
    for init in g.initializer:
        if math.prod(init.dims) <= SMALL_INITIALIZER:
            small.append(init)
        else:
            declared.append(helper.make_tensor_value_info(init.name, init.data_type, list(init.dims)))
    listed = {i.name for i in g.input}
    inputs = list(g.input) + [d for d in declared if d.name not in listed]
    graph = helper.make_graph(list(g.node), g.name, inputs, list(g.output), small, value_info=list(g.value_info))
    light = helper.make_model(graph, opset_imports=list(model.opset_import), ir_version=model.ir_version)
    light.functions.extend(model.functions)
    return light


def _constant(init) -> np.ndarray:
    """An initializer's value; a large one (a weight) is read for its shape and type only: a
    zero-stride array, since no converter reads the values of more than SMALL_INITIALIZER elements."""
    from onnx import helper, numpy_helper

    if math.prod(init.dims) <= SMALL_INITIALIZER:
        return numpy_helper.to_array(init)
    return np.broadcast_to(np.zeros((), helper.tensor_dtype_to_np_dtype(init.data_type)), tuple(init.dims))


def _static_shape(vi) -> tuple[int, ...] | None:
    t = vi.type.tensor_type
    if not t.HasField("shape"):
        return None
    dims = [d.dim_value if d.HasField("dim_value") else None for d in t.shape.dim]
    return None if any(d is None or d <= 0 for d in dims) else tuple(dims)


def _inputs(model, ctx: Context, input_shape: tuple[int, ...] | None, where: str) -> list[str]:
    init = {i.name for i in model.graph.initializer}
    names = []
    for vi in model.graph.input:
        if vi.name in init:
            continue
        shape = _static_shape(vi)
        if input_shape is not None and len(names) == 0:
            given = tuple(input_shape)
            if shape is not None and shape != given:
                raise UserError(f"--input {'x'.join(map(str, given))} differs from the file's input "
                                f"{vi.name!r} of shape {'x'.join(map(str, shape))}", where)
            shape = given
        if shape is None:
            raise UserError(f"input {vi.name!r} has a dynamic or unknown shape: give it with --input "
                            "(e.g. --input 1x3x256x256)", where)
        names.append(ctx.b.add_tensor(vi.name, shape, "input"))
        ctx.b.value_of[vi.name] = vi.name
        ctx.b.users[vi.name] = ctx.readers.get(vi.name, 0)
    if not names:
        raise UserError("the model has no input tensor", where)
    return names


def _first_input(model):
    init = {i.name for i in model.graph.initializer}
    return next(vi for vi in model.graph.input if vi.name not in init)


def _check_shapes(ctx: Context, n: OnnxNode) -> None:
    for name in n.outputs:
        value = ctx.b.value_of.get(name)
        want = ctx.inferred.get(name)
        if isinstance(value, str) and want is not None and ctx.shape(value) != want:
            raise Unsupported(f"hwsim's output shape {list(ctx.shape(value))} differs from ONNX shape "
                              f"inference's {list(want)}")


def read_onnx(path: str, input_shape: tuple[int, ...] | None = None, fuse: str = "elementwise",
              fallback: str = "none") -> Imported:
    """The Graph of the ONNX file at ``path``, with its tensors' bit-widths (``fallback="host"``:
    unmapped nodes become host ops, ``hwsim.extract.fallback``)."""
    require_onnx()
    from hwsim.extract import onnx_ops  # noqa: F401  (registers the converters)

    from hwsim.extract.onnx_patterns import fuse_erf_gelu

    model, inferred = _load(path)
    fuse_erf_gelu(model)  # exact GELU below opset 20: one Gelu node, as the PyTorch front end's op
    ctx = Context(GraphBuilder())
    for node in model.graph.node:
        for i in node.input:
            ctx.readers[i] = ctx.readers.get(i, 0) + 1
    for o in model.graph.output:
        ctx.readers[o.name] = ctx.readers.get(o.name, 0) + 1
    types: dict[str, int] = {}
    for vi in list(inferred.graph.value_info) + list(inferred.graph.output) + list(inferred.graph.input):
        types[vi.name] = vi.type.tensor_type.elem_type
        if (shape := _static_shape(vi)) is not None:
            ctx.inferred[vi.name] = shape
    types.update({i.name: i.data_type for i in model.graph.initializer})
    for init in model.graph.initializer:
        ctx.consts[init.name] = _constant(init)
    inputs = _inputs(model, ctx, input_shape, path)
    if input_shape is not None and _static_shape(_first_input(model)) != tuple(input_shape):
        ctx.inferred.clear()  # inferred for the file's own (dynamic) input shape
    ctx.onnx_values = {o for node in model.graph.node for o in node.output} | {i.name for i in model.graph.input}
    for k, node in enumerate(model.graph.node):
        n = OnnxNode(node.name or f"{node.op_type}_{k}", node.op_type, list(node.input), list(node.output),
                     _attrs(node))
        _walk_node(ctx, node, n, fallback)
    if ctx.b.unsupported:
        raise unsupported_error(ctx.b.unsupported, path, fallback)
    outputs = [_graph_output(ctx, o.name, path) for o in model.graph.output]
    graph = ctx.b.build(Path(path).stem, inputs, list(dict.fromkeys(outputs)), fuse)
    bits = _stored_bits(ctx, graph, types)
    quantised = ctx.quantised or any(types.get(t.name) in QUANTISED_TYPES for t in graph.tensors)
    if quantised:  # the graph carries its file's widths (hwsim.graph.widths)
        graph = with_widths(graph, bits)
    return Imported(graph, "onnx", bits, quantised, ctx.values_from, tuple(ctx.inexact))


def _stored_bits(ctx: Context, graph, types: dict[str, int]) -> dict[str, int]:
    """Bits each tensor is stored with: its ONNX type (int8 between QLinear ops, float16 ...),
    narrowed by a QuantizeLinear; a value whose type inference could not give (after an
    op of another domain) has its op's first input's."""
    bits: dict[str, int] = {}
    for t in graph.tensors:
        if t.name in types or t.kind != "activation":
            bits[t.name] = min(ctx.bits.get(t.name, 32), INT_BITS.get(types.get(t.name, 1), 32))
    for op in graph.ops:
        for o in op.outputs:
            if o not in bits:
                first = graph.root(op.inputs[0])
                bits[o] = min(ctx.bits.get(o, 32), bits.get(first, 32))
    return bits


def _walk_node(ctx: Context, node, n: OnnxNode, fallback: str = "none") -> None:
    key = n.op_type if node.domain in ("", "ai.onnx") else f"{node.domain}.{n.op_type}"
    if key == n.op_type and fold(ctx, node, n):
        return
    if key in ("Shape", "Size"):
        return  # of a value an unsupported node did not compute: reported there
    convert = ONNX_CONVERTERS.get(key)
    if convert is None:
        if fallback != "host" or not onnx_host(ctx, n, key):
            ctx.b.mark_unsupported(key, n.name)
        return
    if any(i and i not in ctx.consts and ctx.b.value_of.get(i) is None for i in n.inputs):
        return  # downstream of an unsupported node: already reported there
    try:
        convert(ctx, n)
        _check_shapes(ctx, n)
    except Unsupported as exc:
        if fallback != "host" or not onnx_host(ctx, n, key, str(exc)):
            ctx.b.mark_unsupported(f"{n.op_type} ({exc})", n.name)



def _graph_output(ctx: Context, name: str, where: str) -> str:
    value = ctx.b.value_of.get(name)
    if isinstance(value, PendingPad):  # a zero Pad that is an output: written as a pad op
        value = ctx.b.value_of[name] = ctx.lone_pad(name, value)
    if value is not None and not isinstance(value, str):
        raise UserError(f"graph output {name!r} is the output of {value.node!r}, part of a pattern hwsim reads "
                        "only whole (PyTorch's unfold)", where)
    if not isinstance(value, str):
        raise UserError(f"graph output {name!r} is a constant or not computed by a supported op", where)
    root = ctx.b.root(value)
    if ctx.b.tensors[root].kind != "activation":
        raise UserError(f"graph output {name!r} is the {ctx.b.tensors[root].kind} {root!r} unchanged; "
                        "hwsim needs computed outputs", where)
    return root
