"""Sweep faults: the main process killed, terminated or interrupted at a random point, a worker
killed, the disk full, two writers, edited progress. After each: no process of the sweep left,
no half-written file, one clear line (or the signal's own end), and ``--resume`` gives the bytes
of an uninterrupted sweep.

The process tests run ``python -m hwsim sweep --jobs 2`` on ``graphs/unet_sat.json`` (points of
a few hundred milliseconds, so there is time to stop it midway) and stop it after a number of
finished units drawn from a seeded generator; the others run in this process on the small
hand-built graphs of ``helpers.py``.
"""

from __future__ import annotations

import errno
import io
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hwsim.cli import main
from hwsim.errors import UserError
from hwsim.sweep import progress
from hwsim.sweep.driver import run_sweep
from hwsim.sweep.executors import LocalExecutor
from tests.sweep.helpers import SPEC, graph_files, request

ROOT = Path(__file__).resolve().parents[2]
ARGS = ["sweep", SPEC, str(ROOT / "graphs" / "unet_sat.json"), "--sram", "1MiB:8MiB:x2", "--bits", "8,16",
        "--jobs", "2"]
UNITS = 4 * 2 + 2  # points and zero-spill searches
FINAL = ("results.csv", "summary.json")
WORKER_DIED = ("hwsim: error: a sweep worker process died (killed, or out of memory?); the points finished "
               "before are kept: rerun with --resume\n")


def hwsim(*args):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "hwsim", *args], capture_output=True, text=True, cwd=ROOT, env=env)


def _interruptible() -> None:
    """In the sweep's process before it starts: Ctrl-C (SIGINT) as a terminal delivers it. A suite
    started in the background by a non-interactive shell has SIGINT ignored, which its children
    inherit, and Python then leaves it ignored: the sweep would run on as such a shell asks."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start(out: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "hwsim", *ARGS, "-o", str(out)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            preexec_fn=_interruptible)


def lines(path: Path) -> int:
    try:
        return path.read_text().count("\n")
    except FileNotFoundError:
        return 0


def wait_for_progress(out: Path, proc: subprocess.Popen, count: int) -> None:
    deadline = time.monotonic() + 120
    while lines(out / "progress.jsonl") < count and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    assert proc.poll() is None, "the sweep ended before it could be stopped"


def children(pid: int) -> set[int]:
    """Processes whose parent is ``pid`` (read from /proc)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rpartition(")")[2].split()[1]) == pid:
                found.add(int(entry.name))
    return found


def running(pid: int) -> bool:
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


def assert_all_gone(pids: set[int]) -> None:
    deadline = time.monotonic() + 20
    while any(running(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [p for p in pids if running(p)], "sweep workers outlived the sweep"


def assert_no_half_file(out: Path) -> None:
    names = {p.name for p in out.iterdir()}
    assert not [n for n in names if n.endswith(".tmp")] and not names & set(FINAL), names


def assert_resume_gives_the_bytes_of(whole: Path, out: Path, done: int) -> None:
    resumed = hwsim(*ARGS, "-o", str(out), "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert f"reused {done} from progress" in resumed.stderr
    for name in FINAL:
        assert (out / name).read_bytes() == (whole / name).read_bytes(), name


@pytest.fixture(scope="module")
def whole(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("whole")
    proc = hwsim(*ARGS, "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.mark.parametrize("how, code, last_line", [
    (signal.SIGKILL, -signal.SIGKILL, None),
    (signal.SIGTERM, 143, "hwsim: terminated; finished points are in {progress}, rerun with --resume to finish"),
    (signal.SIGINT, 130, "hwsim: interrupted; finished points are in {progress}, rerun with --resume to finish"),
], ids=["SIGKILL", "SIGTERM", "SIGINT"])
def test_the_sweep_stopped_by_a_signal_leaves_no_worker_and_resumes(whole, tmp_path, how, code, last_line):
    out = tmp_path / "out"
    stop_after = random.Random(int(how)).randint(1, UNITS // 2)
    proc = start(out)
    wait_for_progress(out, proc, stop_after)
    workers = children(proc.pid)
    os.kill(proc.pid, how)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == code, err
    assert "Traceback" not in err
    if last_line is not None:
        assert err.splitlines()[-1] == last_line.format(progress=out / "progress.jsonl")
    assert workers
    assert_all_gone(workers)
    assert_no_half_file(out)
    assert_resume_gives_the_bytes_of(whole, out, lines(out / "progress.jsonl"))


def test_a_worker_killed_ends_the_sweep_with_one_line_and_resumes(whole, tmp_path):
    out = tmp_path / "out"
    proc = start(out)
    wait_for_progress(out, proc, 2)
    workers = children(proc.pid)
    os.kill(min(workers), signal.SIGKILL)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 2 and "Traceback" not in err, err
    assert err.endswith(WORKER_DIED), err
    assert_all_gone(workers)
    assert_no_half_file(out)
    assert_resume_gives_the_bytes_of(whole, out, lines(out / "progress.jsonl"))


def test_a_second_writer_is_refused_and_the_first_finishes(whole, tmp_path, capsys):
    out = tmp_path / "out"
    first = start(out)
    wait_for_progress(out, first, 1)
    before = sorted(p.name for p in out.iterdir())
    assert main([*ARGS[:-1], "1", "-o", str(out), "--resume"]) == 2
    assert capsys.readouterr().err == (f"hwsim: error: {out}: another hwsim sweep is writing into this directory; "
                                       "wait for it to finish, or use another -o DIR\n")
    assert sorted(p.name for p in out.iterdir()) == before
    _, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    for name in FINAL:
        assert (out / name).read_bytes() == (whole / name).read_bytes(), name


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """The small sweep of helpers.py, run whole in this process: (graphs, its directory)."""
    graphs = graph_files(tmp_path_factory.mktemp("graphs"))
    out = tmp_path_factory.mktemp("small")
    run_sweep(request(graphs, out), LocalExecutor(1), io.StringIO())
    return graphs, out


class FullDisk:
    """A progress file that takes ``room`` lines, then half of the next one, then fails as a full disk does."""

    def __init__(self, inner, room: int):
        self.inner, self.room = inner, room

    def write(self, text: str) -> int:
        if self.room == 0:
            self.inner.write(text[: len(text) // 2])
            self.inner.flush()
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self.room -= 1
        return self.inner.write(text)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def test_a_full_disk_stops_the_sweep_with_one_error_and_resumes(small, tmp_path, monkeypatch):
    graphs, reference = small
    out = tmp_path / "out"
    room = random.Random(28).randint(1, 6)
    opened = progress.ProgressLog.open

    def open_on_a_small_disk(self, kept):
        opened(self, kept)
        self._file = FullDisk(self._file, room)
        return self

    monkeypatch.setattr(progress.ProgressLog, "open", open_on_a_small_disk)
    with pytest.raises(UserError) as info:
        run_sweep(request(graphs, out), LocalExecutor(1), io.StringIO())
    assert str(info.value) == (f"{out / 'progress.jsonl'}: cannot write: No space left on device; the results "
                               "written before are kept: make room, then rerun with --resume")
    monkeypatch.undo()
    text = (out / "progress.jsonl").read_text()
    assert text.count("\n") == room and not text.endswith("\n")  # the torn line is there, cut
    assert_no_half_file(out)
    outcome = run_sweep(request(graphs, out, resume=True), LocalExecutor(1), io.StringIO())
    assert outcome.reused == room
    for name in FINAL:
        assert (out / name).read_bytes() == (reference / name).read_bytes(), name


def _edit_progress(path: Path) -> int:
    """Damage four records as a hand edit might; how many records stay intact."""
    records = [json.loads(line) for line in path.read_text().splitlines()]
    search = next(r for r in records if r["kind"] == "zero_spill")
    ok = [r for r in records if r["kind"] == "point" and r["result"]["status"] == "ok"]
    search["result"] = "ok"
    ok[0]["result"]["latency_cycles"] = "fast"
    ok[1]["kind"] = "zero_spill"
    ok[2]["result"]["extra"] = 1
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return len(records) - 4


def test_edited_progress_records_run_again(small, tmp_path):
    graphs, reference = small
    out = tmp_path / "out"
    run_sweep(request(graphs, out), LocalExecutor(1), io.StringIO())
    intact = _edit_progress(out / "progress.jsonl")
    outcome = run_sweep(request(graphs, out, resume=True), LocalExecutor(1), io.StringIO())
    assert (outcome.reused, outcome.ran) == (intact, 4)
    for name in FINAL:
        assert (out / name).read_bytes() == (reference / name).read_bytes(), name


def test_a_cut_sweep_json_cannot_be_resumed(small, tmp_path):
    graphs, _ = small
    out = tmp_path / "out"
    run_sweep(request(graphs, out), LocalExecutor(1), io.StringIO())
    manifest = out / "sweep.json"
    manifest.write_text(manifest.read_text()[:40])
    with pytest.raises(UserError) as info:
        run_sweep(request(graphs, out, resume=True), LocalExecutor(1), io.StringIO())
    assert str(info.value) == (f"{out}: sweep.json cannot be read (cut short, or edited?), so this sweep cannot be "
                               "resumed; run without --resume to start over")
