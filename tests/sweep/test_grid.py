"""Grid files and the merge with the command-line axes."""

import pytest

from hwsim.errors import UserError
from hwsim.sweep.axes import parse_axis
from hwsim.sweep.grid import build_grid, load_grid_file


def write(tmp_path, text):
    path = tmp_path / "grid.yaml"
    path.write_text(text)
    return path


def test_grid_file_axes_and_settings(tmp_path):
    axes, fixed = load_grid_file(write(tmp_path, """
axes:
  policy.spill: [belady, lru]
  dram.bandwidth: 4GB/s,8GB/s
  input: [32, 48x64]
set:
  dram.latency: 200 ns
"""))
    assert [(a.name, a.axis().values) for a in axes] == [
        ("policy.spill", ("belady", "lru")), ("dram.bandwidth", ("4 GB/s", "8 GB/s")),
        ("input", ("32x32", "48x64"))]
    assert fixed == ["dram.latency=200 ns"]
    grid = build_grid(axes, [("--sram", parse_axis("1MiB,2MiB", "sram.size", "--sram"))], fixed)
    assert [a.name for a in grid.axes] == ["input", "policy.spill", "dram.bandwidth", "sram.size"]
    points = grid.points(["a", "b"])
    assert len(points) == 2 * 2 * 2 * 2 * 2
    assert len({p.key for p in points}) == len(points)
    first = points[0]
    assert first.graph == "a" and first.input == "32x32"
    assert first.spec_changes() == {"policy.spill": "belady", "dram.bandwidth": "4 GB/s", "sram.size": "1 MiB"}


def test_points_sort_in_grid_order():
    grid = build_grid([], [("--sram", parse_axis("2MiB,1MiB", "sram.size", "--sram")),
                           ("--bits", parse_axis("16,8", "datatype.activation_bits", "--bits"))], [])
    points = grid.points(["z", "a"])
    shuffled = sorted(points, key=lambda p: p.key)
    assert sorted(shuffled, key=lambda p: grid.order(p, ["z", "a"])) == points
    assert [p.spec_changes()["datatype.activation_bits"] for p in points[:2]] == [16, 8]


@pytest.mark.parametrize("text, words", [
    ("axes: [1, 2]", ["'axes' must be a mapping"]),
    ("axes:\n  sram.sise: 1MiB", ["sram.sise", "did you mean"]),
    ("axes:\n  sram.size: 1MiB\n  sram.size: 2MiB", ["duplicate key"]),
    ("axis:\n  sram.size: 1MiB", ["unknown key", "axis"]),
    ("set:\n  nope: 1", ["nope"]),
    ("axes:\n  sram.size: 2MiB:1MiB:x2", ["axes.sram.size", "ends below"]),
])
def test_bad_grid_files(tmp_path, text, words):
    with pytest.raises(UserError) as info:
        load_grid_file(write(tmp_path, text))
    message = str(info.value)
    assert "grid.yaml" in message and all(w in message for w in words), message


def test_a_field_is_swept_once_and_not_also_fixed():
    sram = parse_axis("1MiB", "sram.size", "--sram")
    with pytest.raises(UserError, match="swept twice"):
        build_grid([sram], [("--sram", sram)], [])
    with pytest.raises(UserError, match="both fixed"):
        build_grid([], [("--sram", sram)], ["sram.size=2MiB"])
