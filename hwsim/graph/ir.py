"""The graph IR: tensors, ops and layers as frozen, torch-free records.

A :class:`Graph` holds element counts only (shapes), never bytes: bytes depend on the
accelerator's bit-widths, or on the widths a quantised file stores its tensors with, which
a graph read from such a file carries per tensor (``Tensor.bits``, :mod:`hwsim.graph.widths`). Derived look-ups (producers, consumers, layer of an op) are
computed once on first use; consumers that need a networkx view build one from them.

Views: a tensor with ``view_of`` set is a reshape of another tensor (same elements, no
data moved). It has no storage of its own; everything that asks about memory resolves it
to its root with :meth:`Graph.root`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Callable, Hashable, Mapping

TENSOR_KINDS = ("input", "param", "activation")


@dataclass(frozen=True)
class Tensor:
    """A value in the graph: the network input, a parameter, or an activation."""

    name: str
    shape: tuple[int, ...]
    kind: str
    view_of: str | None = None
    bits: int | None = None
    """The bit-width a quantised file stores this tensor with (None: the spec's datatype
    decides); see :mod:`hwsim.graph.widths`."""

    @property
    def elements(self) -> int:
        return math.prod(self.shape)


@dataclass(frozen=True)
class Op:
    """One operation. ``attrs`` holds its JSON-scalar attributes (read-only by convention)."""

    name: str
    kind: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    attrs: Mapping[str, Any] = field(default_factory=dict)
    module: str = ""


@dataclass(frozen=True)
class Layer:
    """One step of the accelerator: a main op plus the element-wise ops fused into it."""

    name: str
    ops: tuple[str, ...]


@dataclass(frozen=True)
class Graph:
    """A network: tensors, ops in execution order, and the layers grouping those ops."""

    name: str
    tensors: tuple[Tensor, ...]
    ops: tuple[Op, ...]
    layers: tuple[Layer, ...]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    fuse: str = "elementwise"

    # ---- look-ups (derived, computed once) ---------------------------------------------
    @cached_property
    def tensor(self) -> dict[str, Tensor]:
        return {t.name: t for t in self.tensors}

    @cached_property
    def op(self) -> dict[str, Op]:
        return {o.name: o for o in self.ops}

    @cached_property
    def producer(self) -> dict[str, str]:
        """Tensor name -> name of the op that produces it."""
        return {t: o.name for o in self.ops for t in o.outputs}

    @cached_property
    def consumers(self) -> dict[str, tuple[str, ...]]:
        """Tensor name -> ops that read it, in op order (views resolved: reading a view reads its root)."""
        found: dict[str, list[str]] = {}
        for o in self.ops:
            for name in dict.fromkeys(self.root(i) for i in o.inputs):
                found.setdefault(name, []).append(o.name)
        return {k: tuple(v) for k, v in found.items()}

    @cached_property
    def layer_of(self) -> dict[str, int]:
        """Op name -> index of its layer (its step in the default order)."""
        return {op: i for i, layer in enumerate(self.layers) for op in layer.ops}

    def memo(self, key: Hashable, compute):
        """``compute(self)``, computed once per graph and ``key`` (derived data; the graph stays
        immutable): a key names what is computed and the arguments it depends on besides the graph."""
        cache = self.__dict__.setdefault("_memo", {})
        if key not in cache:
            cache[key] = compute(self)
        return cache[key]

    def forget(self, which: Callable[[Hashable], bool]) -> None:
        """Drop the memo entries whose key ``which`` picks (they are worked out again when asked)."""
        cache = self.__dict__.get("_memo", {})
        for key in [k for k in cache if which(k)]:
            del cache[key]

    @cached_property
    def _roots(self) -> dict[str, str]:
        """Tensor name -> its root, every chain of views followed once (iteratively)."""
        roots: dict[str, str] = {}
        for t in self.tensors:
            path, name = [], t.name
            while name not in roots and (base := self.tensor[name].view_of) is not None:
                path.append(name)
                if len(path) > len(self.tensors):
                    raise ValueError(f"view cycle at tensor {name!r}")
                name = base
            roots.setdefault(name, name)
            roots.update(dict.fromkeys(path, roots[name]))
        return roots

    def root(self, name: str) -> str:
        """The tensor that holds the data of ``name`` (itself unless it is a view)."""
        return self._roots[name]

    def op_inputs(self, op: Op, kind: str | None = None) -> list[Tensor]:
        """The input tensors of ``op`` (optionally only those of one kind, views resolved for kind)."""
        ts = [self.tensor[i] for i in op.inputs]
        if kind is None:
            return ts
        return [t for t in ts if self.tensor[self.root(t.name)].kind == kind]
