"""Grouping ops into layers: the steps of the accelerator.

The rule (DESIGN.md, "Layer"), applied to the ops in execution order:

* a *main* op (convolution, linear/matmul, pooling, resampling, concatenation, slicing,
  unfold) starts a new layer;
* an *element-wise* op (arithmetic, activations, per-pixel reductions over axes such as
  the channel mean of a hand-written LayerNorm2d, layer/batch norm, permutes) joins the
  latest layer when that layer produced one of its inputs; its other inputs are then
  parameters, the network input, or activations already produced (resident in SRAM).
  Otherwise it starts a layer of its own, which later element-wise ops may join.
* a *host* op (``host.py``: an op run by the host CPU, ``--fallback host``) is a layer of
  its own that nothing joins: its outputs come back through DRAM, never fused.

Tensors produced and consumed inside one layer never touch SRAM. With ``fuse="none"``
every op is its own layer.
"""

from __future__ import annotations

from typing import Iterable

from hwsim.graph.ir import Layer, Op, Tensor
from hwsim.graph.opkinds import OP_KINDS

FUSE_MODES = ("elementwise", "none")


def group_layers(ops: Iterable[Op], tensors: Iterable[Tensor], fuse: str = "elementwise") -> tuple[Layer, ...]:
    """Layers for ``ops`` (in execution order) under the fusion mode ``fuse``."""
    if fuse not in FUSE_MODES:
        raise ValueError(f"fuse must be one of {FUSE_MODES}, got {fuse!r}")
    view_of = {t.name: t.view_of for t in tensors}

    def root(name: str) -> str:
        while view_of.get(name) is not None:
            name = view_of[name]
        return name

    groups: list[list[Op]] = []
    latest_outputs: set[str] = set()
    for op in ops:
        joins = (
            fuse == "elementwise"
            and groups
            and OP_KINDS[op.kind].category == "elementwise"
            and any(root(i) in latest_outputs for i in op.inputs)
        )
        if joins:
            groups[-1].append(op)
        else:
            groups.append([op])
            latest_outputs = set()
        if OP_KINDS[op.kind].category == "host":
            latest_outputs = set()  # nothing fuses into a host op's layer
            continue
        latest_outputs.update(op.outputs)
    return tuple(Layer(g[0].name, tuple(o.name for o in g)) for g in groups)
