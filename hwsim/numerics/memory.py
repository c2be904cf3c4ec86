"""The memory image the interpreter runs in: SRAM bytes, a weight buffer, DRAM, the weight store.

* **SRAM** is a ``numpy`` byte array of ``sram.size_bytes``; a separate weight buffer (spec
  ``sram.weights: separate``) is a second one. Both start filled with :data:`POISON` bytes
  (0xFF: NaN as float32, -1 as an integer), so a layer that reads bytes nobody wrote gets
  garbage, as hardware would.
* **DRAM** is a dict from a key (a tensor's name, or ``weights:<layer>``) to that tensor's
  bytes. Reading a key DRAM does not hold gives poison bytes.
* Every byte of SRAM remembers the command that last wrote it (``writers``), and every DRAM
  copy the command that stored it, so a schedule fault can be traced to the command that
  produced the bad bytes.
* The **weight store** holds every parameter as the hardware stores it: batch norms folded
  into the convolutions before them (``attrs["folded_bn"]``), then each parameter quantised
  at ``weight_bits`` (symmetric, see ``quantize``): a convolution's or linear layer's weight
  per output channel by default (:func:`channel_axes`), every other parameter per tensor;
  biases (:func:`hwsim.graph.analysis.bias_params`) at ``bias_bits`` (32 by default, as the plan
  counts them; at 32 bits a value is kept as float32: the bytes of TFLite's int32 bias, whose
  scale ``s_in x s_w`` makes it at least as fine as float32 over a bias's range). It also lays out each
  layer's *weight image*: the layer's parameters packed end to end in ``layer_io`` order, the
  bytes the plan's ``weights:<layer>`` loads move (chunk ``c`` of a layer loaded in chunks is
  the next ``dram_bytes`` of that image; a cascade's block is the images of its layers one
  after the other, in layer order).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hwsim.graph.analysis import bias_params, layer_io
from hwsim.graph.ir import Graph
from hwsim.numerics.quantize import Codec, check_bits, codec_for

POISON = 0xFF


class MemoryFault(Exception):
    """An access outside a memory (a corrupt plan)."""


class Memory:
    """SRAM (and the weight buffer) as byte arrays, DRAM as a dict of byte arrays.

    A space's array covers its capacity but is materialised only up to the highest byte used
    so far (the rest is poison by definition), so a 1 GiB SRAM costs what the plan touches.
    """

    def __init__(self, sram_bytes: int, weight_buffer_bytes: int = 0):
        self.capacity = {"sram": sram_bytes}
        if weight_buffer_bytes:
            self.capacity["weights"] = weight_buffer_bytes
        self.spaces = {name: np.zeros(0, np.uint8) for name in self.capacity}
        # who wrote each byte: the id of the command (``current`` when it was written), -1 never
        self.writers = {name: np.zeros(0, np.int32) for name in self.capacity}
        self.dram: dict[str, np.ndarray] = {}
        self.dram_writer: dict[str, int] = {}
        self.current = -1  # the command running now (its id), -1 before the first

    def dram_write(self, key: str, data: np.ndarray) -> None:
        """Replace DRAM copy ``key`` with ``data`` (written by the current command)."""
        self.dram[key] = data
        self.dram_writer[key] = self.current

    def writer(self, space: str, address: int) -> int:
        """The id of the command that last wrote byte ``address`` of ``space`` (-1: never written)."""
        w = self.writers.get(space)
        return int(w[address]) if w is not None and 0 <= address < w.size else -1

    def _space(self, space: str, address: int, nbytes: int) -> np.ndarray:
        if space not in self.capacity:
            raise MemoryFault(f"no memory space {space!r}")
        if address < 0 or address + nbytes > self.capacity[space]:
            raise MemoryFault(f"bytes [{address}, {address + nbytes}) lie outside {space} of "
                              f"{self.capacity[space]} B")
        mem = self.spaces[space]
        if address + nbytes > mem.size:  # grow (at least doubling) with poison up to the capacity
            size = min(self.capacity[space], max(address + nbytes, 2 * mem.size))
            mem = self.spaces[space] = np.concatenate([mem, np.full(size - mem.size, POISON, np.uint8)])
            w = self.writers[space]
            self.writers[space] = np.concatenate([w, np.full(size - w.size, -1, np.int32)])
        return mem

    def write(self, space: str, address: int, raw: np.ndarray) -> None:
        self._space(space, address, raw.size)[address: address + raw.size] = raw
        self.writers[space][address: address + raw.size] = self.current

    def read(self, space: str, address: int, nbytes: int) -> np.ndarray:
        return self.view(space, address, nbytes).copy()

    def view(self, space: str, address: int, nbytes: int) -> np.ndarray:
        """The bytes themselves (valid until the next write there)."""
        return self._space(space, address, nbytes)[address: address + nbytes]

    def dram_read(self, key: str, nbytes: int, offset: int = 0) -> tuple[np.ndarray, bool]:
        """``nbytes`` of DRAM copy ``key`` from ``offset``; False (and poison) where it holds none."""
        data = self.dram.get(key)
        if data is None or offset + nbytes > data.size:
            return np.full(nbytes, POISON, np.uint8), False
        return data[offset: offset + nbytes].copy(), True


# ---- the weight store --------------------------------------------------------------------
@dataclass(frozen=True)
class WeightImage:
    """One layer's parameters packed end to end: (name, byte offset, bytes) of each, and the bytes."""

    entries: tuple[tuple[str, int, int], ...]
    raw: np.ndarray


@dataclass(frozen=True)
class WeightStore:
    values: dict  # parameter root -> float32 array, as stored (folded, quantised, decoded)
    codecs: dict  # parameter root -> Codec
    encoded: dict  # parameter root -> its bytes (uint8)

    def image(self, graph: Graph, layer: int) -> WeightImage:
        """The packed weight image of ``layer`` (parameters in ``layer_io`` order)."""
        entries, chunks, at = [], [], 0
        for p in layer_io(graph)[layer].params:
            raw = self.encoded[p]
            entries.append((p, at, raw.size))
            chunks.append(raw)
            at += raw.size
        raw = np.concatenate(chunks) if chunks else np.zeros(0, np.uint8)
        return WeightImage(tuple(entries), raw)

    def decode(self, graph: Graph, image: WeightImage, raw: np.ndarray) -> dict[str, np.ndarray]:
        """Parameter values from a layer's weight-image bytes ``raw`` (as read back from SRAM)."""
        return {p: self.codecs[p].decode(raw[at: at + n], graph.tensor[p].shape, copy=False)
                for p, at, n in image.entries}


def fold_batch_norms(graph: Graph, params: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``params`` with every batch norm folded into the convolution before it (float64 arithmetic).

    ``w' = w * g / sqrt(v + eps)`` per output channel, ``b' = (b - m) * g / sqrt(v + eps) + beta``;
    a convolution that had no bias gets ``<module>.folded_bias`` (``b = 0``).
    """
    out = dict(params)
    users: dict[str, int] = {}
    for op in graph.ops:
        for i in op.inputs:
            users[graph.root(i)] = users.get(graph.root(i), 0) + 1
    for op in graph.ops:
        bn = op.attrs.get("folded_bn")
        if not bn:
            continue
        w_name, b_name = graph.root(op.inputs[1]), graph.root(op.inputs[2])
        if users.get(w_name, 0) > 1:
            raise ValueError(f"{op.name}: weight {w_name!r} is shared by other ops; cannot fold a batch norm into it")
        w = params[w_name].astype(np.float64)
        cout = graph.tensor[op.outputs[0]].shape[1]
        ones, zeros = np.ones(cout), np.zeros(cout)
        gamma = params[bn["weight"]].astype(np.float64) if "weight" in bn else ones
        beta = params[bn["bias"]].astype(np.float64) if "bias" in bn else zeros
        factor = gamma / np.sqrt(params[bn["var"]].astype(np.float64) + float(bn["eps"]))
        bias = zeros if op.attrs.get("folded_bias_is_new") else params[b_name].astype(np.float64)
        if op.kind == "conv2d":
            w = w * factor.reshape(-1, 1, 1, 1)
        else:  # conv_transpose2d: weight (C_in, C_out/groups, kh, kw)
            g = int(op.attrs.get("groups", 1))
            cin, og = w.shape[0], w.shape[1]
            w = (w.reshape(g, cin // g, og, *w.shape[2:]) * factor.reshape(g, 1, og, 1, 1)).reshape(w.shape)
        out[w_name] = w.astype(np.float32)
        out[b_name] = ((bias - params[bn["mean"]].astype(np.float64)) * factor + beta).astype(np.float32)
    return out


def channel_axes(graph: Graph) -> dict[str, int]:
    """Parameter -> its output-channel axis, for the weights quantised per channel: the weight of
    a ``conv2d`` (axis 0: ``(C_out, C_in/g, kh, kw)``), of an ungrouped ``conv_transpose2d``
    (axis 1: ``(C_in, C_out, kh, kw)``) and of a ``linear`` (axis 0: ``(out, in)``), read
    directly (not through a view) and by no other op. A grouped transposed convolution's output
    channel is split over two axes: its weight stays per tensor."""
    axes: dict[str, int | None] = {}
    for op in graph.ops:
        for k, name in enumerate(op.inputs):
            root = graph.root(name)
            if graph.tensor[root].kind != "param":
                continue
            axis = None
            if k == 1 and name == root:
                if op.kind in ("conv2d", "linear"):
                    axis = 0
                elif op.kind == "conv_transpose2d" and int(op.attrs.get("groups", 1)) == 1:
                    axis = 1
            axes[root] = axis if root not in axes or axes[root] == axis else None
    return {p: a for p, a in axes.items() if a is not None}


def weight_store(graph: Graph, params: dict[str, np.ndarray], bits: int, per_channel: bool = True,
                 bias_bits: int = 32) -> WeightStore:
    """Every parameter the graph reads, folded and stored at ``bits`` (symmetric; the weights of
    :func:`channel_axes` per output channel unless ``per_channel`` is False), biases at
    ``bias_bits`` (per tensor), as the plan sizes them."""
    check_bits(bits, "weight")
    check_bits(bias_bits, "bias")
    biases = bias_params(graph)
    folded = fold_batch_norms(graph, params)
    axes = channel_axes(graph) if per_channel else {}
    values, codecs, encoded = {}, {}, {}
    for t in graph.tensors:
        if t.kind != "param" or t.view_of is not None:
            continue
        if t.name not in folded:
            raise KeyError(f"no value for parameter {t.name!r}")
        v = np.asarray(folded[t.name], np.float32).reshape(t.shape)
        width = bias_bits if t.name in biases else bits
        codec = Codec(32) if width == 32 else codec_for(width, v, None if t.name in biases else axes.get(t.name))
        codecs[t.name] = codec
        encoded[t.name] = codec.encode(v)
        values[t.name] = codec.decode(encoded[t.name], t.shape, copy=False)
    return WeightStore(values, codecs, encoded)
