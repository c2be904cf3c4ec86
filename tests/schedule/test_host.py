"""Host ops (``--fallback host``) scheduled and simulated: traffic and time against hand counts.

The graph, by hand (8-bit activations, edge_npu at 1 GHz): x 1x4x16x16 -> c1 (8 channels,
16x16: 2048 B) -> pool (8x8x8) -> c2 (8x8x8 = 512 B) -> host op ``cum`` (an
``aten.cumsum.default`` the extractor could not map: 512 elements in, 512 out) -> up
(8x16x16) -> concat with c1 (the skip) -> c3 (4 channels). The host op's input c2 is resident
and not in DRAM: stored once (512 B ``host_write``); its output is read back once by ``up``
(512 B ``host_read``). Its ops: max(512 in, 512 out) = 512.
"""

import dataclasses

import pytest

from hwsim.graph.host import host_attrs
from hwsim.pipeline import run
from hwsim.schedule import schedule, verify_plan
from hwsim.schedule.host_check import check_hosts
from hwsim.spec import load_spec
from tests.graph.handmade import Net

SPEC = "accelerators/edge_npu.yaml"


def net(host: bool = True) -> Net:
    n = Net("host_u").input("x", 1, 4, 16, 16).conv("c1", "x", 8, k=3).pool("p", "c1").conv("c2", "p", 8, k=3)
    if host:
        n.op("cum", "host", ["c2"], [1, 8, 8, 8], **host_attrs("aten.cumsum.default", "torch", "cumsum",
                                                                [(1, 8, 8, 8)], 512, "elements"))
    else:
        n.op("cum", "relu", ["c2"], [1, 8, 8, 8])  # a stand-in the accelerator runs (fused into c2's layer)
    return n.up("u", "cum").cat("cat", "c1", "u").conv("c3", "cat", 4, k=3)


def host_spec(per_op: str = "5 us", rate: str = "64 Mop/s", *more: str) -> list[str]:
    return [f"host.per_op={per_op}", f"host.ops_per_second={rate}", *more]


def test_the_host_op_is_a_layer_of_its_own_and_round_trips():
    g = net().build()  # through JSON and the validator
    layer = [la for la in g.layers if "cum" in la.ops][0]
    assert layer.ops == ("cum",)  # nothing fused into it, and it fused into nothing
    assert g.op["cum"].attrs["out_shapes"] == ((1, 8, 8, 8),)


def test_traffic_and_time_by_hand():
    r = run(net().build(), SPEC, host_spec())
    m = r.metrics
    assert m.dram_bytes_by_kind["host_write"] == 512 and m.dram_bytes_by_kind["host_read"] == 512
    (h,) = m.hosts
    assert (h.name, h.op, h.ops, h.bytes_out, h.bytes_in) == ("cum", "aten.cumsum.default", 512, 512, 512)
    # 5 us + 512 ops / 64 Mop/s = 5 us + 8 us = 13 us at 1 GHz
    assert h.cycles == 13_000 == m.host_cycles
    assert m.stall_by_cause["host"] >= 13_000
    assert m.latency_cycles >= m.compute_cycles + 13_000
    assert verify_plan(r.plan, r.spec, r.graph) == []


def test_the_accelerator_waits_the_whole_host_time():
    """Nothing overlaps a host op (a barrier): 20 us more per op is exactly 20,000 cycles more latency."""
    fast = run(net().build(), SPEC, host_spec("5 us")).metrics
    slow = run(net().build(), SPEC, host_spec("25 us")).metrics
    assert slow.latency_cycles - fast.latency_cycles == 20_000
    assert slow.dram_bytes_by_kind == fast.dram_bytes_by_kind


def test_host_traffic_is_the_stand_in_graph_plus_its_input_out_and_output_back():
    """Where everything fits, the graph with a host op moves its input out and its output back
    (512 + 512 B) on top of what the same graph run whole on the accelerator moves."""
    hosted = run(net().build(), SPEC, host_spec()).metrics
    whole = run(net(host=False).build(), SPEC).metrics
    assert hosted.dram_bytes - whole.dram_bytes == 1024


@pytest.mark.parametrize("execution", ["layer", "cascade"])
def test_more_sram_never_more_traffic_and_every_plan_verifies(execution):
    previous = None
    for kib in (2, 3, 4, 6, 8, 16, 64):
        r = run(net().build(), SPEC, host_spec("1 us", "64 Mop/s", f"sram.size={kib}KiB",
                                                f"policy.execution={execution}"))
        assert verify_plan(r.plan, r.spec, r.graph) == []
        assert all(la.name != "cum" for c in r.plan.cascades for la in r.plan.layers[c.first:c.last + 1])
        if previous is not None:
            assert r.metrics.dram_bytes <= previous, f"{kib} KiB moves more than less SRAM"
        previous = r.metrics.dram_bytes


def test_the_verifier_catches_a_host_op_that_runs_before_its_input_is_stored():
    spec = load_spec(SPEC, host_spec())
    g = net().build()
    plan = schedule(g, spec)
    assert verify_plan(plan, spec, g) == []
    cid = next(c.id for c in plan.commands if c.kind == "host")
    broken = dataclasses.replace(plan, commands=tuple(
        dataclasses.replace(c, deps=()) if c.id == cid else c for c in plan.commands))
    problems = verify_plan(broken, spec, g)
    assert any("no store of it comes before" in p for p in problems)
    assert any("does not wait" in p for p in problems)


def test_the_verifier_catches_a_load_of_a_host_output_before_the_host_runs():
    spec = load_spec(SPEC, host_spec())
    g = net().build()
    plan = schedule(g, spec)
    host = next(c.id for c in plan.commands if c.kind == "host")
    moved = [c for c in plan.commands if c.kind == "load" and c.traffic == "host_read"]
    assert len(moved) == 1 and host in moved[0].deps
    # the load of the host op's output without its dependency on the host command
    broken = dataclasses.replace(plan, commands=tuple(
        dataclasses.replace(c, deps=tuple(d for d in c.deps if d != host)) if c is moved[0] else c
        for c in plan.commands))
    checker_problems = check_hosts(broken, lambda a, b: a in broken.commands[b].deps or _reaches(broken, a, b), g)
    assert any("without following the host op" in p for p in checker_problems)


def _reaches(plan, earlier, later) -> bool:
    stack, seen = [later], {later}
    while stack:
        for d in plan.commands[stack.pop()].deps:
            if d == earlier:
                return True
            if d not in seen:
                seen.add(d)
                stack.append(d)
    return False


def test_a_graph_with_host_ops_on_a_spec_without_host_is_a_user_error_naming_the_field(tmp_path, capsys):
    from hwsim.cli import main
    from hwsim.graph.io import write_graph

    path = tmp_path / "g.json"
    write_graph(net().build(), path)
    assert main(["run", SPEC, str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"hwsim: error: {SPEC}: host: ") and err.count("\n") == 1
    assert "aten.cumsum.default" in err and "ops_per_second" in err


def _edge(name: str) -> tuple[Net, list[str] | None]:
    """(a) a host op reading the network input; (b) one making the output; (c) one reading a
    convolution's output and the input, its output both a graph output and read by an add."""
    attrs = host_attrs("aten.cumsum.default", "torch", "h", [(1, 4, 8, 8)], 256, "elements")
    n = Net(name).input("x", 1, 4, 8, 8)
    if name == "a":
        return n.op("h", "host", ["x"], [1, 4, 8, 8], **attrs).conv("c", "h", 4, k=3), None
    n.conv("c", "x", 4, k=3)
    if name == "b":
        return n.op("h", "host", ["c"], [1, 4, 8, 8], **attrs), None
    n.op("h", "host", ["c", "x"], [1, 4, 8, 8], **attrs).conv("d", "c", 4, k=1).binary("e", "add", "d", "h")
    return n, ["e", "h"]


# 4x8x8 = 256 B per map at 8 bits; the 3x3 convolution's weights 4x4x3x3 = 144 B at 8 bits and its bias 4 x 32 bits
# = 16 B: 160 B; (c)'s 1x1 convolution 16 + 16 B more: 192 B
EDGES = {
    "a": {"weights": 160, "output": 256, "host_read": 256},  # the input only the host reads: no input traffic
    "b": {"weights": 160, "input": 256, "host_write": 256},  # the output only the host writes: no output traffic
    "c": {"weights": 192, "input": 256, "output": 256, "host_write": 256, "host_read": 256},
}


@pytest.mark.parametrize("name", sorted(EDGES))
def test_host_ops_at_the_edges_of_the_graph(name):
    n, outputs = _edge(name)
    r = run(n.build(outputs), SPEC, host_spec("1 us"))
    assert verify_plan(r.plan, r.spec, r.graph) == []
    assert {k: v for k, v in r.metrics.dram_bytes_by_kind.items() if v} == EDGES[name]
    # the DRAM floor counts what the accelerator itself must move: here, all of it
    assert r.metrics.bounds.floor_dram_bytes == r.metrics.dram_bytes
    for kib in ("512B", "1KiB"):
        small = run(n.build(outputs), SPEC, host_spec("1 us", "64 Mop/s", f"sram.size={kib}"))
        assert verify_plan(small.plan, small.spec, small.graph) == []
        assert small.metrics.dram_bytes >= small.metrics.bounds.floor_dram_bytes

