"""SQNR of every zoo model at 8 and 16 bits (the numerics check), as a Markdown table.

    python experiments/numerics_table.py [--input 1x3x64x64] [--spec accelerators/edge_npu.yaml]
                                         [--seed 0] [MODEL ...]

For each model (all of the zoo by default): one export with seeded weights and a seeded
input, then for 16 and 8 bits (activations and weights alike, the spec's SRAM) the plan run
in a simulated SRAM and compared with torch. Columns per bit-width: the output's SQNR (the
lowest over outputs), the lowest SQNR of any tensor a layer writes, the number of layers
outside the fixed tolerance (16 bits: 60 dB, 8 bits: 20 dB), and the plan's spills/reloads.
Deterministic: the same seed gives the same table.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hwsim.extract.resolve import parse_shape  # noqa: E402
from hwsim.numerics.check import check_plan  # noqa: E402
from hwsim.numerics.reference import prepare  # noqa: E402
from hwsim.schedule import schedule  # noqa: E402
from hwsim.spec import load_spec  # noqa: E402
from hwsim.zoo import MODELS  # noqa: E402

BITS = (16, 8)


def row(model: str, shape, spec_path: str, seed: int) -> tuple[str, float]:
    start = time.process_time()
    graph, reference = prepare(model, shape, seed)
    cells = [model]
    for bits in BITS:
        spec = load_spec(spec_path, [f"datatype.activation_bits={bits}", f"datatype.weight_bits={bits}"])
        plan = schedule(graph, spec)
        report = check_plan(graph, plan, spec, reference)
        out = min(o.sqnr_db for o in report.outputs)
        worst = min(c.sqnr_db for layer in report.layers for c in layer.tensors)
        failed = sum(not layer.passed for layer in report.layers)
        cells += [f"{out:.1f}", f"{worst:.1f}", f"{failed} / {len(report.layers)}",
                  f"{report.spills} / {report.reloads}"]
    return "| " + " | ".join(cells) + " |", time.process_time() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", default=list(MODELS))
    parser.add_argument("--input", default="1x3x64x64")
    parser.add_argument("--spec", default=str(ROOT / "accelerators" / "edge_npu.yaml"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    shape = parse_shape(args.input)
    head = ["model"] + [f"{b}-bit {c}" for b in BITS
                        for c in ("output SQNR dB", "worst layer SQNR dB", "layers failed", "spills / reloads")]
    print(f"Numerics check, input {args.input}, seed {args.seed}, spec {Path(args.spec).name} "
          f"(tolerance: 60 dB at 16 bits, 20 dB at 8 bits, every tensor a layer writes)\n")
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for model in args.models:
        line, seconds = row(model, shape, args.spec, args.seed)
        print(line, flush=True)
        print(f"{model}: {seconds:.0f} s CPU", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
