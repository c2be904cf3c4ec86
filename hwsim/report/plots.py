"""The comparison figures, drawn with matplotlib (the ``plots`` extra, imported when a figure is made).

Each ``*_png`` function takes plain data and returns PNG bytes: figures are built on a
:class:`matplotlib.figure.Figure` (no pyplot, no global backend switch) inside an
``rc_context`` for fonts, so nothing outside leaks in or out. Sizes are in MiB, times in ms;
each variant keeps one colour (Okabe-Ito, colour-blind safe) across all figures.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Sequence

from hwsim.errors import UserError
from hwsim.report.gantt import BUFFER_KINDS, BufferRect
from hwsim.schedule.plan import TRAFFIC_KINDS

MIB = float(1 << 20)
COLORS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442")
KIND_COLORS = {"skip": "#D55E00", "activation": "#0072B2", "tile": "#56B4E9", "input": "#999999",
               "weights": "#009E73", "rows": "#CC79A7"}
TRAFFIC_COLORS = {"weights": "#009E73", "input": "#999999", "output": "#555555", "spill_write": "#D55E00",
                  "spill_read": "#E69F00", "streamed_read": "#56B4E9", "streamed_write": "#0072B2",
                  "host_write": "#CC79A7", "host_read": "#F0E442"}
STYLE = {"font.size": 11, "axes.titlesize": 13, "axes.labelsize": 11, "legend.fontsize": 10,
         "figure.titlesize": 15, "axes.grid": True, "grid.alpha": 0.3, "axes.spines.top": False,
         "axes.spines.right": False}
DPI = 110


@dataclass(frozen=True)
class GanttPanel:
    label: str
    rects: Sequence[BufferRect]
    clock_hz: int
    sram_bytes: int
    title: str


@dataclass(frozen=True)
class SweepCurve:
    label: str
    sram_bytes: Sequence[int]
    overflow_bytes: Sequence[int]
    latency_s: Sequence[float]
    zero_spill_bytes: int | None
    knee_bytes: int | None


def require_matplotlib():
    try:
        import matplotlib
        from matplotlib.figure import Figure
    except ImportError:
        raise UserError("figures need matplotlib: pip install 'hwsim[plots]'", "plots") from None
    return matplotlib, Figure


def _render(draw, *args) -> bytes:
    """PNG bytes of the figure ``draw(Figure, *args)`` builds."""
    matplotlib, Figure = require_matplotlib()
    with matplotlib.rc_context(STYLE):
        fig = draw(Figure, *args)
        out = io.BytesIO()
        fig.savefig(out, format="png", dpi=DPI, metadata={"Software": None})
    return out.getvalue()


def _skip_memory(Figure, curves):
    fig = Figure(figsize=(10, 5.2), layout="constrained")
    ax = fig.add_subplot()
    for i, (label, msc, live) in enumerate(curves):
        color = COLORS[i % len(COLORS)]
        steps = range(len(msc))
        ax.plot(steps, [v / MIB for v in live], color=color, lw=1.2, ls="--", alpha=0.8,
                label=f"{label}: all live activations", drawstyle="steps-post")
        ax.plot(steps, [v / MIB for v in msc], color=color, lw=2.4, label=f"{label}: skip tensors M_sc(t)",
                drawstyle="steps-post")
    ax.set_xlabel("layer step (execution order)")
    ax.set_ylabel("MiB")
    ax.set_ylim(bottom=0)
    ax.set_title("Skip memory M_sc(t) and all live activations over the layer order")
    fig.legend(loc="outside lower center", ncols=min(len(curves), 3))
    return fig


def skip_memory_png(curves: Sequence[tuple[str, Sequence[int], Sequence[int]]]) -> bytes:
    """``(label, msc_curve_bytes, live_curve_bytes)`` per variant on one chart (the UNet-- Fig. 1b)."""
    return _render(_skip_memory, curves)


def _gantt_axis(ax, panel: GanttPanel) -> None:
    from matplotlib.collections import PolyCollection

    ms = 1e3 / panel.clock_hz
    verts, colors = [], []
    for r in panel.rects:
        x0, x1, y0, y1 = r.start * ms, max(r.end, r.start + 1) * ms, r.address / MIB, (r.address + r.size) / MIB
        verts.append([(x0, y0), (x0, y1), (x1, y1), (x1, y0)])
        colors.append(KIND_COLORS[r.kind])
    ax.add_collection(PolyCollection(verts, facecolors=colors, edgecolors="white", linewidths=0.2))
    end = max((r.end for r in panel.rects), default=1) * ms
    ax.axhline(panel.sram_bytes / MIB, color="#CC0000", ls="--", lw=1.2)
    ax.text(end, panel.sram_bytes / MIB, " SRAM size", color="#CC0000", va="bottom", ha="right", fontsize=9)
    ax.set_xlim(0, end)
    ax.set_ylim(0, panel.sram_bytes / MIB * 1.08)
    ax.set_ylabel("address (MiB)")
    ax.set_title(panel.title, loc="left")
    ax.grid(False)


def _gantt(Figure, panels):
    from matplotlib.patches import Patch

    fig = Figure(figsize=(11, 0.6 + 2.9 * len(panels)), layout="constrained")
    axes = fig.subplots(len(panels), 1, squeeze=False)[:, 0]
    for ax, panel in zip(axes, panels):
        _gantt_axis(ax, panel)
    axes[-1].set_xlabel("time (ms)")
    used = {r.kind for p in panels for r in p.rects}
    handles = [Patch(color=KIND_COLORS[k], label=k.replace("skip", "skip tensor")) for k in BUFFER_KINDS if k in used]
    fig.legend(handles=handles, loc="outside lower center", ncols=len(handles))
    fig.suptitle("SRAM occupancy by address over time (each rectangle is one buffer)")
    return fig


def memory_gantt_png(panels: Sequence[GanttPanel]) -> bytes:
    """One address-by-time panel per variant: what holds the SRAM when, and the gaps between."""
    return _render(_gantt, panels)


def _dram(Figure, bars):
    fig = Figure(figsize=(10, 1.6 + 0.7 * len(bars)), layout="constrained")
    ax = fig.add_subplot()
    labels = [label for label, _ in bars][::-1]
    left = [0.0] * len(bars)
    for kind in TRAFFIC_KINDS:
        widths = [by_kind.get(kind, 0) / MIB for _, by_kind in bars][::-1]
        if any(widths):
            ax.barh(labels, widths, left=left, color=TRAFFIC_COLORS[kind], label=kind.replace("_", " "))
            left = [a + b for a, b in zip(left, widths)]
    for y, total in enumerate(left):
        ax.text(total, y, f"  {total:,.1f} MiB", va="center", fontsize=10)
    ax.set_xlim(0, max(left, default=1) * 1.18 or 1)
    ax.set_xlabel("MiB moved between DRAM and SRAM per inference")
    ax.set_title("DRAM traffic by kind")
    fig.legend(loc="outside lower center", ncols=4)
    ax.grid(axis="y", visible=False)
    return fig


def dram_by_kind_png(bars: Sequence[tuple[str, dict[str, int]]]) -> bytes:
    """``(label, bytes by traffic kind)`` per variant as stacked horizontal bars."""
    return _render(_dram, bars)


DASH = 3.0  # points: one dash of a zero-spill line


def zero_spill_dashes(curves) -> list[tuple[float, tuple[float, float]] | None]:
    """The dash pattern (offset, (on, off)) of each curve's zero-spill line: curves whose
    zero-spill SRAM coincides (NAFNet and its UNet-- form, say) interleave their dashes, so each
    colour shows along the one line instead of the last one drawn hiding the others."""
    sizes = [c.zero_spill_bytes for c in curves]
    patterns = []
    for i, size in enumerate(sizes):
        if not size:
            patterns.append(None)
            continue
        same = sizes.count(size)
        rank = sizes[:i].count(size)
        patterns.append((rank * DASH, (DASH, DASH * (same - 1) if same > 1 else DASH)))
    return patterns


def _sweep_panel(ax, curves, values, ylabel, title, marks: bool) -> None:
    dashes = zero_spill_dashes(curves)
    for i, c in enumerate(curves):
        color = COLORS[i % len(COLORS)]
        xs = [s / MIB for s in c.sram_bytes]
        ax.plot(xs, values(c), marker="o", ms=4, lw=2, color=color, label=c.label)
        if marks and dashes[i] is not None:
            ax.axvline(c.zero_spill_bytes / MIB, color=color, ls=dashes[i], lw=2)
        if marks and c.knee_bytes in c.sram_bytes:
            k = list(c.sram_bytes).index(c.knee_bytes)
            ax.plot([xs[k]], [values(c)[k]], marker="o", ms=13, mfc="none", mec=color, mew=2)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("SRAM size (MiB, log scale)")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.set_ylim(bottom=0)


def _sweep(Figure, curves):
    from matplotlib.lines import Line2D
    from matplotlib.ticker import FuncFormatter

    fig = Figure(figsize=(12, 4.8), layout="constrained")
    left, right = fig.subplots(1, 2)
    _sweep_panel(left, curves, lambda c: [v / MIB for v in c.overflow_bytes], "MiB per inference",
                 "Spill + streamed DRAM traffic", True)
    _sweep_panel(right, curves, lambda c: [v * 1e3 for v in c.latency_s], "ms", "Latency", False)
    for ax in (left, right):
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    keys = [Line2D([], [], color="grey", ls=":", label="zero-spill SRAM (search;\ncoinciding ones alternate colours)"),
            Line2D([], [], color="grey", marker="o", ms=11, mfc="none", ls="", label="knee")]
    handles = left.get_legend_handles_labels()[0] + keys
    fig.legend(handles=handles, loc="outside right center")
    fig.suptitle("What SRAM size buys: DRAM traffic and latency against SRAM size")
    return fig


def sweep_png(curves: Sequence[SweepCurve]) -> bytes:
    """Spill (+ streamed) traffic and latency against SRAM size, zero-spill SRAM and knee marked."""
    return _render(_sweep, curves)
