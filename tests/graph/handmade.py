"""Small graphs written by hand for tests (no torch): a chain of calls builds the JSON object."""

from __future__ import annotations

from hwsim.graph.io import graph_from_dict
from hwsim.graph.ir import Graph, Layer, Op, Tensor
from hwsim.graph.layers import group_layers


class Net:
    """``Net().input('x', 1, 4, 8, 8).conv('a', 'x', 8).add('b', 'a', 'x')...``; shapes worked out here by hand."""

    def __init__(self, name: str = "hand"):
        self.name = name
        self.tensors: dict[str, list] = {}
        self.kinds: dict[str, str] = {}
        self.ops: list[dict] = []
        self.inputs: list[str] = []

    def _t(self, name, shape, kind="activation"):
        self.tensors[name] = list(shape)
        self.kinds[name] = kind
        return self

    def input(self, name, *shape):
        self.inputs.append(name)
        return self._t(name, shape, "input")

    def op(self, name, kind, inputs, shape, **attrs):
        self.ops.append({"name": name, "kind": kind, "inputs": list(inputs), "outputs": [name], "attrs": attrs})
        return self._t(name, shape)

    def conv(self, name, x, cout, k=1, stride=1, groups=1, bias=True):
        n, c, h, w = self.tensors[x]
        pad = k // 2
        self._t(f"{name}.w", (cout, c // groups, k, k), "param")
        ins = [x, f"{name}.w"] + ([f"{name}.b"] if bias else [])
        if bias:
            self._t(f"{name}.b", (cout,), "param")
        oh, ow = (h + 2 * pad - k) // stride + 1, (w + 2 * pad - k) // stride + 1
        return self.op(name, "conv2d", ins, (n, cout, oh, ow), stride=[stride, stride], padding=[pad, pad],
                       dilation=[1, 1], groups=groups)

    def pool(self, name, x, k=2):
        n, c, h, w = self.tensors[x]
        return self.op(name, "max_pool2d", [x], (n, c, h // k, w // k), kernel_size=[k, k], stride=[k, k])

    def gap(self, name, x):
        n, c, _, _ = self.tensors[x]
        return self.op(name, "adaptive_avg_pool2d", [x], (n, c, 1, 1), output_size=[1, 1])

    def up(self, name, x, f=2):
        n, c, h, w = self.tensors[x]
        return self.op(name, "upsample_nearest2d", [x], (n, c, h * f, w * f), size=[h * f, w * f])

    def binary(self, name, kind, a, b):
        sa, sb = self.tensors[a], self.tensors[b]
        shape = [max(x, y) for x, y in zip(sa, sb)]
        return self.op(name, kind, [a, b], shape)

    def relu(self, name, x):
        return self.op(name, "relu", [x], self.tensors[x])

    def cat(self, name, *xs):
        shape = list(self.tensors[xs[0]])
        shape[1] = sum(self.tensors[x][1] for x in xs)
        return self.op(name, "concat", xs, shape, axis=1)

    def dict(self, outputs=None, fuse="elementwise") -> dict:
        outputs = outputs or [self.ops[-1]["name"]]
        g = self.graph(outputs, fuse)
        return {
            "schema_version": 1, "name": self.name, "fuse": fuse, "inputs": self.inputs, "outputs": outputs,
            "tensors": [{"name": n, "shape": s, "kind": self.kinds[n]} for n, s in self.tensors.items()],
            "ops": self.ops,
            "layers": [{"name": la.name, "ops": list(la.ops)} for la in g.layers],
        }

    def graph(self, outputs=None, fuse="elementwise") -> Graph:
        outputs = outputs or [self.ops[-1]["name"]]
        tensors = tuple(Tensor(n, tuple(s), self.kinds[n]) for n, s in self.tensors.items())
        ops = tuple(Op(o["name"], o["kind"], tuple(o["inputs"]), tuple(o["outputs"]), o["attrs"]) for o in self.ops)
        layers = group_layers(ops, tensors, fuse)
        return Graph(self.name, tensors, ops, layers, tuple(self.inputs), tuple(outputs), fuse)

    def build(self, outputs=None, fuse="elementwise") -> Graph:
        """Through JSON and the validator, as a user's hand-written file would go."""
        return graph_from_dict(self.dict(outputs, fuse), "hand.json")


def two_level_u() -> Net:
    """x(4@16x16) -> e1(8@16) -> p1 -> e2(16@8) -> p2 -> m(16@4) -> up -> +e2 -> d2 -> up -> +e1 -> d1."""
    return (Net("u2").input("x", 1, 4, 16, 16)
            .conv("e1", "x", 8, k=3).pool("p1", "e1")
            .conv("e2", "p1", 16, k=3).pool("p2", "e2")
            .conv("m", "p2", 16, k=3).up("u2", "m").binary("s2", "add", "u2", "e2").conv("d2", "s2", 8, k=3)
            .up("u1", "d2").binary("s1", "add", "u1", "e1").conv("d1", "s1", 4, k=3))


def attention_block() -> Net:
    """A residual block with a global-pooling channel attention (NAFNet's SCA): no skip tensor."""
    return (Net("sca").input("x", 1, 8, 16, 16)
            .conv("a", "x", 8, k=3).relu("r", "a")
            .gap("g", "r").conv("c", "g", 8)
            .binary("m", "mul", "r", "c").conv("o", "m", 8).binary("res", "add", "o", "a"))
