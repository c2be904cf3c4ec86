"""The engine written the plain way, as reference for ``hwsim.sim.engine``: one generator
process per engine on the kernel's signals (``Signal``, ``Slots.request``), as simpy's own
examples write it, and as ``hwsim.sim.engine`` was written before it became state machines.

Only the tests use it (``test_engine_exact.py``): the state machines must give the very same
start and end of every command, and the same tiles timings, on any plan.
"""

from __future__ import annotations

from functools import cache, partial

from hwsim.schedule.plan import Command, Plan
from hwsim.sim.kernel import Loop, Process, Signal, Slots
from hwsim.sim.pipeline import RunTimer, RunTiming
from hwsim.spec.model import AcceleratorSpec

ENGINES = ("compute", "dma_read", "dma_write")


class ProcessRun:
    def __init__(self, plan: Plan, spec: AcceleratorSpec):
        self.loop = loop = Loop()
        self.latency = spec.dram_latency_cycles()
        self.transfer = cache(spec.dram_transfer_cycles)
        self.capacity = spec.dram.channels
        self.channels = Slots(loop, self.capacity, at_cycle_end=True)
        self.bus = Slots(loop, 1, at_cycle_end=True) if self.capacity > 1 else None
        self.turnaround = spec.dram_turnaround_cycles()
        self.timer = RunTimer(self.capacity, self.latency, self.transfer, self.turnaround)
        self.starts: list[int | None] = [None] * len(plan.commands)
        self.ends: list[int | None] = [None] * len(plan.commands)
        self.signals: dict[int, Signal] = {}  # command id -> the signal its waiters wait on
        self.frees_after: dict[int, list[Command]] = {}
        self.waiting: dict[int, int] = {}
        self.runs: dict[int, tuple[dict[str, Signal], dict[str, Signal]]] = {}
        self.timings: dict[int, RunTiming] = {}
        self.last_kind: str | None = None
        queues: dict[str, list[Command]] = {engine: [] for engine in (*ENGINES, "none")}
        for command in plan.commands:
            for engine in (ENGINES if command.kind == "tiles" else (command.engine,)):
                queues[engine].append(command)
        for command in queues["none"]:
            self.arm_free(command)
        loop.start(self.compute_engine(queues["compute"]))
        for engine in ENGINES[1:]:
            loop.start(self.dma_engine(queues[engine], engine))
        loop.run()

    def data_cycles(self, command: Command) -> int:
        switch = self.last_kind is not None and self.last_kind != command.kind
        self.last_kind = command.kind
        return self.transfer(command.dram_bytes) + (self.turnaround if switch else 0)

    def unfinished(self, command: Command) -> Signal | None:
        for dep in command.deps:
            if self.ends[dep] is None:
                if dep not in self.signals:
                    self.signals[dep] = Signal(self.loop)
                return self.signals[dep]
        return None

    def finish(self, command: Command, start: int) -> None:
        now = self.loop.now
        finished = [(command, start)]
        while finished:
            done, begun = finished.pop()
            self.starts[done.id], self.ends[done.id] = begun, now
            if done.id in self.signals:
                self.signals.pop(done.id).succeed()
            for free in self.frees_after.pop(done.id, ()):
                self.waiting[free.id] -= 1
                if not self.waiting[free.id]:
                    finished.append((free, now))

    def compute_engine(self, commands: list[Command]) -> Process:
        for command in commands:
            if command.kind == "tiles":
                yield from self.tiles(command, "compute")
                continue
            while (dep := self.unfinished(command)) is not None:
                yield dep
            start = self.loop.now
            if command.cycles:
                yield command.cycles
            self.finish(command, start)

    def dma_engine(self, commands: list[Command], engine: str) -> Process:
        for command in commands:
            if command.kind == "tiles":
                yield from self.tiles(command, engine)
                continue
            while (dep := self.unfinished(command)) is not None:
                yield dep
            yield self.channels.request(command.id)
            if self.bus is None:
                start = self.loop.now
                yield self.latency + self.data_cycles(command)
                self.channels.release()
                self.finish(command, start)
            else:  # an in-flight transfer is a chain of callbacks: latency, the bus, its data phase
                self.loop.after(self.latency, self.on_latency, (command, self.loop.now))

    def on_latency(self, flight: tuple[Command, int]) -> None:
        self.bus.request(flight[0].id).callbacks.append(partial(self.on_bus, flight))

    def on_bus(self, flight: tuple[Command, int], _: Signal) -> None:
        self.loop.after(self.data_cycles(flight[0]), self.on_data_done, flight)

    def on_data_done(self, flight: tuple[Command, int]) -> None:
        self.bus.release()
        self.channels.release()
        self.finish(*flight)

    def tiles(self, command: Command, engine: str) -> Process:
        if command.id not in self.runs:
            self.runs[command.id] = ({e: Signal(self.loop) for e in ENGINES}, {e: Signal(self.loop) for e in ENGINES})
            self.loop.start(self.run_tiles(command, *self.runs[command.id]))
        arrived, released = self.runs[command.id]
        arrived[engine].succeed(self.loop.now)
        yield released[engine]

    def run_tiles(self, command: Command, arrived: dict[str, Signal], released: dict[str, Signal]) -> Process:
        while (dep := self.unfinished(command)) is not None:
            yield dep
        yield arrived["dma_read"]
        yield arrived["dma_write"]
        for request in [self.channels.request(command.id) for _ in range(self.capacity)]:
            yield request
        start = self.loop.now
        compute_at = yield arrived["compute"]
        way = {"load": "r", "store": "w"}.get(self.last_kind or "")
        timing = self.timer.time(command.run, start, max(compute_at, start), way)
        self.last_kind = {"r": "load", "w": "store", None: self.last_kind}[timing.last_way]
        self.timings[command.id] = timing
        now, after = self.loop.now, self.loop.after
        after(max(timing.compute_end, now) - now, released["compute"].succeed)
        after(max(timing.dma_end, now) - now, partial(self.release_dma, released))
        after(max(timing.end, now) - now, lambda _: self.finish(command, start))

    def release_dma(self, released: dict[str, Signal], _: object) -> None:
        for _ in range(self.capacity):
            self.channels.release()
        released["dma_read"].succeed()
        released["dma_write"].succeed()

    def arm_free(self, command: Command) -> None:
        deps = set(command.deps)
        if not deps:
            self.loop.after(0, lambda _: self.finish(command, self.loop.now))
            return
        self.waiting[command.id] = len(deps)
        for dep in deps:
            self.frees_after.setdefault(dep, []).append(command)
