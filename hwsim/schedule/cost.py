"""Compute cycles of a layer: the largest of its bottlenecks, plus its element-wise passes.

A layer is a main op and the element-wise ops fused into it (``hwsim.graph.layers``). Its
**main part** (the main op, and under ``policy.eltwise: fused`` its whole epilogue) takes
the largest of four bounds, each busy in parallel with the others (a pipeline runs at the
pace of its slowest stage):

=============  ======================================================  =====================
bound          cycles                                                  spec
=============  ======================================================  =====================
mac_array      the MAC op under its fastest legal mapping              ``compute.array``
               (``hwsim.spec.mappings``: each mapped loop padded to
               its extent, each walked loop to its step); an ideal
               array (no ``array``): ceil(MACs / macs_per_cycle)
output_stage   ceil(output elements / output_elements_per_cycle):      ``compute.output_``
               every element the main op writes is requantised,        ``elements_per_cycle``
               activated and written out
vector_unit    ceil(vector ops / vector_ops_per_cycle)                 ``compute.vector_``
                                                                       ``ops_per_cycle``
sram_port      ceil(bytes read + written in SRAM / port_bytes):        ``sram.port_bytes``
               activation inputs, weights (when they share the SRAM),
               outputs
=============  ======================================================  =====================

An unset rate is never the bound. Under ``policy.eltwise: separate`` (Ethos-U, as Vela
models it) a single-input element-wise op (ReLU, clamp, GELU, a scalar scale ...) is
applied by the output stage at no extra cost, and every other element-wise op (a sum or
product of two tensors, a reduction, a norm) is a **pass** of its own after the main part,
bounded like a main part by its vector ops, its output elements and its SRAM bytes (its
inputs and its output); the passes add up. So::

    cycles = max(1, max(bounds of the main part) + sum over passes of max(bounds of the pass))

Vela 5.2 (``npu_performance``): an Ethos-U55-256 add costs 0.75 cycles per output element
(``output_cycles_per_elem[5]``), a convolution's output stage 0.25 (index 7, 32-bit
accumulators), and an op's cycles are the largest of its NPU cycles and its memory cycles
(``update_summary_cycles``); the Ethos-U presets set their rates from these. The memory
model still keeps an intermediate tensor of a layer out of SRAM (extract with ``--fuse
none`` to place each pass's output in SRAM too).

**Loop nests** (``hwsim.spec.mappings.ARRAY_DIMS``), repeated over ``groups``:

=================  ==============  ===============  ======================  =====================
op                 input_channels  output_channels  output_pixels           kernel_taps
=================  ==============  ===============  ======================  =====================
conv2d             C_in / groups   C_out / groups   N x H_out x W_out       k_h x k_w
depthwise conv2d   1               C_out (groups    N x H_out x W_out       k_h x k_w
                                   folded in)
conv_transpose2d,  C_in / groups   C_out / groups   N x H_out x W_out       ceil(k_h/s_h) x
sub_pixel                                                                   ceil(k_w/s_w)
conv_transpose2d,  C_in / groups   C_out / groups   N x H_out x W_out       k_h x k_w
zero_insertion
linear             in_features     out_features     rows of x               1
matmul             K               N                batch x M               1
=================  ==============  ===============  ======================  =====================

Max and average pooling (kernel taps = the window) and nearest upsampling (one tap) are the
``pooling`` op class, one output channel per input channel: on an array with a mapping for
them (Ethos-U runs them on its MACs) they take its cycles and no vector ops; otherwise they
run on the vector unit. Vela lowers a 2x nearest RESIZE to a 1x1 average pool that reads its
input upscaled, and its C++ core prices 8-bit pooling at 16 cycles per 2 x 2 x 8 micro-block
(the Ethos-U presets' ``pooling`` mapping, ``hwsim.spec.mappings``).

A transposed convolution (``policy.transposed_conv``) is lowered as a compiler does:
``sub_pixel`` runs stride^2 small convolutions over the input grid, each with the kernel
taps that land on its output phase (ceil(k / s) per axis), about its true MACs;
``zero_insertion`` (Vela's ``TransposeConv``) convolves the whole kernel over the input
upsampled with zeros, so it runs stride^2 times the MACs (for k = 2, s = 2: 4x). Depthwise
convolutions (one input channel per group) are the ``depthwise`` op class; every other MAC
op is ``dense``.

**Utilisation** is ``MACs / (cycles x macs_per_cycle)`` over the layer's whole cycles;
**bottleneck** names the bound that took most of the layer's cycles (``none`` for a layer
that does no work, an in-place concatenation).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

from hwsim.graph.analysis import bias_params, layer_io
from hwsim.graph.ir import Graph, Op
from hwsim.graph.opkinds import OP_KINDS
from hwsim.spec.model import AcceleratorSpec

BOTTLENECKS = ("mac_array", "output_stage", "vector_unit", "sram_port")
MAC_KINDS = frozenset({"conv2d", "conv_transpose2d", "linear", "matmul"})
POOLING_KINDS = frozenset({"max_pool2d", "avg_pool2d", "upsample_nearest2d"})  # the pooling op class
ALIAS_KINDS = frozenset({"concat", "slice"})  # free when policy.concat is inplace (views of one buffer)


@dataclass(frozen=True)
class Loops:
    """The loop nest of one MAC op: ``groups`` repetitions of the four array dimensions."""

    groups: int
    input_channels: int
    output_channels: int
    output_pixels: int
    kernel_taps: int
    op_class: str = "dense"

    @property
    def macs(self) -> int:
        """MACs the array executes (zero-inserted taps included)."""
        return self.groups * self.input_channels * self.output_channels * self.output_pixels * self.kernel_taps

    def dims(self) -> dict[str, int]:
        return {"input_channels": self.input_channels, "output_channels": self.output_channels,
                "output_pixels": self.output_pixels, "kernel_taps": self.kernel_taps}


@dataclass(frozen=True)
class LayerCost:
    cycles: int  # main part's largest bound + the passes, at least 1
    mac_cycles: int
    vector_cycles: int  # vector-unit cycles of the main part and the passes
    macs: int
    vector_ops: int
    utilisation: float  # macs / (cycles * macs_per_cycle); 0.0 without MACs
    output_cycles: int = 0  # output-stage cycles of the main part and the passes
    sram_cycles: int = 0  # SRAM-port cycles of the main part and the passes
    pass_cycles: int = 0  # cycles of the separate element-wise passes (in ``cycles``)
    bottleneck: str = "none"
    mapping: str = ""  # the mapping of the layer's MAC op(s), "" without


def _pair(v) -> tuple[int, int]:
    if isinstance(v, (list, tuple)):
        return (int(v[0]), int(v[-1]))
    return int(v), int(v)


def op_loops(g: Graph, op: Op, transposed: str = "sub_pixel") -> Loops | None:
    """The loop nest of a MAC op, or of a pooling-class op, as the array runs it (None for
    any other op)."""
    if op.kind not in MAC_KINDS | POOLING_KINDS:
        return None
    shapes = [g.tensor[i].shape for i in op.inputs]
    out = g.tensor[op.outputs[0]].shape
    if op.kind in POOLING_KINDS:
        kh, kw = _pair(op.attrs.get("kernel_size", 1)) if op.kind != "upsample_nearest2d" else (1, 1)
        return Loops(1, 1, out[1], out[0] * out[2] * out[3], kh * kw, "pooling")
    if op.kind == "conv2d":
        w, groups = shapes[1], int(op.attrs.get("groups", 1))
        if w[1] == 1 and groups > 1:
            return Loops(1, 1, w[0], out[0] * out[2] * out[3], w[2] * w[3], "depthwise")
        return Loops(groups, w[1], w[0] // groups, out[0] * out[2] * out[3], w[2] * w[3])
    if op.kind == "conv_transpose2d":
        w, groups = shapes[1], int(op.attrs.get("groups", 1))
        (sh, sw), pixels = _pair(op.attrs.get("stride", 1)), out[0] * out[2] * out[3]
        taps = w[2] * w[3] if transposed == "zero_insertion" else -(-w[2] // sh) * -(-w[3] // sw)
        return Loops(groups, w[0] // groups, w[1], pixels, taps)
    if op.kind == "linear":
        x, w = shapes[0], shapes[1]
        return Loops(1, w[1], w[0], math.prod(x[:-1]), 1)
    k = shapes[0][-1]
    return Loops(1, k, out[-1], math.prod(out[:-1]), 1)


def mac_cycles(loops: Loops, spec: AcceleratorSpec) -> tuple[int, str] | None:
    """Cycles of one loop nest and the name of the mapping that gives them (the fastest
    legal one, the first listed on a tie; ``ideal`` without an array); None for a pooling
    op no mapping runs (it runs on the vector unit)."""
    array = spec.compute.array
    if loops.op_class == "pooling" and (array is None or not any("pooling" in mp.ops for mp in array.mappings)):
        return None
    if array is None:
        return -(-loops.macs // spec.compute.macs_per_cycle), "ideal"
    best: tuple[int, str] | None = None
    for mp in array.mappings:
        if loops.op_class in mp.ops:
            c = mp.cycles(loops.groups, loops.dims())
            if best is None or c < best[0]:
                best = (c, mp.name)
    if best is None:  # the loader refuses a spec with no mapping for an op class
        raise ValueError(f"compute.array: no mapping runs {loops.op_class} ops")
    return best


def _ceil(amount: int, rate: int | Fraction | None) -> int:
    """ceil(amount / rate); 0 when the rate is unset (never a bound)."""
    if rate is None or amount == 0:
        return 0
    return math.ceil(Fraction(amount) / Fraction(rate))


def _is_activation(g: Graph, op: Op) -> bool:
    """A single-input element-wise op, applied by the output stage under ``eltwise: separate``."""
    return OP_KINDS[op.kind].category == "elementwise" and len(op.inputs) == 1 and \
        op.kind not in ("mean", "sum", "vector_norm", "softmax", "layer_norm", "group_norm", "amax", "amin")


class _Bounds:
    """The parts of a layer, each taking the largest of its bounds (cycles by bound name)."""

    def __init__(self) -> None:
        self.setting = dict.fromkeys(BOTTLENECKS, 0)  # cycles of the parts each bound set
        self.sums = dict.fromkeys(BOTTLENECKS, 0)  # each bound's own cycles over the parts
        self.total = 0

    def add(self, **cycles: int) -> int:
        """One part, its bounds busy in parallel: it takes the largest (returned)."""
        part = max(cycles.values())
        if part:
            self.setting[max(BOTTLENECKS, key=lambda b: (cycles.get(b, 0), -BOTTLENECKS.index(b)))] += part
        for b, c in cycles.items():
            self.sums[b] += c
        self.total += part
        return part

    def bottleneck(self) -> str:
        if not self.total:
            return "none"
        return max(BOTTLENECKS, key=lambda b: (self.setting[b], -BOTTLENECKS.index(b)))


def _parts(g: Graph, index: int, separate: bool) -> tuple[list[Op], list[Op]]:
    """The layer's main part (main op, and the epilogue it runs) and its separate passes."""
    main_ops, passes = [], []
    for k, op in enumerate(g.op[n] for n in g.layers[index].ops):
        if k == 0 or OP_KINDS[op.kind].category == "main" or not separate or _is_activation(g, op):
            main_ops.append(op)
        else:
            passes.append(op)
    return main_ops, passes


def _main_part(g: Graph, main_ops: list[Op], spec: AcceleratorSpec, bounds: _Bounds) -> list[str]:
    """Add the main part's bounds; the names of the mappings its ops ran on."""
    policy, act, wgt = spec.policy, _act_bytes(spec), _weight_bytes(g, spec)
    main, separate = main_ops[0], spec.policy.eltwise == "separate"
    alias = main.kind in ALIAS_KINDS and policy.concat == "inplace"  # a view: no data moves
    made = {t for op in main_ops for t in op.outputs}
    names, mac_c, vops, read_b = [], 0, 0, 0
    for op in main_ops:
        loops = op_loops(g, op, policy.transposed_conv)
        on_array = mac_cycles(loops, spec) if loops is not None and loops.macs else None
        if on_array is not None:
            mac_c, names = mac_c + on_array[0], names + [on_array[1]]
        pooled = on_array is not None and loops.op_class == "pooling"
        if not pooled and not (separate and op is not main and _is_activation(g, op)):
            vops += _vector_ops(g, op)
        if not (op is main and alias):
            read_b += sum(wgt(i) if g.tensor[g.root(i)].kind == "param"
                          else act(g.tensor[i].elements) for i in op.inputs if i not in made)
    out_elems = 0 if alias else sum(g.tensor[t].elements for t in main.outputs)
    moved = not alias or len(main_ops) > 1
    write_b = act(sum(g.tensor[t].elements for t in main_ops[-1].outputs)) if moved else 0
    bounds.add(mac_array=mac_c, output_stage=_ceil(out_elems, spec.compute.output_elements_per_cycle),
               vector_unit=_ceil(vops, spec.compute.vector_ops_per_cycle),
               sram_port=_ceil(read_b + write_b, spec.sram.port_bytes_per_cycle))
    return names


def _pass(g: Graph, op: Op, spec: AcceleratorSpec, bounds: _Bounds) -> int:
    """Add one element-wise pass (its inputs read from SRAM, its output written); its cycles."""
    act, wgt = _act_bytes(spec), _weight_bytes(g, spec)
    elems = sum(g.tensor[t].elements for t in op.outputs)
    nbytes = act(elems) + sum(wgt(i) if g.tensor[g.root(i)].kind == "param"
                              else act(g.tensor[i].elements) for i in op.inputs)
    return bounds.add(output_stage=_ceil(elems, spec.compute.output_elements_per_cycle),
                      vector_unit=_ceil(_vector_ops(g, op), spec.compute.vector_ops_per_cycle),
                      sram_port=_ceil(nbytes, spec.sram.port_bytes_per_cycle))


def _act_bytes(spec: AcceleratorSpec):
    return lambda n: -(-n * spec.datatype.activation_bits // 8)


def _weight_bytes(g: Graph, spec: AcceleratorSpec):
    """Bytes of a parameter (by name) read through the SRAM port (none from a separate weight
    buffer): a bias at ``bias_bits``, any other parameter at ``weight_bits``."""
    bits, biases = spec.datatype, bias_params(g)
    return lambda name: 0 if spec.sram.separate_weights else (
        bits.bias_bytes if g.root(name) in biases else bits.weight_bytes)(g.tensor[name].elements)


def layer_cost(g: Graph, index: int, spec: AcceleratorSpec) -> LayerCost:
    """Cycles, bounds, mapping and utilisation of layer ``index`` (the module docstring). A host
    op's layer (``--fallback host``) takes no accelerator cycles: its time is the host's
    (``AcceleratorSpec.host_cycles``), during which the accelerator waits."""
    if any(g.op[n].kind == "host" for n in g.layers[index].ops):
        return LayerCost(0, 0, 0, 0, 0, 0.0)
    main_ops, passes = _parts(g, index, spec.policy.eltwise == "separate")
    bounds = _Bounds()
    names = _main_part(g, main_ops, spec, bounds)
    pass_cycles = sum(_pass(g, op, spec, bounds) for op in passes)
    io = layer_io(g)[index]
    cycles = max(bounds.total, 1)
    utilisation = io.macs / (cycles * spec.compute.macs_per_cycle) if io.macs else 0.0
    sums = bounds.sums
    return LayerCost(cycles, sums["mac_array"], sums["vector_unit"], io.macs, io.vector_ops, utilisation,
                     sums["output_stage"], sums["sram_port"], pass_cycles, bounds.bottleneck(),
                     "+".join(dict.fromkeys(names)))


def _vector_ops(g: Graph, op: Op) -> int:
    ins = [g.tensor[i].shape for i in op.inputs]
    outs = [g.tensor[o].shape for o in op.outputs]
    return OP_KINDS[op.kind].vector_ops(ins, outs, op.attrs)


def layer_costs(g: Graph, spec: AcceleratorSpec) -> tuple[LayerCost, ...]:
    """Every layer's cost (memoised per graph and the spec's compute-side fields)."""
    key = ("layer_costs", spec.compute, spec.datatype, spec.sram.weights, spec.sram.port_bytes_per_cycle,
           spec.policy.eltwise, spec.policy.transposed_conv, spec.policy.concat)
    return g.memo(key, lambda _: tuple(layer_cost(g, i, spec) for i in range(len(g.layers))))


def split_cycles(total: int, start_num: int, end_num: int, den: int) -> int:
    """Cycles of the part [start_num/den, end_num/den) of a ``total``-cycle layer.

    Parts that tile [0, 1) add up to ``total`` exactly (differences of ceilings).
    """
    return -(-total * end_num // den) - -(-total * start_num // den)
