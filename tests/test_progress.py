"""The progress bar: counts, rate and ETA worked out from a fake clock; terminal, plain and quiet."""

import io

from hwsim.progress import ProgressBar


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


class Tty(io.StringIO):
    def isatty(self):
        return True


def test_plain_lines_every_ten_seconds_and_at_the_end_with_rate_and_eta():
    clock, out = Clock(), io.StringIO()
    bar = ProgressBar(40, out, clock=clock, unit="points")
    clock.now += 5
    bar.step("p1", 10)  # 5 s in: no line yet (every 10 s)
    assert out.getvalue() == ""
    clock.now += 5
    bar.step("p2", 10)  # 20 done in 10 s: 2.0/s, 20 left: ETA 10 s
    assert out.getvalue() == "20/40 points (50 %), 2.0/s, elapsed 10 s, ETA 10 s: p2\n"
    clock.now += 110
    bar.step("p3", 20)  # the last step: 40 in 120 s = 0.33/s, shown as 3.0 s each
    assert out.getvalue().splitlines()[-1] == "40/40 points (100 %), 3.0 s each, elapsed 2:00: p3"
    bar.close()
    assert "\r" not in out.getvalue()


def test_a_terminal_gets_one_line_redrawn_in_place():
    clock, out = Clock(), Tty()
    bar = ProgressBar(4, out, clock=clock)
    for i in range(4):
        clock.now += 1
        bar.step(f"l{i}")
    bar.close()
    text = out.getvalue()
    assert text.count("\r") == 4 and text.endswith("\n") and text.count("\n") == 1
    assert "[####################] 4/4 done  1.0/s, elapsed 4 s  l3" in text
    assert "[#####...............] 1/4 done  1.0/s, elapsed 1 s, ETA 3 s  l0" in text


def test_quiet_writes_nothing():
    for out in (io.StringIO(), Tty()):
        bar = ProgressBar(2, out, quiet=True)
        bar.step("a")
        bar.step("b")
        bar.close()
        assert out.getvalue() == ""
