"""Your own model (``file.py:Name``) in a sweep: extracted at --input or each input-axis size, and
cached by its source and shape."""

import csv
import io
import shutil
from pathlib import Path

import pytest

from hwsim.cli import main
from hwsim.errors import UserError
from hwsim.sweep.axes import parse_axis
from hwsim.sweep.driver import SweepRequest, run_sweep
from hwsim.sweep.executors import LocalExecutor
from hwsim.sweep.graphs import cache_name, resolve_graphs
from hwsim.sweep.grid import build_grid
from tests.sweep.helpers import SPEC

pytestmark = pytest.mark.torch
pytest.importorskip("torch")

MODELS = Path(__file__).resolve().parents[1] / "extract" / "models.py"


@pytest.fixture
def model_file(tmp_path):
    path = tmp_path / "mine.py"
    shutil.copy(MODELS, path)
    return path


def test_extracted_once_per_source_and_shape_and_again_after_an_edit(model_file, tmp_path):
    ref = f"{model_file}:PlainUNet"
    notes = []
    first = resolve_graphs([ref], None, tmp_path / "out", notes.append, (1, 3, 32, 32))
    assert first.labels == ("PlainUNet",) and len(notes) == 1
    name = cache_name(ref, (1, 3, 32, 32))
    assert name.startswith("PlainUNet_") and name.endswith("_1x3x32x32.json")
    assert (tmp_path / "out" / "graphs" / name).is_file()
    again = resolve_graphs([ref], None, tmp_path / "out", notes.append, (1, 3, 32, 32))
    assert len(notes) == 1 and again.digests == first.digests  # read back, not extracted
    resolve_graphs([ref], None, tmp_path / "out", notes.append, (1, 3, 64, 64))
    assert len(notes) == 2  # another shape
    model_file.write_text(model_file.read_text() + "\n# edited\n")
    assert cache_name(ref, (1, 3, 32, 32)) != name
    resolve_graphs([ref], None, tmp_path / "out", notes.append, (1, 3, 32, 32))
    assert len(notes) == 3  # the edited source is extracted again


def test_the_input_axis_re_extracts_your_model(model_file, tmp_path):
    grid = build_grid([parse_axis("32,64", "input", "grid")], [("--sram", parse_axis("256KiB", "sram.size", "--sram"))], [])
    outcome = run_sweep(SweepRequest(SPEC, (f"{model_file}:PlainUNet",), grid, tmp_path / "out"),
                        LocalExecutor(1), io.StringIO())
    assert [(r["graph"], r["input"], r["status"]) for r in outcome.rows] == [
        ("PlainUNet", "32x32", "ok"), ("PlainUNet", "64x64", "ok")]
    cached = sorted(p.name.rpartition("_")[2] for p in (tmp_path / "out" / "graphs").iterdir())
    assert cached == ["1x3x32x32.json", "1x3x64x64.json"]  # batch and channels of the default shape
    assert outcome.rows[1]["live_peak_bytes"] > outcome.rows[0]["live_peak_bytes"]


def test_sweep_cli_takes_your_model_and_input(model_file, tmp_path, capsys):
    code = main(["sweep", SPEC, f"{model_file}:PlainUNet", "--input", "1x3x32x32", "--sram", "64KiB,1MiB",
                 "--jobs", "1", "--quiet", "-o", str(tmp_path / "out")])
    assert code == 0, capsys.readouterr().err
    rows = list(csv.DictReader(open(tmp_path / "out" / "results.csv")))
    assert [r["graph"] for r in rows] == ["PlainUNet", "PlainUNet"]


def test_an_input_axis_and_input_together_are_refused(model_file, tmp_path):
    grid = build_grid([parse_axis("32", "input", "grid")], [], [])
    with pytest.raises(UserError, match="give one"):
        run_sweep(SweepRequest(SPEC, (f"{model_file}:PlainUNet",), grid, tmp_path / "out",
                               input_shape=(1, 3, 32, 32)), LocalExecutor(1), io.StringIO())
