"""Streamed layers that are alike, so that one search serves them all (``tiling``).

How a streamed layer is best run (which banded tensors stay whole, the band height, the
weight chunks: ``tiling._Shape``) depends on its tensors only through their sizes and
geometry, never their names: the band model's row maps, each tensor's pieces and the
storages holding them (and how many bytes those take), which tensors DRAM holds already,
which are graph outputs, the layer's weights, and the room. Networks repeat blocks: NAFNet
at 128 KiB streams 338 layers of 49 kinds. :func:`likeness` writes all of that down with every
name replaced by the place it first appears in, so two layers with the same likeness have
the same best choices, position for position; ``tiling`` then searches once per likeness
within one context and reads the other layers' choices off by position.

What the search reads of a layer, and so what the likeness holds (``tiling._Shape``):

* the band model: driver rows, and the row maps of its banded reads and writes, in order;
  its whole reads and writes, in order (a whole write that aliases another tensor counts
  apart);
* per tensor: its pieces (bytes, and the storage holding each); a write's own storage;
  whether DRAM holds it before the layer runs; whether it is a graph output;
* per storage named: its bytes (a concatenation's storage holds other tensors too);
* the layer's weights: bytes, output channels; the storages it needs when run whole;
* the room: SRAM bytes, weight buffer, alignment (the tile-slot choice, which reads DRAM
  timing and the layer's cycles, is made for each layer apart).

The likeness names everything the search reads, so a graph also remembers each search by it
(:func:`remembered`) for its later contexts. Within a context, :class:`Searched` keeps a
search with the tile-slot choices made of it, and :class:`Shared` what the modes of the layers
alike have in common, by position, and what the walk works out of them once (``stream``).
"""

from __future__ import annotations

from typing import Callable, Hashable

from hwsim.graph.ir import Graph
from hwsim.schedule.bands import BandModel
from hwsim.schedule.storage import Layout, LayerNeed

REMEMBERED = 4096  # what a graph keeps of each kind (``remembered``), the oldest dropped first


def remembered(g: Graph, kind: str, key: Hashable, compute: Callable[[], object]) -> object:
    """``compute()``, kept on graph ``g`` per ``kind`` and ``key``, which names everything it
    depends on besides the graph: the contexts of one schedule, and later schedules of the
    graph (a sweep's points, a benchmark's repeats), share it. At most ``REMEMBERED`` of a
    kind are kept (a sweep of many rooms would otherwise keep a search for every layer kind at
    every room); dropping one only means working it out again."""
    cache = g.memo(("remembered", kind), lambda _: {})
    found = cache.get(key)
    if found is None:
        found = cache[key] = compute()
        if len(cache) > REMEMBERED:
            cache.pop(next(iter(cache)), None)
    return found


def forget(g: Graph) -> None:
    """Drop all that graph ``g`` remembers (:func:`remembered`): a benchmark of what one run
    costs schedules again on a graph whose analyses are warm but that has remembered nothing of
    that SRAM size (``experiments/bench_sim.py``)."""
    g.forget(lambda key: isinstance(key, tuple) and key[:1] == ("remembered",))


def likeness(model: BandModel, layout: Layout, need: LayerNeed, in_dram: frozenset[str], outputs: frozenset[str],
             room: tuple) -> tuple:
    """The layer's likeness (module docstring); ``room``: the room's figures, as a tuple. All but
    which tensors DRAM holds and the room depends on the layer and the layout alone, so it is
    written down once per layer and layout (kept on the layout) and only those two are added
    each time (a context asks it of every streamed layer)."""
    cache = layout.__dict__.setdefault("_likeness", {})
    hit = cache.get((id(model), id(need)))
    if hit is None or hit[0] is not model or hit[1] is not need or hit[2] != outputs:
        names, fixed = _fixed(model, layout, need, outputs)
        fixed = layout.__dict__.setdefault("_fixed", {}).setdefault(fixed, fixed)  # one object: equal keys compare fast
        hit = cache[id(model), id(need)] = (model, need, outputs, names, fixed)
    names, fixed = hit[3], hit[4]
    return fixed, tuple([n in in_dram for n in names]), room


def resident(model: BandModel, layout: Layout, kept: frozenset[int]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(pieces read resident, pieces written resident) by a streamed layer (``tiling``) whose
    banded tensors at positions ``kept`` (in its band model's reads, then writes) stay whole;
    kept on the layout per layer (its band model) and ``kept``, as :func:`likeness` keeps its
    part (every context asks it of every streamed layer)."""
    cache = layout.__dict__.setdefault("_resident", {})
    hit = cache.get((id(model), kept))
    if hit is None or hit[0] is not model:
        banded = (*model.reads, *model.writes)
        names = frozenset([banded[i] for i in kept])
        whole_reads = tuple(p for t in model.whole_reads for p in layout.covers[t])
        whole_writes = tuple(w for w in model.whole_writes if not layout.is_alias(w))
        reads = whole_reads + tuple(p for t in model.reads if t in names for p in layout.covers[t])
        hit = cache[id(model), kept] = (model, tuple(dict.fromkeys(reads)),
                                        whole_writes + tuple(w for w in model.writes if w in names))
    return hit[1], hit[2]


def _fixed(model: BandModel, layout: Layout, need: LayerNeed, outputs: frozenset[str]) -> tuple[list[str], tuple]:
    """The tensors the likeness names, in the order of their places, and all of the likeness
    that does not change from one walk to the next: everything but DRAM and the room."""
    names = list(dict.fromkeys((*model.reads, *model.writes, *model.whole_reads, *model.whole_writes)))
    place = {n: i for i, n in enumerate(names)}
    storage_ids: dict[str, int] = {}

    def storage(s: str) -> int:
        return storage_ids.setdefault(s, len(storage_ids))

    tensors = tuple((tuple((layout.piece_bytes[p], storage(layout.storage_of[p])) for p in layout.covers[n]),
                     storage(layout.storage_of[n]) if n in layout.storage_of else None,
                     n in outputs, layout.is_alias(n)) for n in names)
    needed = tuple(storage(s) for s in need.storages)
    return names, (model.rows, tuple((place[n], maps) for n, maps in model.reads.items()),
                   tuple((place[n], m) for n, m in model.writes.items()), tuple(place[n] for n in model.whole_reads),
                   tuple(place[n] for n in model.whole_writes), tensors,
                   tuple(layout.storages[s].nbytes for s in storage_ids), needed, need.weight_bytes,
                   need.out_channels)


class Searched:
    """One search (``tiling._search``) as the layers alike in one context share it: ``found``, the
    best fit per slot count with its kept tensors as positions in the banded tensors (the band
    model's reads, then its writes); ``table``, the band table it was made with (by position,
    every layer alike's own table gives the same figures: same row maps, same bytes); ``room``,
    the context's room. Kept with it, once worked out: ``two``, whether two tile slots beat one,
    per compute cycles (it reads only those, the fits and the room's DRAM timing); ``modes``,
    per slot count, what those layers' modes share (:class:`Shared`)."""

    __slots__ = ("found", "table", "room", "two", "modes")

    def __init__(self, found: dict, table, room):
        self.found, self.table, self.room = found, table, room
        self.two: dict[int, tuple] = {}  # cycles -> (SlotChoice two, SlotChoice one, outcome)
        self.modes: dict[int, Shared] = {}  # slot count chosen -> what the modes share


class Shared:
    """What the modes of the streamed layers alike with one slot count share, by position in the
    banded tensors (``tiling._streamed`` names them for each layer): kept positions, band height,
    weight chunks, bands, tile slots, the positions banded in reads and in writes, each position's
    tile bytes, the weight region; and, worked out by the first walk that needs them (``stream``),
    the tiles' figures per (output channels, compute cycles), the arena per alignment and sharing,
    and how the walk's note says they cut their layer."""

    __slots__ = ("searched", "kept", "height", "chunks", "bands", "slots", "band_reads", "band_writes", "tiles",
                 "region", "figures", "arenas", "note")

    def __init__(self, searched: Searched, kept: frozenset[int], height: int, chunks: tuple, bands: tuple,
                 slots: int, band_reads: tuple[int, ...], band_writes: tuple[int, ...], tiles: tuple[int, ...],
                 region: int):
        self.searched, self.kept, self.height, self.chunks, self.bands = searched, kept, height, chunks, bands
        self.slots, self.band_reads, self.band_writes = slots, band_reads, band_writes
        self.tiles, self.region = tiles, region
        self.figures: dict[tuple[int, int], tuple] = {}  # (channels, cycles) -> ``stream._tile_figures``
        self.arenas: dict[tuple, tuple] = {}  # (alignment, weights shared) -> ``stream._arena_layout`` by position
        self.note: str | None = None  # ``stream._cut``
