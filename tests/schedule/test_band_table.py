"""Tile and band bytes per band height (``hwsim.schedule.band_table``): figures worked out by hand,
the same figures whether every height is computed at once or each when asked, and equal to the
band model's bands cut one height at a time."""

import numpy as np
import pytest

import hwsim.schedule.band_table as band_table_module
from hwsim.schedule.band_table import BandTable
from hwsim.schedule.bands import BandModel, RowMap, bands

# a 3x3 convolution (stride 1, padding 1) over 8 rows of 10 bytes each, writing 8 rows of 10 bytes
MODEL = BandModel(8, {"x": (RowMap("window", 8, (3, 1, 1, 1), 2),)}, {"y": RowMap("fraction", 8, (), 2)}, (), ())


def table() -> BandTable:
    return BandTable(MODEL, ("x", "y"), (80, 80))


def test_figures_by_hand():
    t = table()
    # height 3: bands [0,3) [3,6) [6,8) read x rows [0,4) [2,7) [5,8): 40, 50, 30 bytes
    assert t.tiles(3) == (50, 30) and t.sums(3) == (120, 80)
    # height 1: x rows [0,2), then 3 rows six times, then [6,8)
    assert t.tiles(1) == (30, 10) and t.sums(1) == (20 + 6 * 30 + 20, 80)
    assert t.tiles(8) == (80, 80) and t.sums(8) == (80, 80)
    assert t.least_sums == (80, 80)  # one band reads no halo


def test_heights_one_at_a_time_give_the_same_figures(monkeypatch):
    every = table()
    monkeypatch.setattr(band_table_module, "ALL_HEIGHTS", 4)  # 8 rows: each height when asked
    asked = table()
    assert asked.least_sums == (0, 0)  # not every height is known: no bound
    for height in range(1, 9):
        assert asked.tiles(height) == every.tiles(height) and asked.sums(height) == every.sums(height)


@pytest.mark.parametrize("maps", [
    (RowMap("window", 37, (5, 2, 2, 1), 2),),
    (RowMap("tconv", 19, (4, 2, 1, 1), 2),),
    (RowMap("scale", 18, (1,), 2), RowMap("fraction", 36, (), 2)),
    (RowMap("segment", 20, (0, 20), 1), RowMap("segment", 17, (20, 17), 1)),
])
def test_equal_to_the_bands_of_each_height(maps):
    model = BandModel(37, {"a": maps}, {"b": RowMap("fraction", 37, (), 2)}, (), ())
    t = BandTable(model, ("a", "b"), (1234, 999))
    for height in range(1, 38):
        cuts = bands(37, height)
        o0, o1 = (np.array(v, dtype=np.int64) for v in zip(*cuts))
        moved = [model.bands_bytes(name, nbytes, o0, o1) for name, nbytes in (("a", 1234), ("b", 999))]
        assert t.tiles(height) == tuple(int(m.max()) for m in moved)
        assert t.sums(height) == tuple(int(m.sum()) for m in moved)


def test_arena_and_band_bytes_by_hand(monkeypatch):
    # height 3 (the figures of test_figures_by_hand): x's largest band 50 B, y's 30 B; aligned to
    # 16 B: 64 and 32, one slot of both 96 B, of y alone 32 B; the same when each height is asked
    every = table()
    assert every.arena(16, (0, 1), 3) == 96 and every.arena(16, (1,), 3) == 32 and every.arena(16, (), 3) == 0
    assert every.arena(1, (0, 1), 1) == 30 + 10  # height 1: 30 B of x (3 rows), 10 B of y
    monkeypatch.setattr(band_table_module, "ALL_HEIGHTS", 4)  # 8 rows: each height when asked
    asked = table()
    assert [asked.arena(16, (0, 1), h) for h in range(1, 9)] == [every.arena(16, (0, 1), h) for h in range(1, 9)]
    # every band of height 3: x reads 40, 50, 30 B, y writes 30, 30, 20 B
    x, y = every.moved(3)
    assert x.tolist() == [40, 50, 30] and y.tolist() == [30, 30, 20]
