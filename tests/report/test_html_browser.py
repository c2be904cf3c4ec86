"""The HTML report in a real browser: headless Chromium loads it, the DOM has the table rows and every figure
loaded with a non-zero natural size, and a screenshot of the page is not blank.

Needs ``/usr/bin/chromium`` (Debian package ``chromium``) and matplotlib; skipped without them.
"""

import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from hwsim.cli import main
from hwsim.graph.io import write_graph
from hwsim.report.compare import OTHER_ROWS, ROWS
from tests.report.pngread import grey_stats, png_size
from tests.report.variants import variant_graphs
from tests.sweep.helpers import SPEC

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars"]
WINDOW = (1000, 900)

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason=f"{CHROMIUM} not installed (apt-get install chromium)")


class Page(HTMLParser):
    """What the checks need from the DOM: table rows, images, figures, the body's attributes."""

    def __init__(self):
        super().__init__()
        self.rows, self.images, self.figures, self.body = [], [], [], {}

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "tr" and "data-metric" in a:
            self.rows.append(a["data-metric"])
        elif tag == "img":
            self.images.append(a)
        elif tag == "figure":
            self.figures.append(a.get("data-file"))
        elif tag == "body":
            self.body = a


def chromium(tmp_path, *args):
    proc = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", *args],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    pytest.importorskip("matplotlib")
    tmp = tmp_path_factory.mktemp("html")
    graphs = []
    for g in variant_graphs():
        write_graph(g, tmp / f"{g.name}.json")
        graphs.append(str(tmp / f"{g.name}.json"))
    assert main(["sweep", SPEC, *graphs, "--sram", "1KiB:16KiB:x2", "--jobs", "1", "-o", str(tmp / "sweep")]) == 0
    assert main(["compare", SPEC, *graphs, "--set", "sram.size=4KiB", "--sweep", str(tmp / "sweep"),
                 "-o", str(tmp / "report")]) == 0
    return tmp / "report" / "report.html"


def test_dom_has_the_table_and_every_figure_loaded(report, tmp_path):
    dom = chromium(tmp_path, "--run-all-compositor-stages-before-draw", "--virtual-time-budget=10000",
                   "--dump-dom", report.as_uri())
    page = Page()
    page.feed(dom)
    assert page.rows == [key for key, *_ in ROWS] + [f"{key}_cascade" for key, *_ in OTHER_ROWS]
    assert page.figures == ["fig_skip_memory.png", "fig_sram_gantt.png", "fig_dram_by_kind.png", "fig_sweep.png"]
    assert len(page.images) == 4
    for img in page.images:
        # written by the page's own script once the image has loaded
        assert int(img["data-natural-width"]) > 0 and int(img["data-natural-height"]) > 0, img.get("alt")
        assert img["src"].startswith("data:image/png;base64,")  # self-contained
    assert page.body.get("data-images-loaded") == "4"
    # natural sizes are those of the PNG files written next to the report
    for img, name in zip(page.images, page.figures):
        width, height = png_size((report.parent / name).read_bytes())
        assert (int(img["data-natural-width"]), int(img["data-natural-height"])) == (width, height)


def test_screenshot_is_not_blank(report, tmp_path):
    blank = tmp_path / "blank.html"
    blank.write_text("<!DOCTYPE html><html><body></body></html>")
    for page, shot in ((report, tmp_path / "report.png"), (blank, tmp_path / "blank.png")):
        chromium(tmp_path, f"--window-size={WINDOW[0]},{WINDOW[1]}", "--virtual-time-budget=10000",
                 f"--screenshot={shot}", page.as_uri())
        assert png_size(shot.read_bytes()) == WINDOW
    mean, variance = grey_stats((tmp_path / "report.png").read_bytes())
    assert variance > 200 and mean < 252, (mean, variance)  # text, table rules, a figure
    assert grey_stats((tmp_path / "blank.png").read_bytes())[1] == 0  # the check can tell a blank page
