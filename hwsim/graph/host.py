"""Host ops: what the accelerator cannot run, run by the host CPU instead (``--fallback host``).

An op that no front end can map onto an accelerator op (``torch.cumsum``, ``sort``, an
ONNX ``CumSum``, a TFLite ``CUSTOM`` op ...) becomes, with ``hwsim extract --fallback host``,
one op of kind ``host``: a layer of its own (never fused with the element-wise ops around
it, never in a cascade, never streamed in bands), as Arm's Vela leaves an operator it
cannot place on the Ethos-U NPU to the Cortex-M CPU: it prints "<op> '<name>' is not
supported on the NPU. Placing on CPU instead" with the constraint that failed, splits the
network into NPU subgraphs (each one command stream) with the CPU operators between them, and
its network summary counts them ("CPU operators = N (p%)") and, verbose, lists each by name
with its output shape. hwsim keeps one schedule and puts the host op
between two layers of it: the accelerator stores the host op's inputs to DRAM, waits while
the host runs, and reads the outputs back from DRAM when a later layer needs them
(``hwsim.schedule.scheduler``). What else the SRAM holds stays there (Vela, which compiles
each NPU subgraph on its own, writes every tensor crossing a CPU op to memory; on a
U-Net that is every skip tensor live at the time, so hwsim's figure is the lower one).

Attributes (every one is data, so a graph file round-trips):

* ``op``: the original op, as its front end names it (``aten.cumsum.default``, ONNX
  ``CumSum``, TFLite ``CUMSUM``), and ``reason`` (why it was not mapped, when a converter
  refused a form of a known op);
* ``source``: ``torch`` | ``onnx`` | ``tflite``; ``node``: the fx node or file node name;
  the op's ``module`` holds the nn.Module path (PyTorch) or the node's name (files);
* ``out_shapes``: the output shapes, as the front end's shape inference gives them (no rule
  of hwsim's can infer the shape of an op it does not know);
* ``ops`` and ``ops_rule``: the host operations the op performs, the figure the spec's
  ``host.ops_per_second`` divides (:func:`host_ops`).

What "ops" means (stated in every report that shows host time): where PyTorch's
``FlopCounterMode`` has a formula for the ATen op, its flop count (``ops_rule``
``flop_counter``); otherwise one operation per element read or written, the larger of the
input activations' and the outputs' element counts (``ops_rule`` ``elements``): a lower
bound for every op that touches its data once, and an underestimate for a sort (n log n
comparisons). Vela reports no time for CPU operators at all (its performance estimate
covers the NPU's command streams only); hwsim charges ``host.per_op + ops /
host.ops_per_second`` and reports each host op's time and DRAM bytes beside the rest.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

HOST = "host"
SOURCES = ("torch", "onnx", "tflite")
OPS_RULES = ("flop_counter", "elements")
MAX_OUTPUTS = 64


def out_shapes_rule(v: Any) -> str | None:
    """A list of 1 to 64 shapes, each a list of 0 to 8 integers from 1 to 2^31 - 1."""
    ok = isinstance(v, (list, tuple)) and 1 <= len(v) <= MAX_OUTPUTS and all(
        isinstance(s, (list, tuple)) and len(s) <= 8
        and all(isinstance(d, int) and not isinstance(d, bool) and 1 <= d <= 2**31 - 1 for d in s) for s in v)
    return None if ok else "must be a list of 1 to 64 shapes (lists of up to 8 integers from 1 to 2147483647)"


def host_infer(ins: Sequence[tuple[int, ...]], attrs) -> list[tuple[int, ...]]:
    """The output shapes a host op declares (``out_shapes``)."""
    return [tuple(int(d) for d in s) for s in attrs["out_shapes"]]


def element_ops(in_shapes: Sequence[tuple[int, ...]], out_shapes: Sequence[tuple[int, ...]]) -> int:
    """One operation per element read or written: max(input elements, output elements)."""
    return max(sum(math.prod(s) for s in in_shapes), sum(math.prod(s) for s in out_shapes))


def host_attrs(op: str, source: str, node: str, out_shapes, ops: int, ops_rule: str,
               reason: str | None = None) -> dict[str, Any]:
    """The attributes of a host op (the module docstring)."""
    attrs = {"op": op, "source": source, "node": node, "out_shapes": [list(s) for s in out_shapes],
             "ops": int(ops), "ops_rule": ops_rule}
    if reason:
        attrs["reason"] = reason[:1024]
    return attrs


def is_host_layer(g, index: int) -> bool:
    """Whether layer ``index`` of graph ``g`` is a host op's."""
    return any(g.op[name].kind == HOST for name in g.layers[index].ops)


def host_layers(g) -> tuple[int, ...]:
    """The steps of the host layers of ``g`` (memoised)."""
    return g.memo("host_layers", lambda _: tuple(i for i in range(len(g.layers)) if is_host_layer(g, i)))
