"""Streamed layers alike share one search (``hwsim.schedule.alike``), and it changes no choice."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, strategies as st

from hwsim.errors import UserError
from hwsim.graph.io import load_graph
from hwsim.schedule import schedule, stream, tiling
from hwsim.schedule.context import build_context
from hwsim.spec import load_spec, with_overrides
from tests.graph.handmade import Net
from tests.schedule.helpers import make_spec
from tests.schedule.test_properties import SETTINGS, build, specs


def counting_searches(monkeypatch) -> list[int]:
    """The layers a streamed-layer search is made for, as they come."""
    searched: list[int] = []
    real = tiling._Shape

    class Counted(real):
        def __init__(self, g, index, *args):
            searched.append(index)
            super().__init__(g, index, *args)

    monkeypatch.setattr(tiling, "_Shape", Counted)
    return searched


def test_a_chain_of_like_convolutions_is_searched_once_per_kind(monkeypatch):
    # Four 3x3 convolutions, 8 channels of 16x16 at 8 bits: 2,048 B a map. At 3 KiB none fits
    # whole (its input and output take 4 KiB), so all four stream: c1 bands the network input
    # (in DRAM) and keeps its output whole (2,048 B beside 6-row input bands); c2 then reads
    # c1 resident and sends its output to DRAM in bands; c3 reads that from DRAM, as c1 read
    # x, and keeps its output: c1 and c3 read a tensor DRAM holds and write one that is no graph
    # output, of the same sizes and geometry, so they are alike. c2 reads a resident tensor;
    # c4 too, but writes the graph output: two kinds of their own. Three searches.
    g = (Net("chain").input("x", 1, 8, 16, 16).conv("c1", "x", 8, k=3).conv("c2", "c1", 8, k=3)
         .conv("c3", "c2", 8, k=3).conv("c4", "c3", 8, k=3).build(["c4"], fuse="none"))
    searched = counting_searches(monkeypatch)
    ctx = build_context(g, make_spec(sram=3 * 1024))
    assert [(mode.band_reads, mode.band_writes) for mode in ctx.modes] == [
        (("x",), ()), ((), ("c2",)), (("c2",), ()), ((), ("c4",))]
    assert searched == [0, 1, 3]
    monkeypatch.setattr(tiling, "likeness", lambda *args: object())  # never alike: every layer searched
    apart = build_context(g, make_spec(sram=3 * 1024))
    assert searched[3:] == [0, 1, 2, 3]
    assert apart.modes == ctx.modes


@SETTINGS
@given(st.integers(0, 10_000), specs(), st.sampled_from([96, 160, 256, 400]))
def test_layers_alike_get_the_modes_they_get_searched_apart(seed, fields, sram):
    # Whatever the graph and the room: the modes with searches shared are those made with a
    # search for every layer.
    g = build(seed, most=12)
    try:
        with pytest.MonkeyPatch.context() as m:
            m.setattr(tiling, "likeness", lambda *args: object())
            apart = build_context(g, make_spec(sram=sram, **fields))
    except UserError:
        return
    assert build_context(g, make_spec(sram=sram, **fields)).modes == apart.modes


def test_nafnet_streams_its_repeated_blocks_as_searched_apart(monkeypatch):
    # NAFNet at 128 KiB streams nearly every layer, and its blocks repeat: far fewer searches
    # than streamed layers, and the same modes as a search for every layer.
    g = load_graph(Path(__file__).resolve().parents[2] / "graphs" / "nafnet.json")
    spec = with_overrides(load_spec(Path(__file__).resolve().parents[2] / "accelerators" / "edge_npu.yaml"),
                          {"sram.size": 128 << 10})
    searched = counting_searches(monkeypatch)
    shared = build_context(g, spec)
    streamed = sum(mode.streamed for mode in shared.modes)
    assert streamed > 300 and len(searched) < streamed / 4
    monkeypatch.setattr(tiling, "likeness", lambda *args: object())
    assert build_context(g, spec).modes == shared.modes


def test_nafnet_plans_the_same_with_tile_figures_worked_out_layer_by_layer(monkeypatch):
    # The streamed layers alike also share their tiles' cycles and bytes (stream.tile_run), and
    # a graph remembers them for its later schedules (alike.remembered): the plan is the one
    # made when every layer works them out itself.
    path = Path(__file__).resolve().parents[2] / "graphs" / "nafnet.json"
    g = load_graph(path)
    spec = with_overrides(load_spec(Path(__file__).resolve().parents[2] / "accelerators" / "edge_npu.yaml"),
                          {"sram.size": 128 << 10})
    shared = schedule(g, spec)
    streamed = sum(mode.streamed for mode in build_context(g, spec).modes)
    real, calls = stream._work_out_figures, []
    monkeypatch.setattr(stream, "_work_out_figures", lambda *args: calls.append(args[1]) or real(*args))
    assert schedule(g, spec) == shared and not calls  # remembered
    fresh = load_graph(path)
    assert schedule(fresh, spec) == shared
    assert 0 < len(calls) < streamed / 2
    # every layer on its own: neither its mode's share (``Mode.alike``) nor the context's
    monkeypatch.setattr(stream, "_tile_figures", lambda *args: stream._work_out_figures(*args))
    calls.clear()
    assert schedule(load_graph(path), spec) == shared
    assert len(calls) == streamed


def test_a_graph_that_forgot_searches_again_and_plans_the_same(monkeypatch):
    # the chain above: scheduled again at the same size, the graph remembers its three searches
    # and makes none; once it forgets (the benchmark's rule), it makes the three again
    from hwsim.schedule.alike import forget

    g = (Net("chain").input("x", 1, 8, 16, 16).conv("c1", "x", 8, k=3).conv("c2", "c1", 8, k=3)
         .conv("c3", "c2", 8, k=3).conv("c4", "c3", 8, k=3).build(["c4"], fuse="none"))
    spec = make_spec(sram=3 * 1024)
    searched = counting_searches(monkeypatch)
    first = schedule(g, spec)
    assert searched == [0, 1, 3]
    assert schedule(g, spec) == first and searched == [0, 1, 3]
    forget(g)
    assert schedule(g, spec) == first and searched == [0, 1, 3, 0, 1, 3]
