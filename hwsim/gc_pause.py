"""Python's cyclic garbage collector paused while hwsim builds and reads a plan.

A plan is tens of thousands of small objects (actions, commands, buffers, events, the walk's
bookkeeping), nearly all freed by reference counting, and the graph, its memoised tables and
the plans already made are long-lived. With the collector running, every 700 allocations it
scans the young objects and, ever so often, every object the process holds: measured on the
zoo graphs (NAFNet, KBNet, MSCAN-tiny, U-Net, Lean U-Net at four SRAM sizes, both modes),
scheduling took 1.6-1.8x as long with it as without. :func:`paused` runs a function with the
collector off and turns it back on after (when it was on: nested calls leave it to the
outermost); what little cyclic garbage the call made is collected afterwards, as usual. This is
the standard remedy for allocation-heavy Python (``gc.disable``/``gc.freeze`` around a hot
phase); nothing in the results depends on it.

A sweep's work units (``hwsim.sweep``: a plan group's points, a point, a zero-spill search)
are paused whole: between the paused stages of one point (its rows, the guards, the plan's
checks) the collector would otherwise run on the young objects the stages left, and every
so often on the whole heap, the graph's memoised tables included. Measured on 120 points of
issue 17's NAFNet grid run in one process: 188 collections took 9.6 % of the CPU time;
paused, one collection, and 6-10 % less CPU per point (three of four paired runs; the
machine's load varied by a fifth).
"""

from __future__ import annotations

import functools
import gc
from typing import Callable, TypeVar

F = TypeVar("F", bound=Callable)


def paused(fn: F) -> F:
    """``fn`` run with the cyclic garbage collector off (see the module docstring)."""

    @functools.wraps(fn)
    def run(*args, **kwargs):
        if not gc.isenabled():
            return fn(*args, **kwargs)
        gc.disable()
        try:
            return fn(*args, **kwargs)
        finally:
            gc.enable()

    return run  # type: ignore[return-value]
