"""The comparison report as one self-contained HTML page: figures embedded as base64 PNG.

No external file, font, script or style: the page opens offline and mails as one file.
The table has one row per figure (``<tr data-metric=KEY>``), one column per variant and its
difference to the baseline. A few lines of script record each image's natural size on the
element once it has loaded (``data-natural-width``/``-height``), and the number of loaded
images on ``<body data-images-loaded>``, so a headless browser can check the page.
"""

from __future__ import annotations

import base64
import html
from typing import Sequence

from hwsim.report.compare import (
    DEFINITIONS, FIGURES, HOST_HEAD, Variant, cell, comparison_table, difference, host_rows, peak_markdown, spec_line,
)
from hwsim.spec import AcceleratorSpec

STYLE = """
body { font-family: -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; margin: 2rem auto;
       max-width: 1200px; padding: 0 1.5rem; color: #1d1d1f; line-height: 1.45; }
h1 { font-size: 1.7rem; margin-bottom: .3rem; } h2 { font-size: 1.3rem; margin-top: 2.2rem; }
.spec { color: #444; margin-top: 0; }
table { border-collapse: collapse; margin: 1rem 0; font-size: .95rem; }
th, td { padding: .38rem .8rem; border-bottom: 1px solid #ddd; }
th { background: #f3f4f6; text-align: right; } th:first-child, td:first-child { text-align: left; }
td { text-align: right; font-variant-numeric: tabular-nums; } td.unit { color: #666; text-align: left; }
td.better { color: #0a7a33; font-weight: 600; } td.worse { color: #b3261e; } td.delta { font-size: .88rem; }
figure { margin: 1.6rem 0; } figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: #444; font-size: .92rem; margin-top: .3rem; }
.defs li { margin: .25rem 0; }
"""

SCRIPT = """
window.addEventListener("load", function () {
  var images = document.querySelectorAll("img"), loaded = 0;
  images.forEach(function (img) {
    img.setAttribute("data-natural-width", img.naturalWidth);
    img.setAttribute("data-natural-height", img.naturalHeight);
    if (img.complete && img.naturalWidth > 0) { loaded += 1; }
  });
  document.body.setAttribute("data-images-loaded", loaded);
});
"""

LOWER_IS_BETTER = {"msc", "live_peak", "sram_peak", "zero_spill", "spill", "streamed", "dram", "stall_share",
                   "latency", "energy"}


def _delta_class(key: str, text: str) -> str:
    if key not in LOWER_IS_BETTER or not text or text[0] not in "+-":
        return "delta"
    return "delta " + ("better" if text[0] == "-" else "worse")


def _table(variants: Sequence[Variant]) -> str:
    esc = html.escape
    head = "<th>metric</th><th>unit</th>" + "".join(
        f"<th>{esc(v.label)}</th>" + ("" if i == 0 else "<th>Δ</th>") for i, v in enumerate(variants))
    body = []
    for row in comparison_table(variants):
        cells = [f"<td>{esc(row.label)}</td>", f'<td class="unit">{esc(row.unit)}</td>']
        for i in range(len(variants)):
            cells.append(f"<td>{esc(cell(row, i))}</td>")
            if i:
                text = difference(row, i)
                cells.append(f'<td class="{_delta_class(row.key, text)}">{esc(text)}</td>')
        body.append(f'<tr data-metric="{esc(row.key)}">{"".join(cells)}</tr>')
    return f'<table id="comparison"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def _figure(name: str, png: bytes) -> str:
    caption = html.escape(FIGURES.get(name, name))
    data = base64.b64encode(png).decode("ascii")
    return (f'<figure data-file="{html.escape(name)}"><img src="data:image/png;base64,{data}" '
            f'alt="{caption}"><figcaption>{caption} <em>({html.escape(name)})</em></figcaption></figure>')


def _definitions() -> str:
    items = "".join(f"<li><strong>{html.escape(term)}</strong>: {html.escape(text)}</li>" for term, text in DEFINITIONS)
    return f'<ul class="defs">{items}</ul>'


def _peaks(variants: Sequence[Variant]) -> str:
    items = peak_markdown(variants).splitlines()[2:]
    return "<ul>" + "".join(f"<li>{html.escape(item[2:]).replace('**', '')}</li>" for item in items if item) + "</ul>"


def _hosts(variants: Sequence[Variant]) -> list[str]:
    """The host ops (``--fallback host``) as a table, or nothing when no variant has one."""
    rows = host_rows(variants)
    if not rows:
        return []
    from hwsim.report.text import HOST_OPS_MEANING

    esc = html.escape
    head = "".join(f"<th>{esc(h)}</th>" for h in HOST_HEAD)
    body = "".join("<tr>" + "".join(f"<td>{esc(f'{c:,}' if isinstance(c, int) else str(c))}</td>" for c in row)
                   + "</tr>" for row in rows)
    return ["<h2>Host ops (--fallback host)</h2>",
            f"<p>Run on the host CPU while the accelerator waits; {esc(HOST_OPS_MEANING)}; DRAM out: the "
            "accelerator's stores of their inputs, back: its loads of their outputs.</p>",
            f'<table id="host-ops"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>']


def render_html(spec: AcceleratorSpec, variants: Sequence[Variant], figures: dict[str, bytes]) -> str:
    """The whole page; ``figures`` are PNG bytes by file name, shown in that order."""
    esc = html.escape
    title = f"{', '.join(v.label for v in variants)} on {spec.name}"
    return "\n".join([
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{esc(title)}</title>", f"<style>{STYLE}</style>", f"<script>{SCRIPT}</script>",
        "</head><body>",
        f"<h1>{esc(title)}</h1>", f'<p class="spec">Accelerator {esc(spec_line(spec))}.</p>',
        f"<p>Baseline: <strong>{esc(variants[0].label)}</strong>. Δ is each variant's difference to it "
        "(pp: percentage points); green: lower is better and it is lower.</p>",
        _table(variants),
        "<h2>What sets the SRAM peak</h2>", _peaks(variants), *_hosts(variants),
        "<h2>Figures</h2>", *(_figure(name, png) for name, png in figures.items()),
        "<h2>Definitions</h2>", _definitions(),
        "</body></html>", ""])
