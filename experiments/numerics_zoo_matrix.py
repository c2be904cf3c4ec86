"""The schedule check of every zoo model at 8, 16 and 32 bits, roomy and tight, layer and cascade mode.

    python experiments/numerics_zoo_matrix.py [--bits 8,16,32] [--jobs 2] [MODEL ...]

The full matrix of issue 12 (the suite runs every model at 32 bits and a subset at 8 and 16,
``tests/numerics/test_zoo.py``): each model exported once with seeded weights and a seeded input
(32x32, KBNet 16x16: ``tests/numerics/zoo_cases.py``), then for each bit-width four plans:
roomy (the high-water mark of the plan with unlimited SRAM: no spill), tight (half the live
peak: spills and streamed layers), cascade roomy and cascade tight (stripes, rolling buffers).
Each cell: the schedule check (``exact``: the memory image equals the quantised network bit for
bit; else the first fault), spills / reloads / streamed layers / cascades of several stripes,
and the output SQNR against torch float (reported, never judged here). The last lines list
every case that is not exact or where the tight SRAM moved nothing through DRAM.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import multiprocessing
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hwsim.zoo import MODELS  # noqa: E402
from tests.numerics.zoo_cases import run_cases  # noqa: E402

LABELS = ("roomy", "tight", "cascade_roomy", "cascade_tight")


def cell(case: dict) -> str:
    ok = "exact" if case["schedule_passed"] and not case["verify"] else "FAULT"
    stripes = sum(s > 1 for _, _, s in case["cascades"])
    return (f"{ok} {case['spills']}/{case['reloads']}/{case['streamed']}/{stripes} "
            f"{case['output_sqnr']:.1f} dB")


def problems(model: str, bits: int, result: dict) -> list[str]:
    found = []
    for label in LABELS:
        case = result[label]
        if not case["schedule_passed"] or case["verify"]:
            found.append(f"{model} {bits} bits {label}: {case['fault'] or case['error'] or case['verify']}")
    tight, ctight = result["tight"], result["cascade_tight"]
    if not (tight["spills"] and tight["reloads"]) and not tight["streamed"]:
        found.append(f"{model} {bits} bits tight: nothing moved through DRAM")
    if not any(s > 1 for _, _, s in ctight["cascades"]):
        found.append(f"{model} {bits} bits cascade_tight: no cascade of several stripes")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", default=list(MODELS))
    parser.add_argument("--bits", default="8,16,32")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args(argv)
    bits = tuple(int(b) for b in args.bits.split(","))
    os.environ.update({k: "1" for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")})
    print("Schedule check (bit-exact) of the zoo; a cell: exact|FAULT spills/reloads/streamed/striped cascades, "
          "output SQNR against torch float\n")
    head = ["model", "bits"] + list(LABELS)
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    issues, start = [], time.time()
    ctx = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(args.jobs, mp_context=ctx) as pool:
        futures = {m: pool.submit(run_cases, m, bits) for m in args.models}
        for m in args.models:
            results = futures[m].result()
            for b in bits:
                print(f"| {m} | {b} | " + " | ".join(cell(results[b][label]) for label in LABELS) + " |", flush=True)
                issues += problems(m, b, results[b])
            nafnet = results[bits[0]]["tight"]["worst"] if m == "nafnet" else None
            if nafnet:
                print(f"<!-- nafnet at {bits[0]} bits, lowest layer SQNR: {nafnet} -->", flush=True)
    print(f"\n{len(issues)} problem(s){':' if issues else ''}")
    for line in issues:
        print(f"- {line}")
    print(f"({time.time() - start:.0f} s wall)", file=sys.stderr)
    return 1 if issues else 0


if __name__ == "__main__":
    sys.exit(main())
