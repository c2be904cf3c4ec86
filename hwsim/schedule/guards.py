"""The scheduler's reads of DRAM timing, recorded: each streamed layer's one-or-two tile slots choice.

Of the DRAM and clock fields of a spec (``dram.bandwidth``, ``dram.efficiency``,
``dram.latency``, ``clock``) the scheduler reads, for its decisions, one figure: a streamed
layer's estimated time with one tile slot against its time with two (:func:`two_slots`,
``policy.stream_objective``). Everything else it decides from bytes, rows and compute cycles
(``hwsim.sweep.share`` lists every read and how it was found). :class:`SlotGuard` records one
such comparison: its integer ingredients (the layer's compute cycles; for each slot count the
DRAM bytes the layer moves itself, its tile transfers, its tiles and, for the ``traffic``
objective, the bytes it moves with the later reads) and its outcome. :meth:`SlotGuard.holds`
evaluates the comparison again under another spec, with the same functions
(:func:`layer_time`, :func:`prefer_two`) and the same integer arithmetic as the scheduler
(``AcceleratorSpec.dram_transfer_cycles`` rounds up per transfer, ``dram_latency_cycles``
once), so a tie goes the same way.

The scheduler records these when it is handed a list (``schedule(..., guards=[])``): every
comparison of every context it builds (the margin retries of the placement, a cascade plan's
layer-by-layer walk), in the order made, a failed schedule's up to its failure. A sweep keeps
them beside the plan (the Plan a user sees does not carry them).

Vela and Timeloop have no counterpart (they schedule one configuration per run); Stream's
scheduler reads its cost model's latencies freely, so its schedules are re-made per bandwidth.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from hwsim.schedule.alike import Searched
    from hwsim.schedule.tiling import Room


@dataclass(frozen=True)
class SlotChoice:
    """One slot count's best way to stream a layer, as far as its estimated time needs it."""

    own: int  # DRAM bytes the layer moves itself (its reads in bands, its writes)
    transfers: int  # tile transfers: tiles x banded tensors, each paying the DRAM latency once
    tiles: int  # bands x weight chunks
    traffic: int  # DRAM bytes with the later reads of what it sends out (objective ``traffic``)


def layer_time(choice: SlotChoice, slots: int, cycles: int, transfer: Callable[[int], int], latency: int) -> int:
    """Estimated cycles of a streamed layer (``tiling``, "Tile slots"): ``dma`` = transfer(own)
    + latency x transfers; one slot: cycles + dma; two: max(cycles, dma) + min(cycles, dma) //
    tiles (the first load and the last store, or the first and last computes, that nothing
    overlaps)."""
    dma = transfer(choice.own) + latency * choice.transfers
    return cycles + dma if slots == 1 else max(cycles, dma) + min(cycles, dma) // choice.tiles


def prefer_two(objective: str, cycles: int, two: SlotChoice, one: SlotChoice,
               transfer: Callable[[int], int], latency: int) -> bool:
    """Whether two tile slots beat one: ``latency``, when the estimated time is no longer;
    ``traffic``, when they move no more DRAM bytes, then when no longer."""
    time = (layer_time(two, 2, cycles, transfer, latency), layer_time(one, 1, cycles, transfer, latency))
    if objective == "traffic":
        return (two.traffic, time[0]) <= (one.traffic, time[1])
    return time[0] <= time[1]


@dataclass(frozen=True)
class SlotGuard:
    """One recorded choice between one and two tile slots (the module docstring)."""

    layer: int  # the step of the streamed layer
    objective: str  # policy.stream_objective
    cycles: int  # the layer's compute cycles
    two: SlotChoice
    one: SlotChoice
    two_slots: bool  # the outcome the scheduler took

    def holds(self, transfer: Callable[[int], int], latency: int) -> bool:
        """Whether the comparison comes out the same with DRAM transfers of ``transfer(nbytes)``
        cycles and ``latency`` cycles per transfer (another spec's)."""
        return prefer_two(self.objective, self.cycles, self.two, self.one, transfer, latency) == self.two_slots


def all_hold(guards, spec) -> bool:
    """Whether every guard comes out the same under ``spec`` (an ``AcceleratorSpec``)."""
    latency = spec.dram_latency_cycles()
    return all(g.holds(spec.dram_transfer_cycles, latency) for g in guards)


def two_slots(index: int, banded: int, searched: "Searched", cycles: int, room: "Room") -> bool:
    """Whether two tile slots beat one (``policy.stream_objective``) for streamed layer ``index``
    (``tiling``), which bands ``banded`` tensors, by its search ``searched`` (``alike.Searched``):
    ``latency``, when the layer's estimated time is no longer; ``traffic``, when they move no
    more DRAM bytes (then no longer), so the layer moves the least bytes of all its choices
    with either slot count. That least can only fall as the SRAM grows (every band that fits a
    smaller SRAM fits a larger one), so under ``traffic`` a streamed layer's traffic does not
    grow with the SRAM (given what DRAM already holds before it).
    The comparison reads the search's fits, ``cycles`` and the room's DRAM timing only: the
    layers alike in one context (one room) make it once per compute cycles (``searched.two``),
    each recording its own guard."""
    made = searched.two.get(cycles) if searched.room is room else None
    if made is None:
        found = searched.found
        two, one = _slot_choice(found[2], banded), _slot_choice(found[1], banded)
        made = two, one, prefer_two(room.objective, cycles, two, one, room.transfer, room.latency)
        if searched.room is room:
            searched.two[cycles] = made
    two, one, outcome = made
    if room.guards is not None:  # the one read of DRAM timing: recorded for sharing plans (``guards``)
        room.guards.append(SlotGuard(index, room.objective, cycles, two, one, outcome))
    return outcome


def _slot_choice(choice, banded: int) -> SlotChoice:
    """What the layer's estimated time (:func:`layer_time`) needs of a ``tiling._Shape.fit``: its
    own bytes, tile transfers (tiles x banded tensors not kept), tiles and DRAM bytes."""
    tiles = choice[1]
    return SlotChoice(choice[3], tiles * (banded - len(choice[4])), tiles, choice[0])
