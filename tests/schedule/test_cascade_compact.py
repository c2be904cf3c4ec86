"""A cascade's parts share compute commands (``hwsim.schedule.cascade_run``) without changing the run:
the simulated times of every part and of every other command, and the SRAM bytes the energy model
counts, equal those of the same plan made with one compute command per part (each layer in each
stripe), as the scheduler made it before."""

from pathlib import Path

import pytest

from hwsim.graph.io import load_graph
from hwsim.measure.energy import array_sram_bytes
from hwsim.schedule import cascade_run, schedule, verify_plan
from hwsim.sim import simulate
from hwsim.spec import load_spec
from tests.schedule.helpers import make_spec
from tests.schedule.test_cascade import pooled_block, three_convs, u_one_level

ROOT = Path(__file__).resolve().parents[2]


def one_command_a_part(parts, *_):
    return [(i, i + 1) for i in range(len(parts))]


def run(graph, spec):
    plan = schedule(graph, spec)
    assert verify_plan(plan, spec, graph) == []
    return plan, simulate(plan, spec)


def timeline(plan, trace):
    """Every part's (layer, stripe, start, end), in time order, and every other event without its id."""
    parts, others = [], []
    for e in trace.events:
        if e.kind == "compute":
            parts += plan.commands[e.command].spans(e.start)
        else:
            others.append((e.kind, e.layer, e.start, e.end, e.dram_bytes, e.traffic, e.tensor, e.tile))
    return parts, sorted(others, key=repr), [(s.cycle, s.sram_bytes) for s in trace.occupancy]


def waits_inside(plan, trace) -> int:
    """Parts of a cascade (one command each) that start after the compute before them ended."""
    firsts = {(c.first, 0) for c in plan.cascades}
    computes = sorted((e.start, e.end, plan.commands[e.command].parts) for e in trace.events if e.kind == "compute")
    return sum(1 for (_, end, _), (start, _, parts) in zip(computes, computes[1:])
               if start > end and parts and parts[0][:2] not in firsts)


def overtakes(plan, trace) -> int:
    """Commands after a cascade in program order that start before its last part ends."""
    start = {e.command: e.start for e in trace.events}
    count = 0
    for c in plan.cascades:
        ids = [cmd.id for cmd in plan.commands if cmd.parts and c.first <= cmd.parts[0].layer <= c.last]
        end = max(start[i] + plan.commands[i].cycles for i in ids)
        count += sum(1 for cmd in plan.commands[ids[-1] + 1:] if start[cmd.id] < end)
    return count


CASES = {
    "three_convs": lambda: (three_convs().graph(), make_spec(sram=8 * 1024, execution="cascade")),
    "u_one_level": lambda: (u_one_level().graph(), make_spec(sram=2 * 1024 + 26 * 128, execution="cascade")),
    "pooled_block": lambda: (pooled_block().graph(), make_spec(sram=12 * 1024, execution="cascade")),
    "unet_8MiB": lambda: (load_graph(ROOT / "graphs" / "unet.json"),
                          load_spec(ROOT / "accelerators" / "edge_npu.yaml", ["policy.execution=cascade"])),
}


@pytest.mark.parametrize("name", CASES)
def test_shared_commands_time_every_part_and_every_other_command_as_one_command_a_part(monkeypatch, name):
    graph, spec = CASES[name]()
    compact = run(graph, spec)
    monkeypatch.setattr(cascade_run, "runs", one_command_a_part)
    graph, spec = CASES[name]()
    apart = run(graph, spec)
    assert timeline(*compact) == timeline(*apart)
    assert array_sram_bytes(compact[0]) == array_sram_bytes(apart[0])  # the energy model counts parts' reads
    assert sum(len(c.parts) for c in compact[0].commands) == sum(len(c.parts) for c in apart[0].commands)
    assert len(compact[0].commands) < len(apart[0].commands)
    if name == "unet_8MiB":
        # the case needs both cuts: a part inside a cascade waits for a load (a command must start
        # there), and commands after a cascade start before it ends (they wait for one of its parts)
        assert waits_inside(*apart) > 0 and overtakes(*apart) > 0
