"""Layer-level facts of a graph: what each layer reads and writes, live ranges, skip tensors.

Definitions follow DESIGN.md:

* **Tensor bytes** = ceil(elements x bits / 8).
* A layer *reads* the activations (and the network input) that its ops consume but that
  were produced outside it, and *writes* the activations it produces that a later layer
  or the graph's outputs need. Everything else it computes stays inside the layer.
* **Live range** of a written activation: from the step of its producing layer to the step
  of its last reader, both inclusive (a graph output nobody reads: its producer's step).
* **Skip tensor**: a written feature map (rank 4, N x C x H x W, larger than 1x1) such that
  some layer scheduled strictly between its producer and its last reader *works at* another
  spatial size: while it waits, the computation went to another resolution. A layer works
  at the output size of its main op when that op computes over space (convolution,
  pooling, interpolation) and the size is larger than 1x1; layers that only move data
  (pixel (un)shuffle, concat, slice, permute, unfold), element-wise, linear and matmul
  layers, and global pooling define no resolution. This reads DESIGN.md's "reads a feature map whose spatial size differs" as
  the layer's working resolution rather than the size of whatever it reads, for two
  reasons: an IEM header's pixel shuffle reads the small fused map and writes the decoder's
  resolution, and an MSIAM reducer's pixel unshuffle writes the small one, yet neither
  moves the computation anywhere (a U-Net's E_i waiting beside them is no skip); reshaped
  attention tensors of rank 4 (KBNet) are not feature maps whose last two axes are H, W.
* **M_sc(t)**: bytes of skip tensors live at step t.
* **Bias**: a parameter read only as the bias operand (input 2) of a convolution, transposed
  convolution or linear op (:data:`BIAS_OPERAND`; a batch norm folded into a convolution
  makes that convolution's bias). Deployed integer NPUs store and move biases wider than
  weights (TFLite int8: int32; Vela's default for 8-bit inputs: int32, held in a 40-bit field
  of its 10-byte per-channel scale/bias record): :func:`param_bytes` sizes a bias at the
  spec's ``bias_bits``, every other parameter at ``weight_bits``.
"""

from __future__ import annotations

from dataclasses import dataclass

from hwsim.graph.ir import Graph
from hwsim.graph.opkinds import OP_KINDS


def tensor_bytes(elements: int, bits: int) -> int:
    return (elements * bits + 7) // 8


BIAS_OPERAND = {"conv2d": 2, "conv_transpose2d": 2, "linear": 2}
"""Op kind -> the position of its bias among its inputs (the graph format's operand order)."""


def bias_params(g: Graph) -> frozenset[str]:
    """Parameter roots every reader of which reads as its bias operand (:data:`BIAS_OPERAND`)."""
    def work_out(g: Graph) -> frozenset[str]:
        bias, other = set(), set()
        for op in g.ops:
            for k, name in enumerate(op.inputs):
                root = g.root(name)
                if g.tensor[root].kind == "param":
                    (bias if BIAS_OPERAND.get(op.kind) == k else other).add(root)
        return frozenset(bias - other)
    return g.memo("bias_params", work_out)


def param_bytes(g: Graph, params, weight_bits: int, bias_bits: int) -> int:
    """Bytes of the parameter roots ``params``: biases (:func:`bias_params`) at ``bias_bits``,
    the rest at ``weight_bits``, each tensor rounded up to whole bytes (DESIGN: tensor bytes)."""
    biases = bias_params(g)
    return sum(tensor_bytes(g.tensor[p].elements, bias_bits if p in biases else weight_bits) for p in params)


@dataclass(frozen=True)
class LayerIO:
    index: int
    name: str
    reads: tuple[str, ...]  # activation and network-input roots produced outside the layer
    params: tuple[str, ...]  # parameter roots
    writes: tuple[str, ...]  # activation roots needed after the layer
    macs: int
    vector_ops: int


@dataclass(frozen=True)
class LiveRange:
    tensor: str
    start: int  # step of the producing layer
    end: int  # step of the last reader (inclusive)
    elements: int


def op_costs(g: Graph, op_name: str) -> tuple[int, int]:
    """(MACs, vector ops) of one op, from the op kind's rules."""
    op = g.op[op_name]
    kind = OP_KINDS[op.kind]
    ins = [g.tensor[i].shape for i in op.inputs]
    outs = [g.tensor[o].shape for o in op.outputs]
    return kind.macs(ins, outs, op.attrs), kind.vector_ops(ins, outs, op.attrs)


def layer_io(g: Graph) -> tuple[LayerIO, ...]:
    """What every layer reads, writes and costs (computed once per graph)."""
    return g.memo("layer_io", _layer_io)


def _layer_io(g: Graph) -> tuple[LayerIO, ...]:
    outputs = {g.root(o) for o in g.outputs}
    result = []
    for index, layer in enumerate(g.layers):
        produced_here = {t for name in layer.ops for t in g.op[name].outputs}
        reads: dict[str, None] = {}
        params: dict[str, None] = {}
        macs = vops = 0
        for name in layer.ops:
            for i in g.op[name].inputs:
                r = g.root(i)
                if r in produced_here:
                    continue
                (params if g.tensor[r].kind == "param" else reads)[r] = None
            m, v = op_costs(g, name)
            macs, vops = macs + m, vops + v
        writes = tuple(
            t for t in dict.fromkeys(t for name in layer.ops for t in g.op[name].outputs)
            if t in outputs or any(g.layer_of[c] != index for c in g.consumers.get(t, ()))
        )
        result.append(LayerIO(index, layer.name, tuple(reads), tuple(params), writes, macs, vops))
    return tuple(result)


def live_ranges(g: Graph) -> dict[str, LiveRange]:
    """Live range of every activation a layer writes, in production order."""
    return g.memo("live_ranges", _live_ranges)


def _live_ranges(g: Graph) -> dict[str, LiveRange]:
    ranges: dict[str, list[int]] = {}
    for io in layer_io(g):
        for t in io.writes:
            ranges[t] = [io.index, io.index]
        for t in io.reads:
            if t in ranges:
                ranges[t][1] = io.index
    return {t: LiveRange(t, s, e, g.tensor[t].elements) for t, (s, e) in ranges.items()}


def spatial(shape: tuple[int, ...]) -> tuple[int, int] | None:
    return (shape[2], shape[3]) if len(shape) == 4 else None


def skip_tensors(g: Graph) -> tuple[str, ...]:
    """Names of the skip tensors, in production order (linear in layers x distinct sizes)."""
    return g.memo("skip_tensors", _skip_tensors)


SPATIAL_KINDS = frozenset({
    "conv2d", "conv_transpose2d", "max_pool2d", "avg_pool2d", "adaptive_avg_pool2d", "adaptive_max_pool2d",
    "upsample_nearest2d", "upsample_bilinear2d", "upsample_bicubic2d",
})


def layer_resolution(g: Graph, index: int) -> tuple[int, int] | None:
    """The spatial size layer ``index`` works at, or None (see the module docstring)."""
    first = g.op[g.layers[index].ops[0]]
    if first.kind not in SPATIAL_KINDS:
        return None
    size = spatial(g.tensor[first.outputs[0]].shape)
    return size if size is not None and size[0] * size[1] > 1 else None


def _skip_tensors(g: Graph) -> tuple[str, ...]:
    sizes = [layer_resolution(g, i) for i in range(len(g.layers))]
    prefix: dict[tuple[int, int], list[int]] = {}

    def other_size_layers(size: tuple[int, int]) -> list[int]:
        if size not in prefix:
            acc = [0]
            for s in sizes:
                acc.append(acc[-1] + (s is not None and s != size))
            prefix[size] = acc
        return prefix[size]

    found = []
    for t, r in live_ranges(g).items():
        size = spatial(g.tensor[t].shape)
        if size is None or size[0] * size[1] <= 1 or r.end - r.start < 2:
            continue
        acc = other_size_layers(size)
        if acc[r.end] - acc[r.start + 1] > 0:  # layers r.start+1 .. r.end-1
            found.append(t)
    return tuple(found)


def msc_curve(g: Graph, bits: int) -> list[int]:
    """M_sc(t) in bytes for every step t (difference array over the skip tensors' ranges)."""
    n = len(g.layers)
    delta = [0] * (n + 1)
    ranges = live_ranges(g)
    for t in skip_tensors(g):
        r = ranges[t]
        b = tensor_bytes(r.elements, bits)
        delta[r.start] += b
        delta[r.end + 1] -= b
    curve, acc = [], 0
    for d in delta[:n]:
        acc += d
        curve.append(acc)
    return curve


def live_curve(g: Graph, bits: int) -> list[int]:
    """Bytes of layer-written activations live at every step (the SRAM lower bound)."""
    n = len(g.layers)
    delta = [0] * (n + 1)
    for r in live_ranges(g).values():
        b = tensor_bytes(r.elements, bits)
        delta[r.start] += b
        delta[r.end + 1] -= b
    curve, acc = [], 0
    for d in delta[:n]:
        acc += d
        curve.append(acc)
    return curve


def param_elements(g: Graph, kinds: tuple[str, ...] | None = None) -> int:
    """Parameter elements read by ops (of the given kinds, or all), each parameter counted once."""
    seen: set[str] = set()
    for op in g.ops:
        if kinds is None or op.kind in kinds:
            seen.update(r for i in op.inputs if g.tensor[r := g.root(i)].kind == "param")
    return sum(g.tensor[p].elements for p in seen)


def paper_macs(g: Graph) -> int:
    """MACs in the UNet-- paper's convention (a module-hook counter's).

    Convolution, transposed-convolution and linear MACs (not matrix products between
    activations), plus one per output element for each bias, plus the input elements of
    average pooling.
    """
    total = 0
    for op in g.ops:
        if op.kind in ("conv2d", "conv_transpose2d", "linear"):
            total += op_costs(g, op.name)[0]
            if len(op.inputs) > 2:
                total += g.tensor[op.outputs[0]].elements
        elif op.kind in ("avg_pool2d", "adaptive_avg_pool2d"):
            total += g.tensor[op.inputs[0]].elements
    return total


def graph_stats(g: Graph, bits: int) -> dict:
    """The figures of ``hwsim info`` (DESIGN.md's keys)."""
    ranges = live_ranges(g)
    ios = layer_io(g)
    skips = [
        {"name": t, "bytes": tensor_bytes(ranges[t].elements, bits), "elements": ranges[t].elements,
         "shape": list(g.tensor[t].shape), "producer": ios[ranges[t].start].name,
         "last_consumer": ios[ranges[t].end].name,
         "module": g.op[g.producer[t]].module}
        for t in skip_tensors(g)
    ]
    curve = msc_curve(g, bits)
    return {
        "name": g.name,
        "bits": bits,
        "ops": len(g.ops),
        "layers": len(g.layers),
        "macs": sum(io.macs for io in ios),
        "paper_macs": paper_macs(g),
        "vector_ops": sum(io.vector_ops for io in ios),
        "params": param_elements(g),
        "conv_params": param_elements(g, ("conv2d", "conv_transpose2d")),
        "bias_params": sum(g.tensor[p].elements for p in bias_params(g)),
        "input_bytes": sum(tensor_bytes(g.tensor[i].elements, bits) for i in g.inputs),
        "output_bytes": sum(tensor_bytes(g.tensor[g.root(o)].elements, bits) for o in g.outputs),
        "activation_peak_bytes": max(live_curve(g, bits), default=0),
        "skip_tensors": skips,
        "msc_bytes": max(curve, default=0),
        "msc_curve_bytes": curve,
        "host_ops": [{"name": o.name, "op": o.attrs["op"], "module": o.module, "ops": o.attrs["ops"],
                      "ops_rule": o.attrs.get("ops_rule", "elements")} for o in g.ops if o.kind == "host"],
    }


def dedupe_runs(values: list[int]) -> list[int]:
    """The curve with consecutive repeats removed (the shape of Fig. 1b)."""
    return [v for i, v in enumerate(values) if i == 0 or v != values[i - 1]]

