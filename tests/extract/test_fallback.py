"""``--fallback host``: an op hwsim cannot map becomes a host op, from PyTorch, ONNX and TFLite.

The PyTorch model (``models.py:CumUNet`` at 1x3x64x64, 8-bit activations on edge_npu's 8 MiB
where everything fits): the bottleneck's ``torch.cumsum`` (module ``bottleneck.1``) reads the
bottleneck convolution's output, 8 x 32 x 32 = 8192 B, which the accelerator stores once
(``host_write``), and writes 8192 elements that the upsampling reads back once (``host_read``).
"""

import json
from pathlib import Path

import pytest

from hwsim.cli import main
from hwsim.graph.io import graph_to_json, load_graph

MODELS = "tests/extract/models.py"
DATA = Path(__file__).parent / "data"
SPEC = "accelerators/edge_npu.yaml"
HOST = ["--set", "host.per_op=10 us", "--set", "host.ops_per_second=100 Mop/s"]


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def test_without_the_flag_every_op_is_named_at_once_and_the_flag_suggested(torch, tmp_path, capsys):
    out = tmp_path / "g.json"
    assert main(["extract", f"{MODELS}:Unsupported", "--input", "1x3x8x8", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "2 unsupported op(s)" in err and "aten.cumsum.default" in err and "aten.sort.default" in err
    assert "--fallback host" in err and not out.exists()
    assert main(["extract", f"{MODELS}:CumUNet", "--input", "1x3x64x64"]) == 2
    assert "aten.cumsum.default at bottleneck.1; to run them on the host CPU instead, extract with --fallback " \
           "host" in capsys.readouterr().err


def test_the_host_op_carries_its_op_module_and_shapes_and_round_trips(torch, tmp_path, capsys):
    out = tmp_path / "g.json"
    assert main(["extract", f"{MODELS}:CumUNet", "--input", "1x3x64x64", "--fallback", "host", "-o", str(out)]) == 0
    assert "1 host op(s), run on the host CPU (--fallback host): aten.cumsum.default at bottleneck.1" in \
        capsys.readouterr().err
    g = load_graph(out)  # the schema and the validator accept it
    (host,) = [o for o in g.ops if o.kind == "host"]
    assert host.module == "bottleneck.1" and host.attrs["op"] == "aten.cumsum.default"
    assert host.attrs["source"] == "torch" and host.attrs["out_shapes"] == ((1, 8, 32, 32),)
    assert [g.tensor[i].shape for i in host.inputs] == [(1, 8, 32, 32)]
    assert host.attrs["ops"] == 8192 and host.attrs["ops_rule"] == "elements"  # FlopCounterMode counts no cumsum
    layer = [la for la in g.layers if host.name in la.ops][0]
    assert layer.ops == (host.name,)
    assert graph_to_json(load_graph(out)) == out.read_text()


def test_run_traffic_and_host_time_by_hand(torch, tmp_path, capsys):
    out = tmp_path / "g.json"
    assert main(["extract", f"{MODELS}:CumUNet", "--input", "1x3x64x64", "--fallback", "host", "-o", str(out)]) == 0
    capsys.readouterr()
    assert main(["run", SPEC, str(out), "--json", *HOST]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["dram_bytes_by_kind"]["host_write"] == 8192 and d["dram_bytes_by_kind"]["host_read"] == 8192
    (h,) = d["host_ops"]
    assert (h["module"], h["op"], h["dram_write_bytes"], h["dram_read_bytes"]) == \
        ("bottleneck.1", "aten.cumsum.default", 8192, 8192)
    # 10 us + 8192 ops / 100 Mop/s = 10 us + 81.92 us = 91.92 us at edge_npu's 1 GHz
    assert h["cycles"] == 91_920 == d["host_cycles"] == d["bounds"]["host_cycles"]
    assert d["latency_cycles"] >= d["compute_cycles"] + 91_920
    assert main(["run", SPEC, str(out), *HOST]) == 0
    text = capsys.readouterr().out
    assert "host ops    1 run on the host CPU" in text and "aten.cumsum.default  at bottleneck.1: 8,192 ops, " \
        "91,920 cycles; DRAM out 8,192 B (its inputs), back 8,192 B (its outputs)" in text


def test_check_refuses_host_ops_naming_them(torch, capsys):
    args = ["check", SPEC, f"{MODELS}:CumUNet", "--input", "1x3x64x64", "--quiet"]
    assert main(args) == 2
    assert "--fallback host" in capsys.readouterr().err
    assert main([*args, "--fallback", "host"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "1 host op(s)" in err and "aten.cumsum.default at bottleneck.1" in err


def _onnx_with_cumsum(tmp_path, batch=1) -> str:
    onnx = pytest.importorskip("onnx")
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    def vi(name, shape):
        return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)

    nodes = [helper.make_node("Conv", ["x", "w1"], ["c"], name="conv1", pads=[1, 1, 1, 1]),
             helper.make_node("CumSum", ["c", "axis"], ["s"], name="cumsum"),
             helper.make_node("Relu", ["s"], ["r"], name="relu"),
             helper.make_node("Conv", ["r", "w2"], ["y"], name="conv2")]
    inits = {"w1": np.zeros((4, 3, 3, 3), np.float32), "w2": np.zeros((2, 4, 1, 1), np.float32),
             "axis": np.array(3, np.int64)}
    graph = helper.make_graph(nodes, "cum", [vi("x", [batch, 3, 16, 16])], [vi("y", [batch, 2, 16, 16])],
                              [numpy_helper.from_array(v, k) for k, v in inits.items()])
    path = tmp_path / "cum.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]), str(path))
    return str(path)


def test_an_onnx_file_with_an_unsupported_node(tmp_path, capsys):
    path = _onnx_with_cumsum(tmp_path)
    out = tmp_path / "g.json"
    assert main(["extract", path, "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "CumSum at cumsum" in err and "--fallback host" in err and not out.exists()
    assert main(["extract", path, "--fallback", "host", "-o", str(out)]) == 0
    g = load_graph(out)
    (host,) = [o for o in g.ops if o.kind == "host"]
    assert (host.attrs["op"], host.attrs["source"], host.module) == ("CumSum", "onnx", "cumsum")
    assert host.attrs["out_shapes"] == ((1, 4, 16, 16),) and host.attrs["ops"] == 4 * 16 * 16
    capsys.readouterr()
    assert main(["run", SPEC, str(out), "--json", *HOST]) == 0
    d = json.loads(capsys.readouterr().out)
    # conv1's output 4x16x16 = 1024 B out to the host; the host's 1024 B back for the relu
    assert d["dram_bytes_by_kind"]["host_write"] == 1024 and d["dram_bytes_by_kind"]["host_read"] == 1024
    assert d["host_ops"][0]["cycles"] == 10_000 + 10_240  # 10 us + 1024 ops / 100 Mop/s


def test_a_tflite_file_with_unsupported_operators(tmp_path, capsys):
    pytest.importorskip("tflite")
    out = tmp_path / "g.json"
    path = DATA / "unsupported_ops.tflite"
    assert main(["extract", str(path), "-o", str(out)]) == 2
    assert "--fallback host" in capsys.readouterr().err
    assert main(["extract", str(path), "--fallback", "host", "-o", str(out)]) == 0
    g = load_graph(out)
    hosts = [o for o in g.ops if o.kind == "host"]
    assert sorted(o.attrs["op"] for o in hosts) == ["CUMSUM", "ELU"]
    assert all(o.attrs["source"] == "tflite" and o.attrs["op"] in o.module for o in hosts)  # "#2 CUMSUM -> ..."
    assert main(["run", SPEC, str(out), *HOST]) == 0


def test_a_host_op_torch_counts_flops_for_carries_those_flops(torch):
    from torch.utils.flop_counter import FlopCounterMode

    from hwsim.extract import extract_model
    from tests.extract.models import Baddbmm

    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        Baddbmm().eval()(torch.zeros(1, 3, 8, 8))
    flops = counter.get_flop_counts()["Global"][torch.ops.aten.baddbmm]
    assert flops == 2 * 4 * 64 * 64
    g = extract_model(f"{MODELS}:Baddbmm", (1, 3, 8, 8), fallback="host")
    (host,) = [o for o in g.ops if o.kind == "host"]
    assert host.attrs["op"] == "aten.baddbmm.default"
    assert (host.attrs["ops"], host.attrs["ops_rule"]) == (flops, "flop_counter")


def test_an_onnx_node_whose_shapes_are_unknown_cannot_be_a_host_op(tmp_path, capsys):
    """With a dynamic batch fixed by --input, ONNX shape inference's shapes (for the file's own
    input) are not used, so the CumSum's output shape is unknown: the error says the flag did not help."""
    path = _onnx_with_cumsum(tmp_path, batch="N")
    assert main(["extract", path, "--input", "1x3x16x16", "--fallback", "host"]) == 2
    err = capsys.readouterr().err
    assert "CumSum at cumsum; --fallback host could not make host ops of them" in err and err.count("\n") == 1
