"""Specs and small graphs for the scheduler tests (no torch); every size is worked out by hand."""

from __future__ import annotations

from collections import Counter

from hwsim.schedule.plan import Plan
from hwsim.spec.model import (
    AcceleratorSpec, ArraySpec, ComputeSpec, DatatypeSpec, DramSpec, EnergySpec, PolicySpec, SramSpec,
)
from tests.graph.handmade import Net


def make_spec(sram: int = 1 << 20, align: int = 1, weights: str = "separate", weight_buffer: int = 1 << 20,
              spill: str = "belady", prefetch: int = 1, concat: str = "inplace", array: ArraySpec | None = None,
              macs_per_cycle: int = 1024, vector_ops_per_cycle: int = 256, bits: int = 8,
              weight_bits: int = 8, execution: str = "layer", bias_bits: int | None = None) -> AcceleratorSpec:
    """A 1 GHz accelerator; by default weights live in a 1 MiB buffer of their own, so that
    activation SRAM figures can be worked out without them. Biases are at ``weight_bits``
    unless ``bias_bits`` is given (the hand-worked figures of these tests count every
    parameter at one width; ``test_bias_bytes.py`` works out the 32-bit default)."""
    return AcceleratorSpec(
        name="test-npu", clock_hz=10**9,
        compute=ComputeSpec(macs_per_cycle, vector_ops_per_cycle, array),
        sram=SramSpec(sram, align, weights, weight_buffer if weights == "separate" else 0),
        dram=DramSpec(16 * 10**9, 1e-7, 1),
        datatype=DatatypeSpec(bits, weight_bits, weight_bits if bias_bits is None else bias_bits),
        policy=PolicySpec("graph", spill, prefetch, concat, execution),
        energy=EnergySpec(1.0, 0.5, 10.0, 0.25),
    )


def ancestors(plan: Plan, cid: int) -> set[int]:
    """Every command command ``cid`` depends on, directly or not."""
    seen, stack = set(), [cid]
    while stack:
        for d in plan.commands[stack.pop()].deps:
            if d not in seen:
                seen.add(d)
                stack.append(d)
    return seen


def traffic(plan: Plan) -> dict[str, int]:
    """DRAM bytes by traffic kind (a streamed layer's tiles: what its run moves)."""
    found: Counter = Counter()
    for c in plan.commands:
        for _, kind, nbytes in c.run.moves() if c.run else ():
            found[kind] += nbytes
        if c.traffic:
            found[c.traffic] += c.dram_bytes
    return dict(found)


def moved(plan: Plan, kind: str) -> list[str]:
    """Tensors moved with traffic ``kind``, in program order."""
    return [c.tensor for c in plan.commands if c.traffic == kind]


def chain(channels: int = 4, size: int = 4, layers: int = 3) -> Net:
    """x -> l0 -> l1 -> l2: 1x1 convolutions, every activation channels x size x size bytes."""
    net = Net("chain").input("x", 1, channels, size, size)
    previous = "x"
    for i in range(layers):
        net.conv(f"l{i}", previous, channels)
        previous = f"l{i}"
    return net


def u_one_skip() -> Net:
    """A U with one skip tensor ``e`` (16 B), waiting while the middle works at 2x2::

        L0 e = conv(x) 1->1 @4x4 16 B      L3 n = conv(m) 8->1 @2x2 4 B
        L1 p = maxpool(e)  @2x2   4 B      L4 s = up(n) + e  @4x4  16 B
        L2 m = conv(p) 1->8 @2x2 32 B      L5 d = conv(s) 1->1 @4x4 16 B (output)
    """
    return (Net("u1").input("x", 1, 1, 4, 4)
            .conv("e", "x", 1).pool("p", "e").conv("m", "p", 8).conv("n", "m", 1)
            .up("u", "n").binary("s", "add", "u", "e").conv("d", "s", 1))


def two_waits() -> Net:
    """B (8 B, produced first, needed at L3) and A (16 B, produced later, needed at L4) wait
    while C is computed: Belady and LRU choose different victims::

        L0 B = conv(x) 1->2   L2 C = conv(x) 1->2        L4 F = conv(A) 4->2 + E (output)
        L1 A = conv(x) 1->4   L3 E = conv(C) 2->2 + B
    """
    return (Net("waits").input("x", 1, 1, 2, 2)
            .conv("B", "x", 2).conv("A", "x", 4).conv("C", "x", 2)
            .conv("Ec", "C", 2).binary("E", "add", "Ec", "B")
            .conv("Fc", "A", 2).binary("F", "add", "Fc", "E"))


def diamond() -> Net:
    """x -> a; a -> b; a -> (conv + b) = d: at L2 a, b and d are live together (96 B)."""
    return (Net("diamond").input("x", 1, 2, 4, 4)
            .conv("a", "x", 2).conv("b", "a", 2).conv("c", "a", 2).binary("d", "add", "c", "b"))


def concat_wait() -> Net:
    """a and b are concatenated; a waits (and is spilled at 48 B) while y is computed::

        L0 a = conv(x) 4->2 @2x2 8 B     L3 cat = concat(a, b) 16 B
        L1 y = conv(x) 4->8      32 B    L4 d = conv(cat) 4->2  8 B (output)
        L2 b = conv(y) 8->2       8 B
    """
    return (Net("catwait").input("x", 1, 4, 2, 2)
            .conv("a", "x", 2).conv("y", "x", 8).conv("b", "y", 2).cat("cat", "a", "b").conv("d", "cat", 2))
