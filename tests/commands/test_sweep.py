"""``hwsim sweep``: the command end to end, user errors, a sweep killed midway and resumed, the input axis."""

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hwsim.cli import main
from tests.sweep.helpers import SPEC, graph_files

ROOT = Path(__file__).resolve().parents[2]
UNET_SAT = str(ROOT / "graphs" / "unet_sat.json")


def hwsim(*args):
    return subprocess.run([sys.executable, "-m", "hwsim", *args], capture_output=True, text=True, cwd=ROOT)


@pytest.fixture(scope="module")
def graphs(tmp_path_factory):
    return graph_files(tmp_path_factory.mktemp("graphs"))


def test_sweep_writes_results_and_prints_the_summary(capsys, graphs, tmp_path):
    code = main(["sweep", SPEC, *graphs, "--sram", "1KiB:8KiB:x2", "--bits", "8", "--jobs", "1",
                 "-o", str(tmp_path)])
    out, err = capsys.readouterr()
    assert code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["progress.jsonl", "results.csv", "summary.json", "sweep.json",
                                                         "sweep.lock"]
    rows = list(csv.DictReader(open(tmp_path / "results.csv")))
    assert len(rows) == 2 * 4 and {r["status"] for r in rows} == {"ok"}
    assert "wrote" in err and "8 points (8 ok" in err and "10/10 done (100 %)" in err  # 8 points + 2 searches
    assert "ran 8 points and 2 zero-spill searches" in err
    # every point its own plan group (no bandwidth, clock or energy axis): one schedule each
    assert "8 schedules for the points run (0 DRAM/clock settings took a plan made at another)" in err
    assert out.startswith("knee: ") and out.count("zero-spill SRAM") == 2
    assert "u2 datatype.activation_bits=8: zero-spill SRAM " in out and "u2_again datatype" in out


def test_quiet_sweep_prints_no_progress(capsys, graphs, tmp_path):
    code = main(["sweep", SPEC, graphs[0], "--sram", "1KiB,8KiB", "--jobs", "1", "--quiet", "-o", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 0 and "done" not in err and err.startswith("wrote ")


def test_grid_file_axis(capsys, graphs, tmp_path):
    grid = tmp_path / "grid.yaml"
    grid.write_text("axes:\n  policy.spill: [belady, lru]\nset:\n  dram.bandwidth: 4 GB/s\n")
    code = main(["sweep", SPEC, graphs[0], "--grid", str(grid), "--sram", "2KiB,4KiB", "--jobs", "1",
                 "-o", str(tmp_path / "out")])
    capsys.readouterr()
    assert code == 0
    rows = list(csv.DictReader(open(tmp_path / "out" / "results.csv")))
    assert [(r["policy.spill"], r["sram.size_bytes"]) for r in rows] == [
        ("belady", "2048"), ("belady", "4096"), ("lru", "2048"), ("lru", "4096")]
    manifest = json.loads((tmp_path / "out" / "sweep.json").read_text())
    assert manifest["spec"]["dram"]["bandwidth"] == "4 GB/s"


@pytest.mark.parametrize("args, words", [
    (["--sram", "1MiB:128KiB:x2"], ["--sram", "ends below"]),
    (["--bandwidth", "fast"], ["--bandwidth", "dram.bandwidth"]),
    (["--bits", "8,64"], ["--bits", "1 to 32"]),
    (["--set", "sram.size=1MiB", "--sram", "2MiB"], ["--set", "both fixed"]),
    (["--jobs", "0"], ["--jobs"]),
    (["--scheduler", "tcp://127.0.0.1:1"], ["--scheduler", "--executor dask"]),
    (["--grid", "missing.yaml"], ["missing.yaml", "no such file"]),
])
def test_user_errors_are_one_line_and_write_nothing(graphs, tmp_path, args, words):
    out = tmp_path / "out"
    proc = hwsim("sweep", SPEC, graphs[0], "-o", str(out), *args)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("hwsim: error:") and proc.stderr.count("\n") == 1, proc.stderr
    assert all(w in proc.stderr for w in words), proc.stderr
    assert not out.exists()


def test_missing_graph_is_a_user_error(tmp_path):
    proc = hwsim("sweep", SPEC, "no_such_model", "-o", str(tmp_path / "out"))
    assert proc.returncode == 2 and "no such graph file or zoo model" in proc.stderr
    assert not (tmp_path / "out").exists()


def _progress_lines(path: Path) -> int:
    try:
        return len(path.read_text().splitlines())
    except FileNotFoundError:
        return 0


def test_killed_midway_then_resumed_gives_the_same_bytes(tmp_path):
    args = ["sweep", SPEC, UNET_SAT, "--sram", "1MiB:32MiB:x2", "--bits", "8,16", "--jobs", "1"]
    whole = hwsim(*args, "-o", str(tmp_path / "whole"))
    assert whole.returncode == 0, whole.stderr
    total = len(list(csv.DictReader(open(tmp_path / "whole" / "results.csv")))) + 2  # points + searches
    out = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "hwsim", *args, "-o", str(out)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while _progress_lines(out / "progress.jsonl") < 4 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done = _progress_lines(out / "progress.jsonl")
    assert proc.returncode == -signal.SIGKILL and 4 <= done < total, (proc.returncode, done)
    assert not (out / "results.csv").exists()
    resumed = hwsim(*args, "-o", str(out), "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert f"reused {done} from progress" in resumed.stderr
    for name in ("results.csv", "summary.json"):
        assert (out / name).read_bytes() == (tmp_path / "whole" / name).read_bytes(), name


@pytest.mark.torch
def test_input_axis_extracts_zoo_models_once(capsys, tmp_path):
    pytest.importorskip("torch")
    grid = tmp_path / "grid.yaml"
    grid.write_text("axes:\n  input: [32, 48]\n")
    argv = ["sweep", SPEC, "unet", "--grid", str(grid), "--sram", "8MiB", "--jobs", "1", "-o", str(tmp_path / "out")]
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert err.count("extracting unet") == 2
    cached = sorted(p.name for p in (tmp_path / "out" / "graphs").iterdir())
    assert cached == ["unet_1x3x32x32.json", "unet_1x3x48x48.json"]
    rows = list(csv.DictReader(open(tmp_path / "out" / "results.csv")))
    assert [r["input"] for r in rows] == ["32x32", "48x48"]
    msc = [int(r["msc_bytes"]) for r in rows]
    assert msc[1] * 32 * 32 == msc[0] * 48 * 48  # skip memory scales with the pixel count
    assert main(argv + ["--resume"]) == 0
    assert "extracting" not in capsys.readouterr().err


def test_help_shows_the_grid_file_format(capsys):
    with pytest.raises(SystemExit):
        main(["sweep", "--help"])
    out = capsys.readouterr().out
    assert "'axes'" in out and "'set'" in out and "\n  axes:" in out and "\n  set:" in out
