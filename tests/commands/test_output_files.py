"""Commands' output files: planted links left alone, non-regular targets refused, nothing written on failure."""

import os
import stat
from pathlib import Path

import pytest

from hwsim.cli import main
from tests.commands.test_cli_errors import assert_user_error, hwsim
from tests.graph.handmade import two_level_u
from tests.test_files import listing, planted_link, read_only

ROOT = Path(__file__).resolve().parents[2]
SPEC = str(ROOT / "accelerators" / "edge_npu.yaml")


@pytest.fixture(scope="module")
def graph(tmp_path_factory):
    from hwsim.graph.io import write_graph

    path = tmp_path_factory.mktemp("graph") / "u2.json"
    write_graph(two_level_u().build(), path)
    return str(path)


def run(*argv):
    return hwsim("run", SPEC, *argv)


def test_run_leaves_planted_temp_links_alone(tmp_path, graph):
    victim = planted_link(tmp_path, ".t.json.tmp")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / ".report.json.tmp").symlink_to(victim)
    proc = run(graph, "--trace", str(tmp_path / "t.json"), "-o", str(tmp_path / "out"))
    assert proc.returncode == 0, proc.stderr
    assert victim.read_text() == "precious\n"
    assert (tmp_path / "t.json").read_text().startswith("{") and (tmp_path / "out" / "report.json").exists()
    assert listing(tmp_path / "out") == [".report.json.tmp", "layers.csv", "report.json"]


@pytest.mark.torch
def test_extract_leaves_a_planted_temp_link_alone(tmp_path):
    pytest.importorskip("torch")
    victim = planted_link(tmp_path, ".g.json.tmp")
    proc = hwsim("extract", "unet", "--input", "1x3x32x32", "-o", "g.json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert victim.read_text() == "precious\n" and os.readlink(tmp_path / ".g.json.tmp") == str(victim)
    assert (tmp_path / "g.json").read_text().startswith("{")


@pytest.mark.parametrize("command", [
    ["run", SPEC, "GRAPH", "--trace"], ["extract", "unet", "--input", "1x3x32x32", "-o"],
])
def test_a_fifo_target_is_refused_before_any_work(tmp_path, graph, command):
    os.mkfifo(tmp_path / "t.json")
    proc = hwsim(*[graph if a == "GRAPH" else a for a in command], str(tmp_path / "t.json"))
    assert_user_error(proc, str(tmp_path / "t.json"), "is a FIFO")
    assert listing(tmp_path) == ["t.json"] and stat.S_ISFIFO(os.lstat(tmp_path / "t.json").st_mode)


def test_a_directory_trace_target_is_refused(tmp_path, graph):
    (tmp_path / "t.json").mkdir()
    assert_user_error(run(graph, "--trace", str(tmp_path / "t.json")), str(tmp_path / "t.json"), "is a directory")
    assert listing(tmp_path) == ["t.json"] and listing(tmp_path / "t.json") == []


def test_run_writes_nothing_when_output_is_an_existing_file(tmp_path, graph):
    (tmp_path / "taken").write_text("mine\n")
    proc = run(graph, "--trace", str(tmp_path / "t.json"), "-o", str(tmp_path / "taken"))
    assert_user_error(proc, str(tmp_path / "taken"), "not a directory")
    assert listing(tmp_path) == ["taken"] and (tmp_path / "taken").read_text() == "mine\n"


def test_run_writes_nothing_when_an_output_file_is_a_fifo(tmp_path, graph):
    (tmp_path / "out").mkdir()
    os.mkfifo(tmp_path / "out" / "layers.csv")
    proc = run(graph, "--trace", str(tmp_path / "t.json"), "-o", str(tmp_path / "out"))
    assert_user_error(proc, str(tmp_path / "out" / "layers.csv"), "is a FIFO")
    assert listing(tmp_path) == ["out"] and listing(tmp_path / "out") == ["layers.csv"]


def test_run_writes_nothing_when_the_trace_directory_is_missing(tmp_path, graph):
    proc = run(graph, "--trace", str(tmp_path / "nodir" / "t.json"), "-o", str(tmp_path / "out"))
    assert_user_error(proc, str(tmp_path / "nodir" / "t.json"), "no such directory")
    assert listing(tmp_path) == []


@pytest.mark.parametrize("option", ["--trace", "-o"])
def test_a_read_only_directory_is_one_error_line(tmp_path, graph, monkeypatch, capsys, option):
    target = tmp_path / ("t.json" if option == "--trace" else "out")
    read_only(monkeypatch, tmp_path)
    code = main(["run", SPEC, graph, option, str(target)])
    monkeypatch.undo()
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and err.startswith(f"hwsim: error: {target}: ")
    assert "Read-only file system" in err and listing(tmp_path) == []


@pytest.mark.parametrize("command, taken", [
    (["sweep", SPEC, "GRAPH", "--sram", "1KiB:2KiB:x2", "--jobs", "1"], "summary.json"),
    (["compare", SPEC, "GRAPH"], "report.html"),
])
def test_sweep_and_compare_check_their_files_before_any_work(tmp_path, graph, capsys, command, taken):
    if command[0] == "compare":
        pytest.importorskip("matplotlib")
    os.mkfifo(tmp_path / taken)
    code = main([graph if a == "GRAPH" else a for a in command] + ["-o", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and err == f"hwsim: error: {tmp_path / taken}: is a FIFO; hwsim writes regular files only\n"
    assert listing(tmp_path) == [taken] and stat.S_ISFIFO(os.lstat(tmp_path / taken).st_mode)
