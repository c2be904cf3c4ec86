"""How long ``hwsim.measure.measure`` takes on NAFNet, against another commit (paired A/B).

    python experiments/bench_measure.py [--baseline DIR] [--rounds 3] [--repeat 5]

Cases (``accelerators/edge_npu.yaml``, layer mode, issues 9 and 17): NAFNet at 8 MiB (8-bit),
and NAFNet at 400 KiB with 4-bit activations. Each is scheduled once here and simulated at four
DRAM bandwidths (3.2, 6.4, 12.8, 25.6 GB/s: a sweep point's plan shared by four bandwidths,
``hwsim.sweep.share``). A child process per version and round then times, on a freshly
unpickled plan, the **first** measure (12.8 GB/s; nothing of the plan kept yet) and the
**later** ones (the three other bandwidths, same plan object, ``hwsim.measure.facts``), each the
best of ``--repeat`` runs, in CPU time of the child (``time.process_time``). The graph object
stays alive across repeats, as in a sweep worker.

``--baseline DIR``: a checkout of another commit (``git worktree add /tmp/base <commit>``);
its children run with ``PYTHONPATH=DIR`` and alternate with this tree's, round by round, so
that a shared machine's drift (2x over an hour) hits both alike. Printed per case and version:
the best first and later times over the rounds, and the microseconds per plan command.
"""

from __future__ import annotations

import argparse
import os
import pickle
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BANDWIDTHS = ("3.2 GB/s", "6.4 GB/s", "12.8 GB/s", "25.6 GB/s")
CASES = {
    "nafnet 8 MiB layer": {"sram.size": "8 MiB"},
    "nafnet 400 KiB 4-bit layer": {"sram.size": "400 KiB", "datatype.activation_bits": 4},
}


def prepare(path: Path) -> None:
    """Schedule and simulate every case at the four bandwidths; pickle it to ``path``."""
    import dataclasses

    from hwsim.graph.io import load_graph
    from hwsim.pipeline import plan_graph
    from hwsim.sim import simulate
    from hwsim.spec import load_spec, with_overrides

    graph = load_graph(ROOT / "graphs" / "nafnet.json")
    spec = load_spec(ROOT / "accelerators" / "edge_npu.yaml")
    cases = {}
    for name, changes in CASES.items():
        planned = plan_graph(graph, with_overrides(spec, {**changes, "policy.execution": "layer"}))
        specs = [with_overrides(planned.spec, {"dram.bandwidth": b}) for b in BANDWIDTHS]
        traces = [simulate(planned.plan, s) for s in specs]
        # a fresh graph object (its memo holds functions, which do not pickle)
        cases[name] = (dataclasses.replace(planned.graph), planned.order_summary, pickle.dumps(planned.plan),
                       specs, traces)
    path.write_bytes(pickle.dumps(cases))


def child(path: Path, repeat: int) -> None:
    """Time measure on every case of ``path``; print one line per case: name, first, later, commands."""
    from hwsim.measure import measure

    cases = pickle.loads(path.read_bytes())
    for name, (graph, order, plan_bytes, specs, traces) in cases.items():
        first, later = float("inf"), float("inf")
        for _ in range(repeat + 1):  # the first round warms the graph's memo
            plan = pickle.loads(plan_bytes)
            start = time.process_time()
            measure(traces[2], plan, specs[2], graph, order)
            first_time = time.process_time() - start
            for i in (0, 1, 3):
                start = time.process_time()
                measure(traces[i], plan, specs[i], graph, order)
                later = min(later, time.process_time() - start)
            first = min(first, first_time)
        print(f"{name}\t{first}\t{later}\t{len(plan.commands)}", flush=True)


def run_child(code: Path, path: Path, repeat: int) -> dict[str, tuple[float, float, int]]:
    env = dict(os.environ, PYTHONPATH=str(code))
    out = subprocess.run([sys.executable, __file__, "--child", str(path), "--repeat", str(repeat)], env=env,
                         cwd=code, check=True, capture_output=True, text=True).stdout
    rows = {}
    for line in out.splitlines():
        name, first, later, commands = line.split("\t")
        rows[name] = (float(first), float(later), int(commands))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, help="a checkout of another commit to compare with")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.repeat)
        return
    sys.path.insert(0, str(ROOT))
    versions = {"this tree": ROOT}
    if args.baseline:
        versions = {"baseline": args.baseline.resolve(), **versions}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "cases.pickle"
        prepare(path)
        best: dict[tuple[str, str], list[float]] = {}
        commands: dict[str, int] = {}
        for _ in range(args.rounds):
            for version, code in versions.items():  # alternating: paired rounds
                for name, (first, later, n) in run_child(code, path, args.repeat).items():
                    b = best.setdefault((name, version), [float("inf"), float("inf")])
                    b[0], b[1] = min(b[0], first), min(b[1], later)
                    commands[name] = n
    print(f"{'case':<28}{'commands':>9}  {'version':<10}{'first':>10}{'later':>10}{'first/cmd':>11}{'later/cmd':>11}")
    for name in CASES:
        for version in versions:
            first, later = best[(name, version)]
            n = commands[name]
            print(f"{name:<28}{n:>9}  {version:<10}{first * 1e3:>7.1f} ms{later * 1e3:>7.1f} ms"
                  f"{first / n * 1e6:>8.1f} us{later / n * 1e6:>8.1f} us")
        if args.baseline:
            (f0, l0), (f1, l1) = best[(name, "baseline")], best[(name, "this tree")]
            print(f"{'':<28}{'':>9}  {'ratio':<10}{f1 / f0:>10.2f}{l1 / l0:>10.2f}")


if __name__ == "__main__":
    main()
