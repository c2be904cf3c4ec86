"""Quantisation quality of every zoo model: SQNR against torch float, per-tensor against per-channel weights.

    python experiments/numerics_table.py [--input 1x3x64x64] [--spec accelerators/edge_npu.yaml]
                                         [--seed 0] [--calibration N] [MODEL ...]

For each model (all of the zoo by default): one export with seeded weights and a seeded input,
then at 16 and 8 bits (activations and weights alike) the quantised network (``hwsim.numerics``:
symmetric activations calibrated on the checked input, or on N other random inputs with
``--calibration N``; weights per tensor, then per output channel) compared with torch in float.
Columns per bit-width and weight scheme: the output's SQNR (the lowest over outputs) and the
lowest SQNR of any tensor a layer writes, with that layer. These are properties of the model and
the number format, not of a schedule: the schedule check (bit-exact) is
``experiments/numerics_zoo_matrix.py``. Deterministic: the same seed gives the same table.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hwsim.extract.resolve import parse_shape  # noqa: E402
from hwsim.graph.analysis import layer_io  # noqa: E402
from hwsim.numerics.check import quantise  # noqa: E402
from hwsim.numerics.deploy import Quantisation  # noqa: E402
from hwsim.numerics.quantize import sqnr_db  # noqa: E402
from hwsim.numerics.reference import prepare  # noqa: E402
from hwsim.spec import load_spec  # noqa: E402
from hwsim.zoo import MODELS  # noqa: E402

BITS = (16, 8)
SCHEMES = ("per-tensor", "per-channel")


def figures(graph, reference, spec, scheme: str, calibration) -> tuple[float, float, str]:
    """(output SQNR, lowest layer SQNR, that layer) of the quantised network against torch."""
    q = quantise(graph, spec, reference, Quantisation(weights=scheme), calibration)
    values = reference.values
    out = min(sqnr_db(values[graph.root(n)], q.run.values[graph.root(n)]) for n in graph.outputs)
    worst = min(((sqnr_db(values[w], q.run.values[w]), io.name) for io in layer_io(graph)
                 for w in io.writes if w in values), default=(float("inf"), "-"))
    return out, worst[0], worst[1]


def row(model: str, shape, spec_path: str, seed: int, calibration: int | None) -> tuple[str, float]:
    start = time.process_time()
    graph, reference = prepare(model, shape, seed, calibration=calibration)
    cells = [model]
    for bits in BITS:
        spec = load_spec(spec_path, [f"datatype.activation_bits={bits}", f"datatype.weight_bits={bits}"])
        for scheme in SCHEMES:
            out, worst, layer = figures(graph, reference, spec, scheme, reference.calibration or None)
            cells += [f"{out:.1f}", f"{worst:.1f} ({layer})"]
    return "| " + " | ".join(cells) + " |", time.process_time() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", default=list(MODELS))
    parser.add_argument("--input", default="1x3x64x64")
    parser.add_argument("--spec", default=str(ROOT / "accelerators" / "edge_npu.yaml"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--calibration", type=int, default=None)
    args = parser.parse_args(argv)
    shape = parse_shape(args.input)
    head = ["model"] + [f"{b}-bit {s} {c}" for b in BITS for s in SCHEMES
                        for c in ("output SQNR dB", "lowest layer SQNR dB")]
    source = f"{args.calibration} other random inputs" if args.calibration else "the checked input"
    print(f"Quantisation against torch float, input {args.input}, seed {args.seed}, spec {Path(args.spec).name}; "
          f"symmetric activations calibrated on {source}; weights per tensor or per output channel\n")
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for model in args.models:
        line, seconds = row(model, shape, args.spec, args.seed, args.calibration)
        print(line, flush=True)
        print(f"{model}: {seconds:.0f} s CPU", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
