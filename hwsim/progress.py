"""The progress bar of long commands (``hwsim sweep`` over points, ``hwsim check`` over layers)."""

from __future__ import annotations

import time
from typing import IO


def _clock(seconds: float) -> str:
    """``1:02:03`` / ``2:03`` / ``7 s``."""
    whole = int(round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}:{minutes:02d}:{secs:02d}"
    return f"{minutes}:{secs:02d}" if minutes else f"{secs} s"


class ProgressBar:
    """Progress on stderr: ``[#####.....]  37/100  12.3/s  ETA 0:05  label``.

    On a terminal the line is redrawn in place (at most ten times a second, and at the last
    step); otherwise a plain line every ``every_s`` seconds and at the last step (a log file
    or CI output gets no carriage returns); with ``quiet`` nothing. The rate is the units done
    per second of wall time since the start, the ETA the units left at that rate: like tqdm's
    average, it is steady but slow to follow a change of pace (a sweep's small-SRAM points
    and zero-spill searches take longer than others). ``unit`` names what is counted.
    (tqdm would do this; hwsim keeps its dependencies to numpy, networkx, scipy, simpy and
    pyyaml, and this is all of it that is needed.)
    """

    WIDTH = 20  # characters of the bar itself
    REDRAW_S = 0.1

    def __init__(self, total: int, stream: IO[str], every_s: float = 10.0, *, quiet: bool = False,
                 unit: str = "done", clock=time.monotonic):
        self.total, self.stream, self.every_s, self.quiet, self.unit = total, stream, every_s, quiet, unit
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self.clock = clock
        self.done = 0
        self.started = clock()
        self.last_line = self.started
        self.drawn = False

    def text(self, label: str) -> str:
        """The progress line (no bar when not on a terminal)."""
        elapsed = self.clock() - self.started
        rate = self.done / elapsed if elapsed > 0 else 0.0
        left = self.total - self.done
        eta = _clock(left / rate) if rate > 0 else "?"
        width = len(str(self.total))
        count = f"{self.done:>{width}}/{self.total} {self.unit}"
        speed = f"{rate:.1f}/s" if rate >= 1 or rate == 0 else f"{1 / rate:.1f} s each"
        timing = f"{speed}, elapsed {_clock(elapsed)}" + (f", ETA {eta}" if left else "")
        if not self.tty:
            share = 100 * self.done // max(self.total, 1)
            return f"{count} ({share} %), {timing}: {label}"
        filled = self.WIDTH * self.done // max(self.total, 1)
        return f"[{'#' * filled}{'.' * (self.WIDTH - filled)}] {count}  {timing}  {label}"

    def step(self, label: str, count: int = 1) -> None:
        """``count`` more units done; ``label`` says what the last one was."""
        self.done += count
        if self.quiet:
            return
        now = self.clock()
        last = self.done >= self.total
        if self.tty:
            if last or now - self.last_line >= self.REDRAW_S or not self.drawn:
                self.stream.write("\r" + self.text(label)[:119].ljust(119))
                self.last_line, self.drawn = now, True
        elif last or now - self.last_line >= self.every_s:
            self.stream.write(self.text(label) + "\n")
            self.last_line = now
        else:
            return
        self.stream.flush()

    def close(self) -> None:
        if self.tty and self.drawn and not self.quiet:
            self.stream.write("\n")
            self.stream.flush()
