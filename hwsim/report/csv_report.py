"""Per-layer CSV (``layers.csv``): one row per layer step, the columns of the JSON ``layers``."""

from __future__ import annotations

import csv
import io

from hwsim.measure import Metrics
from hwsim.report.json_report import report_dict

LAYER_COLUMNS = ("index", "name", "macs", "vector_ops", "cycles", "utilisation", "bottleneck", "mapping", "start",
                 "end", "stall_cycles", "dram_read_bytes", "dram_write_bytes", "dram_bytes", "streamed", "tiles")


def layers_csv(m: Metrics) -> str:
    """The layer table as CSV text (header first, ``\\n`` line ends, empty cell for None)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, LAYER_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in report_dict(m)["layers"]:
        writer.writerow({k: "" if row[k] is None else row[k] for k in LAYER_COLUMNS})
    return out.getvalue()
