"""One int8 TFLite file through hwsim (extract + run, Ethos-U presets) and through Arm's Vela.

    python -m venv /tmp/vela && /tmp/vela/bin/pip install ethos-u-vela==5.2.0
    PYTHONPATH=. python experiments/vela_side_by_side.py --vela /tmp/vela/bin/vela

writes ``docs/vela_side_by_side.md`` (and prints it): for the file
``experiments/data/unet_vela_int8.tflite`` (experiments/build_tflite.py: a two-level U-Net,
1x128x128x3, widths 16/32/64, int8),

* Ethos-U65-512 with a dedicated SRAM (Vela: system config Ethos_U65_High_End, memory
  mode Dedicated_Sram, ``--arena-cache-size``; hwsim: accelerators/ethos_u65.yaml with
  ``--set sram.size=``) at several SRAM sizes: SRAM used, DRAM traffic and cycles, total;
* Ethos-U55-256 in Shared_Sram mode (accelerators/ethos_u55.yaml) and Ethos-U65 at the
  preset's 384 KiB: the same totals, and per layer (matched by output tensor name, which
  is what both tools name a layer by): MACs, cycles, SRAM and DRAM figures.

Nothing here calibrates hwsim's cost model; the figures are reported as both tools give them.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODEL = ROOT / "experiments" / "data" / "unet_vela_int8.tflite"
U65 = ("ethos-u65-512", "Ethos_U65_High_End", "Dedicated_Sram", ROOT / "accelerators" / "ethos_u65.yaml")
U55 = ("ethos-u55-256", "Ethos_U55_High_End_Embedded", "Shared_Sram", ROOT / "accelerators" / "ethos_u55.yaml")
SIZES_KIB = (64, 128, 256, 384, 1024)


def hwsim_run(graph: Path, spec: Path, sram_kib: int | None) -> dict:
    cmd = [sys.executable, "-m", "hwsim", "run", str(spec), str(graph), "--json"]
    if sram_kib is not None:
        cmd += ["--set", f"sram.size={sram_kib}KiB"]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def vela_run(vela: str, config: tuple, sram_kib: int | None, out_dir: Path) -> tuple[dict, list[dict]]:
    accel, system, mode, _ = config
    cmd = [vela, str(MODEL), "--accelerator-config", accel, "--system-config", system, "--memory-mode", mode,
           "--output-dir", str(out_dir), "--verbose-performance"]
    if sram_kib is not None:
        cmd += ["--arena-cache-size", str(sram_kib * 1024)]
    subprocess.run(cmd, capture_output=True, text=True, check=True)
    summary = next(csv.DictReader(open(next(out_dir.glob("*_summary_*.csv")))))
    layers = list(csv.DictReader(open(next(out_dir.glob("*_per-layer.csv")))))
    return summary, layers


def resize_share(vela_layers: list[dict]) -> float:
    """The share of Vela's DRAM access cycles spent in the ops it lowered a RESIZE into."""
    total = sum(float(r["DRAM AC"]) for r in vela_layers)
    resize = sum(float(r["DRAM AC"]) for r in vela_layers if r["Original Operator"].startswith("Resize"))
    return resize / total if total else 0.0


def totals_row(label: str, h: dict, v: dict) -> str:
    vela_dram = int(float(v["dram_total_bytes"])) + int(float(v.get("off_chip_flash_total_bytes", 0)))
    h_dram = h["dram_read_bytes"] + h["dram_write_bytes"]
    vela_cycles = int(float(v["cycles_total"]))
    return (f"| {label} | {h['sram_peak_bytes'] / 1024:,.1f} | {float(v['sram_memory_used']):,.1f} | "
            f"{h_dram:,} | {vela_dram:,} | {vela_dram / h_dram:.2f} | {h['latency_cycles']:,} | {vela_cycles:,} | "
            f"{vela_cycles / h['latency_cycles']:.2f} | "
            f"{h['spill_bytes']:,} / {h['dram_bytes_by_kind']['streamed_read'] + h['dram_bytes_by_kind']['streamed_write']:,} |")


TOTALS_HEAD = ("| SRAM | hwsim SRAM peak KiB | Vela SRAM used KiB | hwsim DRAM bytes | Vela DRAM bytes | Vela / hwsim "
               "| hwsim cycles | Vela cycles | Vela / hwsim | hwsim spill / streamed bytes |\n"
               "|---|---|---|---|---|---|---|---|---|---|")


def per_layer(h: dict, vela_layers: list[dict]) -> list[str]:
    """hwsim's layers beside Vela's rows of the same output tensor (Vela's decomposed ops summed)."""
    by_name: dict[str, dict] = {}
    for row in vela_layers:
        agg = by_name.setdefault(row["Name"], {"ops": [], "cycles": 0, "macs": 0, "dram_ac": 0, "staging": 0})
        agg["ops"].append(row["NNG Operator"])
        agg["cycles"] += int(float(row["Op Cycles"]))
        agg["macs"] += int(float(row["MAC Count"]))
        agg["dram_ac"] += int(float(row["DRAM AC"]))
        agg["staging"] = max(agg["staging"], int(float(row["Staging Usage"])))
    lines = ["| layer (output tensor) | hwsim MACs | Vela MACs | hwsim cycles | Vela op cycles | hwsim DRAM bytes "
             "| Vela DRAM access cycles | Vela staging bytes | Vela ops |", "|---|---|---|---|---|---|---|---|---|"]
    seen = set()
    for la in h["layers"]:
        name = la["name"]
        v = by_name.get(name)
        seen.add(name)
        short = name.split(";")[0]
        if v is None:
            lines.append(f"| {short} | {la['macs']:,} | - | {la['cycles']:,} | - | {la['dram_bytes']:,} | - | - | "
                         "(no Vela row of this name) |")
            continue
        ops = ", ".join(sorted(set(v["ops"])))
        lines.append(f"| {short} | {la['macs']:,} | {v['macs']:,} | {la['cycles']:,} | {v['cycles']:,} | "
                     f"{la['dram_bytes']:,} | {v['dram_ac']:,} | {v['staging']:,} | {ops} ({len(v['ops'])}) |")
    for name, v in by_name.items():
        if name not in seen:
            lines.append(f"| {name.split(';')[0]} (Vela only) | - | {v['macs']:,} | - | {v['cycles']:,} | - | "
                         f"{v['dram_ac']:,} | {v['staging']:,} | {', '.join(sorted(set(v['ops'])))} |")
    return lines


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--vela", default="vela", help="the vela executable (pip install ethos-u-vela)")
    p.add_argument("-o", "--output", default=str(ROOT / "docs" / "vela_side_by_side.md"))
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        graph = tmp / "g.json"
        subprocess.run([sys.executable, "-m", "hwsim", "extract", str(MODEL), "-o", str(graph)], cwd=ROOT,
                       check=True, capture_output=True)
        version = subprocess.run([args.vela, "--version"], capture_output=True, text=True).stdout.strip()
        rows = []
        for kib in SIZES_KIB:
            h = hwsim_run(graph, U65[3], kib)
            v, layers = vela_run(args.vela, U65, kib, tmp / f"u65_{kib}")
            rows.append(totals_row(f"{kib} KiB", h, v) + f" {resize_share(layers):.0%} |")
        presets = {}
        for config in (U55, U65):
            h = hwsim_run(graph, config[3], None)
            # a dedicated SRAM: Vela's arena cache is the preset's SRAM (Vela's own default differs)
            arena = h["sram_bytes"] // 1024 if config[2] == "Dedicated_Sram" else None
            v, layers = vela_run(args.vela, config, arena, tmp / config[0])
            presets[config[0]] = (h, v, layers)
    text = render(version, rows, presets)
    Path(args.output).write_text(text)
    print(text)
    return 0


def render(version: str, rows: list[str], presets: dict) -> str:
    out = [
        "# hwsim beside Arm Vela on one int8 TFLite file",
        "",
        "Regenerate: `PYTHONPATH=. python experiments/vela_side_by_side.py --vela PATH/TO/vela` "
        f"(Vela {version}, ethos-u-vela from PyPI). File: `experiments/data/unet_vela_int8.tflite` "
        "(experiments/build_tflite.py: a two-level U-Net, 1x128x128x3, widths 16/32/64, int8; its "
        "skips E1 = 16x128x128 = 256 KiB and E2 = 32x64x64 = 128 KiB). hwsim: `hwsim extract` then "
        "`hwsim run` with the presets `accelerators/ethos_u65.yaml` / `ethos_u55.yaml`; Vela with the "
        "system config and memory mode each preset names. Figures as both tools give them today: "
        "hwsim's cost model is not calibrated against Vela here.",
        "",
        "## Ethos-U65-512, dedicated SRAM of each size (Vela `--arena-cache-size`, hwsim `--set sram.size=`)",
        "",
        TOTALS_HEAD.replace(" |\n", " | Vela DRAM access cycles in the resize |\n", 1) + "---|", *rows, "",
        "## The presets",
        "",
    ]
    for name, (h, v, layers) in presets.items():
        out += [f"### {name} ({v['system_config']}, {v['memory_mode']})", "", TOTALS_HEAD,
                totals_row(f"preset ({h['sram_bytes'] // 1024} KiB)", h, v), "",
                f"MACs: hwsim {sum(la['macs'] for la in h['layers']):,}, Vela {int(float(v['nn_macs'])):,}.", "",
                *per_layer(h, layers), ""]
    out += [
        "## Reading the tables",
        "",
        "- **SRAM**: hwsim's figure is the allocator's high-water mark (`sram_peak_bytes`: whole "
        "tensors, or the stripes of streamed layers, plus the weights it holds); Vela's is "
        "`sram_memory_used`, the arena its tensor allocator needed (weights streamed through its own "
        "buffers, feature maps that do not fit kept in DRAM).",
        "- **DRAM**: hwsim's bytes are read + write of every kind (`weights`, `input`, `output`, "
        "spills, streamed tiles); Vela's are `dram_total_bytes` (feature maps read and written, "
        "weights read). Vela's per-layer CSV gives DRAM *access cycles*, not bytes; the per-layer "
        "table shows those beside hwsim's bytes.",
        "- **Cycles**: hwsim's `latency_cycles` (compute + stalls, simulated); Vela's `cycles_total` "
        "(its performance estimate, which adds per-pass access cycles).",
        "- **Unmatched names**: Vela rewrites some ops before it names them: the TRANSPOSE_CONV "
        "becomes a convolution writing straight into the concatenation after it (its row is the "
        "concatenation's), and the 1x1 convolution after the resize is named after Vela's rewritten "
        "tensor; those hwsim layers show no Vela row, and their work is in the neighbouring Vela rows.",
        "- **Where the tools part**: Vela lowers the bilinear RESIZE into depthwise convolutions and "
        "memory copies that go through DRAM when the arena is small (the last column: their share of "
        "Vela's DRAM access cycles); hwsim runs the resize as one layer (streamed in row bands when it "
        "does not fit). With the Ethos-U55's Shared_Sram the activations live in the 4 MiB system "
        "SRAM in both tools and the DRAM (flash) traffic is the weights (Vela reads its compressed "
        "encoding, hwsim the raw int8 weights and int32 biases). Cycles: hwsim's MAC array model "
        "(8 input channels x 32 or 64 output pixels) against Vela's per-block estimate; the "
        "first 3-channel convolution and the memory-bound layers differ most.",
        "- **Layers**: both tools name a layer by its output tensor. Vela lowers some TFLite ops into "
        "several NPU ops (a bilinear RESIZE becomes depthwise convolutions and memory copies, a "
        "CONCATENATION memory copies): their rows are summed under one name, and their MACs "
        "(the depthwise convolutions of a resize) are MACs hwsim does not count (it counts "
        "convolution and matmul MACs as PyTorch's FlopCounterMode does, a resize as 7 vector "
        "operations per output).",
        "",
    ]
    return "\n".join(out)


if __name__ == "__main__":
    sys.exit(main())
