"""The valid files the corpus and the fuzz tests start from: each bad case is one of them, changed.

``graph.json`` is the two-level U-Net of ``tests/graph/handmade.py``; ``all_kinds.json`` holds
one op of every kind with every attribute it takes, shapes worked out in the comments.
``spec.yaml`` (a data file beside this module) is a complete accelerator file.
"""

from __future__ import annotations

import json
from pathlib import Path

from hwsim.graph.io import graph_to_dict
from hwsim.graph.ir import Graph, Op, Tensor
from hwsim.graph.layers import group_layers
from tests.graph.handmade import two_level_u

DATA = Path(__file__).parent / "data"

# (name, kind, inputs, output shape, attrs); every op's output is the tensor of its name.
_ALL_KINDS = [
    ("c1", "conv2d", ["x", "c1.w", "c1.b"], [1, 8, 8, 8],
     {"stride": [1, 1], "padding": [1, 1], "dilation": [1, 1], "groups": 1}),
    ("bn", "batch_norm", ["c1", "bn.w", "bn.b", "bn.m", "bn.v"], [1, 8, 8, 8], {"eps": 1e-5}),
    ("t1", "conv_transpose2d", ["bn", "t1.w"], [1, 4, 16, 16],  # (8-1)*2 + 1*(2-1) + 1 = 16
     {"stride": [2, 2], "padding": [0, 0], "dilation": [1, 1], "output_padding": [0, 0], "groups": 1}),
    ("mp", "max_pool2d", ["t1"], [1, 4, 8, 8],
     {"kernel_size": [2, 2], "stride": [2, 2], "padding": [0, 0], "dilation": [1, 1], "ceil_mode": False}),
    ("ap", "avg_pool2d", ["mp"], [1, 4, 4, 4],
     {"kernel_size": [2, 2], "stride": [2, 2], "padding": [0, 0], "ceil_mode": False, "count_include_pad": True}),
    ("ub", "upsample_bilinear2d", ["ap"], [1, 4, 8, 8], {"size": [8, 8], "align_corners": False, "scales": [2.0, 2.0]}),
    ("un", "upsample_nearest2d", ["ap"], [1, 4, 8, 8], {"size": [8, 8]}),
    ("a1", "add", ["ub", "mp"], [1, 4, 8, 8], {"alpha": 1.0}),
    ("pu", "pixel_unshuffle", ["a1"], [1, 16, 4, 4], {"factor": 2}),
    ("ps", "pixel_shuffle", ["pu"], [1, 4, 8, 8], {"factor": 2}),
    ("cat", "concat", ["ps", "un"], [1, 8, 8, 8], {"axis": 1}),
    ("sl", "slice", ["cat"], [1, 4, 8, 8], {"axis": 1, "start": 0, "end": 4, "step": 1}),
    ("gp", "adaptive_avg_pool2d", ["sl"], [1, 4, 1, 1], {"output_size": [1, 1]}),
    ("uf", "unfold", ["sl"], [1, 36, 64], {"kernel_size": [3, 3], "dilation": [1, 1], "padding": [1, 1], "stride": [1, 1]}),
    ("pm", "permute", ["uf"], [1, 64, 36], {"dims": [0, 2, 1]}),
    ("ln", "linear", ["pm", "ln.w", "ln.b"], [1, 64, 16], {}),
    ("lnm", "layer_norm", ["ln", "lnm.w", "lnm.b"], [1, 64, 16], {"normalized_shape": [16], "eps": 1e-5}),
    ("ge", "gelu", ["lnm"], [1, 64, 16], {"approximate": "tanh"}),
    ("sm", "softmax", ["ge"], [1, 64, 16], {"dim": -1}),
    ("mm", "matmul", ["sm", "mm.w"], [1, 64, 8], {}),
    ("me", "mean", ["mm"], [1, 64, 1], {"dims": [2], "keepdim": True}),
    ("vn", "vector_norm", ["mm"], [1, 64, 1], {"dims": [2], "keepdim": True, "ord": 2.0}),
    ("su", "sum", ["mm"], [1, 8], {"dims": [1], "keepdim": False}),
    ("sb", "sub", ["me", "vn"], [1, 64, 1], {}),
    ("sg", "sigmoid", ["sb"], [1, 64, 1], {}),
    ("th", "tanh", ["sg"], [1, 64, 1], {}),
    ("ab", "abs", ["th"], [1, 64, 1], {}),
    ("sq", "sqrt", ["ab"], [1, 64, 1], {}),
    ("rs", "rsqrt", ["sq"], [1, 64, 1], {}),
    ("ng", "neg", ["rs"], [1, 64, 1], {}),
    ("ex", "exp", ["ng"], [1, 64, 1], {}),
    ("cl", "clamp", ["ex"], [1, 64, 1], {"min": 0.0, "max": 6.0}),
    ("si", "silu", ["cl"], [1, 64, 1], {}),
    ("hs", "hardswish", ["si"], [1, 64, 1], {}),
    ("hg", "hardsigmoid", ["hs"], [1, 64, 1], {}),
    ("lr", "leaky_relu", ["hg"], [1, 64, 1], {"negative_slope": 0.1}),
    ("pw", "pow", ["lr"], [1, 64, 1], {"exponent": 2.0}),
    ("rl", "relu", ["pw"], [1, 64, 1], {}),
    ("ml", "mul", ["rl"], [1, 64, 1], {"scalar": 0.5}),
    ("dv", "div", ["ml"], [1, 64, 1], {"scalar": 2.0, "reverse": True}),
    ("mx", "maximum", ["dv", "me"], [1, 64, 1], {}),
    ("mn", "minimum", ["mx", "vn"], [1, 64, 1], {}),
    # issue 13's kinds, after the others so that the ops above keep their JSON paths
    ("pd", "pad", ["mp"], [1, 4, 11, 9], {"pads": [0, 1, 2, 1], "mode": "reflect", "value": 0.0}),
    ("bc", "upsample_bicubic2d", ["ap"], [1, 4, 8, 8], {"size": [8, 8], "align_corners": False, "scales": [2.0, 2.0]}),
    ("am", "adaptive_max_pool2d", ["t1"], [1, 4, 3, 3], {"output_size": [3, 3]}),
    ("ga", "gather", ["sl"], [1, 2, 8, 8], {"axis": 1, "indices": [3, 0]}),
    ("gn", "group_norm", ["mp", "gn.w", "gn.b"], [1, 4, 8, 8], {"num_groups": 2, "eps": 1e-5}),
    ("pr", "prelu", ["gn", "pr.w"], [1, 4, 8, 8], {}),
    ("mi", "mish", ["pr"], [1, 4, 8, 8], {}),
    ("sp", "softplus", ["mi"], [1, 4, 8, 8], {"beta": 1.0, "threshold": 20.0}),
    ("gt", "gt", ["sp"], [1, 4, 8, 8], {"scalar": 0.5}),
    ("lt", "lt", ["sp", "mp"], [1, 4, 8, 8], {}),
    ("cge", "ge", ["sp"], [1, 4, 8, 8], {"scalar": 0.5, "reverse": True}),
    ("le", "le", ["sp", "mp"], [1, 4, 8, 8], {}),
    ("eq", "eq", ["sp", "mp"], [1, 4, 8, 8], {}),
    ("ne", "ne", ["sp", "mp"], [1, 4, 8, 8], {}),
    ("la", "logical_and", ["gt", "lt"], [1, 4, 8, 8], {}),
    ("lo", "logical_or", ["la", "cge"], [1, 4, 8, 8], {}),
    ("lx", "logical_not", ["lo"], [1, 4, 8, 8], {}),
    ("wh", "where", ["lx", "sp"], [1, 4, 8, 8], {"scalar_y": 0.0}),
    ("ax", "amax", ["wh"], [1, 1, 8, 8], {"dims": [1], "keepdim": True}),
    ("ai", "amin", ["wh"], [1, 1, 8, 8], {"dims": [1], "keepdim": True}),
    ("fl", "flip", ["ax"], [1, 1, 8, 8], {"dims": [3]}),
    ("ro", "roll", ["fl"], [1, 1, 8, 8], {"dims": [3], "shifts": [2]}),
    ("sn", "sin", ["ro"], [1, 1, 8, 8], {}),
    ("cs", "cos", ["sn"], [1, 1, 8, 8], {}),
    # a host op (--fallback host): run by the host CPU, a layer of its own
    ("ho", "host", ["ro"], [1, 1, 8, 8], {"op": "aten.cumsum.default", "source": "torch", "node": "cumsum",
                                          "out_shapes": [[1, 1, 8, 8]], "ops": 64, "ops_rule": "elements"}),
]
_PARAMS = {"c1.w": [8, 4, 3, 3], "c1.b": [8], "bn.w": [8], "bn.b": [8], "bn.m": [8], "bn.v": [8],
           "t1.w": [8, 4, 2, 2], "ln.w": [16, 36], "ln.b": [16], "lnm.w": [16], "lnm.b": [16], "mm.w": [16, 8],
           "gn.w": [4], "gn.b": [4], "pr.w": [1, 4, 1, 1]}


def all_kinds_graph() -> Graph:
    tensors = [Tensor("x", (1, 4, 8, 8), "input")]
    tensors += [Tensor(name, tuple(shape), "param") for name, shape in _PARAMS.items()]
    tensors += [Tensor(name, tuple(shape), "activation") for name, _, _, shape, _ in _ALL_KINDS]
    ops = tuple(Op(name, kind, tuple(ins), (name,), attrs) for name, kind, ins, _, attrs in _ALL_KINDS)
    layers = group_layers(ops, tensors)
    return Graph("all_kinds", tuple(tensors), ops, layers, ("x",), ("gp", "su", "mn"))


def base_dict(name: str) -> dict:
    """The JSON object of base graph ``name`` (``graph.json`` or ``all_kinds.json``)."""
    if name == "graph.json":
        return two_level_u().dict()
    if name == "all_kinds.json":
        return json.loads(json.dumps(graph_to_dict(all_kinds_graph())))
    raise KeyError(f"no base graph {name!r}")


def base_text(name: str) -> str:
    """The text of a base file: a base graph's JSON, or a data file (``spec.yaml``)."""
    if name.endswith(".json"):
        return json.dumps(base_dict(name), indent=1) + "\n"
    return (DATA / name).read_text(encoding="utf-8")
