"""A streamed layer's tiles timed in bulk (``hwsim.sim.pipeline``), against hand-worked times and
against the event simulation of the per-tile commands it stands for (``hwsim.schedule.expand``).

The hand spec moves 10 B a cycle after 5 cycles of latency: a 1,000 B band takes 105 cycles.
"""

from __future__ import annotations

import pytest

from hwsim.schedule.expand import expand
from hwsim.schedule.plan import BandStream, Buffer, Command, LayerPlan, Plan, TileRun
from hwsim.schedule.verify import verify_plan
from hwsim.sim import simulate
from hwsim.sim.pipeline import RunTimer, _stops, time_run
from tests.sim.handplans import make_spec

BAND = 1000


def run_of(tiles: int, cycles: int, slots: int = 2, chunks: tuple[int, ...] = ()) -> TileRun:
    """``tiles`` tiles of one 1,000 B input band and one 1,000 B output band each."""
    reads = (BandStream("x", "input", (BAND,) * tiles, tuple(range(0, slots * BAND, BAND)), BAND),)
    writes = (BandStream("y", "output", (BAND,) * tiles, tuple(range(slots * BAND, 2 * slots * BAND, BAND)), BAND),)
    bands = ((0, 1),) * (tiles // max(1, len(chunks)))
    return TileRun(0, tuple((i, i + 1) for i in range(len(bands))), slots, (cycles,) * tiles, reads, writes, (),
                   "weights:l" if chunks else None, chunks, 2 * slots * BAND, "sram", max(chunks, default=0))


def timing(run: TileRun, channels: int = 1):
    spec = make_spec(channels=channels)
    return time_run(run, 0, 0, channels, spec.dram_latency_cycles(), spec.dram_transfer_cycles)


def test_dma_bound_tiles_by_hand():
    # Two slots, 10-cycle computes. Loads 0 and 1 take [0, 105) and [105, 210); compute 0 runs
    # [105, 115). Then the store of band 0 and the load of band 2 (its slot freed by compute 0)
    # wait together: the store comes first in program order: [210, 315), [315, 420); compute 1
    # [210, 220). Likewise store 1 [420, 525), load 3 [525, 630); compute 2 [420, 430) (its
    # output slot was freed at 315); store 2 [630, 735); compute 3 [630, 640); store 3
    # [735, 840). Eight transfers back to back: 840 cycles. Compute waits 95 + 200 + 200.
    t = timing(run_of(4, 10))
    assert (t.compute_start, t.compute_end, t.dma_end) == (105, 640, 840)
    assert t.first_wait == "streamed" and t.stalls == {"streamed": 95 + 200 + 200}


def test_compute_bound_tiles_by_hand():
    # 1,000-cycle computes: after the first band (105) the transfers hide behind compute, and
    # only the last store (105) follows the last compute: 105 + 4,000 + 105 cycles.
    t = timing(run_of(4, 1000))
    assert (t.compute_start, t.compute_end, t.dma_end) == (105, 4105, 4210)
    assert t.stalls == {}


def test_one_slot_runs_load_compute_store_in_turn():
    # One slot: load k waits for compute k - 1 (its slot), and store k - 1, ready at the same
    # time, goes first (earlier in program order); compute k waits for load k and for store
    # k - 1 (the output slot). Per tile after the first: 105 (store) + 105 (load) + 1,000.
    t = timing(run_of(3, 1000, slots=1))
    assert (t.compute_start, t.compute_end, t.dma_end) == (105, 105 + 1000 + 2 * (210 + 1000), 3525 + 105)
    assert t.stalls == {"streamed": 2 * 210}


def test_two_channels_overlap_latencies_but_share_the_bus():
    # Two channels: load 1 is granted at 0 too; its data waits for the bus: [105, 205). The
    # latency of each transfer hides behind the previous one's data: after the first, every
    # transfer adds its 100 data cycles only. DMA-bound: 105 + 7 x 100 cycles.
    t = timing(run_of(4, 10), channels=2)
    assert t.dma_end == 105 + 7 * 100


def test_weight_chunks_load_before_their_first_tile():
    # Two chunks of 500 B (55 cycles) over 2 bands, two slots, compute-bound (1,000 cycles).
    # Program order: load band 0, chunk 0, load band 1, compute 0, store 0, load band 2,
    # compute 1, store 1, chunk 1, load band 3, compute 2, store 2, compute 3, store 3.
    # Band 0 [0, 105), chunk 0 [105, 160), band 1 [160, 265): compute 0 [160, 1160), its wait
    # charged to the chunk (it finished last). Store 0 [1160, 1265), band 2 [1265, 1370);
    # compute 1 [1160, 2160). Chunk 1 waits for compute 1 (the last user of chunk 0's place):
    # store 1 [2160, 2265) first, then chunk 1 [2265, 2320), band 3 [2320, 2425); compute 2
    # waits for chunk 1: [2320, 3320) (160 cycles of weights). Compute 3 [3320, 4320), store 3
    # [4320, 4425).
    t = timing(run_of(4, 1000, chunks=(500, 500)))
    assert t.compute_start == 160 and t.first_wait == "weights"
    assert (t.compute_end, t.dma_end) == (4320, 4425) and t.stalls == {"weights": 160}


def plan_of(run: TileRun) -> Plan:
    """A plan of one streamed layer: its tiles (allocating the arena) and the arena's free."""
    arena = Buffer("tiles:l", 0, 2 * run.slots * BAND + run.weight_size, role="arena")
    tiles = Command(0, "tiles", "tiles", 0, (), tensor="l", dram_bytes=sum(run.traffic().values()),
                    cycles=sum(run.cycles), allocs=(arena,), cause="streamed", run=run)
    free = Command(1, "free", "none", 0, (0,), frees=(arena,))
    layer = LayerPlan(0, "l", 0, 0, sum(run.cycles), sum(run.chunk_bytes), True, run.tiles)
    return Plan("hand", "hand-npu", (tiles, free), (layer,), (), 1 << 20)


@pytest.mark.parametrize("cycles", [10, 1000])
@pytest.mark.parametrize("slots", [1, 2])
@pytest.mark.parametrize("channels", [1, 2])
@pytest.mark.parametrize("chunks", [(), (500, 500)])
def test_bulk_times_equal_the_simulation_of_the_tiles_one_by_one(cycles, slots, channels, chunks):
    run = run_of(4, cycles, slots, chunks)
    plan = plan_of(run)
    spec = make_spec(channels=channels)
    expanded = expand(plan)
    assert verify_plan(expanded) == []
    assert len(expanded.commands) > 10  # really the per-tile commands
    bulk, one_by_one = simulate(plan, spec), simulate(expanded, spec)
    assert max(e.end for e in bulk.events) == max(e.end for e in one_by_one.events)
    computes = [e for e in one_by_one.events if e.kind == "compute"]
    (tiles,) = [e for e in bulk.events if e.kind == "tiles"]
    assert tiles.compute_span == (min(e.start for e in computes), max(e.end for e in computes))
    assert max(o.sram_bytes for o in bulk.occupancy) >= max(o.sram_bytes for o in one_by_one.occupancy)


ZOO = [("lunet", 256 * 1024), ("unet_sat", 1 << 20), ("nafnet", 1 << 20)]


@pytest.mark.parametrize("name,sram", ZOO)
def test_zoo_plans_move_and_hold_the_same_bytes_compact_or_tile_by_tile(name, sram):
    # The compact plan and its expansion move the same bytes of every kind, hold the same SRAM
    # at the peak, compute the same cycles, and both verify. Time may differ: a run starts only
    # once both DMA engines have reached it and every channel is free, and what follows it waits
    # for all of it, where the tiles one by one overlap the neighbouring layers' transfers. The
    # compact plan is never faster; measured on the zoo (edge_npu, 128 KiB .. 8 MiB) it is at
    # most 0.15 % slower (unet_sat at 128 KiB), mostly exactly as fast.
    from pathlib import Path

    from hwsim.graph.io import load_graph
    from hwsim.measure import measure
    from hwsim.schedule import schedule
    from hwsim.spec import load_spec, with_overrides

    root = Path(__file__).resolve().parents[2]
    g = load_graph(root / "graphs" / f"{name}.json")
    spec = with_overrides(load_spec(root / "accelerators" / "edge_npu.yaml"), {"sram.size": sram})
    plan = schedule(g, spec)
    expanded = expand(plan)
    assert any(c.kind == "tiles" for c in plan.commands) and len(expanded.commands) > len(plan.commands)
    assert verify_plan(plan, spec, g) == [] and verify_plan(expanded, spec, g) == []
    compact, one_by_one = (measure(simulate(p, spec), p, spec, g) for p in (plan, expanded))
    assert compact.dram_bytes_by_kind == one_by_one.dram_bytes_by_kind
    assert compact.tensor_dram_bytes == one_by_one.tensor_dram_bytes
    assert compact.live_peak_bytes == one_by_one.live_peak_bytes
    assert compact.compute_cycles == one_by_one.compute_cycles
    assert compact.latency_cycles >= one_by_one.latency_cycles


def random_run(rng) -> tuple[TileRun, tuple]:
    """A run of 1..120 bands (first and last bands of their own sizes) in 0..4 weight chunks."""
    bands = rng.randint(1, 120)
    chunks = rng.choice([(), (rng.randint(1, 3000),) * rng.randint(1, 4)])
    slots = rng.choice([1, 2])
    tiles = bands * max(1, len(chunks))

    def per_tile(size: int) -> tuple[int, ...]:
        band = [size] * bands
        band[0], band[-1] = rng.randint(0, size), rng.randint(0, size)
        return tuple(band * max(1, len(chunks)))

    streams = [BandStream(f"t{i}", kind, per_tile(rng.randint(1, 5000)), tuple(range(slots)), 10**6)
               for i, kind in enumerate(["streamed_read"] * rng.randint(0, 2) + ["streamed_write"] * rng.randint(0, 2))]
    cycles = [rng.randint(1, 3000)] * tiles
    for k in range(0, tiles, bands) if rng.random() < 0.5 else ():
        cycles[k] = rng.randint(1, 3000)
    run = TileRun(0, tuple((i, i + 1) for i in range(bands)), slots, tuple(cycles),
                  tuple(s for s in streams if s.traffic == "streamed_read"),
                  tuple(s for s in streams if s.traffic == "streamed_write"), (),
                  "weights:l" if chunks else None, chunks, 0, "sram", max(chunks, default=0))
    bytes_per_cycle = rng.randint(1, 64)
    start = rng.randint(0, 500)
    return run, (start, start + rng.randint(0, 500), rng.choice([1, 2, 3]), rng.randint(0, 200),
                 lambda n: -(-n // bytes_per_cycle))


def test_advancing_repeated_tiles_at_once_changes_no_time():
    # Skipping whole periods once the state repeats must give exactly the tile-by-tile times
    # (which the test above holds against the event simulation), on 400 random runs of up to 480 tiles.
    import random

    rng = random.Random(20261127)
    for _ in range(400):
        run, (start, compute_from, channels, latency, transfer) = random_run(rng)
        fast = time_run(run, start, compute_from, channels, latency, transfer)
        assert fast == time_run(run, start, compute_from, channels, latency, transfer, steady=False), run


def test_stretches_of_repeating_tiles_by_hand():
    # _stops(columns, n, p): the tiles whose figures (a column per figure) differ from the tile
    # p before them, those with none before them, and n; tiles k .. m each repeat the tile p
    # before them for every m below the first stop at or after k. Period 1 over a a b b b
    # (a = (1, 0), b = (2, 0)): tile 0 has none before it, tile 2 differs: tiles 3 .. 4 repeat.
    assert _stops([(1, 1, 2, 2, 2), (0, 0, 0, 0, 0)], 5, 1) == [0, 2, 5]
    # Period 2 over a b a b a c (c = (2, 5)): tiles 0, 1 have none two before; tile 5 (c after
    # b) differs in the second figure only: tiles 2 .. 4 repeat.
    assert _stops([(1, 2, 1, 2, 1, 2), (0, 0, 0, 0, 0, 5)], 6, 2) == [0, 1, 5, 6]
    # A period longer than the run: nothing repeats.
    assert _stops([(1, 1)], 2, 3) == [0, 1, 2]
    assert _stops([()], 0, 1) == [0]


def test_a_run_started_later_is_the_same_run_shifted():
    # What lets a simulation time each distinct run once (RunTimer): times are max-plus in the
    # start, on 200 random runs timed tile by tile, shifted by 0 .. 10^6 cycles.
    import random

    rng = random.Random(7)
    for _ in range(200):
        run, (start, compute_from, channels, latency, transfer) = random_run(rng)
        shift = rng.choice([0, 1, rng.randint(2, 10**6)])
        base = time_run(run, start, compute_from, channels, latency, transfer, steady=False)
        later = time_run(run, start + shift, compute_from + shift, channels, latency, transfer, steady=False)
        assert later == base.shifted(shift), run


def test_a_timer_gives_every_run_its_own_timing():
    # Runs repeated at other starts and leads, timed through one RunTimer: each equals time_run
    # of that run alone.
    import random

    rng = random.Random(11)
    for _ in range(20):
        runs = [random_run(rng)[0] for _ in range(3)]
        channels, latency, bytes_per_cycle = rng.choice([1, 2, 3]), rng.randint(0, 200), rng.randint(1, 64)

        def transfer(n: int) -> int:
            return -(-n // bytes_per_cycle)

        timer = RunTimer(channels, latency, transfer)
        for _ in range(8):
            run, start = rng.choice(runs), rng.randint(0, 10**5)
            compute_from = start + rng.choice([0, 0, rng.randint(1, 500)])
            assert timer.time(run, start, compute_from) == time_run(run, start, compute_from, channels, latency,
                                                                    transfer)



def test_a_timer_tells_runs_apart_by_their_figures_not_their_tuples():
    # A twin of a run, its figures equal but in tuples of its own, takes the run's timing; a run
    # whose last band loads half as much takes its own. Each is what time_run gives it.
    from dataclasses import replace

    run = run_of(40, 10)
    twin = replace(run, cycles=tuple(list(run.cycles)),
                   reads=tuple(replace(s, nbytes=tuple(list(s.nbytes))) for s in run.reads))
    other = replace(run, reads=(replace(run.reads[0], nbytes=run.reads[0].nbytes[:-1] + (BAND // 2,)),))
    assert twin.cycles is not run.cycles and twin.cycles == run.cycles
    spec = make_spec()
    timer = RunTimer(1, spec.dram_latency_cycles(), spec.dram_transfer_cycles)
    for each in (run, twin, other, twin, run):
        assert timer.time(each, 100, 150) == time_run(each, 100, 150, 1, spec.dram_latency_cycles(),
                                                      spec.dram_transfer_cycles)
    assert len(timer.timed) == 2
