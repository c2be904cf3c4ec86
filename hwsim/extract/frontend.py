"""What the file front ends (ONNX, TFLite) share: the result, bit-widths, padding, errors.

A front end reads a deployment file and writes IR ops through the same
:class:`~hwsim.extract.builder.GraphBuilder` as the PyTorch front end, so the layer
grouping, skip tensors and M_sc follow one rule whatever the source (DESIGN.md, "Layer").

Bit-widths: a quantised file says how many bits each tensor is stored with (the zero
point's type of a QuantizeLinear/QLinearConv in ONNX, the tensor type in TFLite). The graph
of a quantised file carries them (``Tensor.bits``), the ``extract`` command reports them,
and ``hwsim run`` sizes tensors at them unless the spec says ``datatype.widths: spec``
(:mod:`hwsim.graph.widths`); a float file's graph carries none (the spec decides).

Padding: the IR's convolution and pooling take one symmetric padding per axis, as
PyTorch does. An explicit zero Pad before a convolution is folded into it (as Vela and
ONNX Runtime fold it), and asymmetric padding (TensorFlow's SAME with a stride, which puts
the extra row at the bottom) becomes the symmetric padding that gives the same output
size, so MACs and shapes are exact; the one-row shift it makes in the data matters only
to a numerics check, which hwsim runs on PyTorch and ONNX models whose padding is
symmetric.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from hwsim.errors import UserError
from hwsim.extract.aten_table import Unsupported
from hwsim.extract.builder import GraphBuilder
from hwsim.graph.ir import Graph

MAX_NAMES = 8
"""Node names listed per unsupported op type in the error (the count of the rest follows)."""


@dataclass(frozen=True)
class Imported:
    """A graph read from a file, with the bit-widths the file stores its tensors with.

    ``bits``: root tensor name -> bits, for every tensor of the graph (32 for float).
    ``quantised``: whether the file carries quantisation (QDQ, QLinear ops, int types)."""

    graph: Graph
    source: str  # "onnx" | "tflite"
    bits: dict[str, int] = field(default_factory=dict)
    quantised: bool = False
    values_from: dict[str, str] = field(default_factory=dict)
    """IR tensor -> the file's value that holds its value, where the names differ (a folded bias
    or batch norm, a tensor hwsim named); every other tensor holds the file's value of its name."""
    inexact: tuple[str, ...] = ()
    """Nodes whose IR form computes something other than the file (asymmetric padding made
    symmetric ...): same shapes and MACs, other numbers; the numerics check refuses them."""

    def bits_by_role(self) -> dict[str, Counter]:
        """Counter(bits -> tensors) of the graph's stored tensors by role: "input", "activation"
        (tensors some layer writes), "weight" (parameters of rank >= 2), "bias" (rank <= 1)."""
        from hwsim.graph.analysis import layer_io

        g = self.graph
        written = {t for io in layer_io(g) for t in io.writes}
        out: dict[str, Counter] = {}
        for t in g.tensors:
            if t.view_of is not None:
                continue
            if t.kind == "param":
                role = "weight" if len(t.shape) >= 2 else "bias"
            elif t.kind == "activation" and t.name not in written:
                continue  # inside a layer: never stored
            else:
                role = t.kind
            out.setdefault(role, Counter())[self.bits.get(t.name, 32)] += 1
        return out

    def report_lines(self) -> list[str]:
        """What ``hwsim extract`` says about the file's bit-widths (one line each)."""
        if not self.quantised:
            return [f"{self.source}: float model; hwsim run sizes tensors by the spec's datatype bit-widths"]
        by_role = self.bits_by_role()

        def show(role: str) -> str:
            c = by_role.get(role, Counter())
            return ", ".join(f"{n} at {b} bits" for b, n in sorted(c.items())) or "none"

        lines = [f"{self.source}: quantised model: stored activations {show('activation')}; input {show('input')}; "
                 f"weights {show('weight')}; biases and per-channel vectors {show('bias')}"]
        from hwsim.graph.widths import graph_widths

        try:
            widths = graph_widths(self.graph)
        except UserError as err:
            lines.append(f"{self.source}: {err.what}")
            return lines
        shown = ", ".join(f"{role} {widths[role]}" for role in ("activation", "weight", "bias") if role in widths)
        lines.append(f"{self.source}: the graph carries these widths; hwsim run sizes tensors at them ({shown} bits) "
                     "unless the spec says datatype.widths: spec (a rank-1 parameter that is no convolution's or "
                     "linear layer's bias is sized as a weight)")
        return lines


def unsupported_error(unsupported: dict[str, list[str]], where: str, fallback: str = "none") -> UserError:
    """One error listing every unsupported op type with the nodes it occurs at (suggesting
    ``--fallback host`` unless it was given: then these are ops that could not be host ops)."""
    parts = []
    for target, names in unsupported.items():
        shown = ", ".join(n or "<unnamed>" for n in names[:MAX_NAMES])
        more = f" and {len(names) - MAX_NAMES} more" if len(names) > MAX_NAMES else ""
        parts.append(f"{target} at {shown}{more}")
    total = sum(len(v) for v in unsupported.values())
    from hwsim.extract.fallback import suggestion

    return UserError(f"{total} unsupported op(s) of {len(unsupported)} kind(s): {'; '.join(parts)}"
                     f"{suggestion(fallback)}", where)


@dataclass(frozen=True)
class PendingPad:
    """A zero Pad's output, waiting for the convolution or pooling that absorbs it.

    ``pads``: (top, left, bottom, right) rows and columns added to ``source`` (an IR tensor)."""

    source: str
    pads: tuple[int, int, int, int]
    node: str


def conv_out(size: int, k: int, s: int, lo: int, hi: int, d: int = 1) -> int:
    return (size + lo + hi - d * (k - 1) - 1) // s + 1


def symmetric_padding(size: int, k: int, s: int, lo: int, hi: int, d: int = 1) -> int:
    """The symmetric padding giving the same output size as ``lo`` before and ``hi`` after.

    Equal sides: that padding. Otherwise the larger side, when it gives the same output
    size (TensorFlow's SAME with stride > 1 puts the odd row after); else Unsupported."""
    if lo == hi:
        return lo
    want = conv_out(size, k, s, lo, hi, d)
    for p in (max(lo, hi), min(lo, hi)):
        if conv_out(size, k, s, p, p, d) == want:
            return p
    raise Unsupported(f"asymmetric padding ({lo} before, {hi} after) that no symmetric padding reproduces")


def same_padding(size: int, k: int, s: int, d: int = 1) -> tuple[int, int]:
    """TensorFlow / ONNX SAME_UPPER padding: (before, after), the odd one after."""
    out = -(-size // s)
    total = max((out - 1) * s + d * (k - 1) + 1 - size, 0)
    return total // 2, total - total // 2


def depth_to_space_dcr(b: GraphBuilder, name: str, x: str, r: int, module: str) -> str:
    """DepthToSpace in DCR order (TensorFlow's): out[c, h*r+i, w*r+j] = in[(i*r+j)*C + c, h, w].

    Not PyTorch's pixel shuffle (CRD, channel c*r*r + i*r + j): it is written as its
    definition, a view (N, r, r, C, H, W), a permute (0, 3, 4, 1, 5, 2) and a view back."""
    n, c, h, w = b.tensors[x].shape
    if c % (r * r):
        raise Unsupported(f"DepthToSpace: {c} channels not divisible by {r * r}")
    cc = c // (r * r)
    v = b.view(f"{name}/blocks", x, (n, r, r, cc, h, w))
    moved = b.emit(f"{name}/permute", "permute", [v], {"dims": [0, 3, 4, 1, 5, 2]}, module,
                   [(n, cc, h, r, w, r)])[0]
    return b.view(name, moved, (n, cc, h * r, w * r))


def space_to_depth_dcr(b: GraphBuilder, name: str, x: str, r: int, module: str) -> str:
    """SpaceToDepth (ONNX's and TensorFlow's): out[(i*r+j)*C + c, h, w] = in[c, h*r+i, w*r+j].

    Not PyTorch's pixel unshuffle (channel c*r*r + i*r + j): a view (N, C, H/r, r, W/r, r),
    a permute (0, 3, 5, 1, 2, 4) and a view back."""
    n, c, h, w = b.tensors[x].shape
    if h % r or w % r:
        raise Unsupported(f"SpaceToDepth: {h}x{w} not divisible by {r}")
    v = b.view(f"{name}/blocks", x, (n, c, h // r, r, w // r, r))
    moved = b.emit(f"{name}/permute", "permute", [v], {"dims": [0, 3, 5, 1, 2, 4]}, module,
                   [(n, r, r, c, h // r, w // r)])[0]
    return b.view(name, moved, (n, c * r * r, h // r, w // r))


def fold_batch_norm(b: GraphBuilder, x: str, stats: dict, module: str) -> bool:
    """Fold a batch norm reading ``x`` into the convolution that produced it, as the PyTorch
    front end does (``aten_eltwise._fold``): True when folded (x had that one reader)."""
    conv = b.producer.get(x)
    if conv is None or conv.kind not in ("conv2d", "conv_transpose2d") or conv.outputs != [x] \
            or b.users.get(x, 0) != 1:
        return False
    cout = b.tensors[x].shape[1]
    if len(conv.inputs) == 2:
        conv.inputs.append(b.add_tensor(f"{conv.module or conv.name}.folded_bias", (cout,), "param"))
        conv.attrs["folded_bias_is_new"] = True
    conv.attrs["folded_bn"] = {k: v for k, v in stats.items() if v is not None}
    conv.attrs["folded_bn_module"] = module
    return True
