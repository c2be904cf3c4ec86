"""``write_trace``: valid Trace Event Format, one track per engine lane, SRAM counters, layer names and bytes."""

import json

import pytest

from hwsim.pipeline import run
from hwsim.report.perfetto import trace_events, write_trace
from tests.graph.handmade import two_level_u
from tests.schedule.helpers import make_spec
from tests.schedule.test_cascade import three_convs
from tests.sweep.helpers import SPEC

REQUIRED = {"X": {"ph", "pid", "tid", "name", "ts", "dur", "args"}, "C": {"ph", "pid", "name", "ts", "args"},
            "M": {"ph", "pid", "name", "args"}}


@pytest.fixture(scope="module", params=["2KiB", "8KiB", "1MiB"])  # spilling and streamed, clean, roomy
def result(request):
    return run(two_level_u().build(), SPEC, [f"sram.size={request.param}"])


@pytest.fixture(scope="module")
def doc(result, tmp_path_factory):
    path = tmp_path_factory.mktemp("trace") / "trace.json"
    write_trace(result.trace, result.plan, path)
    return json.loads(path.read_text())


def events(doc, ph):
    return [e for e in doc["traceEvents"] if e["ph"] == ph]


def test_required_fields(doc):
    assert isinstance(doc["traceEvents"], list) and doc["traceEvents"]
    for e in doc["traceEvents"]:
        assert REQUIRED[e["ph"]] <= set(e), e
        if e["ph"] in "XC":
            assert isinstance(e["ts"], (int, float)) and e["ts"] >= 0
    assert all(e["dur"] >= 0 for e in events(doc, "X"))


def test_every_timed_command_is_a_slice_named_by_layer_or_tensor(doc, result):
    timed = [e for e in result.trace.events if e.kind != "free"]
    slices = events(doc, "X")
    tiles = [e for e in timed if e.kind == "tiles"]  # a streamed layer's tiles: compute span + DMA span
    assert len(slices) == len(timed) + len(tiles)
    layers = {la.name for la in result.plan.layers}
    for s in slices:
        if s["cat"] == "compute":
            assert s["name"] == s["args"]["layer"] and s["name"] in layers
        else:
            assert s["args"]["layer"] in layers and s["name"] == s["args"]["tensor"]
            assert s["args"]["bytes"] > 0
    moved = sum(s["args"]["bytes"] for s in slices if s["cat"] != "compute")
    assert moved == result.metrics.dram_bytes
    clock = result.trace.clock_hz
    busy_us = sum(s["dur"] for s in slices if s["cat"] == "compute") - sum(
        sum(s["args"].get("waits", {}).values()) * 1e6 / clock for s in slices if s["cat"] == "compute")
    assert busy_us == pytest.approx(result.metrics.compute_cycles * 1e6 / clock)
    assert sum(s["args"]["cycles"] for s in slices if s["cat"] == "compute") == result.metrics.compute_cycles


def test_tracks_are_named_and_monotonic_without_overlap(doc):
    names = {e["tid"]: e["args"]["name"] for e in events(doc, "M") if e["name"] == "thread_name"}
    assert names[1] == "compute"
    by_tid = {}
    for s in events(doc, "X"):
        by_tid.setdefault(s["tid"], []).append(s)
    assert set(by_tid) <= set(names)
    for tid, slices in by_tid.items():
        engine = names[tid].split()[0]
        allowed = {"compute": {"compute"}, "dma_read": {"load", "tiles"}, "dma_write": {"store"}}[engine]
        assert all(s["cat"] in allowed for s in slices)  # a streamed layer's tiles: on a read lane
        for a, b in zip(slices, slices[1:]):
            assert a["ts"] <= b["ts"]
            assert a["ts"] + a["dur"] <= b["ts"] + 1e-6, (names[tid], a, b)


def test_counters_never_exceed_the_sram(doc, result):
    counters = [e for e in events(doc, "C") if e["name"] == "SRAM in use"]
    assert counters
    times = [c["ts"] for c in counters]
    assert times == sorted(times)
    assert len(counters) == len(result.trace.occupancy)
    values = [c["args"]["bytes"] for c in counters]
    assert max(values) <= result.plan.sram_bytes
    assert max(values) == result.metrics.live_peak_bytes
    assert values[-1] >= 0


def test_same_run_same_bytes(result, tmp_path):
    write_trace(result.trace, result.plan, tmp_path / "a.json")
    write_trace(result.trace, result.plan, tmp_path / "b.json")
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
    assert trace_events(result.trace, result.plan)["metadata"]["sram_bytes"] == result.plan.sram_bytes


def test_separate_weight_buffer_has_its_own_counter():
    result = run(two_level_u().build(), SPEC, ["sram.size=8KiB", "sram.weights=separate", "sram.weight_buffer=4KiB"])
    doc = trace_events(result.trace, result.plan)
    weights = [e["args"]["bytes"] for e in doc["traceEvents"] if e["ph"] == "C" and e["name"] == "weight buffer in use"]
    assert weights and 0 < max(weights) <= 4096
    sram = [e["args"]["bytes"] for e in doc["traceEvents"] if e["ph"] == "C" and e["name"] == "SRAM in use"]
    assert max(sram) <= 8192


def test_a_cascade_shows_a_slice_per_layer_and_stripe():
    # three 3x3 convolutions in 8 stripes (tests/schedule/test_cascade.py): 24 parts in 3 commands
    g = three_convs().graph()
    r = run(g, make_spec(sram=8 * 1024, execution="cascade"))
    computes = [s for s in events(trace_events(r.trace, r.plan), "X") if s["cat"] == "compute"]
    assert sorted((s["name"], s["args"]["tile"]) for s in computes) == sorted((n, i) for n in "abc" for i in range(8))
    assert len({s["args"]["command"] for s in computes}) == 3
    for layer in r.plan.layers:
        us = sum(s["dur"] for s in computes if s["name"] == layer.name)
        assert us == pytest.approx(layer.compute_cycles * 1e6 / r.trace.clock_hz)
