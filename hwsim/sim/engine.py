"""Event simulation of a :class:`~hwsim.schedule.plan.Plan`: one simpy process per engine.

The model, in integer cycles:

* **compute** engine: runs its commands in program order. A command starts when the
  previous compute command has finished and all of its deps have; it takes ``cycles``.
* **dma_read** / **dma_write** engines: *issue* their loads / stores in program order. A
  command is issued when the engine has issued the previous one, all its deps are done and
  a DMA channel is free. ``dram.channels`` channels are shared by the two engines: a
  channel is the right to have one transfer in flight, so with one channel a read and a
  write never overlap at all, and with more an engine may have several of its own
  transfers in flight. An issued transfer holds its channel for the DRAM latency
  (``spec.dram_latency_cycles()``; the bus stays free) and then for its data phase, which
  holds the **DRAM bus** for ``spec.dram_transfer_cycles(bytes)`` cycles. Channels and
  bus are simpy ``PriorityResource``s: reads and writes share the bandwidth, so two
  concurrent transfers take the sum of their data times, and commands waiting for a
  channel or for the bus get it in command-id (program) order. With one channel the bus
  can never be contended, so it is left out (same result, fewer events); with several, an
  in-flight transfer is a chain of callbacks, not a process (it is not an engine).
* **free** commands have no engine: a callback releases their buffers the moment the last
  of their deps finishes (they take no time).

Allocation: a compute or load command allocates its ``allocs`` when it starts (a load: when
it is issued); a free releases ``frees``. The occupancy curve is the replay of these changes
in trace order, ``(start cycle, command id)``. That order is causal (a buffer's free comes
after its allocation in program order, and an allocation waits for the free of any earlier
buffer overlapping it), so the curve never shows two overlapping buffers at once.

Same-time events are processed in a fixed order (simpy's event queue is ordered by time,
then by insertion), so a plan always gives the same trace. The cost is a bounded number of
simpy events per command plus one per dependency edge: O(n log n) in commands.
"""

from __future__ import annotations

from typing import Iterator

import simpy

from hwsim.schedule.plan import Command, Plan
from hwsim.sim.pipeline import RunTimer, RunTiming
from hwsim.sim.trace import Event, OccupancySample, Trace
from hwsim.spec.model import AcceleratorSpec

ENGINE_ORDER = ("compute", "dma_read", "dma_write")
ENGINE_OF_KIND = {"compute": "compute", "load": "dma_read", "store": "dma_write", "free": "none", "tiles": "tiles"}


class _Run:
    """The mutable state of one simulation (lives only inside :func:`simulate`)."""

    def __init__(self, env: simpy.Environment, plan: Plan, spec: AcceleratorSpec):
        self.env = env
        self.latency = spec.dram_latency_cycles()
        self.transfer = spec.dram_transfer_cycles
        self.channels = simpy.PriorityResource(env, capacity=spec.dram.channels)
        self.bus = simpy.PriorityResource(env, capacity=1) if spec.dram.channels > 1 else None
        self.starts: list[int | None] = [None] * len(plan.commands)
        self.ends: list[int | None] = [None] * len(plan.commands)
        self.waiters: dict[int, simpy.Event] = {}  # command id -> event a process waits on
        self.frees_after: dict[int, list[Command]] = {}  # command id -> frees that depend on it
        self.waiting: dict[int, int] = {}  # free command id -> deps not finished yet
        self.capacity = spec.dram.channels
        self.runs: dict[int, dict[str, simpy.Event]] = {}  # tiles command -> engine -> arrived / released
        self.timings: dict[int, RunTiming] = {}
        self.timer = RunTimer(self.capacity, self.latency, self.transfer)

    # --- common ---------------------------------------------------------------------------
    def _deps(self, command: Command) -> Iterator[simpy.Event]:
        """Wait until every dep of ``command`` has finished (one yield per unfinished dep).

        An event is made only for a command that someone waits on before it finishes.
        """
        for dep in command.deps:
            if self.ends[dep] is None:
                event = self.waiters.get(dep)
                if event is None:
                    event = self.waiters[dep] = self.env.event()
                yield event

    def _finish(self, command: Command, start: int) -> None:
        """Record ``command`` as done now, wake its waiters, run the frees it completes."""
        now = self.env.now
        finished = [(command, start)]
        while finished:
            done, begun = finished.pop()
            self.starts[done.id] = begun
            self.ends[done.id] = now
            event = self.waiters.pop(done.id, None)
            if event is not None:
                event.succeed()
            for free in self.frees_after.pop(done.id, ()):
                self.waiting[free.id] -= 1
                if self.waiting[free.id] == 0:
                    finished.append((free, now))

    # --- engines --------------------------------------------------------------------------
    def compute_engine(self, commands: list[Command]):
        for command in commands:
            if command.kind == "tiles":
                yield from self._tiles(command, "compute")
                continue
            yield from self._deps(command)
            start = self.env.now
            if command.cycles:
                yield self.env.timeout(command.cycles)
            self._finish(command, start)

    def dma_engine(self, commands: list[Command], engine: str):
        for command in commands:
            if command.kind == "tiles":
                yield from self._tiles(command, engine)
                continue
            yield from self._deps(command)
            channel = self.channels.request(priority=command.id)
            yield channel
            if self.bus is None:  # one channel: nothing else can be on the bus
                start = self.env.now
                yield self.env.timeout(self.latency + self.transfer(command.dram_bytes))
                self.channels.release(channel)
                self._finish(command, start)
            else:
                self._transfer(command, channel)

    def _transfer(self, command: Command, channel) -> None:
        """An issued transfer with several channels: latency, then the bus for its data phase.

        Chained callbacks rather than a process: an in-flight transfer is not an engine.
        """
        start = self.env.now

        def on_bus(request: simpy.Event) -> None:
            def on_data_done(_: simpy.Event) -> None:
                self.bus.release(request)
                self.channels.release(channel)
                self._finish(command, start)

            self.env.timeout(self.transfer(command.dram_bytes)).callbacks.append(on_data_done)

        def on_latency(_: simpy.Event) -> None:
            self.bus.request(priority=command.id).callbacks.append(on_bus)

        self.env.timeout(self.latency).callbacks.append(on_latency)

    # --- a streamed layer's tiles --------------------------------------------------------
    def _tiles(self, command: Command, engine: str):
        """An engine reaching a ``tiles`` command: it waits until the run releases it."""
        events = self.runs.get(command.id)
        if events is None:
            events = self.runs[command.id] = {f"{e}{what}": self.env.event() for e in ENGINE_ORDER
                                              for what in (":in", ":out")}
            self.env.process(self._run_tiles(command, events))
        events[f"{engine}:in"].succeed(self.env.now)
        yield events[f"{engine}:out"]

    def _run_tiles(self, command: Command, events: dict[str, simpy.Event]):
        """Start the run once its deps are done, both DMA engines have reached it and every
        channel is free; time it (``pipeline``) once the compute engine has reached it too."""
        yield from self._deps(command)
        yield events["dma_read:in"] & events["dma_write:in"]
        channels = [self.channels.request(priority=command.id) for _ in range(self.capacity)]
        for request in channels:
            yield request
        start = self.env.now
        arrived = yield events["compute:in"]
        timing = self.timer.time(command.run, start, max(arrived, start))
        self.timings[command.id] = timing
        now = self.env.now

        def at(cycle: int, action) -> None:
            self.env.timeout(max(cycle, now) - now).callbacks.append(lambda _: action())

        def release_dma() -> None:
            for request in channels:
                self.channels.release(request)
            events["dma_read:out"].succeed()
            events["dma_write:out"].succeed()

        at(timing.compute_end, events["compute:out"].succeed)
        at(timing.dma_end, release_dma)
        at(timing.end, lambda: self._finish(command, start))

    # --- frees ----------------------------------------------------------------------------
    def arm_free(self, command: Command) -> None:
        """Release ``command``'s buffers the moment its last dep finishes (no process, no event)."""
        deps = set(command.deps)
        if not deps:
            self.env.timeout(0).callbacks.append(lambda _: self._finish(command, self.env.now))
            return
        self.waiting[command.id] = len(deps)
        for dep in deps:
            self.frees_after.setdefault(dep, []).append(command)


def _queues(plan: Plan) -> dict[str, list[Command]]:
    """Each engine's commands in program order, checking the plan's shape on the way."""
    queues: dict[str, list[Command]] = {engine: [] for engine in (*ENGINE_ORDER, "none")}
    for index, command in enumerate(plan.commands):
        if command.id != index:
            raise RuntimeError(f"plan command {index} has id {command.id}: ids must be 0..n-1")
        if ENGINE_OF_KIND.get(command.kind) != command.engine:
            raise RuntimeError(f"plan command {index}: a {command.kind!r} on engine {command.engine!r}")
        if command.deps and not (0 <= min(command.deps) and max(command.deps) < index):
            raise RuntimeError(f"plan command {index}: deps {command.deps} must point to earlier commands")
        for engine in ENGINE_ORDER if command.kind == "tiles" else (command.engine,):
            queues[engine].append(command)
    return queues


def _events(plan: Plan, run: _Run) -> tuple[Event, ...]:
    stuck = [c.id for c in plan.commands if run.ends[c.id] is None]
    if stuck:
        raise RuntimeError(f"simulation ended with {len(stuck)} commands never run (first: {stuck[:5]})")
    events = []
    for c in plan.commands:
        timing = run.timings.get(c.id)
        extra = {} if timing is None else {
            "compute_span": (timing.compute_start, timing.compute_end), "first_wait": timing.first_wait,
            "stalls": tuple(sorted(timing.stalls.items())), "moves": c.run.moves()}
        events.append(Event(c.id, c.kind, c.engine, c.layer, run.starts[c.id], run.ends[c.id],
                            c.dram_bytes, c.traffic, c.tensor, c.tile, **extra))
    events.sort(key=lambda e: (e.start, e.command))
    return tuple(events)


def occupancy(events: tuple[Event, ...], plan: Plan) -> tuple[OccupancySample, ...]:
    """SRAM and weight-buffer bytes in use after each allocating or freeing event, in trace order.

    Raises RuntimeError if a buffer is allocated twice or freed while not allocated.
    """
    live: set[tuple[str, str]] = set()
    in_use = {"sram": 0, "weights": 0}
    samples = []
    commands = plan.commands
    for event in events:
        command = commands[event.command]
        if not (command.allocs or command.frees):
            continue
        for buffer in command.allocs:
            key = (buffer.space, buffer.name)
            if key in live:
                raise RuntimeError(f"command {command.id} allocates {buffer.name!r}, already allocated")
            live.add(key)
            in_use[buffer.space] += buffer.size
        for buffer in command.frees:
            key = (buffer.space, buffer.name)
            if key not in live:
                raise RuntimeError(f"command {command.id} frees {buffer.name!r}, which is not allocated")
            live.remove(key)
            in_use[buffer.space] -= buffer.size
        samples.append(OccupancySample(event.start, in_use["sram"], in_use["weights"]))
    return tuple(samples)


def simulate(plan: Plan, spec: AcceleratorSpec) -> Trace:
    """Run ``plan`` on ``spec`` and record every command as an event (see the module docstring)."""
    queues = _queues(plan)
    env = simpy.Environment()
    run = _Run(env, plan, spec)
    for command in queues["none"]:
        run.arm_free(command)
    env.process(run.compute_engine(queues["compute"]))
    for engine in ENGINE_ORDER[1:]:
        env.process(run.dma_engine(queues[engine], engine))
    env.run()
    events = _events(plan, run)
    return Trace(plan.graph, plan.spec, events, occupancy(events, plan), spec.clock_hz)
