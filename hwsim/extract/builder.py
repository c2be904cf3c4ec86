"""The mutable workspace the ATen converters write into, frozen into a Graph at the end.

Converters (``aten_table.py``) call :meth:`GraphBuilder.emit` to add an op,
:meth:`GraphBuilder.view` for a reshape that moves no data (a ``view_of`` tensor), and
:meth:`GraphBuilder.same` when a node is the same value as its input (clone, dropout in
eval, dtype casts). Unsupported targets are collected, not raised, so that the user sees
all of them at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hwsim.graph.ir import Graph, Op, Tensor
from hwsim.graph.layers import group_layers


@dataclass
class OpRecord:
    name: str
    kind: str
    inputs: list[str]
    outputs: list[str]
    attrs: dict[str, Any]
    module: str


@dataclass
class GraphBuilder:
    tensors: dict[str, Tensor] = field(default_factory=dict)
    ops: list[OpRecord] = field(default_factory=list)
    value_of: dict[str, Any] = field(default_factory=dict)  # fx node name -> IR name (or list of names)
    producer: dict[str, OpRecord] = field(default_factory=dict)
    unsupported: dict[str, list[str]] = field(default_factory=dict)  # target -> module paths
    users: dict[str, int] = field(default_factory=dict)  # IR name -> how many fx nodes read its node
    constants: dict[str, list[int]] = field(default_factory=dict)  # small integer constant tensors' values
    booleans: set[str] = field(default_factory=set)  # IR tensors torch holds as bool (masks)

    def add_tensor(self, name: str, shape, kind: str, view_of: str | None = None) -> str:
        self.tensors[name] = Tensor(name, tuple(int(d) for d in shape), kind, view_of)
        return name

    def emit(self, node_name: str, kind: str, inputs: list[str], attrs: dict[str, Any], module: str,
             out_shapes: list, out_names: list[str] | None = None) -> list[str]:
        names = out_names or ([node_name] if len(out_shapes) == 1 else
                              [f"{node_name}_{i}" for i in range(len(out_shapes))])
        for name, shape in zip(names, out_shapes):
            self.add_tensor(name, shape, "activation")
        rec = OpRecord(node_name, kind, list(inputs), names, attrs, module)
        self.ops.append(rec)
        for name in names:
            self.producer[name] = rec
        return names

    def root(self, name: str) -> str:
        while self.tensors[name].view_of is not None:
            name = self.tensors[name].view_of
        return name

    def view(self, node_name: str, src: str, shape) -> str:
        shape = tuple(int(d) for d in shape)
        if self.tensors[src].shape == shape:
            return src
        base = self.root(src)
        if self.tensors[base].shape == shape:
            return base
        return self.add_tensor(node_name, shape, self.tensors[base].kind, view_of=base)

    def mark_unsupported(self, target: str, module: str) -> None:
        paths = self.unsupported.setdefault(target, [])
        if module not in paths:
            paths.append(module)

    def build(self, name: str, inputs: list[str], outputs: list[str], fuse: str) -> Graph:
        """Freeze into a Graph, keeping only tensors something refers to."""
        used: dict[str, None] = dict.fromkeys(inputs)
        for rec in self.ops:
            used.update(dict.fromkeys(rec.inputs + rec.outputs))
        used.update(dict.fromkeys(outputs))
        for t in list(used):
            while (base := self.tensors[t].view_of) is not None:
                used[base] = None
                t = base
        ops = tuple(Op(r.name, r.kind, tuple(r.inputs), tuple(r.outputs), _freeze(r.attrs), r.module)
                    for r in self.ops)
        tensors = tuple(self.tensors[t] for t in self.tensors if t in used)
        layers = group_layers(ops, tensors, fuse)
        return Graph(name, tensors, ops, layers, tuple(inputs), tuple(outputs), fuse)


def _freeze(v: Any) -> Any:
    if isinstance(v, (list, tuple)):
        return tuple(_freeze(x) for x in v)
    if isinstance(v, dict):
        return {k: _freeze(x) for k, x in sorted(v.items())}
    return v
