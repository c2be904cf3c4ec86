"""The event loop the engines run on: integer cycles, and a fixed order for work at the same cycle.

It is simpy's model cut down to what :mod:`hwsim.sim.engine` uses, with simpy's ordering
kept exactly, so that a plan gives the trace simpy gave (``tests/sim/test_kernel.py`` runs
random programs on both):

* work is scheduled at a cycle (``after``); work due at the same cycle runs in the order it
  was scheduled, except that a process's start (``start``) runs before any other work still
  due then (simpy's urgent priority);
* a :class:`Signal` (simpy's event) is triggered once (``succeed``, with a value) and
  *processed* in its turn: then its callbacks run, in the order they were added, in that
  one turn;
* :func:`all_of` is a signal triggered once all of its signals have been processed;
* a process is a generator yielding a cycle count (go on that many cycles later, as work
  scheduled now) or a signal (go on when it is processed, with its value; at once if it
  already is);
* :class:`Slots` is simpy's ``PriorityResource``: a request joins a queue ordered by
  (priority, cycle asked, order asked); the head of the queue is granted a slot, if one is
  free, when a request is made and when a release is processed (a release frees the slot at
  once, and is processed in its turn like any work). ``Slots(..., at_cycle_end=True)``
  departs from simpy: it grants only once all other work due at the cycle is done
  (``Loop.at_cycle_end``), so requests made at the same cycle are served by priority, not
  by which process happened to run first. ``Slots.request_then(priority, work, arg)`` is a
  request with one waiter and no signal: at the grant, ``work(arg)`` is queued as due now,
  exactly where the request's signal would be processed (``tests/sim/test_kernel.py`` runs it
  against simpy's request with that one callback).

Simpy's generality (failures, interrupts, conditions of any shape) is left out.
"""

from __future__ import annotations

import heapq
from collections import deque
from itertools import count
from types import GeneratorType
from typing import Callable, Generator, Union

Process = Generator[Union[int, "Signal"], object, None]


class Signal:
    """A one-shot event: pending, then triggered (due), then processed (``callbacks`` is None).

    Its callbacks are functions of the signal, or processes waiting on it (resumed with its value)."""

    __slots__ = ("loop", "callbacks", "value")

    def __init__(self, loop: Loop):
        self.loop = loop
        self.callbacks: list[Callable[[Signal], None] | Process] | None = []
        self.value: object = None

    @property
    def processed(self) -> bool:
        return self.callbacks is None

    def succeed(self, value: object = None) -> None:
        self.value = value
        self.loop.after(0, self._process)

    def _process(self, _: object) -> None:
        callbacks, self.callbacks = self.callbacks, None
        for callback in callbacks:
            if type(callback) is GeneratorType:
                self.loop.resume(callback, self.value)
            else:
                callback(self)


class Loop:
    """Work due at cycles, run in order (module docstring)."""

    def __init__(self) -> None:
        self.now = 0
        self._later: list[tuple[int, int, Callable, object]] = []  # heap: (cycle, order scheduled, work, arg)
        self._due: deque[tuple[Callable, object]] = deque()  # due now, in order
        self._urgent: deque[tuple[Callable, object]] = deque()  # process starts
        self._late: deque[tuple[Callable, object]] = deque()  # once nothing else is due this cycle
        self._order = count()
        self.due = self._due.append  # queue (work, arg) as due now: after(0, work, arg), one call less
        self.late = self._late.append  # queue (work, arg) for the end of this cycle: at_cycle_end, the same

    def after(self, cycles: int, work: Callable[[object], None], arg: object = None) -> None:
        """Run ``work(arg)`` ``cycles`` cycles from now, after all work already due then."""
        if cycles:
            heapq.heappush(self._later, (self.now + cycles, next(self._order), work, arg))
        else:
            self._due.append((work, arg))

    def at_cycle_end(self, work: Callable[[object], None], arg: object = None) -> None:
        """Run ``work(arg)`` at this cycle, once no other work is due at it (work it schedules
        for this cycle runs after it, before the clock moves)."""
        self._late.append((work, arg))

    def start(self, process: Process) -> None:
        """Start ``process`` before any other work still due now."""
        self._urgent.append((self.resume, process))

    def start_work(self, work: Callable[[object], None], arg: object = None) -> None:
        """Run ``work(arg)`` before any other work still due now (as :meth:`start` does a process)."""
        self._urgent.append((work, arg))

    def resume(self, process: Process, value: object = None) -> None:
        """Run ``process`` until it waits, sending it ``value``."""
        while True:
            try:
                wait = process.send(value)
            except StopIteration:
                return
            if type(wait) is int:
                self.after(wait, self.resume, process)
                return
            if wait.callbacks is None:  # processed already: go on with its value
                value = wait.value
                continue
            wait.callbacks.append(process)
            return

    def run(self) -> None:
        """Run until no work is left. When the work due now is done, the clock moves to the next
        cycle with work, which was all scheduled before it: it becomes due, in the order it was
        scheduled, ahead of the work it will schedule for that same cycle."""
        later, due, urgent, late = self._later, self._due, self._urgent, self._late
        while True:
            if urgent:
                work, arg = urgent.popleft()
            elif due:
                work, arg = due.popleft()
            elif late:
                work, arg = late.popleft()
            elif later:
                self.now = now = later[0][0]
                while later and later[0][0] == now:
                    due.append(heapq.heappop(later)[2:])
                continue
            else:
                return
            work(arg)


def all_of(loop: Loop, *signals: Signal) -> Signal:
    """A signal triggered once every one of ``signals`` has been processed (simpy's ``a & b``)."""
    everyone, left = Signal(loop), [len(signals)]

    def check(_: object) -> None:
        left[0] -= 1
        if left[0] == 0:
            everyone.succeed()

    if not signals:
        everyone.succeed()
    for signal in signals:
        if signal.processed:
            check(signal)
        else:
            signal.callbacks.append(check)
    return everyone


class Slots:
    """simpy's ``PriorityResource`` (module docstring)."""

    def __init__(self, loop: Loop, capacity: int, at_cycle_end: bool = False):
        self.loop, self.capacity = loop, capacity
        self.users = 0
        # heap: (priority, cycle asked, order asked, work, arg); a grant queues work(arg) as due now: a
        # request's signal processed (what its succeed() queues), or request_then's work
        self._queue: list[tuple] = []
        self._asked = 0
        self._at_cycle_end = at_cycle_end
        self._granting = False  # a grant is due at the end of this cycle
        self._late = loop.late  # Loop.at_cycle_end's queue, its work and argument appended as one
        self._grant_all_later = (self._grant_all, None)

    def request(self, priority: int) -> Signal:
        """A signal triggered when a slot is granted."""
        granted = Signal(self.loop)
        self._asked += 1
        heapq.heappush(self._queue, (priority, self.loop.now, self._asked, granted._process, None))
        if self._at_cycle_end:
            self._grant_later()
        else:
            self._grant_head(None)
        return granted

    def request_then(self, priority: int, work: Callable[[object], None], arg: object = None) -> None:
        """Ask for a slot; once granted, run ``work(arg)``, at the point of the loop where the
        signal of :meth:`request` would be processed (as work due now, queued at the grant).

        The same as a process yielding ``request(priority)`` and going on with ``work(arg)``,
        without the signal: the engine's common case of exactly one waiter per request."""
        self._asked += 1
        heapq.heappush(self._queue, (priority, self.loop.now, self._asked, work, arg))
        if not self._at_cycle_end:
            self._grant_head(None)
        elif not self._granting:  # _grant_later, inlined: the engine's most frequent call
            self._granting = True
            self._late(self._grant_all_later)

    def release(self) -> None:
        """Free a slot now; the waiting head may take it when the release is processed."""
        self.users -= 1
        if not self._at_cycle_end:
            self.loop.after(0, self._grant_head)
        elif not self._granting:
            self._granting = True
            self._late(self._grant_all_later)

    def _grant_later(self) -> None:
        if not self._granting:
            self._granting = True
            self._late(self._grant_all_later)

    def _grant_all(self, _: object) -> None:
        self._granting = False
        queue = self._queue
        due = self.loop.due
        while queue and self.users < self.capacity:
            self.users += 1
            due(heapq.heappop(queue)[3:])

    def _grant_head(self, _: object) -> None:
        if self._queue and self.users < self.capacity:
            self.users += 1
            self.loop.due(heapq.heappop(self._queue)[3:])
