"""``hwsim run``: summary, JSON, output files, traces, user errors, no torch; end to end on a U-Net."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from hwsim.cli import main
from hwsim.graph.analysis import graph_stats
from hwsim.graph.io import write_graph
from hwsim.measure.peak import sram_high_water
from tests.graph.handmade import two_level_u

ROOT = Path(__file__).resolve().parents[2]
SPEC = str(ROOT / "accelerators" / "edge_npu.yaml")


@pytest.fixture(scope="module")
def graph_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("graphs") / "u2.json"
    write_graph(two_level_u().build(), path)
    return str(path)


def run_cli(capsys, *argv):
    code = main(["run", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_summary(capsys, graph_file):
    code, out, _ = run_cli(capsys, SPEC, graph_file)
    assert code == 0
    for word in ("latency", "stalls", "weights", "drain", "DRAM", "SRAM peak", "M_sc", "energy"):
        assert word in out, word


def test_json_and_output_files(capsys, graph_file, tmp_path):
    code, out, err = run_cli(capsys, SPEC, graph_file, "--json", "-o", str(tmp_path / "a"))
    assert code == 0 and "wrote" in err
    report = (tmp_path / "a" / "report.json").read_text()
    assert report == out
    d = json.loads(report)
    assert d["graph"] == "u2" and d["spec"] == "edge-npu"
    assert d["msc_bytes"] == graph_stats(two_level_u().build(), 8)["msc_bytes"]
    lines = (tmp_path / "a" / "layers.csv").read_text().splitlines()
    assert lines[0].startswith("index,name,") and len(lines) == 1 + len(d["layers"])
    # same inputs, same bytes
    run_cli(capsys, SPEC, graph_file, "-o", str(tmp_path / "b"))
    assert (tmp_path / "b" / "report.json").read_bytes() == report.encode()


def test_set_overrides_the_spec(capsys, graph_file):
    _, fast, _ = run_cli(capsys, SPEC, graph_file, "--json")
    _, slow, _ = run_cli(capsys, SPEC, graph_file, "--json", "--set", "dram.bandwidth=1 GB/s")
    assert json.loads(slow)["latency_cycles"] > json.loads(fast)["latency_cycles"]


@pytest.mark.parametrize("argv, words", [
    (["missing.yaml"], ["missing.yaml"]),
    ([SPEC, "--set", "sram.sise=1MiB"], ["sram.sise", "no such field"]),
    ([SPEC, "--set", "sram.size=lots"], ["sram.size"]),
])
def test_user_errors_are_one_line(capsys, graph_file, tmp_path, argv, words):
    spec, *rest = argv
    code, out, err = run_cli(capsys, spec, graph_file, *rest, "-o", str(tmp_path / "out"))
    assert code == 2 and out == ""
    assert err.startswith("hwsim: error:") and err.count("\n") == 1
    assert all(w in err for w in words)
    assert not (tmp_path / "out").exists()


def test_unwritable_output_is_a_user_error(capsys, graph_file, tmp_path):
    (tmp_path / "file").write_text("not a directory")
    code, out, err = run_cli(capsys, SPEC, graph_file, "-o", str(tmp_path / "file" / "out"))
    assert code == 2 and out == "" and err.startswith("hwsim: error:") and err.count("\n") == 1
    assert (tmp_path / "file").read_text() == "not a directory"


def test_bad_graph_path(capsys, tmp_path):
    code, _, err = run_cli(capsys, SPEC, str(tmp_path / "nope.json"))
    assert code == 2 and err.startswith("hwsim: error:") and "nope.json" in err


def test_does_not_import_torch_or_matplotlib(graph_file):
    code = ("import sys\nfrom hwsim.cli import main\n"
            f"rc = main(['run', {SPEC!r}, {graph_file!r}, '--json'])\n"
            "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'matplotlib'))\n"
            "print('HEAVY', heavy, file=sys.stderr)\nsys.exit(rc or bool(heavy))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert "HEAVY []" in done.stderr


@pytest.mark.torch
def test_unet_end_to_end(extracted):
    from hwsim.pipeline import run

    graph = extracted("unet", (1, 3, 64, 64))
    runs = [run(graph, SPEC, [f"sram.size={size}"]) for size in ("64MiB", "256KiB")]
    big, small = (r.metrics for r in runs)   # 64 MiB holds the 31 MB of weights; 256 KiB spills
    stats = graph_stats(graph, 8)
    for r, m in zip(runs, (big, small)):
        assert m.latency_cycles >= m.bounds.roofline_cycles
        assert m.latency_cycles == m.compute_cycles + m.stall_cycles
        assert m.stall_cycles == sum(m.stall_by_cause.values())
        assert m.dram_bytes_by_kind["input"] >= stats["input_bytes"] == 3 * 64 * 64
        assert m.dram_bytes_by_kind["output"] == stats["output_bytes"]
        assert m.dram_bytes_by_kind["weights"] >= stats["params"]     # every 8-bit weight at least once
        assert m.msc_bytes == stats["msc_bytes"] > 0
        assert m.live_peak_bytes <= m.sram_peak_bytes <= m.sram_bytes
        assert m.sram_peak_bytes == sram_high_water(r.plan)   # the allocator's figure = the buffers' top
        assert len(m.layers) == len(graph.layers)
        # the trace's traffic per tensor agrees with the scheduler's own bookkeeping
        assert {t.name: t.dram_bytes for t in m.tensors} == {t.name: t.dram_bytes for t in r.plan.tensors}
    assert big.spill_bytes == 0 and big.sram_bytes == 64 * 2**20
    assert small.sram_bytes == 256 * 2**10
    assert small.spill_bytes + small.dram_bytes_by_kind["streamed_read"] > 0
    assert small.dram_bytes > big.dram_bytes


def test_trace_file_is_a_perfetto_trace_within_the_sram(capsys, graph_file, tmp_path):
    trace = tmp_path / "trace.json"
    code, _, err = run_cli(capsys, SPEC, graph_file, "--set", "sram.size=4KiB", "--trace", str(trace))
    assert code == 0, err
    events = json.loads(trace.read_text())["traceEvents"]
    complete = [e for e in events if e["ph"] == "X"]
    counters = [e["args"] for e in events if e["ph"] == "C"]
    assert {e["tid"] for e in complete} >= {1}  # the compute engine's track
    assert counters and max(max(c.values()) for c in counters) <= 4096
    assert all(e["dur"] >= 0 for e in complete)
