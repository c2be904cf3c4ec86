"""The event loop (``hwsim.sim.kernel``) against simpy itself: random programs of processes,
timeouts, signals, priority resources (granted to a signal or, ``Slots.request_then``, straight to
work) and callbacks, run on both, must do the same things at the same cycles in the same order
(the kernel promises simpy's ordering exactly)."""

from __future__ import annotations

import random

import pytest
import simpy

from hwsim.sim.kernel import Loop, Signal, Slots, all_of


class OnSimpy:
    def __init__(self) -> None:
        self.env = simpy.Environment()

    def now(self) -> int:
        return self.env.now

    def signal(self):
        return self.env.event()

    def slots(self, capacity: int):
        return simpy.PriorityResource(self.env, capacity)

    def request(self, slots, priority: int):
        return slots.request(priority=priority)

    def request_then(self, slots, priority: int, work):
        """simpy's own way: a request whose only callback is ``work``."""
        request = slots.request(priority=priority)
        request.callbacks.append(lambda _: work())
        return request

    def release(self, slots, request) -> None:
        slots.release(request)

    def sleep(self, cycles: int):
        return self.env.timeout(cycles)

    def after(self, cycles: int, work) -> None:
        self.env.timeout(cycles).callbacks.append(lambda _: work())

    def start(self, process) -> None:
        self.env.process(process)

    def all_of(self, *signals):
        return self.env.all_of(signals)

    def run(self) -> None:
        self.env.run()


class OnKernel:
    def __init__(self) -> None:
        self.loop = Loop()

    def now(self) -> int:
        return self.loop.now

    def signal(self) -> Signal:
        return Signal(self.loop)

    def slots(self, capacity: int) -> Slots:
        return Slots(self.loop, capacity)

    def request(self, slots: Slots, priority: int) -> Signal:
        return slots.request(priority)

    def request_then(self, slots: Slots, priority: int, work) -> None:
        slots.request_then(priority, lambda _: work())

    def release(self, slots: Slots, request: Signal) -> None:
        slots.release()

    def sleep(self, cycles: int) -> int:
        return cycles

    def after(self, cycles: int, work) -> None:
        self.loop.after(cycles, lambda _: work())

    def start(self, process) -> None:
        self.loop.start(process)

    def all_of(self, *signals: Signal) -> Signal:
        return all_of(self.loop, *signals)

    def run(self) -> None:
        self.loop.run()


def random_program(rng: random.Random) -> dict:
    """Processes (lists of steps), how many signals and resources, which processes start first."""
    signals, resources = rng.randint(1, 6), [rng.randint(1, 3) for _ in range(rng.randint(1, 3))]
    short = [0, 0, 1, 2, 5]

    def step() -> tuple:
        kind = rng.choice(["sleep", "hold", "hold", "transfer", "then", "fire", "wait", "all", "spawn", "later"])
        if kind in ("hold", "transfer", "then"):
            return kind, rng.randrange(len(resources)), rng.randint(0, 5), rng.choice(short)
        if kind == "all":
            return kind, tuple(rng.randrange(signals) for _ in range(rng.randint(0, 3)))
        return kind, rng.choice(short), rng.randrange(signals)

    processes = [[step() for _ in range(rng.randint(1, 12))] for _ in range(rng.randint(1, 6))]
    return {"processes": processes, "signals": signals, "resources": resources,
            "first": sorted(rng.sample(range(len(processes)), rng.randint(1, len(processes))))}


def run_program(world, program: dict) -> list[tuple]:
    """What happened, in order: (cycle, process, step, what it saw)."""
    log: list[tuple] = []
    signals = [world.signal() for _ in range(program["signals"])]
    fired = [False] * len(signals)
    resources = [world.slots(capacity) for capacity in program["resources"]]
    started = set()

    def fire(k: int, who: tuple) -> None:
        if not fired[k]:
            fired[k] = True
            signals[k].succeed(who)

    def start(p: int) -> None:
        if p not in started:
            started.add(p)
            world.start(process(p))

    def process(p: int):
        for i, (kind, *args) in enumerate(program["processes"][p]):
            seen = None
            if kind == "sleep":
                yield world.sleep(args[0])
            elif kind == "hold":  # a request, held for a while by the process itself
                slots, priority, cycles = resources[args[0]], args[1], args[2]
                request = world.request(slots, priority)
                yield request
                yield world.sleep(cycles)
                world.release(slots, request)
            elif kind == "transfer":  # a request released by callbacks while the process goes on
                slots, priority, cycles = resources[args[0]], args[1], args[2]
                request = world.request(slots, priority)

                def granted(_, slots=slots, request=request, cycles=cycles, at=(p, i)):
                    log.append((world.now(), *at, "granted"))
                    world.after(cycles, lambda: world.release(slots, request))

                request.callbacks.append(granted)
            elif kind == "then":  # the same with no signal on the kernel: Slots.request_then
                slots, priority, cycles = resources[args[0]], args[1], args[2]
                asked: list = []  # simpy releases the request itself

                def then(slots=slots, cycles=cycles, asked=asked, at=(p, i)):
                    log.append((world.now(), *at, "granted"))
                    world.after(cycles, lambda: world.release(slots, asked[0]))

                asked.append(world.request_then(slots, priority, then))
            elif kind == "fire":
                fire(args[1], (p, i))
            elif kind == "wait":
                seen = yield signals[args[1]]
            elif kind == "all":
                yield world.all_of(*(signals[k] for k in args[0]))
            elif kind == "spawn":
                start(args[1] % len(program["processes"]))
            elif kind == "later":
                world.after(args[0], lambda k=args[1], at=(p, i): fire(k, at))
            log.append((world.now(), p, i, seen))

    for p in program["first"]:
        start(p)
    world.run()
    return log


@pytest.mark.parametrize("seed", range(4))
def test_random_programs_run_as_on_simpy(seed):
    rng = random.Random(seed)
    for _ in range(300):
        program = random_program(rng)
        assert run_program(OnKernel(), program) == run_program(OnSimpy(), program), program


def test_a_waiting_request_of_lower_priority_yields_to_one_asked_before_the_release_is_processed():
    # By hand: slot held by A until cycle 5; B (priority 9) asks at 1 and waits. At 5, A
    # releases and asks again as C (priority 1) in the same turn: C is then the head of the
    # queue and takes the free slot; B waits for C's release at 7.
    loop, order = Loop(), []
    slots = Slots(loop, 1)

    def waiter():
        yield 1
        yield slots.request(9)
        order.append((loop.now, "B"))

    def releaser_then_asker():
        yield slots.request(0)
        order.append((loop.now, "A"))
        yield 5
        slots.release()
        yield slots.request(1)
        order.append((loop.now, "C"))
        yield 2
        slots.release()

    loop.start(releaser_then_asker())
    loop.start(waiter())
    loop.run()
    assert order == [(0, "A"), (5, "C"), (7, "B")]
