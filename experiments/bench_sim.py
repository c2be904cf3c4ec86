"""How long scheduling, simulating and measuring take, and how the cost grows.

    python experiments/bench_sim.py [--sizes 1000 10000 100000] [--spec accelerators/edge_npu.yaml]

Prints, for every zoo graph in ``graphs/*.json`` (if any), the time of each stage; then, for
chain-like graphs of 1k / 10k / 100k layers built with ``graph_from_dict`` (1x1 convolutions
on a 1x8x16x16 feature map, with a skip-like residual every 4 layers), the same with the
cost per layer, so that n log n growth can be read off (per-layer cost growing like log n).
When the scheduler is not there yet, the synthetic lines time the simulator alone on
hand-built chain plans (input load, a weight prefetch, a compute and frees per layer).
Times are CPU seconds of this process (``time.process_time``, so that other work on a
shared machine does not count), the best of ``--repeat`` runs, each on a plan of its own (a
new schedule, simulated and measured: nothing measuring keeps on a plan flatters a later run).

Last, the issue targets for NAFNet (``graphs/nafnet.json``) on the spec: a line per SRAM size
(8 MiB, 128 KiB) and execution mode (layer, cascade) with the schedule / simulate / measure
times and the commands, the ratio of the 128 KiB total to the 8 MiB one in each mode, and
whether the targets hold: the 8 MiB layer-mode total at most 50 ms, and 128 KiB at most
twice 8 MiB. The schedule's first call on a freshly loaded graph is shown in brackets (later
calls reuse what the scheduler memoises per graph). ``--targets-only`` prints just these.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hwsim.graph.io import graph_from_dict, load_graph  # noqa: E402
from hwsim.measure import measure  # noqa: E402
from hwsim.schedule.alike import forget  # noqa: E402
from hwsim.schedule.plan import Buffer, Command, LayerPlan, Plan  # noqa: E402
from hwsim.sim import simulate  # noqa: E402
from hwsim.spec import load_spec, with_overrides  # noqa: E402

try:
    from hwsim.schedule import schedule  # noqa: E402
except ImportError:
    schedule = None


def best_of(repeat: int, fn):
    """(best seconds, result of the last call)."""
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.process_time()
        result = fn()
        best = min(best, time.process_time() - start)
    return best, result


def chain_graph_dict(layers: int, channels: int = 8, size: int = 16) -> dict:
    """A chain of 1x1 convolutions; every 4th layer adds the output of 4 layers back."""
    shape = [1, channels, size, size]
    tensors = [{"name": "x", "shape": shape, "kind": "input"}]
    ops, previous = [], "x"
    for i in range(layers):
        name = f"c{i}"
        tensors += [{"name": f"{name}.w", "shape": [channels, channels, 1, 1], "kind": "param"},
                    {"name": name, "shape": shape, "kind": "activation"}]
        ops.append({"name": name, "kind": "conv2d", "inputs": [previous, f"{name}.w"], "outputs": [name],
                    "attrs": {"stride": [1, 1], "padding": [0, 0], "dilation": [1, 1], "groups": 1}})
        previous = name
        if i % 4 == 3 and i >= 4:
            add = f"a{i}"
            tensors.append({"name": add, "shape": shape, "kind": "activation"})
            ops.append({"name": add, "kind": "add", "inputs": [name, f"c{i - 4}"], "outputs": [add], "attrs": {}})
            previous = add
    layer_ops: list[list[str]] = []
    for op in ops:  # an add fuses into the conv before it
        if op["kind"] == "add":
            layer_ops[-1].append(op["name"])
        else:
            layer_ops.append([op["name"]])
    return {"schema_version": 1, "name": f"chain{layers}", "fuse": "elementwise", "inputs": ["x"],
            "outputs": [previous], "tensors": tensors, "ops": ops,
            "layers": [{"name": names[0], "ops": names} for names in layer_ops]}


def chain_plan(layers: int, cycles: int = 100, weight_bytes: int = 64, act_bytes: int = 2048) -> Plan:
    """A hand-built plan of a chain (no scheduler): per layer a weight prefetch, a compute, two frees."""
    commands: list[Command] = []

    def add(**fields) -> int:
        commands.append(Command(id=len(commands), **fields))
        return len(commands) - 1

    acts = [Buffer("x", 0, act_bytes), None]
    previous = add(kind="load", engine="dma_read", layer=0, tensor="x", dram_bytes=act_bytes, traffic="input",
                   cause="input", allocs=(acts[0],))
    free_act: list[int | None] = [None, None]
    free_w: list[int | None] = [None, None]
    for i in range(layers):
        slot = i % 2
        w = Buffer(f"weights:c{i}", 2 * act_bytes + slot * weight_bytes, weight_bytes, role="weights")
        load = add(kind="load", engine="dma_read", layer=i, tensor=w.name, dram_bytes=weight_bytes,
                   traffic="weights", cause="weights", allocs=(w,),
                   deps=() if free_w[slot] is None else (free_w[slot],))
        out = Buffer(f"c{i}", (1 - slot) * act_bytes, act_bytes)
        deps = (previous, load) + (() if free_act[1 - slot] is None else (free_act[1 - slot],))
        previous = add(kind="compute", engine="compute", layer=i, cycles=cycles, deps=deps, allocs=(out,))
        free_act[slot] = add(kind="free", engine="none", layer=i, deps=(previous,), frees=(acts[slot],))
        free_w[slot] = add(kind="free", engine="none", layer=i, deps=(previous,), frees=(w,))
        acts[1 - slot] = out
    layer_plans = tuple(LayerPlan(i, f"c{i}", 0, 0, cycles, weight_bytes) for i in range(layers))
    return Plan(f"chain{layers}", "bench", tuple(commands), layer_plans, (), 1 << 20)


HEADER = (f"{'graph':<18}{'layers':>8}{'commands':>9}{'schedule':>11}{'simulate':>11}{'measure':>10}"
          f"{'sim/cmd':>10}{'all/layer':>11}")


def _ms(seconds: float | None, width: int) -> str:
    return f"{seconds * 1e3:.1f} ms".rjust(width) if seconds is not None else "-".rjust(width)


def row(name: str, layers: int, commands: int, t_schedule: float | None, t_simulate: float,
        t_measure: float | None, note: str = "") -> str:
    total = t_simulate + (t_schedule or 0) + (t_measure or 0)
    return (f"{name:<18}{layers:>8}{commands:>9}{_ms(t_schedule, 11)}{_ms(t_simulate, 11)}{_ms(t_measure, 10)}"
            f"{t_simulate / commands * 1e6:7.1f} us{total / layers * 1e6:8.1f} us{note}")


def stage_times(graph, spec, repeat: int) -> tuple[float, float, float, int]:
    """(schedule, simulate, measure) best CPU seconds and the plan's command count. Each
    repetition schedules a new plan and simulates and measures that one, as a single run does:
    what measuring keeps on a plan object for the next measure of it (a sweep's bandwidths,
    ``hwsim.measure.memo``) never makes a later repetition cheaper, nor does what the graph
    remembers of streamed layers at an SRAM size (``hwsim.schedule.alike.remembered``: a
    sweep's schedules share it), which is dropped before each repetition. The graph keeps its
    analyses that no SRAM size changes (layout, band tables, costs)."""
    best = [float("inf")] * 3
    for _ in range(repeat):
        forget(graph)
        start = time.process_time()
        plan = schedule(graph, spec)
        scheduled = time.process_time()
        trace = simulate(plan, spec)
        simulated = time.process_time()
        measure(trace, plan, spec, graph)
        measured = time.process_time()
        for i, seconds in enumerate((scheduled - start, simulated - scheduled, measured - simulated)):
            best[i] = min(best[i], seconds)
    return best[0], best[1], best[2], len(plan.commands)


def bench_graph(graph, spec, repeat: int, note: str = "") -> str:
    t_schedule, t_simulate, t_measure, commands = stage_times(graph, spec, repeat)
    return row(graph.name, len(graph.layers), commands, t_schedule, t_simulate, t_measure, note)


TARGET_MS = 50.0  # NAFNet, 8 MiB, layer mode: schedule + simulate + measure
TARGET_RATIO = 2.0  # 128 KiB at most this many times 8 MiB
TARGET_SIZES = (("8 MiB", 8 << 20), ("128 KiB", 128 << 10))


def bench_targets(path: Path, spec, repeat: int) -> list[str]:
    """The issue targets' lines (module docstring)."""
    lines = [f"NAFNet targets, CPU ms, best of {repeat} (schedule's first call in brackets)",
             f"{'mode':<9}{'sram':>8}{'schedule':>11}{'(first)':>10}{'simulate':>11}{'measure':>11}{'total':>12}"
             f"{'commands':>10}"]
    totals: dict[tuple[str, str], float] = {}
    for execution in ("layer", "cascade"):
        for label, size in TARGET_SIZES:
            point = with_overrides(spec, {"sram.size": size, "policy.execution": execution})
            graph = load_graph(path)
            t_first, _ = best_of(1, lambda: schedule(graph, point))
            t_schedule, t_simulate, t_measure, commands = stage_times(graph, point, repeat)
            total = t_schedule + t_simulate + t_measure
            totals[execution, label] = total
            lines.append(f"{execution:<9}{label:>8}{_ms(t_schedule, 11)}{f'({t_first * 1e3:.1f})':>10}"
                         f"{_ms(t_simulate, 11)}{_ms(t_measure, 11)}{_ms(total, 12)}{commands:>10}")
    small, large = TARGET_SIZES[1][0], TARGET_SIZES[0][0]
    ratios = {m: totals[m, small] / totals[m, large] for m in ("layer", "cascade")}
    lines.append("ratio 128 KiB / 8 MiB: " + ", ".join(f"{m} {r:.1f}x" for m, r in ratios.items()))
    layer_ms = totals["layer", large] * 1e3
    lines.append(f"target 8 MiB layer total <= {TARGET_MS:.0f} ms: {layer_ms:.1f} ms, "
                 f"{'holds' if layer_ms <= TARGET_MS else 'missed'}")
    lines.append(f"target 128 KiB <= {TARGET_RATIO:.0f}x 8 MiB: " + ", ".join(
        f"{m} {'holds' if r <= TARGET_RATIO else 'missed'}" for m, r in ratios.items()))
    return lines


def bench_synthetic(layers: int, spec, repeat: int) -> str:
    if schedule is not None:
        t_build, graph = best_of(1, lambda: graph_from_dict(chain_graph_dict(layers), f"chain{layers}"))
        return bench_graph(graph, spec, repeat, f"  (graph_from_dict {t_build:.1f} s)")
    plan = chain_plan(layers)
    t_simulate, _ = best_of(repeat, lambda: simulate(plan, spec))
    return row(plan.graph, layers, len(plan.commands), None, t_simulate, None, "  (hand-built plan)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", default=str(ROOT / "accelerators" / "edge_npu.yaml"))
    parser.add_argument("--sizes", type=int, nargs="*", default=[1000, 10000, 100000])
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure, best kept (default 3)")
    parser.add_argument("--targets-only", action="store_true", help="print only the NAFNet targets")
    args = parser.parse_args(argv)
    spec = load_spec(args.spec)
    nafnet = ROOT / "graphs" / "nafnet.json"
    if args.targets_only:
        print("\n".join(bench_targets(nafnet, spec, args.repeat)))
        return 0
    print(f"spec {spec.name}; {'scheduler found' if schedule else 'no scheduler yet: simulator alone'}")
    print(HEADER)
    if schedule is not None:
        for path in sorted((ROOT / "graphs").glob("*.json")):
            print(bench_graph(load_graph(path), spec, args.repeat), flush=True)
    for layers in args.sizes:
        print(bench_synthetic(layers, spec, 1 if layers >= 100000 else args.repeat), flush=True)
    if schedule is not None and nafnet.exists():
        print("\n".join(bench_targets(nafnet, spec, args.repeat)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
