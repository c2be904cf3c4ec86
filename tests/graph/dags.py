"""Graphs with more than one topological order of layers, for the order tests (no torch).

Every op is its own layer (``fuse="none"``), so layer ``i`` is op ``i`` and every figure below
can be worked out op by op. Feature maps are 2x2 or 8x8; at 8 bits a C-channel map takes
4 C or 64 C bytes.
"""

from __future__ import annotations

from hypothesis import strategies as st

from hwsim.graph.ir import Graph
from tests.graph.handmade import Net


def two_branches() -> Graph:
    """r = conv(x) feeds two branches, each a 16-channel map reduced to 1 channel, joined by an add.

    Layers (graph order): 0 r (256 B), 1 a1 (1024 B), 2 b1 (1024 B), 3 a2 (64 B), 4 b2 (64 B),
    5 j = a2 + b2 (64 B, the output). Running both wide maps before either reduction (the
    graph's order) holds r, a1 and b1 at b1's step: 2304 B. Finishing a branch first holds at
    most r, a1 and a2 (or r, a2 and b1): 1344 B, the lowest any order can do (the first wide
    map runs while r waits for the other branch; next comes either its reduction, 1344 B, or
    the other wide map, 2304 B).
    """
    return (Net("branches").input("x", 1, 4, 8, 8)
            .conv("r", "x", 4).conv("a1", "r", 16).conv("b1", "r", 16)
            .conv("a2", "a1", 1).conv("b2", "b1", 1).binary("j", "add", "a2", "b2")
            .build(fuse="none"))


@st.composite
def random_graphs(draw, min_layers: int = 2, max_layers: int = 12, reach: int = 4) -> Graph:
    """A random graph of 1x1 convolutions, adds, concatenations and channel slices of 2x2 maps,
    each op reading among the ``reach`` latest tensors (so that the orders stay countable);
    every tensor nobody reads is a graph output."""
    layers = draw(st.integers(min_layers, max_layers))
    net = Net("random").input("x", 1, draw(st.integers(1, 4)), 2, 2)
    names = ["x"]
    for i in range(layers):
        pick = st.sampled_from(names[-reach:])
        kind = draw(st.sampled_from(("conv", "conv", "add", "cat", "slice")))
        a, b = draw(pick), draw(pick)
        channels_a, channels_b = net.tensors[a][1], net.tensors[b][1]
        name = f"t{i}"
        if kind == "add" and a != b and channels_a == channels_b:
            net.binary(name, "add", a, b)
        elif kind == "cat" and a != b:
            net.cat(name, a, b)
        elif kind == "slice" and channels_a > 1:
            start = draw(st.integers(0, channels_a - 2))
            end = draw(st.integers(start + 1, channels_a))
            net.op(name, "slice", [a], (1, end - start, 2, 2), axis=1, start=start, end=end)
        else:
            net.conv(name, a, draw(st.integers(1, 8)))
        names.append(name)
    read = {i for op in net.ops for i in op["inputs"]}
    return net.build([n for n in names[1:] if n not in read], fuse="none")
