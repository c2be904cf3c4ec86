"""The quantised network with no memory model: the reference the schedule check compares bytes with.

Written apart from the plan interpreter (``interpreter*.py``): it shares only the numpy kernels
(``kernels.run_op``) and the storage formats (``quantize.Codec``), so a fault in how the
interpreter moves bytes through SRAM and DRAM cannot hide in both.

It runs the graph's layers in their order. Inside a layer every op computes in float32 on
the values of its inputs, exactly as the kernels give them (a layer's internal tensors never
touch memory); every tensor the layer writes is stored, i.e. passed through its codec
(``encode`` then ``decode``), and that stored value is what later layers read. Parameters are
the weight store's values (folded, quantised, decoded). The network inputs are stored first.
A concatenation or slice layer is run as any other: its output shares its inputs' format
(``deploy.shared_groups``), so storing it changes no value, and the result is the same
whether a plan concatenates in place or by copy.

The result holds, for every stored tensor (inputs and every tensor a layer writes), its value
as stored (float32) and its bytes (``Codec.encode`` of it), the bit pattern the memory image
must hold wherever the plan keeps that tensor.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import numpy as np

from hwsim.gc_pause import paused
from hwsim.graph.analysis import layer_io
from hwsim.graph.ir import Graph
from hwsim.numerics.kernels import run_op
from hwsim.numerics.quantize import Codec


@dataclass
class QuantisedRun:
    """Stored values of the quantised network, by tensor root, and their codecs."""

    values: dict[str, np.ndarray]
    codecs: Mapping[str, Codec]
    _bytes: dict[str, np.ndarray] = field(default_factory=dict)

    def bytes_of(self, name: str) -> np.ndarray:
        """The bytes that store tensor ``name`` (NCHW order, its codec), computed once."""
        if name not in self._bytes:
            self._bytes[name] = self.codecs[name].encode(self.values[name])
        return self._bytes[name]


@paused
def run_quantised(graph: Graph, inputs: Mapping[str, np.ndarray], params: Mapping[str, np.ndarray],
                  codecs: Mapping[str, Codec]) -> QuantisedRun:
    """The quantised network run layer by layer on ``inputs`` (tensor -> float array), with
    ``params`` (parameter root -> stored float value) and ``codecs`` (stored tensor -> codec)."""
    stored: dict[str, np.ndarray] = {}
    for name, value in inputs.items():
        root = graph.root(name)
        stored[root] = codecs[root].round_trip(np.asarray(value, np.float32).reshape(graph.tensor[root].shape))
    for io in layer_io(graph):
        inside: dict[str, np.ndarray] = {}

        def operand(name: str) -> np.ndarray:
            root = graph.root(name)
            if root in inside:
                v = inside[root]
            elif graph.tensor[root].kind == "param":
                v = params[root]
            else:
                v = stored[root]
            return v.reshape(graph.tensor[name].shape)

        for op_name in graph.layers[io.index].ops:
            op = graph.op[op_name]
            inside[op.outputs[0]] = run_op(op.kind, [operand(i) for i in op.inputs], op.attrs)
        for w in io.writes:
            stored[w] = codecs[w].round_trip(inside[w])
    return QuantisedRun(stored, codecs)
