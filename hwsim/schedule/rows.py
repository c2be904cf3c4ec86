"""Row arithmetic of a cascade: how far each layer runs per stripe, and the rows each tensor keeps.

A cascade runs a chain of layers together in ``S`` horizontal stripes. Every layer works on
the rows (H) of its output; its band model (``bands``) says which rows of each input
driver rows ``[o0, o1)`` need (convolution windows with their halo, stride-2 and 2x
resampling, pixel (un)shuffles, concatenations). From that:

* **Progress.** A *sink* (a layer none of whose outputs is read inside the cascade)
  finishes ``ceil(i * R / S)`` of its ``R`` rows after stripe ``i``. Every other layer runs,
  by stripe ``i``, just as far as its consumers inside the cascade need: the largest row of
  each output they read, mapped back to its own rows. Every layer has finished all its rows
  after the last stripe (its outputs that leave the cascade are complete).
* **Rows kept.** A tensor produced and consumed inside the cascade lives in a rolling
  buffer: during stripe ``i`` it holds the rows from the lowest row a consumer still needs
  after stripe ``i - 1`` up to the last row written in stripe ``i``. Its buffer has the most
  rows that ever held at once (halo rows are kept, never recomputed). For a tensor read
  soon after it is made this is a stripe plus halo; for a skip whose consumer waits for a
  deeper path (a U-Net inside one cascade) it is a *delay line*: the rows the deeper path's
  row offsets keep ahead, worked out here, not a whole map.

Tensors that enter or leave the cascade, and values reduced over the whole map (a global
pooling's output), are whole; ``cascade`` decides which layers may share a cascade.

A layer's progress depends only on the layers after it, so the cascades that end at the same
layer in the same stripes share it (:class:`StripeRows`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from hwsim.schedule.bands import BandModel, RowMap


@dataclass(frozen=True)
class LayerRows:
    """The rows one layer works on: its band model with every banded tensor on H."""

    index: int
    rows: int  # driver rows (its output's H)
    model: BandModel

    @property
    def reads(self) -> dict[str, tuple[RowMap, ...]]:
        return self.model.reads

    @property
    def writes(self) -> dict[str, RowMap]:
        return self.model.writes


def layer_rows(model: BandModel | None, index: int, shapes) -> LayerRows | None:
    """``model`` as a cascade sees it, or None if a banded tensor is not banded along H of a map or
    the layer needs two passes over the rows (a statistic of the whole map used on every row: a
    stripe has only the rows made so far)."""
    if model is None or model.two_pass:
        return None
    maps = [m for ms in model.reads.values() for m in ms] + list(model.writes.values())
    names = [n for n, ms in model.reads.items() for _ in ms] + list(model.writes)
    for name, m in zip(names, maps):
        if m.axis != 2 or len(shapes[name]) != 4:
            return None
    return LayerRows(index, model.rows, model)


def _ceil_div(a, b):
    return -(-a // b)


def _same_rows(m: RowMap, driver: int) -> bool:
    """Whether ``m`` maps driver rows ``[o0, o1)`` to rows ``[o0, o1)`` of its tensor (an element-wise
    or a 1x1 convolution's input): the common case, worked out without :meth:`RowMap.spans`."""
    return m.rows == driver and (m.kind == "fraction" or (m.kind == "window" and m.params == (1, 1, 0, 1)))


def needed_hi(maps: tuple[RowMap, ...], done: np.ndarray, driver: int) -> np.ndarray:
    """Rows ``[0, hi)`` of a tensor that driver rows ``[0, done)`` of its consumer read."""
    his = [done if _same_rows(m, driver) else np.where(done > 0, m.spans(np.zeros_like(done), done, driver)[1], 0)
           for m in maps]
    return his[0] if len(his) == 1 else np.maximum.reduce(his)


def needed_lo(maps: tuple[RowMap, ...], done: np.ndarray, driver: int, rows: int) -> np.ndarray:
    """The lowest row of a tensor its consumer still reads once it has done ``done`` driver rows
    (``rows``, past the end, when it is finished)."""
    los = [np.where(done < driver, done if _same_rows(m, driver) else
                    m.spans(done, np.full_like(done, driver), driver)[0], rows) for m in maps]
    return los[0] if len(los) == 1 else np.minimum.reduce(los)


def layer_progress(lr: LayerRows, consumers: dict[str, list[tuple[int, tuple[RowMap, ...]]]],
                   done: dict[int, np.ndarray], rows: Sequence[LayerRows | None], stripes: int) -> np.ndarray:
    """Driver rows layer ``lr`` has finished after stripe ``i`` (``i = 0 .. stripes``), given ``done``
    for the consumers of its outputs inside the cascade (``consumers``: banded tensor -> (consumer
    layer, its maps)); ``rows``: every layer's rows, by index."""
    need, followed = None, None
    for name, wmap in lr.writes.items():
        for c, maps in consumers.get(name, ()):
            hi = needed_hi(maps, done[c], rows[c].rows)
            driver = hi if lr.rows == wmap.rows else _ceil_div(hi * lr.rows, wmap.rows)
            need = driver if need is None else np.maximum(need, driver)
            followed = done[c]
    if need is None:
        p = _ceil_div(np.arange(stripes + 1, dtype=np.int64) * lr.rows, stripes)
    elif need is followed and need[-1] == lr.rows:
        return need  # its one consumer's progress, row for row (already rising to all its rows)
    else:
        p = np.minimum(np.maximum.accumulate(need), lr.rows)
    p[-1] = lr.rows
    return p


def rolling_rows(producer: LayerRows, name: str, readers: list[tuple[int, tuple[RowMap, ...]]],
                 done: dict[int, np.ndarray], by: Sequence[LayerRows | None]) -> int:
    """The most rows of ``name`` (written by ``producer``, read only by ``readers``) held at once."""
    wmap = producer.writes[name]
    written = done[producer.index]  # its driver rows map to its rows of ``name`` one to one, or in proportion
    if wmap.rows != producer.rows:
        written = np.minimum(_ceil_div(written * wmap.rows, producer.rows), wmap.rows)
    low = None
    for c, maps in readers:
        lo = needed_lo(maps, done[c], by[c].rows, wmap.rows)
        low = lo if low is None else np.minimum(low, lo)
    held = written[1:] - np.minimum(low[:-1], written[1:])
    return int(min(max(int(held.max()), 1), wmap.rows))


class StripeRows:
    """Progress and rows held in cascades ending at layer ``last`` in ``stripes`` stripes, layer by
    layer from ``last`` down as far as asked: a layer's progress depends only on the layers after
    it (the consumers of its outputs inside the cascade), so every cascade ending there shares them.

    ``rows``: every layer's rows, by index; ``readers``: tensor -> (layer, its maps) of every layer
    reading it in bands, in order; ``producer``: tensor -> the layer writing it."""

    def __init__(self, rows: Sequence[LayerRows | None], readers: dict[str, list[tuple[int, tuple[RowMap, ...]]]],
                 producer: dict[str, int], last: int, stripes: int):
        self.rows, self.readers, self.producer = rows, readers, producer
        self.last, self.stripes = last, stripes
        self.done: dict[int, np.ndarray] = {}
        self.rows_done: dict[int, tuple[int, ...]] = {}  # ``done`` as a Cascade holds it
        self.held: dict[str, int] = {}
        self._lowest = last + 1  # the lowest layer whose progress is known

    def consumers(self, name: str) -> list[tuple[int, tuple[RowMap, ...]]]:
        return [(c, maps) for c, maps in self.readers.get(name, ()) if c <= self.last]

    def progress(self, t: int) -> np.ndarray:
        """Driver rows layer ``t`` has finished after each stripe (``layer_progress``)."""
        while self._lowest > t:
            self._lowest -= 1
            lr = self.rows[self._lowest]
            consumers = {name: self.consumers(name) for name in lr.writes}
            self.done[lr.index] = layer_progress(lr, consumers, self.done, self.rows, self.stripes)
            self.rows_done[lr.index] = tuple(self.done[lr.index].tolist())
        return self.done[t]

    def rows_held(self, name: str) -> int:
        """The most rows of ``name`` held at once (``rolling_rows``)."""
        if name not in self.held:
            producer = self.rows[self.producer[name]]
            self.progress(producer.index)
            self.held[name] = rolling_rows(producer, name, self.consumers(name), self.done, self.rows)
        return self.held[name]
