"""Per band height, the figures of a streamed layer's bands that the choice of how to stream it
(``tiling``) weighs: each banded tensor's tile bytes (its largest band) and the bytes all its
bands move (halo rows counted again).

That choice asks for them at many heights, for every set of operands it keeps resident and
both tile-slot counts, and the answers depend only on the layer's band model, the tensors'
bytes and the height. A :class:`BandTable` computes them once: for a layer of at most
``ALL_HEIGHTS`` driver rows, for every height in one vectorised pass over all the bands of all
heights (about ``rows x ln(rows)`` bands); for a taller layer, each height when first asked
(the bands of one height in one pass), as most heights of a long layer are never asked for.
Tables are memoised per graph, layer and tensor bytes (:func:`band_table`); they also keep, per
height asked, what every band moves (:meth:`BandTable.moved`, for the tiles of a streamed layer).
The figures are exactly :meth:`~hwsim.schedule.bands.BandModel.bands_bytes` of the bands
:func:`~hwsim.schedule.bands.bands` cuts: its maximum and its sum.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from hwsim.graph.ir import Graph
from hwsim.schedule.bands import BandModel, band_model

ALL_HEIGHTS = 1024  # driver rows up to which every height is computed at once


class BandTable:
    """Tile bytes and band bytes of ``names`` (``sizes`` bytes each) at each band height."""

    def __init__(self, model: BandModel, names: tuple[str, ...], sizes: tuple[int, ...]):
        self.model, self.names, self.sizes = model, names, sizes
        self._at: dict[int, tuple[tuple[int, ...], tuple[int, ...]]] = {}  # height -> (tiles, sums)
        self._all: tuple[np.ndarray, np.ndarray] | None = None  # every height: (tiles, sums), one row each
        self._moved: dict[int, tuple[np.ndarray, ...]] = {}  # height -> each tensor's bytes per band
        self._aligned: dict[int, np.ndarray] = {}  # alignment -> every height's aligned tiles
        self._lines: dict[tuple[int, tuple[int, ...]], list[int] | None] = {}  # (alignment, columns) -> arena
        if model.rows <= ALL_HEIGHTS:
            self._all = self._compute(np.arange(1, model.rows + 1, dtype=np.int64))
        # each tensor's fewest band bytes over every height (zeros when not every height is known)
        self.least_sums = tuple(self._all[1].min(axis=0).tolist()) if self._all is not None else (0,) * len(names)

    def tiles(self, height: int) -> tuple[int, ...]:
        """Each tensor's largest band at ``height`` driver rows (its tile buffer's bytes)."""
        return self._figures(height)[0]

    def sums(self, height: int) -> tuple[int, ...]:
        """Each tensor's bytes summed over the bands of ``height`` driver rows."""
        return self._figures(height)[1]

    def aligned_tiles(self, alignment: int) -> np.ndarray | None:
        """Every height's tile bytes rounded up to ``alignment`` (a row per height from 1, a column
        per tensor; None for a layer taller than ``ALL_HEIGHTS``). Read-only."""
        if self._all is None:
            return None
        found = self._aligned.get(alignment)
        if found is None:
            found = self._aligned[alignment] = -(-self._all[0] // alignment) * alignment
            found.flags.writeable = False
        return found

    def arena(self, alignment: int, columns: tuple[int, ...], height: int) -> int:
        """One tile slot of each tensor of ``columns`` (positions in ``names``) at ``height`` driver
        rows, each rounded up to ``alignment``, summed (what a streamed layer's tile arena takes
        per slot): from a line over every height, kept per alignment and columns, when the table
        has every height; else from that height's tiles."""
        key = (alignment, columns)
        line = self._lines.get(key, False)
        if line is False:
            tiles = self.aligned_tiles(alignment)
            line = self._lines[key] = None if tiles is None else \
                tiles[:, list(columns)].sum(axis=1).tolist() if columns else [0] * len(tiles)
        if line is not None:
            return line[height - 1]
        terms = [-(-b // alignment) * alignment for b in self.tiles(height)]
        return sum(map(terms.__getitem__, columns))

    def moved(self, height: int) -> tuple[np.ndarray, ...]:
        """Each tensor's bytes in every band of ``height`` driver rows, in band order (what a
        streamed layer's tiles move: ``hwsim.schedule.stream``). Read-only arrays."""
        found = self._moved.get(height)
        if found is None:
            rows = self.model.rows
            o0 = np.arange(0, rows, height, dtype=np.int64)
            o1 = np.minimum(o0 + height, rows)
            found = tuple(self.model.bands_bytes(name, nbytes, o0, o1) for name, nbytes in zip(self.names, self.sizes))
            for a in found:
                a.flags.writeable = False
            self._moved[height] = found
        return found

    def _figures(self, height: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
        found = self._at.get(height)
        if found is None:
            if self._all is not None:
                tiles, sums = self._all[0][height - 1], self._all[1][height - 1]
            else:
                tiles, sums = (a[0] for a in self._compute(np.array([height], dtype=np.int64)))
            found = self._at[height] = (tuple(tiles.tolist()), tuple(sums.tolist()))
        return found

    def _compute(self, heights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(tiles, sums), a row per height of ``heights``, a column per tensor."""
        rows = self.model.rows
        counts = -(-rows // heights)  # bands per height
        starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
        height = np.repeat(heights, counts)
        o0 = (np.arange(int(counts.sum()), dtype=np.int64) - np.repeat(starts, counts)) * height
        o1 = np.minimum(o0 + height, rows)
        tiles = np.empty((len(heights), len(self.names)), dtype=np.int64)
        sums = np.empty_like(tiles)
        for j, (name, nbytes) in enumerate(zip(self.names, self.sizes)):
            moved = self.model.bands_bytes(name, nbytes, o0, o1)
            tiles[:, j] = np.maximum.reduceat(moved, starts)
            sums[:, j] = np.add.reduceat(moved, starts)
        return tiles, sums


def band_table(g: Graph, index: int, names: tuple[str, ...], sizes: tuple[int, ...]) -> BandTable:
    """The table of layer ``index``'s band model for ``names`` of ``sizes`` bytes (memoised per graph)."""
    return g.memo(("band_table", index, names, sizes), lambda _: BandTable(band_model(g, index), names, sizes))


def tallest_band(arena: Callable[[int], int], room: int, rows: int) -> int:
    """The tallest band height ``h`` in [1, rows] with ``arena(h) <= room`` (``arena(1)`` fits).

    ``arena`` grows with ``h`` nearly linearly (a taller band needs a bigger tile, up to the
    rounding of rows between tensors of different heights): start from the straight line
    through ``h = 1`` and ``h = rows``, probe it, then bisect the bracket, so a handful of
    evaluations suffice. Whatever ``h`` is returned, its tile fits (it was evaluated).
    """
    full = arena(rows)
    if full <= room:
        return rows
    one = arena(1)
    guess = 1 + (room - one) * (rows - 1) // max(full - one, 1)
    lo, hi = 1, rows - 1  # arena(lo) fits, arena(hi + 1) does not
    for probe in (guess, guess + 1):
        if lo <= probe <= hi:
            if arena(probe) <= room:
                lo = probe
            else:
                hi = probe - 1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if arena(mid) <= room:
            lo = mid
        else:
            hi = mid - 1
    return lo
