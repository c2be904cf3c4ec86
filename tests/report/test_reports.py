"""JSON, CSV and text reports of the hand-built three-layer run (figures from tests/measure)."""

import csv
import io
import json
import re

import pytest

from hwsim.report.csv_report import LAYER_COLUMNS, layers_csv
from hwsim.report.json_report import report_dict, report_json
from hwsim.report.text import format_energy, format_ms, render
from tests.sim.handplans import prefetch_metrics

DESIGN_KEYS = {  # DESIGN.md, "Report keys", hwsim run --json
    "latency_cycles", "latency_s", "compute_cycles", "stall_cycles", "stall_by_cause", "dram_read_bytes",
    "dram_write_bytes", "dram_bytes_by_kind", "spill_bytes", "sram_peak_bytes", "live_peak_bytes", "sram_peak",
    "msc_bytes", "energy_pj", "bounds", "layers", "tensors",
}


@pytest.fixture(scope="module")
def metrics():
    return prefetch_metrics()


def test_json_has_every_design_key_and_the_hand_figures(metrics):
    d = json.loads(report_json(metrics))
    assert DESIGN_KEYS | {"schema_version", "graph", "spec", "concat", "policy"} <= set(d)
    assert (d["latency_cycles"], d["compute_cycles"], d["stall_cycles"]) == (225, 150, 75)
    assert d["latency_s"] == pytest.approx(225e-9)
    # the first layer's 40-cycle wait: w0's transfer 25..40, then x ahead of it 0..25 (test_stalls.py)
    assert d["stall_by_cause"] == {"weights": 15, "reload": 0, "spill_store": 0, "streamed": 0, "input": 25,
                                   "drain": 35, "host": 0}
    assert set(d["dram_bytes_by_kind"]) == {"weights", "input", "output", "spill_write", "spill_read",
                                            "streamed_read", "streamed_write", "host_write", "host_read"}
    assert (d["dram_read_bytes"], d["dram_write_bytes"], d["spill_bytes"]) == (500, 300, 0)
    assert set(d["energy_pj"]) == {"total", "mac", "sram", "dram", "leakage"}
    assert {"step", "layer", "tensors"} <= set(d["sram_peak"])
    assert (d["sram_peak"]["step"], d["sram_peak"]["layer"]) == (2, "l2")
    assert [t["name"] for t in d["sram_peak"]["tensors"]][:2] == ["l0", "x"]
    row = d["tensors"][0]
    assert set(row) >= {"name", "bytes", "producer", "last_consumer", "skip", "address", "spilled", "dram_bytes"}
    assert (row["name"], row["producer"], row["last_consumer"]) == ("l0", "l0", "l1")
    assert [la["stall_cycles"] for la in d["layers"]] == [40, 0, 0]


def test_json_is_deterministic_and_sorted(metrics):
    text = report_json(metrics)
    assert text == report_json(prefetch_metrics())
    assert text == json.dumps(json.loads(text), sort_keys=True, indent=1) + "\n"
    assert report_dict(metrics)["schema_version"] == 1


def test_layers_csv(metrics):
    rows = list(csv.DictReader(io.StringIO(layers_csv(metrics))))
    assert tuple(rows[0]) == LAYER_COLUMNS
    assert [(r["name"], r["start"], r["end"], r["stall_cycles"], r["dram_bytes"]) for r in rows] == [
        ("l0", "40", "90", "40", "300"), ("l1", "90", "140", "0", "100"), ("l2", "140", "190", "0", "400")]


def test_text_summary(metrics):
    text = render(metrics)
    assert re.search(r"latency +225 cycles = 0.000225 ms", text)
    assert re.search(r"compute +150 cycles +66.7 %", text)
    assert re.search(r"weights +15 cycles +6.7 %", text)      # 15 / 225
    assert re.search(r"input +25 cycles +11.1 %", text)       # 25 / 225
    assert re.search(r"drain +35 cycles +15.6 %", text)
    assert "most allocated at step 2 (l2), cycle 55: 800 B in 5 buffers" in text
    assert "M_sc" in text and "energy" in text
    top = text[text.index("most DRAM traffic"):].splitlines()
    assert [line.split()[0] for line in top[1:]] == ["l2", "x"]   # 300 B, then 200 B


def test_format_ms():
    assert format_ms(12.75) == "12,750.00 ms"
    assert format_ms(2.25e-7) == "0.000225 ms"


def test_format_energy():
    assert format_energy(12.5) == "12.500 pJ"
    assert format_energy(1_234_567.0) == "1.235 uJ"
    assert format_energy(2e9) == "2.000 mJ"
