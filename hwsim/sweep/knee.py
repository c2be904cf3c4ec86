"""The zero-spill SRAM and the knee of the spill curve, per graph (and per value of the other axes).

**Spill curve**: ``overflow_bytes`` (spill write + spill read + streamed read + streamed write:
the activation traffic that exists only because the SRAM is too small) against the grid's
SRAM sizes, for one graph and one value of every other axis. Points that failed are left
out. Spill alone is not used: below some size layers stream instead of spilling, so spill
traffic can *fall* as the SRAM shrinks while the total overflow keeps rising.

**Knee**: the smallest grid SRAM size from which the overflow stays within ``KNEE_FRACTION``
(10 %) of the curve's range above its minimum: ``overflow(s) - min <= 0.1 * (max - min)``
for that size and every larger grid size. In words: the smallest SRAM that already gets
90 % of the traffic saving the largest grid size gives, and keeps it. A flat curve (nothing
to save) has its knee at the smallest size. It is a property of the grid: a finer grid
moves it. (Distance-from-chord definitions such as Kneedle were not used: spill curves are
step-like, and the "farthest from the chord" point of a step is not where the saving is.)

**No knee in range**: when the rule lands on the largest grid size of a curve that is not
flat, and the overflow there is not zero, the last step of the grid still saves more than
10 % of the range: the curve has not levelled off inside the grid, and calling its end a
knee would mislead (a knee at 16 MiB with 320 MiB of overflow there). ``knee_sram_bytes`` is
then null and ``knee_note`` says so. (Where the overflow reaches zero at the largest size,
the knee is that size: nothing is left to save; the note says so.)
Every curve's ``knee_note`` also explains a knee far below the zero-spill SRAM (the knee gets
90 % of the grid's saving; the overflow left there, and the zero-spill SRAM where it ends,
are named), and a grid that stops before the zero-spill SRAM (its minimum overflow is not 0).

**Zero-spill SRAM**: found by search (:func:`hwsim.schedule.zero_spill_sram`), not read off
the grid. It depends on whether each size's plan is clean (no spill, no streamed layer). The
DRAM figures and the clock reach the scheduler only through the tile slots of streamed layers
(``hwsim.sweep.share``): whether a layer streams does not depend on them, and a plan that
streams nothing is the same at every bandwidth, so cleanliness does not either (in cascade
mode the layer-by-layer walk, when clean, moves only weights, input and output, fewer bytes
than any walk that spills or streams, so it is chosen at every bandwidth). Energy and the
name are never read. So one search serves every point that differs only in ``dram``,
``energy``, ``clock`` or ``name`` (see :func:`search_group`).
"""

from __future__ import annotations

from typing import Any, Sequence

from hwsim.sweep.axes import Axis
from hwsim.sweep.grid import Point

KNEE_FRACTION = 0.10
SRAM_AXIS = "sram.size"
PLAN_INDEPENDENT = ("dram.", "energy.", "clock", "name")
KNEE_DEFINITION = (f"smallest grid SRAM size from which overflow (spill + streamed DRAM traffic) stays within "
                   f"{KNEE_FRACTION:.0%} of the curve's range above its minimum, for it and every larger size")


def knee(curve: Sequence[tuple[int, int]]) -> int | None:
    """The knee SRAM size of ``(sram_bytes, overflow_bytes)`` points (any order); None if empty."""
    points = sorted(curve)
    if not points:
        return None
    values = [v for _, v in points]
    low, high = min(values), max(values)
    limit = low + KNEE_FRACTION * (high - low)
    knee_size = points[-1][0]
    for size, value in reversed(points):
        if value > limit:
            break
        knee_size = size
    return knee_size


FAR_FACTOR = 2  # a zero-spill SRAM more than this many times the knee is "far" from it


def _size(n: int) -> str:
    from hwsim.units import format_bytes

    return format_bytes(n)


def knee_verdict(curve: Sequence[tuple[int, int]], zero_spill: int | None) -> tuple[int | None, str]:
    """The knee of ``curve`` (None when there is no knee in range) and a note explaining it
    (module docstring); ``zero_spill``: the curve's zero-spill SRAM, if known."""
    points = sorted(curve)
    if not points:
        return None, "no point of this curve ran"
    values = [v for _, v in points]
    low, high, largest = min(values), max(values), points[-1][0]
    found = knee(points)
    notes = []
    if low == high:
        notes.append("no overflow at any grid size" if low == 0 else
                     f"flat: {_size(low)} of overflow at every grid size, so the knee is the smallest size")
    elif found == largest and len(points) > 1 and values[-1] > 0:
        notes.append(f"no knee in range: the overflow still falls by more than {KNEE_FRACTION:.0%} of its range "
                     f"in the grid's last step, to {_size(values[-1])} at {_size(largest)}; extend the SRAM axis")
        found = None
    elif found == largest and len(points) > 1:
        notes.append(f"the overflow reaches zero only at the grid's largest size, {_size(largest)}: "
                     "the knee is there, with no flat part of the curve inside the grid to show it")
    if low > 0:
        where = f" (zero-spill SRAM {_size(zero_spill)})" if zero_spill else ""
        notes.append(f"the grid stops before zero spill: {_size(low)} of overflow at best{where}")
    if found is not None and high > low:
        left = dict(points)[found]
        notes.append(f"knee {_size(found)}: {_size(left)} of overflow left there, "
                     f"{100 * (left - low) / (high - low):.1f} % of the grid's range")
        if zero_spill and zero_spill > FAR_FACTOR * found:
            notes.append(f"the knee gets {1 - KNEE_FRACTION:.0%} of the saving; the rest takes the SRAM to "
                         f"{_size(zero_spill)} ({zero_spill / found:.1f}x the knee), where the overflow ends")
    return found, "; ".join(notes)


def search_group(point: Point) -> str:
    """Points with the same search group share one zero-spill search (module docstring)."""
    kept = [(n, v) for n, v in point.values
            if n != SRAM_AXIS and not n.startswith(PLAN_INDEPENDENT)]
    return Point(point.graph, tuple(kept)).key


def curve_group(point: Point) -> tuple:
    """Points on one spill curve: same graph and same value of every axis but the SRAM size."""
    return (point.graph, tuple((n, v) for n, v in point.values if n != SRAM_AXIS))


def _curve_summary(points: list[Point], rows: dict[str, dict], zero_spill: dict,
                   columns: dict[str, str]) -> dict[str, Any]:
    first = points[0]
    ok = [rows[p.key] for p in points if rows[p.key]["status"] == "ok"]
    curve = [(r["sram_bytes"], r["overflow_bytes"]) for r in ok]
    search = zero_spill.get(search_group(first), {})
    if any(n == SRAM_AXIS for n, _ in first.values):
        knee_size, note = knee_verdict(curve, search.get("zero_spill_sram_bytes"))
    else:
        knee_size, note = None, "no SRAM axis: no spill curve"
    at_knee = next((v for s, v in curve if s == knee_size), None)
    return {
        "graph": first.graph,
        "axes": {n: v for n, v in first.values if n != SRAM_AXIS},
        "columns": {columns[n]: rows[first.key][columns[n]] for n, _ in first.values if n != SRAM_AXIS},
        "points": len(points), "points_failed": len(points) - len(ok),
        "zero_spill_sram_bytes": search.get("zero_spill_sram_bytes"),
        "zero_spill_error": search.get("error") or None,
        "knee_sram_bytes": knee_size, "knee_overflow_bytes": at_knee, "knee_note": note,
        "min_overflow_bytes": min((v for _, v in curve), default=None),
        "max_overflow_bytes": max((v for _, v in curve), default=None),
    }


def summarize(points: Sequence[Point], rows: dict[str, dict], zero_spill: dict[str, dict],
              axes: Sequence[Axis]) -> dict[str, Any]:
    """``summary.json``: one entry per spill curve, in grid order, and the knee definition."""
    columns = {a.name: a.column for a in axes}
    groups: dict[tuple, list[Point]] = {}
    for point in points:
        groups.setdefault(curve_group(point), []).append(point)
    return {
        "knee_definition": KNEE_DEFINITION,
        "axes": [a.name for a in axes],
        "curves": [_curve_summary(group, rows, zero_spill, columns) for group in groups.values()],
    }
