"""Paired A/B timing of ``hwsim.sim.simulate``: two source trees, the same plans, alternating.

    python experiments/ab_sim.py BASELINE_TREE [--rounds 6] [--repeat 8]

Schedules the NAFNet targets of issues 9 and 17 once (with this tree's scheduler, on
``accelerators/edge_npu.yaml``: 8 MiB layer mode, 400 KiB with 4-bit activations in layer mode,
128 KiB layer mode, 8 MiB cascade mode), pickles them, then times ``simulate`` on them in fresh
processes, one tree then the other, alternating which goes first, ``--rounds`` times; each
process keeps the best of ``--repeat`` runs (CPU time, ``time.process_time``) and the figure
printed per tree is the best over the rounds. On a shared machine whose speed drifts by 2x
within an hour, only runs close together in time compare: hence the pairing. A baseline tree is
a checkout of another commit, e.g. ``git worktree add --detach /tmp/base 340be5e`` or
``git archive 340be5e | tar -x -C /tmp/base``. The plans are the same objects for both trees,
so the two simulate exactly the same commands.
"""

from __future__ import annotations

import argparse
import ast
import os
import pickle
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGETS = {
    "8 MiB layer": {"sram.size": 8 << 20, "policy.execution": "layer"},
    "400 KiB 4-bit layer": {"sram.size": 400 << 10, "policy.execution": "layer", "datatype.activation_bits": 4},
    "128 KiB layer": {"sram.size": 128 << 10, "policy.execution": "layer"},
    "8 MiB cascade": {"sram.size": 8 << 20, "policy.execution": "cascade"},
}

TIMER = """
import gc, pickle, sys, time
gc.disable()
targets = pickle.load(open(sys.argv[1], "rb"))
gc.enable()
from hwsim.sim import simulate
best = {}
for name, (plan, spec) in targets.items():
    simulate(plan, spec)
    for _ in range(int(sys.argv[2])):
        start = time.process_time()
        simulate(plan, spec)
        best[name] = min(best.get(name, float("inf")), time.process_time() - start)
print(repr(best))
"""


def make_targets(path: str) -> dict[str, int]:
    """Schedule the targets with this tree and pickle (plan, spec) pairs to ``path``; their command counts."""
    sys.path.insert(0, str(ROOT))
    from hwsim.graph.io import load_graph
    from hwsim.schedule import schedule
    from hwsim.spec import load_spec, with_overrides

    spec, graph = load_spec(ROOT / "accelerators" / "edge_npu.yaml"), load_graph(ROOT / "graphs" / "nafnet.json")
    targets = {}
    for name, changes in TARGETS.items():
        point = with_overrides(spec, changes)
        targets[name] = (schedule(graph, point), point)
    with open(path, "wb") as f:
        pickle.dump(targets, f, protocol=5)
    return {name: len(plan.commands) for name, (plan, _) in targets.items()}


def time_tree(tree: Path, path: str, repeat: int) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    out = subprocess.run([sys.executable, "-c", TIMER, path, str(repeat)], cwd=tree, env=env, capture_output=True,
                         text=True, check=True).stdout
    return ast.literal_eval(out.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("baseline", type=Path, help="the source tree to compare with (its hwsim/ is imported)")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--repeat", type=int, default=8)
    args = parser.parse_args(argv)
    if not (args.baseline / "hwsim" / "sim" / "engine.py").is_file():
        print(f"ab_sim: error: {args.baseline}: no hwsim/sim/engine.py there", file=sys.stderr)
        return 2
    trees = {"baseline": args.baseline.resolve(), "this tree": ROOT}
    best: dict[str, dict[str, float]] = {tree: {} for tree in trees}
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "targets.pkl")
        commands = make_targets(path)
        for r in range(args.rounds):
            for tree in (list(trees) if r % 2 == 0 else list(reversed(trees))):
                for name, seconds in time_tree(trees[tree], path, args.repeat).items():
                    best[tree][name] = min(best[tree].get(name, float("inf")), seconds)
    print(f"simulate, NAFNet on edge_npu, CPU ms, best of {args.rounds} x {args.repeat} alternating runs")
    print(f"{'plan':<22}{'commands':>9}{'baseline':>11}{'this tree':>11}{'change':>9}")
    for name in TARGETS:
        before, after = best["baseline"][name], best["this tree"][name]
        print(f"{name:<22}{commands[name]:>9}{before * 1e3:>11.1f}{after * 1e3:>11.1f}{(after / before - 1) * 100:>8.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
