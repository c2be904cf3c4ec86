"""Cascade mode on the zoo graphs (graphs/*.json, 256 x 256, 8 bits) on accelerators/edge_npu.yaml."""

from pathlib import Path

import pytest

from hwsim.graph.io import load_graph
from hwsim.schedule import schedule, zero_spill_sram
from hwsim.spec import load_spec

ROOT = Path(__file__).resolve().parents[2]
KiB, MiB = 2**10, 2**20


@pytest.fixture(scope="module")
def zero_spill():
    cache = {}

    def get(name, execution):
        if (name, execution) not in cache:
            spec = load_spec(ROOT / "accelerators" / "edge_npu.yaml", [f"policy.execution={execution}"])
            cache[name, execution] = zero_spill_sram(load_graph(ROOT / "graphs" / f"{name}.json"), spec)
        return cache[name, execution]

    return get


def test_unet_in_cascades_needs_its_skips_and_the_bottleneck_not_a_full_resolution_block(zero_spill):
    # unet (64..1024 channels, 8 bits): the full-resolution levels run as cascades, so the
    # peak moves to the bottleneck (1024 ch at 16 x 16), where the four skips wait whole
    # (4 + 2 + 1 + 0.5 MiB). The two deepest decoder concatenations run outside cascades, in
    # place, so their buffers are reserved from the skip's production: with room for the
    # upsampled half (1 + 0.5 MiB). The bottleneck conv reads and writes 256 KiB, and its
    # 9 MiB of weights come in chunks of at least one output channel (1024 x 9 B).
    by_hand = (4 + 2 + 1 + 0.5) * MiB + (1 + 0.5) * MiB + 2 * 256 * KiB + 1024 * 9
    cascade = zero_spill("unet", "cascade")
    assert abs(cascade - by_hand) <= 0.15 * by_hand, (cascade, by_hand)
    # layer by layer the last decoder level sets it: the 8 MiB concatenation (the 4 MiB skip
    # and the 4 MiB upsampled map) and the 4 MiB conv output: 12 MiB or more
    assert zero_spill("unet", "layer") >= 12 * MiB > 1.2 * cascade


def test_select_attend_transfer_skips_halve_the_cascade_sram(zero_spill):
    # unet_sat's skips are 1-channel maps (85 KiB in all), so in cascades nothing at the
    # bottleneck is large; layer by layer its full-resolution blocks still need 12 MiB.
    assert zero_spill("unet_sat", "cascade") <= 0.5 * zero_spill("unet", "cascade")
    assert zero_spill("unet_sat", "layer") >= 12 * MiB


@pytest.mark.parametrize("name", ["nafnet", "nafnet_noskip", "nafnet_unetmm"])
def test_nafnet_in_cascades_is_bound_by_its_channel_attention_not_by_its_skips(zero_spill, name):
    # Every NAFBlock pools its whole map for the channel attention, so a cascade cannot run
    # past it: the gated map (32 ch at 256 x 256: 2 MiB) and the block input kept for the
    # residual leave every cascade whole. At the first full-resolution block that is four
    # 2 MiB maps and the 192 KiB network input kept for the global residual: 8 MiB + 192 KiB,
    # the same with or without skips, below layer mode's 10 MiB + 192 KiB.
    cascade = zero_spill(name, "cascade")
    assert 8 * MiB + 192 * KiB <= cascade <= 8 * MiB + 192 * KiB + 8 * KiB
    assert cascade < zero_spill(name, "layer")
    spec = load_spec(ROOT / "accelerators" / "edge_npu.yaml", ["policy.execution=cascade", f"sram.size={cascade}B"])
    plan = schedule(load_graph(ROOT / "graphs" / f"{name}.json"), spec)
    assert any("needs 'adaptive_avg_pool2d" in c.ends for c in plan.cascades)


def test_walks_that_cannot_move_less_are_not_made_and_the_plan_is_the_same(monkeypatch):
    """``unet`` at 6 MiB in cascade mode spills, so the scheduler weighs the cascades at their
    finest stripes and the layers one at a time. Neither can move fewer DRAM bytes than the
    plan with the cascades (``least_dram_bytes``: the spill program's bound, weights once,
    bands), so neither walk is made, and the plan is the one made when both are (the exact
    packing's clock limit lifted, so that a loaded machine cannot make the two plans differ)."""
    from hwsim.schedule import exact_packing, scheduler
    from hwsim.spec import with_overrides

    monkeypatch.setattr(exact_packing, "EXACT_SECONDS", 600.0)

    graph = load_graph(ROOT / "graphs" / "unet.json")
    spec = with_overrides(load_spec(ROOT / "accelerators" / "edge_npu.yaml"),
                          {"sram.size": "6MiB", "policy.execution": "cascade"})
    asked, made, real = [], [], scheduler._may_move_less
    real_walk = scheduler._walk
    monkeypatch.setattr(scheduler, "_may_move_less", lambda ctx, walk: asked.append(real(ctx, walk)) or asked[-1])
    monkeypatch.setattr(scheduler, "_walk", lambda ctx, *args: made.append(ctx) or real_walk(ctx, *args))
    plan = schedule(graph, spec)
    assert asked == [False, False] and len(made) == 1  # the finest stripes, layer by layer: neither
    monkeypatch.setattr(scheduler, "_may_move_less", lambda ctx, walk: True)
    made.clear()
    every = schedule(graph, spec)
    assert len(made) == 3 and every.commands == plan.commands and every.notes == plan.notes
