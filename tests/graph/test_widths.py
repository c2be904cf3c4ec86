"""Bit-widths a graph carries from its quantised file (hwsim.graph.widths), end to end.

The 16x8 TFLite U-Net of experiments/build_tflite.py stores activations at 16 bits; run on
the 8-bit edge_npu preset it must be sized at 16 (its input 1x3x32x32 read and its output
1x3x32x32 written at 2 bytes an element, its skips e1 = 8x32x32 and e2 = 16x16x16 at 2
bytes), unless the spec or an explicit width says otherwise.
"""

import dataclasses
from pathlib import Path

import pytest

from hwsim.cli import main
from hwsim.errors import UserError
from hwsim.graph.io import graph_from_dict, graph_to_dict, load_graph, write_graph
from hwsim.graph.validate import validate
from hwsim.graph.widths import effective_spec, graph_widths, stored_roles, with_widths
from hwsim.pipeline import run
from hwsim.spec import load_spec, with_overrides

DATA = Path(__file__).parent.parent / "extract" / "data"
SPEC = "accelerators/edge_npu.yaml"  # 8-bit activations and weights, 32-bit biases
IO_ELEMENTS = 3 * 32 * 32  # the input and the output
SKIP_ELEMENTS = 8 * 32 * 32 + 16 * 16 * 16  # e1 and e2


@pytest.fixture(scope="module")
def a16w8():
    pytest.importorskip("tflite")
    from hwsim.extract.tflite_import import read_tflite

    return read_tflite(str(DATA / "unet_a16w8.tflite")).graph


def traffic(result, kind: str) -> int:
    return result.metrics.dram_bytes_by_kind[kind]


def test_a16w8_runs_at_its_files_widths_on_an_8_bit_preset(a16w8, capsys, tmp_path):
    assert graph_widths(a16w8) == {"activation": 16, "weight": 8, "bias": 64}
    r = run(a16w8, SPEC)
    assert traffic(r, "input") == 2 * IO_ELEMENTS and traffic(r, "output") == 2 * IO_ELEMENTS
    assert r.metrics.msc_bytes == 2 * SKIP_ELEMENTS
    assert r.metrics.bit_widths == (16, 8, 64)
    path = tmp_path / "g.json"
    write_graph(a16w8, path)
    assert main(["run", SPEC, str(path)]) == 0
    assert "bit-widths from the graph's file (quantised): activations 16, weights 8, biases 64 bits" in \
        capsys.readouterr().out


@pytest.mark.parametrize("overrides", [["datatype.widths=spec"], ["datatype.activation_bits=8"]])
def test_the_spec_or_an_explicit_width_wins(a16w8, overrides):
    r = run(a16w8, SPEC, overrides)
    assert traffic(r, "input") == IO_ELEMENTS and traffic(r, "output") == IO_ELEMENTS
    assert r.metrics.msc_bytes == SKIP_ELEMENTS
    assert r.metrics.widths_note == ""


def test_an_explicit_width_in_a_sweep_implies_the_spec_widths():
    spec = load_spec(SPEC)
    assert spec.datatype.widths == "graph"
    assert with_overrides(spec, {"datatype.activation_bits": 16}).datatype.widths == "spec"
    assert with_overrides(spec, {"sram.size": 1 << 20}).datatype.widths == "graph"
    both = with_overrides(spec, {"datatype.activation_bits": 16, "datatype.widths": "graph"})
    assert both.datatype.widths == "graph"


def test_zero_spill_sram_sizes_at_the_graphs_widths(a16w8):
    from hwsim.schedule import zero_spill_sram

    spec = load_spec(SPEC)
    at_file = zero_spill_sram(a16w8, spec)
    at_spec = zero_spill_sram(a16w8, with_overrides(spec, {"datatype.widths": "spec"}))
    assert at_file > at_spec  # 16-bit maps need more SRAM than the same maps at 8 bits
    bare = dataclasses.replace(a16w8, tensors=tuple(dataclasses.replace(t, bits=None) for t in a16w8.tensors))
    at_16 = dataclasses.replace(spec, datatype=dataclasses.replace(spec.datatype, activation_bits=16, bias_bits=64))
    assert at_file == zero_spill_sram(bare, at_16)  # the same as a spec that states the file's widths


def test_widths_round_trip_through_json_and_are_validated(a16w8):
    d = graph_to_dict(a16w8)
    assert graph_from_dict(d) == a16w8
    d["tensors"][0]["bits"] = 65
    with pytest.raises(UserError, match=r"tensors\[0\]\.bits: 65 is not a bit-width from 1 to 64"):
        graph_from_dict(d)


def test_mixed_widths_in_a_role_are_refused_naming_the_tensors(a16w8, capsys, tmp_path):
    acts = [t for t, role in stored_roles(a16w8).items() if role == "activation" and a16w8.tensor[t].kind != "input"]
    mixed = with_widths(a16w8, {acts[0]: 32})
    assert validate(mixed) == []
    with pytest.raises(UserError, match=rf"activation tensors carry different bit-widths.*1 at 32 bits \({acts[0]}\)"):
        effective_spec(mixed, load_spec(SPEC))
    path = tmp_path / "mixed.json"
    write_graph(mixed, path)
    assert main(["run", SPEC, str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "datatype.widths=spec" in err
    assert main(["run", SPEC, str(path), "--set", "datatype.widths=spec"]) == 0
    assert load_graph(path).tensor[acts[0]].bits == 32
