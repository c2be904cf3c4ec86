"""The calibration networks, written once as a list of nodes and built twice: as a Keras model
(for TFLite int8 and Vela) and as a PyTorch module (for hwsim). Same shapes, same ops.

A node is ``(name, op, inputs, params)``; ``op`` is one of ``conv`` (params: cout, k, stride,
relu), ``dw`` (depthwise: k, stride, relu), ``pool`` (2x2 max), ``up`` (2x nearest),
``tconv`` (transposed conv: cout, k = 2, stride 2), ``concat`` (channels), ``add``. The first
node's input is ``x`` (64 x 64 x 3). Neither framework is imported here.
"""

from __future__ import annotations

SIZE = 64


def _conv(name, x, cout, k=3, stride=1, relu=True):
    return (name, "conv", [x], {"cout": cout, "k": k, "stride": stride, "relu": relu})


def _dw(name, x, k=3, stride=1, relu=True):
    return (name, "dw", [x], {"k": k, "stride": stride, "relu": relu})


def unet_plain() -> list:
    """A plain 3-level U-Net: 3x3 convs, max pooling, nearest upsampling, concatenations."""
    return [
        _conv("e1a", "x", 16), _conv("e1b", "e1a", 16), ("p1", "pool", ["e1b"], {}),
        _conv("e2a", "p1", 32), _conv("e2b", "e2a", 32), ("p2", "pool", ["e2b"], {}),
        _conv("e3a", "p2", 64), _conv("e3b", "e3a", 64),
        ("u2", "up", ["e3b"], {}), ("c2", "concat", ["u2", "e2b"], {}),
        _conv("d2a", "c2", 32), _conv("d2b", "d2a", 32),
        ("u1", "up", ["d2b"], {}), ("c1", "concat", ["u1", "e1b"], {}),
        _conv("d1a", "c1", 16), _conv("d1b", "d1a", 16), _conv("out", "d1b", 3, k=1, relu=False),
    ]


def _inverted_residual(prefix, x, c, expand=4, residual=True, stride=1, cout=None):
    cout = cout or c
    nodes = [_conv(f"{prefix}x", x, c * expand, k=1), _dw(f"{prefix}d", f"{prefix}x", stride=stride),
             _conv(f"{prefix}p", f"{prefix}d", cout, k=1, relu=False)]
    if residual:
        nodes.append((f"{prefix}a", "add", [f"{prefix}p", x], {}))
    return nodes, nodes[-1][0]


def inverted_residual() -> list:
    """A depthwise-heavy U-Net of MobileNetV2 inverted-residual blocks (1x1 expand, 3x3
    depthwise, 1x1 project, residual add), downsampling by strided depthwise convolutions,
    upsampling by nearest neighbour with concatenated skips."""
    nodes = [_conv("stem", "x", 16)]
    b1, t = _inverted_residual("b1", "stem", 16)
    b2, t1 = _inverted_residual("b2", t, 16)
    b3, t = _inverted_residual("b3", t1, 16, residual=False, stride=2, cout=32)
    b4, t = _inverted_residual("b4", t, 32)
    b5, t2 = _inverted_residual("b5", t, 32)
    b6, t = _inverted_residual("b6", t2, 32, residual=False, stride=2, cout=64)
    b7, t = _inverted_residual("b7", t, 64)
    nodes += b1 + b2 + b3 + b4 + b5 + b6 + b7
    nodes += [("u2", "up", [t], {}), ("c2", "concat", ["u2", t2], {}), _conv("d2", "c2", 32, k=1)]
    b8, t = _inverted_residual("b8", "d2", 32)
    nodes += b8 + [("u1", "up", [t], {}), ("c1", "concat", ["u1", t1], {}), _conv("d1", "c1", 16, k=1)]
    b9, t = _inverted_residual("b9", "d1", 16)
    return nodes + b9 + [_conv("out", t, 3, k=1, relu=False)]


def tconv_unet() -> list:
    """A U-Net that upsamples with 2x2 stride-2 transposed convolutions and concatenates skips."""
    return [
        _conv("e1a", "x", 16), _conv("e1b", "e1a", 16), ("p1", "pool", ["e1b"], {}),
        _conv("e2a", "p1", 32), _conv("e2b", "e2a", 32), ("p2", "pool", ["e2b"], {}),
        _conv("e3a", "p2", 64), _conv("e3b", "e3a", 64),
        ("t2", "tconv", ["e3b"], {"cout": 32}), ("c2", "concat", ["t2", "e2b"], {}),
        _conv("d2a", "c2", 32), _conv("d2b", "d2a", 32),
        ("t1", "tconv", ["d2b"], {"cout": 16}), ("c1", "concat", ["t1", "e1b"], {}),
        _conv("d1a", "c1", 16), _conv("d1b", "d1a", 16), _conv("out", "d1b", 3, k=1, relu=False),
    ]


NETS = {"unet_plain": unet_plain, "inverted_residual": inverted_residual, "tconv_unet": tconv_unet}


def channels(nodes: list) -> dict[str, int]:
    """Output channels of every node (``x`` has 3)."""
    c = {"x": 3}
    for name, op, ins, p in nodes:
        if op in ("conv", "tconv"):
            c[name] = p["cout"]
        elif op == "concat":
            c[name] = sum(c[i] for i in ins)
        else:
            c[name] = c[ins[0]]
    return c


def keras_model(nodes: list):
    """The network as a Keras functional model (NHWC, float32)."""
    import tensorflow as tf
    L = tf.keras.layers
    x = tf.keras.Input((SIZE, SIZE, 3), batch_size=1)
    t = {"x": x}
    for name, op, ins, p in nodes:
        a = [t[i] for i in ins]
        act = "relu" if p.get("relu") else None
        if op == "conv":
            t[name] = L.Conv2D(p["cout"], p["k"], strides=p["stride"], padding="same", activation=act, name=name)(a[0])
        elif op == "dw":
            t[name] = L.DepthwiseConv2D(p["k"], strides=p["stride"], padding="same", activation=act, name=name)(a[0])
        elif op == "pool":
            t[name] = L.MaxPooling2D(2, name=name)(a[0])
        elif op == "up":  # RESIZE_NEAREST_NEIGHBOR (UpSampling2D would lower to Tile copies)
            h, w = a[0].shape[1], a[0].shape[2]
            t[name] = L.Resizing(2 * h, 2 * w, interpolation="nearest", name=name)(a[0])
        elif op == "tconv":
            t[name] = L.Conv2DTranspose(p["cout"], 2, strides=2, padding="same", name=name)(a[0])
        elif op == "concat":
            t[name] = L.Concatenate(axis=-1, name=name)(a)
        elif op == "add":
            t[name] = L.Add(name=name)(a)
    return tf.keras.Model(x, t[nodes[-1][0]])


def torch_model(nodes: list):
    """The network as a PyTorch module (NCHW), the same ops with PyTorch's padding."""
    import torch
    from torch import nn
    c = channels(nodes)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.nodes = nodes
            mods = {}
            for name, op, ins, p in nodes:
                if op == "conv":
                    mods[name] = nn.Conv2d(c[ins[0]], p["cout"], p["k"], p["stride"], p["k"] // 2)
                elif op == "dw":
                    mods[name] = nn.Conv2d(c[ins[0]], c[ins[0]], p["k"], p["stride"], p["k"] // 2, groups=c[ins[0]])
                elif op == "tconv":
                    mods[name] = nn.ConvTranspose2d(c[ins[0]], p["cout"], 2, 2)
            self.mods = nn.ModuleDict(mods)

        def forward(self, x):
            t = {"x": x}
            for name, op, ins, p in self.nodes:
                a = [t[i] for i in ins]
                if op in ("conv", "dw", "tconv"):
                    y = self.mods[name](a[0])
                    t[name] = torch.relu(y) if p.get("relu") else y
                elif op == "pool":
                    t[name] = nn.functional.max_pool2d(a[0], 2)
                elif op == "up":
                    t[name] = nn.functional.interpolate(a[0], scale_factor=2, mode="nearest")
                elif op == "concat":
                    t[name] = torch.cat(a, dim=1)
                elif op == "add":
                    t[name] = a[0] + a[1]
            return t[self.nodes[-1][0]]

    return Net().eval()
