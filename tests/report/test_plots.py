"""The sweep figure's zero-spill lines: coinciding ones interleave their dashes."""

import pytest

from hwsim.report.plots import DASH, SweepCurve, zero_spill_dashes


def curve(label, zero_spill):
    return SweepCurve(label, [1 << 20], [0], [0.0], zero_spill, None)


def test_coinciding_zero_spill_lines_interleave_and_others_are_plain():
    # three curves at 10 MiB (NAFNet, skip-free, UNet--) and one at 8 MiB: the three at 10 MiB
    # draw one dash in three, each offset by one dash; the lone one dashes evenly.
    mib = 1 << 20
    curves = [curve("a", 10 * mib), curve("b", 10 * mib), curve("c", 8 * mib), curve("d", 10 * mib), curve("e", None)]
    assert zero_spill_dashes(curves) == [(0.0, (DASH, 2 * DASH)), (DASH, (DASH, 2 * DASH)), (0.0, (DASH, DASH)),
                                         (2 * DASH, (DASH, 2 * DASH)), None]


def test_the_sweep_figure_renders_with_coinciding_lines():
    pytest.importorskip("matplotlib")
    from hwsim.report.plots import sweep_png

    png = sweep_png([curve("a", 10 << 20), curve("b", 10 << 20)])
    assert png.startswith(b"\x89PNG")
