"""``hwsim.sim.pipeline.time_run`` against the plain version it replaced (``old_pipeline``), on
random runs (hypothesis): the very same :class:`~hwsim.sim.pipeline.RunTiming`, steady state
or tile by tile, with one to three channels, turnarounds, either bus direction before the run,
one slot or two, weight chunks (some empty), bands that move nothing, tiles that take no
cycles, runs of no tiles, and figures that repeat (tile by tile, chunk by chunk) long enough
for the steady state to advance whole periods.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hwsim.schedule.plan import BandStream, TileRun
from hwsim.sim.pipeline import time_run
from tests.sim import old_pipeline


@st.composite
def columns(draw, n: int, per_chunk: int, values) -> tuple[int, ...]:
    """``n`` figures: one value throughout, or one chunk's pattern repeated, with a few exceptions."""
    if draw(st.sampled_from([True, True, True, False])):
        column = [draw(values)] * n
    else:
        pattern = draw(st.lists(values, min_size=per_chunk, max_size=per_chunk))
        column = (pattern * (n // max(1, per_chunk) + 1))[:n]
    for k, value in draw(st.lists(st.tuples(st.integers(0, n - 1), values), max_size=2)) if n else ():
        column[k] = value
    return tuple(column)


@st.composite
def timed_runs(draw):
    """A run and the other arguments of ``time_run``."""
    slots = draw(st.sampled_from([1, 2]))
    chunks = draw(st.sampled_from([0, 0, 1, 2, 3, 5]))
    per_chunk = draw(st.integers(0 if chunks == 0 else 1, 100 if chunks <= 1 else 24))  # (0: no tiles)
    n = per_chunk * max(1, chunks)
    band_bytes = st.sampled_from([0, 100, 100, 100, 100, 250, 1000])
    streams = [BandStream(f"t{i}", "input", draw(columns(n, per_chunk, band_bytes)), tuple(range(slots)), 1000)
               for i in range(draw(st.integers(0, 3)))]
    writes = [BandStream(f"o{i}", "output", draw(columns(n, per_chunk, band_bytes)), tuple(range(slots)), 1000)
              for i in range(draw(st.integers(0, 2)))]
    chunk_bytes = tuple(draw(st.lists(st.sampled_from([0, 400, 400, 900]), min_size=chunks, max_size=chunks)))
    cycles = draw(columns(n, per_chunk, st.sampled_from([1, 10, 10, 10, 50, 300, 0])))
    run = TileRun(0, tuple((i, i + 1) for i in range(per_chunk)), slots, cycles, tuple(streams), tuple(writes), (),
                  "weights:l" if chunks else None, chunk_bytes, 0, "sram", max(chunk_bytes, default=0))
    per_cycle = draw(st.sampled_from([1, 7, 64]))
    start = draw(st.integers(0, 1000))
    return (run, start, start + draw(st.sampled_from([0, 0, 5, 400])), draw(st.integers(1, 3)),
            draw(st.sampled_from([0, 3, 100])), lambda nbytes: -(-nbytes // per_cycle),
            draw(st.sampled_from([True, True, True, False])),
            draw(st.sampled_from([0, 0, 20])), draw(st.sampled_from([None, "r", "w"])))


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(timed_runs())
def test_time_run_is_the_plain_version(args):
    assert time_run(*args) == old_pipeline.time_run(*args)
