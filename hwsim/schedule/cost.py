"""Compute cycles of a layer: the MAC-array mapping model and the vector unit.

**MAC ops.** Every op with multiply-accumulates is a loop nest over four dimensions
(``hwsim.spec.model.ARRAY_DIMS``) repeated over ``groups``:

=================  ==================  ===================  ===================  ============
op                 input_channels      output_channels      output_pixels        kernel_taps
=================  ==================  ===================  ===================  ============
conv2d             C_in / groups       C_out / groups       N x H_out x W_out    k_h x k_w
conv_transpose2d   C_in / groups       C_out / groups       N x H_in x W_in      k_h x k_w
linear             in_features         out_features         rows of x            1
matmul             K                   N                    batch x M            1
=================  ==================  ===================  ===================  ============

A transposed convolution is mapped like a convolution over its *input* pixels: each input
pixel is multiplied by the whole filter and scattered into the output, which is how
``FlopCounterMode`` counts its MACs (N x H_in x W_in x prod(weight)), so the product of the
four dimensions times ``groups`` is the op's MAC count for every row of the table.

An array of ``rows x cols`` MACs lays ``rows_over`` over its rows and ``cols_over`` over
its columns; the other two dimensions are walked in time::

    cycles = groups x ceil(dim[rows_over] / rows) x ceil(dim[cols_over] / cols) x (other dims)

so a 3-channel first layer on an array with 32 rows over input channels uses 3/32 of it,
and a depthwise convolution (one input and one output channel per group) uses one MAC.
Without an ``array`` (an ideal array) MAC cycles are ``ceil(macs / macs_per_cycle)``.

**Vector ops** run at ``vector_ops_per_cycle``. The element-wise epilogue of a layer is
pipelined with the MAC array (it consumes the array's outputs as they leave it), so a
layer takes ``max(MAC cycles, vector cycles)`` cycles, and at least one.

**Utilisation** is ``macs / (MAC cycles x macs_per_cycle)``; 0.0 for a layer without MACs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from hwsim.graph.analysis import layer_io
from hwsim.graph.ir import Graph, Op
from hwsim.spec.model import ArraySpec, ComputeSpec


@dataclass(frozen=True)
class Loops:
    """The loop nest of one MAC op: ``groups`` repetitions of the four array dimensions."""

    groups: int
    input_channels: int
    output_channels: int
    output_pixels: int
    kernel_taps: int

    @property
    def macs(self) -> int:
        return self.groups * self.input_channels * self.output_channels * self.output_pixels * self.kernel_taps


@dataclass(frozen=True)
class LayerCost:
    cycles: int  # max(mac_cycles, vector_cycles), at least 1
    mac_cycles: int
    vector_cycles: int
    macs: int
    vector_ops: int
    utilisation: float  # macs / (mac_cycles * macs_per_cycle); 0.0 without MACs


def _pair(v) -> tuple[int, int]:
    if isinstance(v, (list, tuple)):
        return (int(v[0]), int(v[-1]))
    return int(v), int(v)


MAC_KINDS = frozenset({"conv2d", "conv_transpose2d", "linear", "matmul"})


def op_loops(g: Graph, op: Op) -> Loops | None:
    """The loop nest of a MAC op (None for an op without MACs)."""
    if op.kind not in MAC_KINDS:
        return None
    shapes = [g.tensor[i].shape for i in op.inputs]
    out = g.tensor[op.outputs[0]].shape
    if op.kind == "conv2d":
        w, groups = shapes[1], int(op.attrs.get("groups", 1))
        return Loops(groups, w[1], w[0] // groups, out[0] * out[2] * out[3], w[2] * w[3])
    if op.kind == "conv_transpose2d":
        x, w, groups = shapes[0], shapes[1], int(op.attrs.get("groups", 1))
        return Loops(groups, w[0] // groups, w[1], x[0] * x[2] * x[3], w[2] * w[3])
    if op.kind == "linear":
        x, w = shapes[0], shapes[1]
        return Loops(1, w[1], w[0], math.prod(x[:-1]), 1)
    if op.kind == "matmul":
        k = shapes[0][-1]
        return Loops(1, k, out[-1], math.prod(out[:-1]), 1)
    return None


def array_cycles(loops: Loops, array: ArraySpec) -> int:
    """Cycles of one loop nest on the array (the module docstring's formula)."""
    dims = {
        "input_channels": loops.input_channels,
        "output_channels": loops.output_channels,
        "output_pixels": loops.output_pixels,
        "kernel_taps": loops.kernel_taps,
    }
    on_rows = -(-dims.pop(array.rows_over) // array.rows)
    on_cols = -(-dims.pop(array.cols_over) // array.cols)
    return loops.groups * on_rows * on_cols * math.prod(dims.values())


def layer_cost(g: Graph, index: int, compute: ComputeSpec) -> LayerCost:
    """Cycles, MACs and utilisation of layer ``index``."""
    io = layer_io(g)[index]
    if compute.array is None:
        mac_cycles = -(-io.macs // compute.macs_per_cycle)
    else:
        mac_cycles = 0
        for name in g.layers[index].ops:
            loops = op_loops(g, g.op[name])
            if loops is not None and loops.macs:
                mac_cycles += array_cycles(loops, compute.array)
    vector_cycles = -(-io.vector_ops // compute.vector_ops_per_cycle)
    utilisation = io.macs / (mac_cycles * compute.macs_per_cycle) if mac_cycles else 0.0
    cycles = max(mac_cycles, vector_cycles, 1)
    return LayerCost(cycles, mac_cycles, vector_cycles, io.macs, io.vector_ops, utilisation)


def layer_costs(g: Graph, compute: ComputeSpec) -> tuple[LayerCost, ...]:
    """Every layer's cost (memoised per graph and compute spec)."""
    return g.memo(("layer_costs", compute), lambda _: tuple(layer_cost(g, i, compute) for i in range(len(g.layers))))


def split_cycles(total: int, start_num: int, end_num: int, den: int) -> int:
    """Cycles of the part [start_num/den, end_num/den) of a ``total``-cycle layer.

    Parts that tile [0, 1) add up to ``total`` exactly (differences of ceilings).
    """
    return -(-total * end_num // den) - -(-total * start_num // den)
