"""The memory image and the weight store: batch-norm folding and packing worked out by hand (no torch)."""

import numpy as np
import pytest

from hwsim.graph.ir import Graph, Op, Tensor
from hwsim.graph.layers import group_layers
from hwsim.numerics.memory import POISON, Memory, MemoryFault, fold_batch_norms, weight_store

BN = {"weight": "bn.weight", "bias": "bn.bias", "mean": "bn.running_mean", "var": "bn.running_var", "eps": 0.0}
BN_PARAMS = {"bn.weight": np.array([1.0, 2.0], np.float32), "bn.bias": np.array([0.5, -1.0], np.float32),
             "bn.running_mean": np.array([1.0, 0.0], np.float32), "bn.running_var": np.array([4.0, 1.0], np.float32)}


def _graph(kind: str, w_shape, attrs) -> Graph:
    tensors = (Tensor("x", (1, 2, 2, 2), "input"), Tensor("w", w_shape, "param"), Tensor("b", (2,), "param"),
               Tensor("y", (1, 2, 2, 2), "activation"))
    ops = (Op("y", kind, ("x", "w", "b"), ("y",), attrs),)
    return Graph("bn", tensors, ops, group_layers(ops, tensors), ("x",), ("y",))


def test_batch_norm_folds_into_a_conv_by_hand():
    # factor = gamma / sqrt(var + eps) = [1/2, 2/1]; w' = w * factor; b' = (0 - mean) * factor + beta
    g = _graph("conv2d", (2, 2, 1, 1), {"folded_bn": BN, "folded_bias_is_new": True})
    params = {"w": np.array([[[[2.0]], [[4.0]]], [[[3.0]], [[-1.0]]]], np.float32), **BN_PARAMS}
    out = fold_batch_norms(g, params)
    np.testing.assert_allclose(out["w"].reshape(2, 2), [[1.0, 2.0], [6.0, -2.0]])
    np.testing.assert_allclose(out["b"], [(0 - 1) * 0.5 + 0.5, (0 - 0) * 2 - 1.0])  # [0, -1]


def test_batch_norm_folds_into_a_grouped_transposed_conv_with_a_bias_by_hand():
    # weight (C_in=2, C_out/groups=1, 1, 1), groups 2: output channel k is scaled by factor[k]
    g = _graph("conv_transpose2d", (2, 1, 1, 1), {"folded_bn": BN, "groups": 2})
    params = {"w": np.array([2.0, 3.0], np.float32).reshape(2, 1, 1, 1), "b": np.array([5.0, 1.0], np.float32),
              **BN_PARAMS}
    out = fold_batch_norms(g, params)
    np.testing.assert_allclose(out["w"].reshape(2), [1.0, 6.0])
    np.testing.assert_allclose(out["b"], [(5 - 1) * 0.5 + 0.5, (1 - 0) * 2 - 1.0])  # [2.5, 1]


def test_memory_starts_poisoned_and_checks_bounds():
    mem = Memory(16, weight_buffer_bytes=8)
    assert mem.read("sram", 0, 16).tolist() == [POISON] * 16
    assert np.isnan(mem.read("sram", 0, 4).view(np.float32)).all()
    mem.write("weights", 4, np.array([1, 2, 3, 4], np.uint8))
    assert mem.read("weights", 2, 6).tolist() == [POISON, POISON, 1, 2, 3, 4]
    with pytest.raises(MemoryFault, match=r"\[14, 18\)"):
        mem.write("sram", 14, np.zeros(4, np.uint8))
    raw, found = mem.dram_read("nothing", 3)
    assert not found and raw.tolist() == [POISON] * 3


def test_weight_store_packs_a_layers_parameters_in_order():
    g = _graph("conv2d", (2, 2, 1, 1), {})
    params = {"w": np.arange(4, dtype=np.float32).reshape(2, 2, 1, 1) - 1.5, "b": np.array([0.25, -0.5], np.float32)}
    store = weight_store(g, params, 8, bias_bits=8)  # the bias at 8 bits too (32, the default: test_bias_bytes)
    image = store.image(g, 0)
    assert image.entries == (("w", 0, 4), ("b", 4, 2))
    # w in [-1.5, 1.5] -> scale 1.5/127: -1.5 -> -127, -0.5 -> -42.33 -> -42, 0.5 -> 42, 1.5 -> 127
    assert image.raw[:4].view(np.int8).tolist() == [-127, -42, 42, 127]
    assert image.raw[4:].view(np.int8).tolist() == [64, -127]  # b: scale 0.5/127; 0.25 -> 63.5 -> 64 (even)
    decoded = store.decode(g, image, image.raw)
    np.testing.assert_array_equal(decoded["w"], store.values["w"])
    np.testing.assert_allclose(decoded["w"].reshape(-1), np.array([-127, -42, 42, 127]) * 1.5 / 127, rtol=1e-6)
