"""The sweep driver: rows, failed points, summary, and interrupted sweeps finished by --resume."""

import csv
import io
import json

import pytest

from hwsim.errors import UserError
from hwsim.sweep.driver import run_sweep
from hwsim.sweep.executors import LocalExecutor
from hwsim.sweep.run import METRIC_COLUMNS
from tests.sweep.helpers import POINTS, Interrupted, graph_files, request

INLINE = LocalExecutor(1)


@pytest.fixture(scope="module")
def graphs(tmp_path_factory):
    return graph_files(tmp_path_factory.mktemp("graphs"))


@pytest.fixture(scope="module")
def reference(graphs, tmp_path_factory):
    """An uninterrupted sweep: its directory."""
    out = tmp_path_factory.mktemp("reference")
    run_sweep(request(graphs, out), INLINE, io.StringIO())
    return out


def rows(out):
    return list(csv.DictReader(open(out / "results.csv", newline="")))


def test_one_row_per_point_in_grid_order(reference):
    table = rows(reference)
    assert len(table) == 2 * POINTS
    head = list(table[0])
    assert head[:5] == ["graph", "sram.size_bytes", "datatype.activation_bits", "status", "error"]
    assert head[5:] == list(METRIC_COLUMNS)
    keys = [(r["graph"], int(r["sram.size_bytes"]), int(r["datatype.activation_bits"])) for r in table]
    assert keys == [(g, s, b) for g in ("u2", "u2_again") for s in (512, 1024, 2048, 4096, 8192) for b in (8, 16)]


def test_invalid_points_are_rows_with_the_message(reference):
    table = rows(reference)
    bad = [r for r in table if r["status"] != "ok"]
    assert {r["sram.size_bytes"] for r in bad} >= {"512"}  # 512 B fits no tile of some layer
    assert all(r["status"] == "invalid" for r in bad)
    assert all("for one tile" in r["error"] and r["latency_cycles"] == "" for r in bad)
    good = [r for r in table if r["status"] == "ok"]
    assert len(good) >= 12 and all(r["error"] == "" for r in good)
    for r in good:  # the row's own figures agree with each other
        assert int(r["sram_bytes"]) == int(r["sram.size_bytes"])
        assert int(r["latency_cycles"]) == int(r["compute_cycles"]) + int(r["stall_cycles"])
        assert int(r["dram_bytes"]) == int(r["dram_read_bytes"]) + int(r["dram_write_bytes"])
        kinds = ("spill_write", "spill_read", "streamed_read", "streamed_write")
        assert int(r["overflow_bytes"]) == sum(int(r[f"dram_{k}_bytes"]) for k in kinds)
        assert int(r["sram_peak_bytes"]) <= int(r["sram_bytes"])


def test_summary_has_zero_spill_and_knee_per_curve(reference):
    summary = json.loads((reference / "summary.json").read_text())
    curves = summary["curves"]
    assert [(c["graph"], c["axes"]) for c in curves] == [
        (g, {"datatype.activation_bits": b}) for g in ("u2", "u2_again") for b in ("8", "16")]
    table = rows(reference)
    for c in curves:
        mine = [r for r in table if r["graph"] == c["graph"]
                and r["datatype.activation_bits"] == c["axes"]["datatype.activation_bits"]]
        ok = [r for r in mine if r["status"] == "ok"]
        assert c["points"] == len(mine) == 5 and c["points_failed"] == 5 - len(ok) >= 1
        sizes = [int(r["sram.size_bytes"]) for r in ok]
        last = int(ok[-1]["overflow_bytes"])
        if c["knee_sram_bytes"] is None:  # the curve still falls at the grid's end, with overflow left there
            assert c["knee_note"].startswith("no knee in range") and last > 0
        else:
            assert c["knee_sram_bytes"] in sizes
        # the search's size is clean; every grid size at or above it must run without overflow
        assert c["zero_spill_sram_bytes"] > 0
        assert all(int(r["overflow_bytes"]) == 0 for r in ok if int(r["sram.size_bytes"]) >= c["zero_spill_sram_bytes"])


def test_interrupted_then_resumed_gives_the_same_bytes(graphs, reference, tmp_path):
    out = tmp_path / "sweep"
    with pytest.raises(KeyboardInterrupt):
        run_sweep(request(graphs, out), Interrupted(INLINE, after=7), io.StringIO())
    assert not (out / "results.csv").exists()
    kept = (out / "progress.jsonl").read_text().splitlines()
    assert len(kept) == 7  # each finished unit of work was written as it finished
    outcome = run_sweep(request(graphs, out, resume=True), INLINE, io.StringIO())
    assert outcome.reused == 7
    for name in ("results.csv", "summary.json"):
        assert (out / name).read_bytes() == (reference / name).read_bytes(), name


def test_resume_drops_a_cut_last_line_and_reruns_it(graphs, reference, tmp_path):
    out = tmp_path / "sweep"
    with pytest.raises(KeyboardInterrupt):
        run_sweep(request(graphs, out), Interrupted(INLINE, after=5), io.StringIO())
    lines = (out / "progress.jsonl").read_text().splitlines()
    (out / "progress.jsonl").write_text("\n".join(lines[:-1] + [lines[-1][: len(lines[-1]) // 2]]))
    outcome = run_sweep(request(graphs, out, resume=True), INLINE, io.StringIO())
    assert outcome.reused == 4
    assert (out / "results.csv").read_bytes() == (reference / "results.csv").read_bytes()
    assert all(json.loads(line) for line in (out / "progress.jsonl").read_text().splitlines())


def test_resume_of_a_finished_sweep_runs_nothing(graphs, reference, tmp_path):
    out = tmp_path / "sweep"
    run_sweep(request(graphs, out), INLINE, io.StringIO())
    outcome = run_sweep(request(graphs, out, resume=True), INLINE, io.StringIO())
    assert outcome.ran == 0
    assert (out / "results.csv").read_bytes() == (reference / "results.csv").read_bytes()


def test_resume_into_another_sweep_is_refused(graphs, tmp_path):
    out = tmp_path / "sweep"
    run_sweep(request(graphs, out), INLINE, io.StringIO())
    with pytest.raises(UserError, match="another sweep.*axes"):
        run_sweep(request(graphs, out, resume=True, sram="1KiB,2KiB"), INLINE, io.StringIO())


def test_process_pool_gives_the_same_bytes(graphs, reference, tmp_path):
    run_sweep(request(graphs, tmp_path), LocalExecutor(2), io.StringIO())
    for name in ("results.csv", "summary.json"):
        assert (tmp_path / name).read_bytes() == (reference / name).read_bytes(), name
