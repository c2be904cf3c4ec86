"""Cascade mode on graphs small enough to work out by hand: stripes, rolling buffers, delay lines.

Row arithmetic used below (``hwsim.schedule.rows``): a 3x3 convolution with padding 1 needs
input rows ``[0, o + 1)`` for output rows ``[0, o)``, and no input row below ``o - 1`` for its
next output row ``o``; a 2x2/2 max pooling needs rows ``[0, 2o)``; a nearest 2x upsampling
needs rows ``[0, ceil(o / 2))`` and nothing below ``floor(o / 2)``; an element-wise input the
same rows as the output. The sink (last layer) finishes ``ceil(i * H / S)`` rows after stripe
``i`` of ``S``; every other layer as far as its consumers need.
"""

from __future__ import annotations

import pytest

from hwsim.schedule import schedule, verify_plan
from hwsim.schedule.cascade import finest, plan_cascades
from hwsim.schedule.scheduler import build_context
from hwsim.schedule.context import with_cascades
from tests.graph.handmade import Net
from tests.schedule.helpers import make_spec, traffic


def three_convs() -> Net:
    """x (1x1x32x32, 1 KiB) -> a, b (16 channels, 16 KiB, 512 B a row) -> c (1 channel, the output)."""
    return (Net("three").input("x", 1, 1, 32, 32)
            .conv("a", "x", 16, k=3).conv("b", "a", 16, k=3).conv("c", "b", 1, k=3))


def test_three_3x3_convs_keep_a_stripe_plus_two_halo_rows():
    # Layer mode needs a and b together (32 KiB). In 8 KiB, x and c whole (2 KiB) leave
    # 6 KiB for rolling buffers: (h + 2) rows of a and of b, 512 B each, so h <= 4; the
    # tallest stripes that fit are 8 stripes of 4 rows (S = 1, 2, 4 give h = 32, 16, 8).
    # Progress: c 4 rows a stripe; b one row ahead of c, a one ahead of b (to the end).
    g = three_convs().graph()
    (c,) = plan_cascades(g, 8, 8, 8 * 1024, 1, weight_buffer=1 << 20, bias_bits=32)
    assert (c.first, c.last, c.stripes) == (0, 2, 8)
    assert c.progress == ((0, 6, 10, 14, 18, 22, 26, 30, 32),
                          (0, 5, 9, 13, 17, 21, 25, 29, 32),
                          (0, 4, 8, 12, 16, 20, 24, 28, 32))
    assert {r.tensor: (r.rows, r.nbytes) for r in c.rolling} == {"a": (6, 3072), "b": (6, 3072)}
    assert c.arena_bytes == 6144 and set(c.reads) == {"x"} and set(c.writes) == {"c"}


def test_three_convs_run_as_a_cascade_without_spilling_where_layer_mode_streams():
    g = three_convs().graph()
    cascade = schedule(g, make_spec(sram=8 * 1024, execution="cascade"))
    layer = schedule(g, make_spec(sram=8 * 1024))
    assert verify_plan(cascade, make_spec(sram=8 * 1024), g) == []
    weights = sum(4 * n for n in (16 * 9 + 16, 16 * 16 * 9 + 16, 16 * 9 + 1)) // 4  # 8-bit weights and biases
    assert traffic(cascade) == {"input": 1024, "output": 1024, "weights": weights}
    assert traffic(layer).get("streamed_read", 0) > 0  # a and b do not fit together
    assert cascade.sram_peak_bytes <= 8 * 1024
    assert [la.tiles for la in cascade.layers] == [8, 8, 8]  # one part a layer a stripe
    parts = [p for c in cascade.commands for p in c.parts]
    assert [sum(p.cycles for p in parts if p.layer == t) for t in range(3)] == \
        [la.compute_cycles for la in cascade.layers]


def test_a_cascade_takes_a_compute_command_for_each_stretch_of_parts_nothing_outside_waits_inside():
    # The 24 parts of three_convs (a, b, c in each of 8 stripes) in three commands: a in stripe 0
    # alone (the next part, b's, reads a's ring, which the first command allocates); then up to
    # a in stripe 7, the last part reading x (x's free depends on it); then the rest.
    g = three_convs().graph()
    cascade = schedule(g, make_spec(sram=8 * 1024, execution="cascade"))
    computes = [c for c in cascade.commands if c.kind == "compute"]
    order = [(t, s) for s in range(8) for t in range(3)]
    assert [[p[:2] for p in c.parts] for c in computes] == [order[:1], order[1:22], order[22:]]
    assert [(c.layer, c.tile) for c in computes] == [(0, 0), (1, 0), (1, 7)]
    assert all(c.cycles == sum(p.cycles for p in c.parts) for c in computes)


def u_one_level() -> Net:
    """e = conv3x3(x) @32 rows; p = pool(e) @16; m = conv3x3(p) @16; s = up(m) + e @32; d = conv3x3(s)."""
    return (Net("u1").input("x", 1, 1, 32, 32).conv("e", "x", 4, k=3).pool("p", "e").conv("m", "p", 4, k=3)
            .up("u", "m").binary("s", "add", "u", "e").conv("d", "s", 1, k=3))


def test_a_skip_inside_a_cascade_is_a_delay_line_of_the_rows_the_deeper_path_keeps_ahead():
    # Layers: L0 e, L1 p, L2 m, L3 u+s (the add fuses into the upsampling), L4 d. With S = 8
    # (d 4 rows a stripe): L3 = d + 1 = 5, 9, ..., 29, 32; L2 = ceil(L3 / 2) = 3, 5, ..., 15, 16;
    # L1 = L2 + 1 = 4, 6, ..., 16, 16; L0 = max(2 * L1, L3) = 8, 12, ..., 32, 32.
    # e is read by the pooling (lowest row still needed 2 * L1) and by the add (L3, lagging):
    # held in stripe i = L0(i) - L3(i - 1) = 8 - 0, 12 - 5, ..., 32 - 25, 32 - 29: 8 rows at most
    # (of 32), a quarter of the map. p: L1(i) - (L2(i-1) - 1) = 4; m: L2(i) - floor(L3(i-1) / 2)
    # = 3; s: L3(i) - (L4(i-1) - 1) = 6 (a stripe plus two halo rows).
    g = u_one_level().graph()
    rows = 4 * 32  # bytes of one row of a 4-channel map
    spec = make_spec(sram=2 * 1024 + 26 * rows, execution="cascade")  # x, d whole + 8+4+3+6+... rows
    (c,) = plan_cascades(g, 8, 8, spec.sram.size_bytes, 1, weight_buffer=1 << 20, bias_bits=32)
    assert c.stripes == 8 and (c.first, c.last) == (0, 4)
    assert c.progress[0] == (0, 8, 12, 16, 20, 24, 28, 32, 32)
    held = {r.tensor: (r.rows, r.delay_line) for r in c.rolling}
    assert held == {"e": (8, True), "p": (4, False), "m": (3, False), "s": (6, False)}
    assert {r.tensor: r.nbytes for r in c.rolling} == {"e": 8 * rows, "p": 4 * 64, "m": 3 * 64, "s": 6 * rows}
    plan = schedule(g, spec)
    assert verify_plan(plan, spec, g) == [] and traffic(plan).keys() == {"input", "output", "weights"}


def pooled_block() -> Net:
    """c0 = conv3x3(x) 16 ch; a = conv3x3(c0) 8 ch; g = global pool(a); s = conv1x1(g);
    y = a * s (channel attention); b = conv3x3(y) 1 ch. Maps 32x32: x, b 1 KiB, a, y 8 KiB, c0 16 KiB."""
    return (Net("sca").input("x", 1, 1, 32, 32).conv("c0", "x", 16, k=3).conv("a", "c0", 8, k=3).gap("g", "a")
            .conv("s", "g", 8).binary("y", "mul", "a", "s").conv("b", "y", 1, k=3))


def test_a_global_pooling_ends_its_cascade_and_its_input_is_kept_whole():
    # Layers: L0 c0, L1 a, L2 g, L3 s+y (the multiply fuses into the 1x1 conv that makes s),
    # L4 b. Layer by layer the peak is c0 + a = 24 KiB. The pooled vector is known only after
    # the last row of a, so nothing after the pooling shares its cascade, and the multiply
    # reads a whole: a leaves the first cascade (x 1 KiB + a 8 KiB + rows of c0), and the
    # second reads it whole (a 8 KiB + b 1 KiB + rows of y). Both fit 12 KiB. (The pooling
    # could close the first cascade, reading a row by row, but its 8-byte output would add to
    # that cascade's peak: it runs on its own; the cascade says it could go no further anyway.)
    g = pooled_block().graph()
    assert [la.name for la in g.layers] == ["c0", "a", "g", "s", "b"]
    first, second = plan_cascades(g, 8, 8, 12 * 1024, 1, weight_buffer=1 << 20, bias_bits=32)
    assert (first.first, first.last) == (0, 1) and "a" in first.writes
    assert first.ends.endswith("(none could go further: layer 's' needs 'g' whole)")
    assert (second.first, second.last) == (3, 4) and {"a", "g"} <= set(second.reads)
    spec = make_spec(sram=12 * 1024, execution="cascade")
    plan = schedule(g, spec)
    assert verify_plan(plan, spec, g) == [] and traffic(plan).keys() == {"input", "output", "weights"}


def test_the_same_cascades_in_other_stripes_make_the_context_build_context_makes():
    # the scheduler's retry at the finest stripes reuses the walk's context (with_cascades)
    g = u_one_level().graph()
    spec = make_spec(sram=2 * 1024 + 26 * 128, execution="cascade")
    ctx = build_context(g, spec)
    fine = finest(g, 8, 8, spec.sram.alignment_bytes, spec.sram.weight_buffer_bytes, ctx.cascades,
                  bias_bits=spec.datatype.bias_bits)
    assert [c.stripes for c in fine] == [32] and [c.stripes for c in ctx.cascades] == [8]  # d's 32 rows, one a stripe
    assert with_cascades(ctx, fine) == build_context(g, spec, cascades=fine)
    with pytest.raises(ValueError):
        with_cascades(ctx, ())
