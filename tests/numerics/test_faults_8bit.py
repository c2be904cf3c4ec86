"""Planted schedule faults at 8 bits, where one wrong byte is one code step (far inside any SQNR
threshold: the old tolerance check could not see them): each is caught bit-exactly, at the layer
that reads the bad bytes, with its address range and the command that produced them.

Expected figures come from the plan (which command first reads the corrupted buffer, its
address) and from the quantised network without a memory model, never from the interpreter.
"""

import dataclasses

import numpy as np
import pytest

from hwsim.numerics.check import check_plan, quantise
from hwsim.schedule import verify_plan
from hwsim.schedule.bands import RowMap
from hwsim.schedule.expand import expand
from tests.numerics.test_check import MIXED, PLAIN, _freed_between, _live_walk, _next_reader, _with, spec_at, tight

pytestmark = pytest.mark.torch
pytest.importorskip("torch")


@pytest.fixture(scope="module")
def mixed8(prepared):
    graph, ref = prepared(MIXED)
    spec, plan = tight(graph, spec_at(8), 75)
    assert verify_plan(plan, spec, graph) == []
    control = check_plan(graph, plan, spec, ref)
    assert control.passed and control.schedule_passed and control.faults == 0
    return graph, ref, spec, plan


def _codes(graph, spec, ref, name):
    """The int8 codes of tensor ``name`` in the quantised network without a memory model."""
    return quantise(graph, spec, ref).run.bytes_of(name)


def test_a_one_byte_overlap_is_caught_at_the_reader_with_its_address(mixed8):
    graph, ref, spec, plan = mixed8
    # a compute allocates its output B so that B's last byte is A's first, while A (allocated
    # before, not read by this compute) is read later before it is freed or stored
    for i, live in _live_walk(plan):
        c = plan.commands[i]
        if c.kind != "compute":
            continue
        for b in c.allocs:
            if b.role != "activation" or b.name not in graph.tensor:
                continue
            nb = graph.tensor[b.name].elements  # 8 bits: a byte an element
            for a in live.values():
                if a in c.allocs or a.space != b.space or "@" in a.name or a.name not in graph.tensor:
                    continue
                if a.address < nb - 1 or a.name in c.reads or not any(a.name in x.reads for x in plan.commands[i + 1:]):
                    continue
                reader = _next_reader(plan, i, a.name)
                if _freed_between(plan, i, reader, a.name) or any(
                        x.kind == "store" and x.tensor == a.name for x in plan.commands[i + 1: reader]):
                    continue
                if _codes(graph, spec, ref, b.name)[-1] == _codes(graph, spec, ref, a.name)[0]:
                    continue  # the same code: the overlap would change nothing
                moved = dataclasses.replace(b, address=a.address - nb + 1)
                bad = _with(plan, i, dataclasses.replace(c, allocs=tuple(moved if x is b else x for x in c.allocs)))
                assert verify_plan(bad, spec, graph), "the verifier must reject the corrupted plan too"
                report = check_plan(graph, bad, spec, ref)
                f = report.first_fault
                assert not report.passed and not report.schedule_passed
                assert report.first_divergent_layer == graph.layers[plan.commands[reader].layer].name
                assert (f.access, f.tensor, f.space, f.lo, f.hi, f.differing) == ("reads", a.name, a.space,
                                                                                  a.address, a.address + 1, 1)
                assert f.command == plan.commands[reader].id and f.producer == c.id
                return
    pytest.fail("no overlap to plant")


def test_a_reload_from_a_stale_dram_copy_is_caught_at_the_reader(mixed8):
    graph, ref, spec, plan = mixed8
    # a tensor X spilled and reloaded; between its store and its reload another spill store
    # writes Z's bytes over X's DRAM copy (their DRAM regions collide): the reload brings stale bytes
    for i, c in enumerate(plan.commands):
        if c.traffic != "spill_read":
            continue
        store = max(j for j in range(i) if plan.commands[j].traffic == "spill_write"
                    and plan.commands[j].tensor == c.tensor)
        other = next((j for j in range(store + 1, i) if plan.commands[j].traffic == "spill_write"
                      and plan.commands[j].tensor != c.tensor), None)
        if other is None:
            continue
        z = plan.commands[other]
        if graph.tensor[z.tensor].elements < graph.tensor[c.tensor].elements:
            continue
        rogue = dataclasses.replace(z, tensor=c.tensor, dram_bytes=graph.tensor[c.tensor].elements)
        commands = plan.commands[:other + 1] + (rogue,) + plan.commands[other + 1:]
        bad = dataclasses.replace(plan, commands=commands)
        reader = _next_reader(plan, i, c.tensor)
        report = check_plan(graph, bad, spec, ref)
        f = report.first_fault
        assert not report.passed and report.first_divergent_layer == graph.layers[plan.commands[reader].layer].name
        assert f.access == "reads" and f.tensor == c.tensor and f.command == plan.commands[reader].id
        assert f.producer == c.id  # the reload wrote the bad bytes into SRAM
        assert "load" in f.producer_text and "spill_read" in f.producer_text
        return
    pytest.fail("no reload with another spill between its store and itself")


def _without_top_halo(run, tensor):
    """``run``'s band model reading ``tensor`` one row short at the top of each band: a 3x3 window
    (k 3, stride 1, pad 1) read as a 2-row window starting at the band's first row."""
    maps = run.model.reads[tensor]
    short = tuple(RowMap("window", m.rows, (2, 1, 0, 1), m.axis) if m.kind == "window" and m.params == (3, 1, 1, 1)
                  else m for m in maps)
    return dataclasses.replace(run, model=dataclasses.replace(run.model, reads={**run.model.reads, tensor: short}))


def test_a_band_missing_its_halo_row_is_caught_at_its_streamed_layer(prepared):
    graph, ref = prepared(PLAIN)
    spec, plan = tight(graph, spec_at(8), 40)
    plan = expand(plan)
    assert check_plan(graph, plan, spec, ref).passed  # the control
    for run in plan.lowered:
        tensor = next((n for n, maps in run.model.reads.items()
                       if any(m.kind == "window" and m.params == (3, 1, 1, 1) for m in maps)), None)
        if tensor is None or len(run.bands) < 2:
            continue
        short = _without_top_halo(run, tensor)
        nbytes = graph.tensor[tensor].elements

        def fewer(c):  # the plan moves one row fewer in every band after the first
            if c.kind == "load" and c.layer == run.layer and c.tensor == tensor and c.tile is not None:
                return dataclasses.replace(c, dram_bytes=short.model.band_bytes(tensor, nbytes, *run.band(c.tile)))
            return c

        commands = tuple(map(fewer, plan.commands))
        if sum(c.dram_bytes for c in commands) == sum(c.dram_bytes for c in plan.commands):
            continue  # its input stays resident (read in place): no band to cut short
        lowered = tuple(short if r is run else r for r in plan.lowered)
        bad = dataclasses.replace(plan, commands=commands, lowered=lowered)
        report = check_plan(graph, bad, spec, ref)
        f = report.first_fault
        assert not report.passed and report.first_divergent_layer == graph.layers[run.layer].name
        assert f.access == "writes" and report.error is None
        # band 1 (tile 1) is the first whose rows need a row above its own: its compute writes bad bytes
        tile1 = next(c for c in plan.commands if c.kind == "compute" and c.layer == run.layer and c.tile == 1)
        assert f.command == tile1.id and f.producer == tile1.id
        assert np.isfinite(report.outputs[0].sqnr_db)  # the quality figure comes from the quantised network
        return
    pytest.fail("no streamed 3x3 layer of several bands")
