"""TFLite -> Graph (the ``hwsim[tflite]`` extra: the ``tflite`` flatbuffer package; no TensorFlow).

The ``tflite`` package (2.18) holds the flatbuffer classes of TensorFlow Lite's schema;
files of current converters (schema version 3) parse with it. The first subgraph is
read in its operator order, which is the order the TFLite interpreter and Vela run it.

Layout: TFLite stores feature maps NHWC; the IR is NCHW (PyTorch's). Every rank-4 tensor
is given the IR shape (N, C, H, W); convolution weights (O, KH, KW, I) become (O, I, KH,
KW), depthwise weights (1, KH, KW, C*M) become (C*M, 1, KH, KW) with groups = C, and axes
of concatenation, reductions and slicing are mapped NHWC -> NCHW. Counts (MACs, elements,
bytes) do not depend on the layout.

Bit-widths: each tensor's type (INT8, INT16, INT32 biases, INT64 biases of 16x8 models,
FLOAT32) is its stored bit-width, returned in :class:`~hwsim.extract.frontend.Imported`.
QUANTIZE / DEQUANTIZE (and the requantising QUANTIZE int16 -> int16 that 16x8 converters
insert before a concatenation) are the identity on the graph. A fused activation
(``fused_activation_function``) becomes the activation op after its op, which the layer
grouping fuses back into the same layer.

Operators without a converter are collected and reported together, each with its index
and output tensor name, as one error naming the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hwsim.errors import UserError
from hwsim.extract.aten_table import Unsupported
from hwsim.extract.builder import GraphBuilder
from hwsim.extract.frontend import Imported, PendingPad, unsupported_error
from hwsim.graph.widths import with_widths

TFLITE_CONVERTERS: dict[str, object] = {}
TYPE_BITS = {0: 32, 1: 16, 2: 32, 3: 8, 4: 64, 6: 8, 7: 16, 9: 8, 10: 64, 15: 32, 16: 16, 17: 4, 18: 16}
"""TFLite TensorType -> bits (FLOAT32, FLOAT16, INT32, UINT8, INT64, BOOL, INT16, INT8, FLOAT64, UINT32, UINT16,
INT4, BFLOAT16)."""
INT_TYPES = {2, 3, 4, 7, 9, 15, 16, 17}
NHWC_TO_NCHW = (0, 2, 3, 1)  # NHWC axis -> IR axis
_NP_TYPES = {0: np.float32, 2: np.int32, 3: np.uint8, 4: np.int64, 7: np.int16, 9: np.int8, 1: np.float16}


def register_tflite_op(*names: str):
    def deco(fn):
        for n in names:
            TFLITE_CONVERTERS[n] = fn
        return fn
    return deco


def require_tflite() -> None:
    try:
        import tflite  # noqa: F401
    except ImportError:
        raise UserError("reading TFLite files needs the tflite package: pip install 'hwsim[tflite]'") from None


def nchw(shape) -> tuple[int, ...]:
    s = tuple(int(d) for d in shape)
    return (s[0], s[3], s[1], s[2]) if len(s) == 4 else s


@dataclass
class TflOp:
    """One operator as the converters see it: tensor indices (-1: absent) and its options table."""

    index: int
    name: str  # "#index OPNAME -> output tensor name": what errors show
    opname: str
    inputs: list[int]
    outputs: list[int]
    options: object | None


@dataclass
class Context:
    b: GraphBuilder
    model: object
    subgraph: object
    names: dict[int, str] = field(default_factory=dict)  # tensor index -> IR name
    bits: dict[str, int] = field(default_factory=dict)
    readers: dict[int, int] = field(default_factory=dict)
    quantised: bool = False

    # ---- tensors of the file ----------------------------------------------------------
    def t(self, i: int):
        return self.subgraph.Tensors(i)

    def file_shape(self, i: int) -> tuple[int, ...]:
        return tuple(int(d) for d in self.t(i).ShapeAsNumpy()) if self.t(i).ShapeLength() else ()

    def const(self, i: int) -> np.ndarray | None:
        """The values of a constant tensor (None for an activation)."""
        if i < 0:
            return None
        t = self.t(i)
        buf = self.model.Buffers(t.Buffer())
        if buf is None or buf.DataLength() == 0:
            return None
        dtype = _NP_TYPES.get(t.Type())
        if dtype is None:
            raise Unsupported(f"a constant of TFLite type {t.Type()}")
        return np.frombuffer(buf.DataAsNumpy().tobytes(), dtype=dtype).reshape(self.file_shape(i))

    def real(self, i: int) -> np.ndarray:
        """A constant's real values: (q - zero point) * scale when it is quantised."""
        c = self.const(i).astype(np.float64)
        q = self.t(i).Quantization()
        if q is not None and q.ScaleLength():
            c = (c - q.ZeroPointAsNumpy().astype(np.float64)) * q.ScaleAsNumpy().astype(np.float64)
        return c

    def zero_point(self, i: int) -> int:
        q = self.t(i).Quantization()
        return int(q.ZeroPointAsNumpy()[0]) if q is not None and q.ZeroPointLength() else 0

    def tensor_name(self, i: int) -> str:
        if i not in self.names:
            raw = self.t(i).Name()
            name = raw.decode(errors="replace") if raw else f"tensor{i}"
            if name in self.b.tensors:
                name = f"{name}#{i}"
            self.names[i] = name
            self.bits[name] = TYPE_BITS.get(self.t(i).Type(), 32)
        return self.names[i]

    # ---- IR side -------------------------------------------------------------------------
    def x(self, i: int, pad_ok: bool = False):
        """The IR value of tensor ``i``: an activation, or a parameter for a constant (IR layout)."""
        if self.const(i) is not None:
            return self.param(i, nchw(self.file_shape(i)))
        value = self.b.value_of.get(i)
        if isinstance(value, PendingPad) and not pad_ok:  # a zero PAD nothing absorbs: a pad op of its own
            value = self.b.value_of[i] = self.lone_pad(i, value)
        return value

    def lone_pad(self, i: int, pending: PendingPad) -> str:
        """The ``pad`` op (real zeros: the zero point) of a zero PAD that no convolution or
        average pooling absorbed, written where its first such reader needs it (a max pooling,
        an addition, a graph output ...); later readers share it."""
        top, left, bottom, right = pending.pads
        return self.pad_op(i, pending.source, [left, right, top, bottom], "constant", 0.0, pending.node)

    def pad_op(self, i: int, source: str, pads: list[int], mode: str, value: float, node: str) -> str:
        """A ``pad`` op writing tensor ``i``; ``pads`` in PyTorch's order (left, right, top, bottom)."""
        from hwsim.graph.opkinds import ShapeError, infer_shapes

        attrs = {"pads": pads, "mode": mode}
        if mode == "constant":
            attrs["value"] = value
        try:
            shape = infer_shapes("pad", [self.shape(source)], attrs)[0]
        except ShapeError as exc:
            raise Unsupported(f"pad: {exc}") from None
        name = self.tensor_name(i)
        out = self.b.emit(name, "pad", [source], attrs, node, [shape], [name])[0]
        self.b.users[out] = self.readers.get(i, 0)
        return out

    def param(self, i: int, shape) -> str:
        name = self.tensor_name(i)
        if name not in self.b.tensors:
            self.b.add_tensor(name, shape, "param")
        return name

    def shape(self, ir: str) -> tuple[int, ...]:
        return self.b.tensors[ir].shape

    def emit(self, op: TflOp, kind: str, inputs: list[str], attrs: dict, out: int | None = 0,
             name: str | None = None, op_name: str | None = None) -> str:
        """One IR op; its output is tensor ``op.outputs[out]`` (IR shape checked against the file's)."""
        from hwsim.graph.opkinds import ShapeError, infer_shapes

        try:
            shape = infer_shapes(kind, [self.shape(i) for i in inputs], attrs)[0]
        except ShapeError as exc:
            raise Unsupported(f"{kind}: {exc}") from None
        tensor = name or self.tensor_name(op.outputs[out])
        if name is None and shape != nchw(self.file_shape(op.outputs[out])):
            raise Unsupported(f"hwsim's output shape {list(shape)} differs from the file's "
                              f"{list(nchw(self.file_shape(op.outputs[out])))} (IR layout)")
        if name is not None and out is not None:  # an intermediate: stored, if ever, as the op's output
            self.bits[name] = self.bits.get(self.tensor_name(op.outputs[out]), 32)
        return self.b.emit(op_name or tensor, kind, inputs, attrs, op.name, [shape], [tensor])[0]

    def set(self, op: TflOp, value, out: int = 0) -> None:
        i = op.outputs[out]
        self.b.value_of[i] = value
        if isinstance(value, str):
            self.b.users[value] = self.b.users.get(value, 0) + self.readers.get(i, 0)

    def view_out(self, op: TflOp, src: str, out: int = 0) -> None:
        """Output ``out`` is ``src`` reshaped to the output's IR shape (no data moved)."""
        i = op.outputs[out]
        self.set(op, self.b.view(self.tensor_name(i), src, nchw(self.file_shape(i))), out)


def _load(path: str):
    import tflite

    p = Path(path)
    if not p.is_file():
        raise UserError("no such file", path)
    data = p.read_bytes()
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise UserError("not a TFLite model (no TFL3 file identifier)", path)
    try:
        model = tflite.Model.GetRootAsModel(data, 0)
        if model.SubgraphsLength() < 1:
            raise UserError("the TFLite model has no subgraph", path)
        return data, model
    except UserError:
        raise
    except Exception as exc:
        raise UserError(f"not a readable TFLite model ({type(exc).__name__})", path) from None


def _op_names() -> dict[int, str]:
    from tflite.BuiltinOperator import BuiltinOperator

    return {v: k for k, v in vars(BuiltinOperator).items() if not k.startswith("_")}


def _options(op, opname: str):
    """The op's options table decoded with its flatbuffer class (``Conv2DOptions`` ...), or None."""
    import tflite

    table = op.BuiltinOptions()
    if table is None:
        return None
    from tflite.BuiltinOptions import BuiltinOptions

    kinds = {v: k for k, v in vars(BuiltinOptions).items() if not k.startswith("_")}
    cls = getattr(tflite, kinds.get(op.BuiltinOptionsType(), ""), None)
    if cls is None:
        return None
    opts = cls()
    opts.Init(table.Bytes, table.Pos)
    return opts


def read_tflite(path: str, input_shape: tuple[int, ...] | None = None, fuse: str = "elementwise",
                fallback: str = "none") -> Imported:
    """The Graph of the first subgraph of the TFLite file at ``path``, with its bit-widths
    (``fallback="host"``: unmapped operators become host ops, ``hwsim.extract.fallback``)."""
    require_tflite()
    from hwsim.extract import tflite_ops  # noqa: F401  (registers the converters)

    data, model = _load(path)
    sg = model.Subgraphs(0)
    ctx = Context(GraphBuilder(), model, sg)
    names = _op_names()
    ops = []
    for k in range(sg.OperatorsLength()):
        op = sg.Operators(k)
        code = model.OperatorCodes(op.OpcodeIndex())
        builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
        opname = names.get(builtin, f"BUILTIN_{builtin}")
        if opname == "CUSTOM":
            opname = f"CUSTOM:{(code.CustomCode() or b'').decode(errors='replace')}"
        ins = [int(i) for i in op.InputsAsNumpy()] if op.InputsLength() else []
        outs = [int(i) for i in op.OutputsAsNumpy()] if op.OutputsLength() else []
        ops.append((op, opname, ins, outs))
        for i in ins:
            ctx.readers[i] = ctx.readers.get(i, 0) + 1
    graph_outs = [int(i) for i in sg.OutputsAsNumpy()]
    for i in graph_outs:
        ctx.readers[i] = ctx.readers.get(i, 0) + 1
    inputs = _inputs(ctx, sg, input_shape, path)
    for k, (op, opname, ins, outs) in enumerate(ops):
        label = f"#{k} {opname} -> {ctx.t(outs[0]).Name().decode(errors='replace') if outs else '?'}"
        _walk(ctx, TflOp(k, label, opname, ins, outs, _options(op, opname)), fallback)
    if ctx.b.unsupported:
        raise unsupported_error(ctx.b.unsupported, path, fallback)
    outputs = [_graph_output(ctx, i, path) for i in graph_outs]
    graph = ctx.b.build(Path(path).stem, inputs, list(dict.fromkeys(outputs)), fuse)
    bits = {t.name: ctx.bits.get(t.name, 32) for t in graph.tensors}
    quantised = any(ctx.t(i).Type() in INT_TYPES for i in range(sg.TensorsLength()) if ctx.const(i) is None)
    if quantised:  # the graph carries its file's widths (hwsim.graph.widths)
        graph = with_widths(graph, bits)
    return Imported(graph, "tflite", bits, quantised)


def _inputs(ctx: Context, sg, input_shape, where: str) -> list[str]:
    names = []
    for k in range(sg.InputsLength()):
        i = int(sg.Inputs(k))
        shape = nchw(ctx.file_shape(i))
        if k == 0 and input_shape is not None and tuple(input_shape) != shape:
            raise UserError(f"--input {'x'.join(map(str, input_shape))} differs from the file's input of "
                            f"shape {'x'.join(map(str, shape))} (NCHW; a TFLite file's shapes are fixed)", where)
        name = ctx.tensor_name(i)
        ctx.b.add_tensor(name, shape, "input")
        ctx.b.value_of[i] = name
        ctx.b.users[name] = ctx.readers.get(i, 0)
        names.append(name)
    return names


def _walk(ctx: Context, op: TflOp, fallback: str = "none") -> None:
    convert = TFLITE_CONVERTERS.get(op.opname)
    if convert is None:
        if fallback != "host" or not _host(ctx, op):
            ctx.b.mark_unsupported(op.opname, op.name)
        return
    if any(i >= 0 and ctx.const(i) is None and ctx.b.value_of.get(i) is None for i in op.inputs):
        return  # downstream of an unsupported op: reported there
    try:
        convert(ctx, op)
    except Unsupported as exc:
        if fallback != "host" or not _host(ctx, op, str(exc)):
            ctx.b.mark_unsupported(f"{op.opname} ({exc})", op.name)


def _host(ctx: Context, op: TflOp, reason: str | None = None) -> bool:
    """Operator ``op`` as a host op (``--fallback host``), its output shapes the file's (IR
    layout); False when an input is not a tensor hwsim holds."""
    from hwsim.extract.fallback import emit_host

    try:
        inputs = [ctx.x(i) for i in op.inputs if i >= 0]
    except Unsupported:
        return False
    if not op.outputs or any(not isinstance(i, str) for i in inputs):
        return False
    names = [ctx.tensor_name(i) for i in op.outputs]
    outs = emit_host(ctx.b, name=names[0], op=op.opname, source="tflite", node=op.name, module=op.name,
                     inputs=inputs, out_shapes=[nchw(ctx.file_shape(i)) for i in op.outputs], out_names=names,
                     reason=reason)
    for k, out in enumerate(outs):
        ctx.set(op, out, k)
    return True


def _graph_output(ctx: Context, i: int, where: str) -> str:
    value = ctx.b.value_of.get(i)
    if isinstance(value, PendingPad):  # a zero PAD that is an output: written as a pad op
        value = ctx.b.value_of[i] = ctx.lone_pad(i, value)
    if not isinstance(value, str):
        raise UserError(f"graph output {ctx.tensor_name(i)!r} is not computed by a supported op", where)
    root = ctx.b.root(value)
    if ctx.b.tensors[root].kind != "activation":
        raise UserError(f"graph output {ctx.tensor_name(i)!r} is not computed (it is the {ctx.b.tensors[root].kind} "
                        f"{root!r})", where)
    return root
