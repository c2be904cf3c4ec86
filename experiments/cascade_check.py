"""``hwsim check`` in cascade mode for every zoo model at 64x64, roomy and tight SRAM.

    python experiments/cascade_check.py [--size 64] [MODEL ...]

The cases of ``tests/numerics/zoo_cases.py`` (32-bit numbers; weights in a buffer of their own
holding all of them; activation SRAM the live peak, "roomy", and a share of it, "tight", at
which cascades run in several stripes and data goes through DRAM), at an input the suite
cannot afford (the suite runs them at 32x32, KBNet 16x16). Prints one line per model and case:
passed, worst relative error, cascades (first..last layer x stripes), spills, streamed layers,
seconds; exits 1 if any case fails.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hwsim.zoo import MODELS  # noqa: E402
from tests.numerics.zoo_cases import run_case  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=64, help="input height and width (default 64)")
    parser.add_argument("models", nargs="*", default=sorted(MODELS))
    args = parser.parse_args(argv)
    failed = 0
    print(f"{'model':<20}{'case':<15}{'passed':>7}{'worst rel':>11}{'spills':>7}{'streamed':>9}  cascades")
    for model in args.models:
        start = time.perf_counter()
        result = run_case(model, (1, 3, args.size, args.size), ("cascade_roomy", "cascade_tight"))
        seconds = time.perf_counter() - start
        for label in ("cascade_roomy", "cascade_tight"):
            r = result[label]
            ok = r["passed"] and not r["verify"] and r["error"] is None and not r["notes"] and not r["two_pass"]
            failed += not ok
            cascades = " ".join(f"{a}..{b}x{n}" for a, b, n in r["cascades"] if n > 1) or "-"
            print(f"{model:<20}{label:<15}{str(ok):>7}{r['worst_rel']:>11.1e}{r['spills']:>7}{r['streamed']:>9}"
                  f"  {cascades}  ({seconds:.0f} s for both)", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
