"""One sweep point, as a pure function: (graph, base spec, point) -> a results.csv row.

:func:`run_point` applies the point's spec changes, runs the pipeline and flattens the
Metrics into the row. A point whose spec is invalid or cannot run (an SRAM too small for
any tile of some layer) is a row with ``status`` ``invalid`` and the one-line message; an
unexpected exception (a bug in hwsim) is a row with ``status`` ``error``. Nothing here reads
or writes files or global state, so points run in any process, in any order.

:func:`search_zero_spill` is the other unit of work: the zero-spill SRAM of one graph on one
spec (``hwsim.schedule.zero_spill_sram``).

Row columns after ``graph`` and the axes (figures are integers in cycles and bytes unless
the name says otherwise; ``*_pj`` picojoules, ``latency_s`` seconds):
``status``, ``error``, ``sram_bytes``, ``latency_cycles``, ``latency_s``, ``compute_cycles``,
``stall_cycles``, ``stall_share`` (stall / latency), ``stall_<cause>_cycles`` for the six
causes, ``dram_bytes``, ``dram_read_bytes``, ``dram_write_bytes``, ``dram_<kind>_bytes`` for
the seven traffic kinds, ``spill_bytes`` (spill write + read), ``overflow_bytes`` (spill plus
streamed traffic: all activation traffic a bigger SRAM would save), ``sram_peak_bytes``,
``live_peak_bytes``, ``msc_bytes``, ``energy_<part>_pj`` (total, mac, sram, dram, leakage),
``roofline_cycles``.
"""

from __future__ import annotations

from typing import Any

from hwsim.errors import UserError
from hwsim.gc_pause import paused
from hwsim.graph.ir import Graph
from hwsim.measure import Metrics
from hwsim.schedule.plan import STALL_CAUSES, TRAFFIC_KINDS
from hwsim.spec import AcceleratorSpec, with_overrides
from hwsim.sweep.axes import Axis
from hwsim.sweep.grid import Point

STATUS_OK, STATUS_INVALID, STATUS_ERROR = "ok", "invalid", "error"
OVERFLOW_KINDS = ("spill_write", "spill_read", "streamed_read", "streamed_write")
ENERGY_PARTS = ("total", "mac", "sram", "dram", "leakage")
METRIC_COLUMNS = (
    "sram_bytes", "latency_cycles", "latency_s", "compute_cycles", "stall_cycles", "stall_share",
    *(f"stall_{c}_cycles" for c in STALL_CAUSES),
    "dram_bytes", "dram_read_bytes", "dram_write_bytes", *(f"dram_{k}_bytes" for k in TRAFFIC_KINDS),
    "spill_bytes", "overflow_bytes", "sram_peak_bytes", "live_peak_bytes", "msc_bytes",
    *(f"energy_{p}_pj" for p in ENERGY_PARTS), "roofline_cycles",
)


def columns(axes: tuple[Axis, ...]) -> tuple[str, ...]:
    """The results.csv header."""
    return ("graph", *(a.column for a in axes), "status", "error", *METRIC_COLUMNS)


def metric_cells(m: Metrics) -> dict[str, Any]:
    """The figures of one run under the METRIC_COLUMNS names."""
    e = m.energy
    cells: dict[str, Any] = {
        "sram_bytes": m.sram_bytes, "latency_cycles": m.latency_cycles, "latency_s": m.latency_s,
        "compute_cycles": m.compute_cycles, "stall_cycles": m.stall_cycles,
        "stall_share": m.stall_cycles / m.latency_cycles if m.latency_cycles else 0.0,
        "dram_bytes": m.dram_bytes, "dram_read_bytes": m.dram_read_bytes,
        "dram_write_bytes": m.dram_write_bytes, "spill_bytes": m.spill_bytes,
        "overflow_bytes": sum(m.dram_bytes_by_kind[k] for k in OVERFLOW_KINDS),
        "sram_peak_bytes": m.sram_peak_bytes, "live_peak_bytes": m.live_peak_bytes,
        "msc_bytes": m.msc_bytes, "energy_total_pj": e.total_pj, "energy_mac_pj": e.mac_pj,
        "energy_sram_pj": e.sram_pj, "energy_dram_pj": e.dram_pj, "energy_leakage_pj": e.leakage_pj,
        "roofline_cycles": m.bounds.roofline_cycles,
    }
    cells.update({f"stall_{c}_cycles": m.stall_by_cause[c] for c in STALL_CAUSES})
    cells.update({f"dram_{k}_bytes": m.dram_bytes_by_kind[k] for k in TRAFFIC_KINDS})
    return cells


def point_spec(spec: AcceleratorSpec, point: Point) -> AcceleratorSpec:
    """The base spec with the point's changes (UserError if they make it invalid)."""
    changes = point.spec_changes()
    return with_overrides(spec, changes) if changes else spec


@paused
def run_point(graph: Graph, spec: AcceleratorSpec, point: Point) -> dict[str, Any]:
    """The results row of one point (see the module docstring); never raises for a bad point."""
    from hwsim.pipeline import run

    try:
        cells = metric_cells(run(graph, point_spec(spec, point)).metrics)
        status, error = STATUS_OK, ""
    except UserError as err:
        cells, status, error = {}, STATUS_INVALID, str(err)
    except Exception as err:  # noqa: BLE001 - a bug: recorded on its row, the sweep goes on
        cells, status, error = {}, STATUS_ERROR, f"{type(err).__name__}: {err}"
    return {"status": status, "error": error, **cells}


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def well_formed(kind: Any, result: Any) -> bool:
    """Whether ``result`` has the shape :func:`run_point` (``kind`` ``point``) or
    :func:`search_zero_spill` (``zero_spill``) gives: a progress record read back on
    ``--resume`` is used only then (an edited or damaged one runs again)."""
    if not isinstance(result, dict) or not isinstance(result.get("error"), str):
        return False
    if kind == "zero_spill":
        sram = result.get("zero_spill_sram_bytes")
        return set(result) == {"zero_spill_sram_bytes", "error"} and (sram is None or _number(sram))
    if kind != "point" or result.get("status") not in (STATUS_OK, STATUS_INVALID, STATUS_ERROR):
        return False
    if result["status"] != STATUS_OK:
        return set(result) == {"status", "error"}
    return set(result) == {"status", "error", *METRIC_COLUMNS} and all(_number(result[c]) for c in METRIC_COLUMNS)


@paused
def search_zero_spill(graph: Graph, spec: AcceleratorSpec) -> dict[str, Any]:
    """``{"zero_spill_sram_bytes": int | None, "error": str}`` of one graph on one spec."""
    from hwsim.schedule import zero_spill_sram

    try:
        return {"zero_spill_sram_bytes": zero_spill_sram(graph, spec), "error": ""}
    except UserError as err:
        return {"zero_spill_sram_bytes": None, "error": str(err)}
    except Exception as err:  # noqa: BLE001
        return {"zero_spill_sram_bytes": None, "error": f"{type(err).__name__}: {err}"}
