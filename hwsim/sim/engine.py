"""Event simulation of a :class:`~hwsim.schedule.plan.Plan`: one state machine per engine.

The model, in integer cycles:

* **compute** engine: runs its commands in program order. A command starts when the
  previous compute command has finished and all of its deps have; it takes ``cycles``. A
  ``host`` command (a host op, ``--fallback host``) runs on it the same way: the accelerator
  waits ``cycles`` while the host CPU runs (its barrier deps keep the DMA engines idle too).
* **dma_read** / **dma_write** engines: *issue* their loads / stores in program order. A
  command is issued when the engine has issued the previous one, all its deps are done and
  a DMA channel is free. ``dram.channels`` channels are shared by the two engines: a
  channel is the right to have one transfer in flight, so with one channel a read and a
  write never overlap at all, and with more an engine may have several of its own
  transfers in flight. An issued transfer holds its channel for the DRAM latency
  (``spec.dram_latency_cycles()``; the bus stays free) and then for its data phase, which
  holds the **DRAM bus** for ``spec.dram_transfer_cycles(bytes)`` cycles (the bytes at
  ``dram.bandwidth x dram.efficiency``), plus ``dram.turnaround`` when the bus's previous
  data phase went the other way (a load after a store, or a store after a load; a streamed
  layer's tiles, ``hwsim.sim.pipeline``, the same). Channels and
  bus are priority resources (:class:`~hwsim.sim.kernel.Slots`): reads and writes share
  the bandwidth, so two concurrent transfers take the sum of their data times, and
  commands waiting for a channel or for the bus get it in command-id (program) order,
  requests made at the same cycle included (the slots are granted at the end of the cycle,
  once every engine has asked: a weight load and a spill store ready together go in
  program order, not in the order their engines happened to run). With
  one channel the bus can never be contended, so it is left out (same result, less work);
  with several, an in-flight transfer is a chain of callbacks, not a process (it is not an
  engine).
* **free** commands have no engine: a callback releases their buffers the moment the last
  of their deps finishes (they take no time).

Allocation: a compute or load command allocates its ``allocs`` when it starts (a load: when
it is issued); a free releases ``frees``. The occupancy curve is the replay of these changes
in trace order, ``(start cycle, command id)``. That order is causal (a buffer's free comes
after its allocation in program order, and an allocation waits for the free of any earlier
buffer overlapping it), so the curve never shows two overlapping buffers at once.

Same-time work runs in a fixed order (:mod:`hwsim.sim.kernel`: simpy's, by time, then by
when it was scheduled), so a plan always gives the same trace. The cost is a bounded
amount of work per command plus one per dependency edge: O(n log n) in commands.

Each engine is written as a state machine (its next command, and what it waits for) rather
than a simpy-style generator process, and what an engine waits for is a list of work rather
than a signal; but every wait ends at the very point of the loop where the process would
have been resumed (a signal's processing, a timeout falling due, a slot's grant), so the
work runs in the same order as with processes and the trace is the same, event for event
(checked on 648 scheduled plans, the zoo graphs on the presets at SRAM sizes from 64 KiB to
32 MiB, both execution modes, 4- and 8-bit activations, 1, 2 and 4 channels, turnarounds of
0 and 20 ns, DRAM latencies of 0, 3 and 100 ns: every event and occupancy sample equal to
the process version's). The process version spent much of a run making signals and
resuming generators.
"""

from __future__ import annotations

from functools import cache, partial
from typing import Callable, NamedTuple

from hwsim.gc_pause import paused
from hwsim.schedule.plan import Command, Plan
from hwsim.sim.kernel import Loop, Process, Signal, Slots
from hwsim.sim.pipeline import RunTimer, RunTiming
from hwsim.sim.record import FIELDS, record
from hwsim.sim.trace import Trace
from hwsim.spec.model import AcceleratorSpec

ENGINE_ORDER = ("compute", "dma_read", "dma_write")
ENGINE_OF_KIND = {"compute": "compute", "load": "dma_read", "store": "dma_write", "free": "none", "tiles": "tiles",
                  "host": "compute"}


class _Engine:
    """One engine's command ids (``queue``, in program order) and the next one it runs (``at``)."""

    __slots__ = ("name", "queue", "at", "dma")

    def __init__(self, name: str, queue: list[int]):
        self.name, self.queue, self.at = name, queue, 0
        self.dma = name != "compute"


class _Run:
    """The mutable state of one simulation (lives only inside :func:`simulate`)."""

    def __init__(self, loop: Loop, plan: Plan, spec: AcceleratorSpec):
        self.loop = loop
        self.latency = spec.dram_latency_cycles()
        self.transfer = cache(spec.dram_transfer_cycles)  # data cycles by bytes: few sizes, many transfers
        self.channels = Slots(loop, spec.dram.channels, at_cycle_end=True)
        self.bus = Slots(loop, 1, at_cycle_end=True) if spec.dram.channels > 1 else None
        self.starts: list[int | None] = [None] * len(plan.commands)
        self.ends: list[int | None] = [None] * len(plan.commands)
        self.waiters: dict[int, list] = {}  # command id -> work waiting for it to finish (_wait)
        self.frees_after: dict[int, list[int]] = {}  # command id -> frees that depend on it
        self.waiting: dict[int, int] = {}  # free command id -> deps not finished yet
        self.capacity = spec.dram.channels
        self.runs: dict[int, tuple[dict[str, Signal], dict[str, Signal]]] = {}  # tiles command -> (arrived, released)
        self.timings: dict[int, RunTiming] = {}
        self.turnaround = spec.dram_turnaround_cycles()
        self.timer = RunTimer(self.capacity, self.latency, self.transfer, self.turnaround)
        self.last_kind: str | None = None  # "load" or "store": the last data phase on the bus
        self.fields: list[tuple] = []  # per command, FIELDS read by queues()
        self.commands: tuple[Command, ...] = ()  # the plan's, and columns of fields by command id:
        self.kinds: tuple[str, ...] = ()
        self.deps: tuple[tuple[int, ...], ...] = ()
        self.dram_bytes: tuple[int, ...] = ()
        self.cycles: tuple[int, ...] = ()

    def _data_cycles(self, cid: int) -> int:
        """The data phase of command ``cid``: its bytes at the achieved bandwidth, plus the
        turnaround when the bus last moved data the other way."""
        kind = self.kinds[cid]
        switch = self.last_kind is not None and self.last_kind != kind
        self.last_kind = kind
        return self.transfer(self.dram_bytes[cid]) + (self.turnaround if switch else 0)

    # --- common ---------------------------------------------------------------------------
    def _wait(self, cid: int, work: Callable[[object], None], arg: object) -> bool:
        """If a dep of command ``cid`` is not finished, queue ``work(arg)`` to run when the first such
        dep finishes, and say so (True): the engine goes on from there and looks again, until
        no dep is left unfinished.

        ``waiters[dep]`` plays the part of a signal the engines wait on: when ``dep`` finishes,
        one piece of work runs its waiters in the order they came (:meth:`_wake`), where a
        signal's processing would resume them. Made only for a command someone waits on before
        it finishes."""
        ends = self.ends
        for dep in self.deps[cid]:
            if ends[dep] is None:
                waiting = self.waiters.get(dep)
                if waiting is None:
                    self.waiters[dep] = [(work, arg)]
                else:
                    waiting.append((work, arg))
                return True
        return False

    @staticmethod
    def _wake(waiting: list[tuple[Callable[[object], None], object]]) -> None:
        for work, arg in waiting:
            work(arg)

    def _finish(self, done: int, start: int) -> None:
        """Record command ``done`` as done now, wake its waiters, run the frees it completes (and the
        frees those complete, depth first: the last completed first)."""
        now = self.loop.now
        self.starts[done] = start
        self.ends[done] = now
        woken = self.waiters.pop(done, None)
        if woken is not None:  # one waiter (the common case): its work itself, at the same point
            self.loop.due(woken[0] if len(woken) == 1 else (self._wake, woken))
        frees = self.frees_after.pop(done, None)
        if frees is None:
            return
        starts, ends, waiters = self.starts, self.ends, self.waiters
        frees_after, waiting = self.frees_after, self.waiting
        finished = []
        while True:
            for free in frees:
                waiting[free] -= 1
                if not waiting[free]:
                    finished.append(free)
            if not finished:
                return
            done = finished.pop()
            starts[done] = now
            ends[done] = now
            woken = waiters.pop(done, None)
            if woken is not None:
                self.loop.due(woken[0] if len(woken) == 1 else (self._wake, woken))
            frees = frees_after.pop(done, ())

    # --- engines --------------------------------------------------------------------------
    # Each engine is a state machine: ``_Engine.at`` is its next command; ``_step`` runs it from
    # there until it must wait, and what it waits for (a dep, a channel, a cycle count, a run's
    # release) runs ``_step`` or the engine's next step again, at the point of the loop where the
    # wait would resume a process (``hwsim.sim.kernel``: a signal processed, a timeout due).
    def _step(self, engine: _Engine) -> None:
        """Run ``engine`` from its next command until it waits."""
        queue, loop, kinds = engine.queue, self.loop, self.kinds
        while engine.at < len(queue):
            cid = queue[engine.at]
            if kinds[cid] == "tiles":
                self._tiles(self.commands[cid], engine)
                return
            if self._wait(cid, self._step, engine):
                return
            if engine.dma:
                self.channels.request_then(cid, self._issued, engine)
                return
            cycles = self.cycles[cid]
            if cycles:
                loop.after(cycles, self._computed, (engine, loop.now))
                return
            self._finish(cid, loop.now)
            engine.at += 1

    def _computed(self, flight: tuple[_Engine, int]) -> None:
        engine, start = flight
        self._finish(engine.queue[engine.at], start)
        engine.at += 1
        self._step(engine)

    def _issued(self, engine: _Engine) -> None:
        """A DMA engine's transfer has its channel. With one channel it holds the bus at once and
        the engine waits for it to end; with several, the engine goes on."""
        cid, now = engine.queue[engine.at], self.loop.now
        if self.bus is None:  # one channel: nothing else can be on the bus
            self.loop.after(self.latency + self._data_cycles(cid), self._moved, (engine, now))
            return
        self.loop.after(self.latency, self._on_latency, (cid, now))  # in flight: latency, then the bus
        engine.at += 1
        self._step(engine)

    def _moved(self, flight: tuple[_Engine, int]) -> None:
        engine, start = flight
        self.channels.release()
        self._finish(engine.queue[engine.at], start)
        engine.at += 1
        self._step(engine)

    # An issued transfer with several channels: latency, then the bus for its data phase.
    # Chained callbacks rather than a process: an in-flight transfer is not an engine.
    def _on_latency(self, flight: tuple[int, int]) -> None:
        self.bus.request_then(flight[0], self._on_bus, flight)

    def _on_bus(self, flight: tuple[int, int]) -> None:
        self.loop.after(self._data_cycles(flight[0]), self._on_data_done, flight)

    def _on_data_done(self, flight: tuple[int, int]) -> None:
        self.bus.release()
        self.channels.release()
        self._finish(*flight)

    # --- a streamed layer's tiles --------------------------------------------------------
    def _tiles(self, command: Command, engine: _Engine) -> None:
        """An engine reaching a ``tiles`` command: it waits until the run releases it."""
        meeting = self.runs.get(command.id)
        if meeting is None:
            meeting = self.runs[command.id] = ({e: Signal(self.loop) for e in ENGINE_ORDER},
                                               {e: Signal(self.loop) for e in ENGINE_ORDER})
            itself: list[Process] = []  # the run's process, for the deps it waits on to resume it
            itself.append(self._run_tiles(command, itself, *meeting))
            self.loop.start(itself[0])
        arrived, released = meeting
        arrived[engine.name].succeed(self.loop.now)
        released[engine.name].callbacks.append(partial(self._released, engine))

    def _released(self, engine: _Engine, _: Signal) -> None:
        engine.at += 1
        self._step(engine)

    def _run_tiles(self, command: Command, itself: list[Process], arrived: dict[str, Signal],
                   released: dict[str, Signal]) -> Process:
        """Start the run once its deps are done, both DMA engines have reached it (``arrived``)
        and every channel is free; time it (``pipeline``) once the compute engine has reached it
        too; ``released`` lets each engine go on."""
        while self._wait(command.id, self.loop.resume, itself[0]):
            yield Signal(self.loop)  # never triggered: the dep's waiters resume the process
        yield arrived["dma_read"]
        yield arrived["dma_write"]
        channels = [self.channels.request(command.id) for _ in range(self.capacity)]
        for request in channels:
            yield request
        start = self.loop.now
        compute_at = yield arrived["compute"]
        way = {"load": "r", "store": "w"}.get(self.last_kind or "")
        timing = self.timer.time(command.run, start, max(compute_at, start), way)
        self.last_kind = {"r": "load", "w": "store", None: self.last_kind}[timing.last_way]
        self.timings[command.id] = timing
        now, after = self.loop.now, self.loop.after
        after(max(timing.compute_end, now) - now, released["compute"].succeed)
        after(max(timing.dma_end, now) - now, self._release_dma, released)
        after(max(timing.end, now) - now, lambda _: self._finish(command.id, start))

    def _release_dma(self, released: dict[str, Signal]) -> None:
        """A run's DMA is done: its channels are free and both DMA engines go on."""
        for _ in range(self.capacity):
            self.channels.release()
        released["dma_read"].succeed()
        released["dma_write"].succeed()

    # --- set-up ---------------------------------------------------------------------------
    def queues(self, plan: Plan) -> dict[str, list[int]]:
        """Each engine's command ids in program order (:func:`_shape`, worked out once per plan:
        a sweep simulates one plan at each of its bandwidths); each free armed to release its
        buffers the moment its last dep finishes (no engine, no signal: ``frees_after`` and
        ``waiting``, which :meth:`_finish` counts down, are this run's copies)."""
        from hwsim.measure.memo import plan_memo  # here: hwsim.measure imports hwsim.sim

        shape = plan_memo(plan, "sim_shape", _shape)
        self.commands, self.fields = plan.commands, shape.fields
        self.kinds, self.deps, self.dram_bytes, self.cycles = shape.kinds, shape.deps, shape.dram_bytes, shape.cycles
        self.frees_after, self.waiting = dict(shape.frees_after), dict(shape.waiting)  # lists are only read
        for index in shape.ready_frees:
            self.loop.due((self._free_now, index))
        return shape.queues

    def _free_now(self, cid: int) -> None:
        self._finish(cid, self.loop.now)




class _Shape(NamedTuple):
    """What a simulation's set-up reads of a plan alone (:func:`_shape`)."""

    fields: list[tuple]  # per command, its FIELDS (``hwsim.sim.record``)
    kinds: tuple[str, ...]  # columns of them by command id
    deps: tuple[tuple[int, ...], ...]
    dram_bytes: tuple[int, ...]
    cycles: tuple[int, ...]
    queues: dict[str, list[int]]  # each engine's command ids, in program order (never changed by a run)
    frees_after: dict[int, list[int]]  # command id -> the frees that depend on it
    waiting: dict[int, int]  # free command id -> its distinct deps
    ready_frees: tuple[int, ...]  # frees without deps, in program order


def _shape(plan: Plan) -> _Shape:
    """Each command's fields read once, the engines' queues and the frees' wiring, checking the
    plan's shape on the way (RuntimeError: ids not 0..n-1, a kind on the wrong engine, a dep on a
    later command)."""
    queues: dict[str, list[int]] = {engine: [] for engine in ENGINE_ORDER}
    append = {engine: queues[engine].append for engine in ENGINE_ORDER}
    frees_after: dict[int, list[int]] = {}
    waiting: dict[int, int] = {}
    ready: list[int] = []
    fields = list(map(FIELDS, plan.commands))  # each command's dict read once, here
    kinds, _, deps_of, _, _, dram_bytes, *_, cycles = zip(*fields) if fields else ((),) * 12
    for index, shape in enumerate(fields):
        kind, engine, deps, cid = shape[0], shape[1], shape[2], shape[3]
        if cid != index:
            raise RuntimeError(f"plan command {index} has id {cid}: ids must be 0..n-1")
        if ENGINE_OF_KIND.get(kind) != engine:
            raise RuntimeError(f"plan command {index}: a {kind!r} on engine {engine!r}")
        if deps and not (0 <= min(deps) and max(deps) < index):
            raise RuntimeError(f"plan command {index}: deps {deps} must point to earlier commands")
        if kind == "free":
            if not deps:
                ready.append(index)
                continue
            unique = set(deps)
            waiting[index] = len(unique)
            for dep in unique:
                after = frees_after.get(dep)
                if after is None:
                    frees_after[dep] = [index]
                else:
                    after.append(index)
        elif kind == "tiles":
            for add in append.values():
                add(index)
        else:
            append[engine](index)
    return _Shape(fields, kinds, deps_of, dram_bytes, cycles, queues, frees_after, waiting, tuple(ready))


@paused
def simulate(plan: Plan, spec: AcceleratorSpec) -> Trace:
    """Run ``plan`` on ``spec`` and record every command as an event (see the module docstring)."""
    loop = Loop()
    run = _Run(loop, plan, spec)
    queues = run.queues(plan)
    for engine in ENGINE_ORDER:
        loop.start_work(run._step, _Engine(engine, queues[engine]))
    loop.run()
    return Trace(plan.graph, plan.spec, *record(plan.commands, run.fields, run.starts, run.ends, run.timings),
                 spec.clock_hz)
