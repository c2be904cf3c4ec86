"""``hwsim compare``: the files it writes, the sweep figure, determinism, user errors."""

import subprocess
import sys
from pathlib import Path

import pytest

from hwsim.cli import main
from hwsim.graph.io import write_graph
from tests.report.pngread import png_size
from tests.report.variants import variant_graphs
from tests.sweep.helpers import SPEC

pytest.importorskip("matplotlib")
ROOT = Path(__file__).resolve().parents[2]
FIGS = ["fig_dram_by_kind.png", "fig_skip_memory.png", "fig_sram_gantt.png"]


@pytest.fixture(scope="module")
def graphs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("graphs")
    paths = []
    for g in variant_graphs():
        write_graph(g, tmp / f"{g.name}.json")
        paths.append(str(tmp / f"{g.name}.json"))
    return paths


@pytest.fixture(scope="module")
def sweep_dir(graphs, tmp_path_factory):
    out = tmp_path_factory.mktemp("sweep")
    assert main(["sweep", SPEC, *graphs, "--sram", "1KiB:16KiB:x2", "--bits", "8,16", "--jobs", "1",
                 "-o", str(out)]) == 0
    return out


def compare(capsys, *argv):
    code = main(["compare", *argv])
    return (code, *capsys.readouterr())


def test_writes_report_figures_and_table(capsys, graphs, tmp_path):
    code, out, err = compare(capsys, SPEC, *graphs, "--set", "sram.size=4KiB", "-o", str(tmp_path))
    assert code == 0 and out == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["compare.json", "report.html", "report.md", *FIGS])
    for name in FIGS:
        width, height = png_size((tmp_path / name).read_bytes())
        assert width >= 800 and height >= 300, name
    md = (tmp_path / "report.md").read_text()
    assert "| M_sc (skip tensors, peak) | KiB | 3.00 | 0.00 | -100.0 % |" in md
    assert "SRAM 4 KiB" in md
    html = (tmp_path / "report.html").read_text()
    # the rows of both execution modes: ROWS, then OTHER_ROWS for cascade mode
    assert html.count('<tr data-metric=') == 14 + 5 and html.count("data:image/png;base64,") == 3
    assert 'src="fig_' not in html  # nothing outside the page


def test_same_inputs_same_bytes(capsys, graphs, tmp_path):
    for name in ("a", "b"):
        assert compare(capsys, SPEC, *graphs, "-o", str(tmp_path / name))[0] == 0
    for f in ["compare.json", "report.md", "report.html", *FIGS]:
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes(), f


def test_sweep_adds_the_sram_figure(capsys, graphs, sweep_dir, tmp_path):
    code, _, _ = compare(capsys, SPEC, *graphs, "--sweep", str(sweep_dir), "-o", str(tmp_path))
    assert code == 0
    assert png_size((tmp_path / "fig_sweep.png").read_bytes())[0] >= 800
    assert "](fig_sweep.png)" in (tmp_path / "report.md").read_text()


def test_load_sweep_curves(graphs, sweep_dir):
    from hwsim.report.compare import load_sweep

    curves = load_sweep(sweep_dir, ["u2"])
    assert [c.label for c in curves] == ["u2, activation_bits=8", "u2, activation_bits=16"]
    for c in curves:
        assert list(c.sram_bytes) == sorted(c.sram_bytes) and len(c.sram_bytes) >= 3
        assert c.knee_bytes in c.sram_bytes and c.zero_spill_bytes > 0
    assert len(load_sweep(sweep_dir, ["not_in_the_sweep"])) == 4  # then every curve


@pytest.mark.parametrize("extra, words", [
    (["--sweep", "nowhere"], ["--sweep nowhere", "not a finished sweep"]),
    (["--set", "sram.sise=1MiB"], ["sram.sise"]),
])
def test_user_errors_write_nothing(graphs, tmp_path, extra, words):
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "hwsim", "compare", SPEC, *graphs, "-o", str(out), *extra],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 2 and proc.stderr.startswith("hwsim: error:"), proc.stderr
    assert proc.stderr.count("\n") == 1 and all(w in proc.stderr for w in words), proc.stderr
    assert not out.exists()


def test_sweep_without_sram_axis_is_refused(capsys, graphs, tmp_path):
    assert main(["sweep", SPEC, graphs[0], "--bits", "8,16", "--jobs", "1", "-o", str(tmp_path / "s")]) == 0
    code, _, err = compare(capsys, SPEC, *graphs, "--sweep", str(tmp_path / "s"), "-o", str(tmp_path / "r"))
    assert code == 2 and "no sram.size axis" in err
    assert not (tmp_path / "r").exists()


def test_your_own_model_at_an_input_size(capsys, tmp_path):
    pytest.importorskip("torch")
    import json

    code, _, err = compare(capsys, SPEC, "tests/extract/models.py:PlainUNet", "--input", "1x3x32x32",
                           "-o", str(tmp_path))
    assert code == 0, err
    assert json.loads((tmp_path / "compare.json").read_text())["variants"] == ["PlainUNet"]
    [cached] = (tmp_path / "graphs").iterdir()
    assert cached.name.startswith("PlainUNet_") and cached.name.endswith("_1x3x32x32.json")
