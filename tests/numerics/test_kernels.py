"""Every numpy kernel against the torch op it stands for, on seeded random data.

Each case is (op kind, input shapes, attrs, the torch call); the case list must cover every
kind of ``OP_KINDS`` (a kind added without a kernel and a case fails here), and the output
shape must equal the op kind's shape rule.
"""

import math

import numpy as np
import pytest

from hwsim.graph.opkinds import OP_KINDS, infer_shapes
from hwsim.numerics.kernels import KERNELS, MissingKernel, run_op
from hwsim.numerics.kernels_eltwise import erf

pytestmark = pytest.mark.torch
torch = pytest.importorskip("torch")
F = torch.nn.functional


def _conv(x, w, b=None, **a):
    return F.conv2d(x, w, b, a.get("stride", 1), a.get("padding", 0), a.get("dilation", 1), a.get("groups", 1))


def _convt(x, w, b=None, **a):
    return F.conv_transpose2d(x, w, b, a.get("stride", 1), a.get("padding", 0), a.get("output_padding", 0),
                              a.get("groups", 1), a.get("dilation", 1))


def _up(mode):
    def call(x, **a):
        if "scales" in a:
            return F.interpolate(x, scale_factor=tuple(a["scales"]), mode=mode,
                                 **({} if mode == "nearest" else {"align_corners": a["align_corners"]}))
        return F.interpolate(x, size=tuple(a["size"]), mode=mode,
                             **({} if mode == "nearest" else {"align_corners": a["align_corners"]}))
    return call


def _binary(fn):
    def call(x, y=None, **a):
        other = y if y is not None else a["scalar"]
        if "alpha" in a:
            return fn(x, other, alpha=a["alpha"])
        return fn(other, x) if a.get("reverse") else fn(x, other)
    return call


def _bn(x, w, b, m, v, eps):
    return F.batch_norm(x, m, v, w, b, False, 0.0, eps)


def _norm(x, dims, keepdim, ord):
    return torch.linalg.vector_norm(x, ord, dims, keepdim)


POS = "positive"  # a trailing marker: draw this input (shape without the marker) from (0.1, 2)

CASES = [
    ("conv2d", [(2, 6, 9, 11), (4, 6, 3, 3), (4,)], {"padding": [1, 1]}, _conv),
    ("conv2d", [(1, 6, 12, 10), (6, 3, 3, 2)], {"stride": [2, 1], "padding": [2, 0], "dilation": [2, 1],
                                                "groups": 2}, _conv),
    ("conv2d", [(1, 8, 10, 10), (8, 1, 3, 3), (8,)], {"padding": [1, 1], "groups": 8}, _conv),  # depthwise
    ("conv2d", [(1, 4, 8, 8), (8, 1, 5, 5)], {"padding": [4, 4], "dilation": [2, 2], "groups": 4}, _conv),
    ("conv2d", [(1, 4, 9, 9), (6, 4, 2, 2), (6,)], {"stride": [2, 2]}, _conv),
    ("conv2d", [(2, 7, 5, 6), (9, 7, 1, 1), (9,)], {}, _conv),  # pointwise: one matrix product
    ("conv_transpose2d", [(1, 6, 5, 4), (6, 3, 2, 2), (3,)], {"stride": [2, 2]}, _convt),
    ("conv_transpose2d", [(2, 4, 5, 6), (4, 3, 3, 3)], {"stride": [2, 3], "padding": [1, 2], "output_padding": [1, 2],
                                                        "dilation": [1, 1], "groups": 2}, _convt),
    ("conv_transpose2d", [(1, 2, 4, 4), (2, 2, 3, 3), (2,)], {"dilation": [2, 2], "padding": [1, 1]}, _convt),
    ("linear", [(2, 5, 7), (3, 7), (3,)], {}, F.linear),
    ("linear", [(4, 7), (3, 7)], {}, F.linear),
    ("matmul", [(2, 1, 5, 7), (3, 7, 4)], {}, torch.matmul),
    ("unfold", [(2, 3, 7, 8)], {"kernel_size": [3, 2], "dilation": [1, 2], "padding": [1, 1], "stride": [2, 1]},
     lambda x, **a: F.unfold(x, a["kernel_size"], a["dilation"], a["padding"], a["stride"])),
    ("pixel_shuffle", [(1, 12, 3, 4)], {"factor": 2}, lambda x, factor: F.pixel_shuffle(x, factor)),
    ("pixel_unshuffle", [(1, 3, 6, 9)], {"factor": 3}, lambda x, factor: F.pixel_unshuffle(x, factor)),
    ("upsample_nearest2d", [(1, 2, 5, 7)], {"size": [10, 14], "scales": [2.0, 2.0]}, _up("nearest")),
    ("upsample_nearest2d", [(1, 2, 5, 7)], {"size": [13, 9]}, _up("nearest")),
    ("upsample_nearest2d", [(1, 2, 6, 6)], {"size": [9, 9], "scales": [1.5, 1.5]}, _up("nearest")),
    ("upsample_bilinear2d", [(1, 2, 5, 7)], {"size": [11, 12], "align_corners": False}, _up("bilinear")),
    ("upsample_bilinear2d", [(1, 2, 5, 7)], {"size": [11, 12], "align_corners": True}, _up("bilinear")),
    ("upsample_bilinear2d", [(1, 2, 5, 7)], {"size": [10, 14], "align_corners": False, "scales": [2.0, 2.0]},
     _up("bilinear")),
    ("upsample_bilinear2d", [(1, 2, 6, 6)], {"size": [4, 3], "align_corners": False}, _up("bilinear")),
    ("max_pool2d", [(1, 3, 9, 10)], {"kernel_size": [2, 2], "stride": [2, 2]},
     lambda x, **a: F.max_pool2d(x, a["kernel_size"], a["stride"])),
    ("max_pool2d", [(1, 3, 9, 10)], {"kernel_size": [3, 3], "stride": [2, 2], "padding": [1, 1],
                                     "dilation": [1, 2], "ceil_mode": True},
     lambda x, **a: F.max_pool2d(x, a["kernel_size"], a["stride"], a["padding"], a["dilation"], a["ceil_mode"])),
    ("avg_pool2d", [(1, 3, 9, 10)], {"kernel_size": [3, 3], "stride": [2, 2], "padding": [1, 1],
                                     "ceil_mode": True, "count_include_pad": True},
     lambda x, **a: F.avg_pool2d(x, a["kernel_size"], a["stride"], a["padding"], a["ceil_mode"],
                                 a["count_include_pad"])),
    ("avg_pool2d", [(1, 3, 9, 10)], {"kernel_size": [3, 2], "stride": [2, 3], "padding": [1, 1],
                                     "ceil_mode": True, "count_include_pad": False},
     lambda x, **a: F.avg_pool2d(x, a["kernel_size"], a["stride"], a["padding"], a["ceil_mode"],
                                 a["count_include_pad"])),
    ("adaptive_avg_pool2d", [(2, 3, 9, 10)], {"output_size": [1, 1]},
     lambda x, output_size: F.adaptive_avg_pool2d(x, output_size)),
    ("adaptive_avg_pool2d", [(2, 3, 9, 10)], {"output_size": [4, 3]},
     lambda x, output_size: F.adaptive_avg_pool2d(x, output_size)),
    ("concat", [(1, 2, 3, 4), (1, 5, 3, 4), (1, 1, 3, 4)], {"axis": 1}, lambda *xs, axis: torch.cat(xs, axis)),
    ("slice", [(1, 6, 5, 4)], {"axis": 2, "start": 1, "end": 4},
     lambda x, axis, start, end: x.narrow(axis, start, end - start)),
    ("relu", [(3, 4, 5)], {}, F.relu),
    ("gelu", [(3, 4, 50)], {}, F.gelu),
    ("gelu", [(3, 4, 50)], {"approximate": "tanh"}, lambda x, approximate: F.gelu(x, approximate=approximate)),
    ("sigmoid", [(3, 4, 50)], {}, torch.sigmoid),
    ("tanh", [(3, 4, 5)], {}, torch.tanh),
    ("sqrt", [(3, 4, POS)], {}, torch.sqrt),
    ("rsqrt", [(3, 4, POS)], {}, torch.rsqrt),
    ("neg", [(3, 4, 5)], {}, torch.neg),
    ("exp", [(3, 4, 5)], {}, torch.exp),
    ("sin", [(3, 4, 50)], {}, torch.sin),
    ("cos", [(3, 4, 50)], {}, torch.cos),
    ("abs", [(3, 4, 5)], {}, torch.abs),
    ("clamp", [(3, 4, 5)], {"min": -0.5, "max": 0.7}, lambda x, min, max: torch.clamp(x, min, max)),
    ("clamp", [(3, 4, 5)], {"min": 0.0, "max": None}, lambda x, min, max: torch.clamp(x, min, max)),
    ("silu", [(3, 4, 5)], {}, F.silu),
    ("hardswish", [(3, 4, 50)], {}, F.hardswish),
    ("hardsigmoid", [(3, 4, 50)], {}, F.hardsigmoid),
    ("leaky_relu", [(3, 4, 5)], {"negative_slope": 0.2}, lambda x, negative_slope: F.leaky_relu(x, negative_slope)),
    ("pow", [(3, 4, POS)], {"exponent": 2.0}, lambda x, exponent: torch.pow(x, exponent)),
    ("pow", [(3, 4, POS)], {"exponent": 0.37}, lambda x, exponent: torch.pow(x, exponent)),
    ("add", [(2, 3, 4, 5), (1, 3, 1, 1)], {}, _binary(torch.add)),
    ("add", [(2, 3, 4, 5), (5,)], {"alpha": 0.5}, _binary(torch.add)),
    ("add", [(2, 3)], {"scalar": 1e-6}, _binary(torch.add)),
    ("sub", [(2, 3, 4, 5), (2, 1, 4, 5)], {}, _binary(torch.sub)),
    ("sub", [(2, 3)], {"scalar": 1.5, "reverse": True}, _binary(torch.sub)),
    ("mul", [(2, 3, 4, 5), (2, 3, 4, 5)], {}, _binary(torch.mul)),
    ("mul", [(2, 3)], {"scalar": -2.5}, _binary(torch.mul)),
    ("div", [(2, 3, 4, 5), (1, 3, 4, 5, POS)], {}, _binary(torch.div)),
    ("div", [(2, 3)], {"scalar": 3.0}, _binary(torch.div)),
    ("maximum", [(2, 3, 4), (3, 4)], {}, _binary(torch.maximum)),
    ("minimum", [(2, 3, 4), (2, 1, 4)], {}, _binary(torch.minimum)),
    ("mean", [(2, 8, 5, 6)], {"dims": [1], "keepdim": True}, lambda x, dims, keepdim: x.mean(dims, keepdim)),
    ("mean", [(2, 8, 5, 6)], {"dims": None, "keepdim": False}, lambda x, dims, keepdim: x.mean()),
    ("sum", [(2, 8, 5, 6)], {"dims": [2, 3], "keepdim": False}, lambda x, dims, keepdim: x.sum(dims, keepdim)),
    ("vector_norm", [(2, 8, 5, 6)], {"dims": [2, 3], "keepdim": True, "ord": 2.0}, _norm),
    ("vector_norm", [(2, 8, 5, 6)], {"dims": [1], "keepdim": False, "ord": 3.0}, _norm),
    ("vector_norm", [(2, 8, 5, 6)], {"dims": None, "keepdim": False, "ord": math.inf}, _norm),
    ("softmax", [(2, 3, 7)], {"dim": -1}, lambda x, dim: torch.softmax(x, dim)),
    ("softmax", [(2, 3, 7)], {"dim": 1}, lambda x, dim: torch.softmax(x, dim)),
    ("layer_norm", [(2, 5, 6), (6,), (6,)], {"normalized_shape": [6], "eps": 1e-5},
     lambda x, w, b, normalized_shape, eps: F.layer_norm(x, normalized_shape, w, b, eps)),
    ("layer_norm", [(2, 5, 6)], {"normalized_shape": [5, 6], "eps": 1e-6},
     lambda x, normalized_shape, eps: F.layer_norm(x, normalized_shape, None, None, eps)),
    ("batch_norm", [(2, 4, 3, 3), (4,), (4,), (4,), (4, POS)], {"eps": 1e-5}, _bn),
    # issue 13's kinds
    ("pad", [(1, 2, 5, 6)], {"pads": [1, 2, 3, 0], "mode": "constant", "value": 0.5},
     lambda x, pads, mode, value: F.pad(x, pads, mode, value)),
    ("pad", [(1, 2, 5, 6)], {"pads": [-1, 2, 0, -2]}, lambda x, pads: F.pad(x, pads)),
    *[("pad", [(1, 2, 5, 6)], {"pads": [1, 2, 3, 0], "mode": m}, lambda x, pads, mode: F.pad(x, pads, mode))
      for m in ("reflect", "replicate", "circular")],
    ("pad", [(2, 3, 7)], {"pads": [2, 1], "mode": "reflect"}, lambda x, pads, mode: F.pad(x, pads, mode)),
    ("upsample_bicubic2d", [(1, 2, 5, 7)], {"size": [11, 12], "align_corners": False}, _up("bicubic")),
    ("upsample_bicubic2d", [(1, 2, 5, 7)], {"size": [11, 12], "align_corners": True}, _up("bicubic")),
    ("upsample_bicubic2d", [(1, 2, 5, 7)], {"size": [10, 14], "align_corners": False, "scales": [2.0, 2.0]},
     _up("bicubic")),
    ("upsample_bicubic2d", [(1, 2, 6, 6)], {"size": [4, 3], "align_corners": False}, _up("bicubic")),
    ("adaptive_max_pool2d", [(2, 3, 9, 10)], {"output_size": [4, 3]},
     lambda x, output_size: F.adaptive_max_pool2d(x, output_size)),
    ("adaptive_max_pool2d", [(2, 3, 9, 10)], {"output_size": [1, 1]},
     lambda x, output_size: F.adaptive_max_pool2d(x, output_size)),
    ("gather", [(2, 5, 3)], {"axis": 1, "indices": [4, 0, -1, 0]},
     lambda x, axis, indices: x.index_select(axis, torch.tensor(indices) % x.shape[axis])),
    ("group_norm", [(2, 6, 5, 4), (6,), (6,)], {"num_groups": 3, "eps": 1e-5},
     lambda x, w, b, num_groups, eps: F.group_norm(x, num_groups, w, b, eps)),
    ("group_norm", [(2, 6, 5, 4)], {"num_groups": 6, "eps": 1e-3},
     lambda x, num_groups, eps: F.group_norm(x, num_groups, None, None, eps)),
    ("prelu", [(2, 3, 4, 5), (1, 3, 1, 1)], {}, lambda x, w: F.prelu(x, w.reshape(-1))),
    ("prelu", [(2, 3, 4, 5), (1,)], {}, F.prelu),
    ("mish", [(3, 4, 50)], {}, F.mish),
    ("softplus", [(3, 4, 50)], {"beta": 2.0, "threshold": 3.0},
     lambda x, beta, threshold: F.softplus(x, beta, threshold)),
    ("softplus", [(3, 4, 50)], {}, F.softplus),
    *[(k, [(2, 3, 4), (3, 4)], {}, _binary(getattr(torch, k))) for k in ("gt", "lt", "ge", "le", "ne")],
    ("eq", [(2, 3)], {"scalar": 0.0}, lambda x, scalar: torch.eq(x, scalar)),
    ("eq", [(2, 3), (3,)], {}, lambda x, y: torch.eq(x, y)),
    ("gt", [(2, 3)], {"scalar": 0.5, "reverse": True}, lambda x, scalar, reverse: torch.lt(x, scalar)),
    ("logical_and", [(2, 3), (2, 3)], {}, lambda x, y: torch.logical_and(x, y).float()),
    ("logical_or", [(2, 3)], {"scalar": 0.0}, lambda x, scalar: torch.logical_or(x, torch.tensor(scalar)).float()),
    ("logical_not", [(2, 3)], {}, lambda x: torch.logical_not(x).float()),
    ("where", [(2, 3, 4), (2, 3, 4), (3, 4)], {}, lambda c, x, y: torch.where(c.bool(), x, y)),
    ("where", [(2, 3, 4), (2, 3, 4)], {"scalar_y": -1.5}, lambda c, x, scalar_y: torch.where(c.bool(), x, scalar_y)),
    ("where", [(2, 3, 4), (2, 3, 4)], {"scalar_x": 2.0}, lambda c, y, scalar_x: torch.where(c.bool(), scalar_x, y)),
    ("amax", [(2, 8, 5, 6)], {"dims": [1], "keepdim": True}, lambda x, dims, keepdim: x.amax(dims, keepdim)),
    ("amin", [(2, 8, 5, 6)], {"dims": [2, 3], "keepdim": False}, lambda x, dims, keepdim: x.amin(dims, keepdim)),
    ("flip", [(2, 3, 4, 5)], {"dims": [1, 3]}, lambda x, dims: x.flip(dims)),
    ("roll", [(2, 3, 4, 5)], {"dims": [2, 3], "shifts": [1, -2]}, lambda x, dims, shifts: x.roll(shifts, dims)),
    ("permute", [(2, 3, 4, 5)], {"dims": [0, 2, 3, 1]}, lambda x, dims: x.permute(dims)),
]


def _inputs(shapes, rng):
    arrays = []
    for s in shapes:
        if POS in s:
            dims = tuple(d for d in s if d != POS) or (5,)
            arrays.append(rng.uniform(0.1, 2.0, dims).astype(np.float32))
        else:
            arrays.append((rng.standard_normal(s) * 2).astype(np.float32))
    return arrays


@pytest.mark.parametrize("case", range(len(CASES)), ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_kernel_matches_torch(case):
    kind, shapes, attrs, call = CASES[case]
    xs = _inputs(shapes, np.random.default_rng(case))
    got = run_op(kind, xs, attrs)
    with torch.no_grad():
        want = call(*[torch.from_numpy(x) for x in xs], **attrs).numpy()
    assert got.dtype == np.float32
    assert got.shape == want.shape
    assert tuple(got.shape) == tuple(infer_shapes(kind, [x.shape for x in xs], attrs)[0])
    scale = max(1.0, float(np.abs(want).max()))
    np.testing.assert_allclose(got, want, rtol=2e-6, atol=2e-6 * scale)


def test_every_op_kind_has_a_kernel_and_a_case():
    # a host op (--fallback host) has no kernel by design: hwsim check refuses a graph holding one
    assert set(KERNELS) == set(OP_KINDS) - {"host"}
    assert {c[0] for c in CASES} == set(OP_KINDS) - {"host"}


def test_unknown_kind_is_reported():
    with pytest.raises(MissingKernel, match="frobnicate"):
        run_op("frobnicate", [np.zeros(2, np.float32)], {})


def test_erf_matches_math_erf_to_1e14():
    xs = np.linspace(-9, 9, 100_001)
    want = np.array([math.erf(v) for v in xs])
    assert np.abs(erf(xs) - want).max() < 1e-13
    assert erf(np.array([0.0, np.inf, -np.inf])).tolist() == [0.0, 1.0, -1.0]
