"""A topological order of layers with the lowest peak of live bytes: exact search, or a heuristic.

The problem, with no graph in it (:class:`OrderProblem`): layers ``0 .. n-1`` (the graph's
order is one topological order), each with the layers it must follow, and **pieces** of
memory, each written by one layer and needed at the steps of its *members* (its producer and
every layer reading bytes it holds). A piece is live from its producer's step to the last of
its members' steps, both included. With ``S`` the layers already run, running ``v`` next takes

    live(S, v) = resident(S) + written(v)

bytes, ``resident(S)`` being the pieces written in ``S`` that a layer outside ``S`` still needs
and ``written(v)`` the pieces ``v`` writes: this depends on the *set* ``S`` only, not on the
order inside it, which is what makes a search over sets exact (Serenity, Ahn et al. 2020, use
the same insight: partial schedules with the same set of scheduled nodes share their future).

**Splitting.** A layer that every other layer precedes or follows (an ancestor or a
descendant of all: a *cut*) has the same step in every order, and so has everything resident
before it. The layers between two consecutive cuts (a *segment*) are ordered independently
of the others, and the peak of an order is the largest of its segments' peaks and its cuts'
steps. A chain of layers is all cuts: nothing to search.

**What is searched.** The objective is the peak of the whole order. ``lower``, a lower bound on
it, starts as the largest of the cuts' steps and of every layer's *floor* (the bytes live at
its step in any order: what stays live through its segment, what it reads and writes).
Segments are visited from the highest peak in the graph's order down; a segment whose peak in
the graph's order is at most ``lower`` keeps the graph's order (no order could lower the peak
by changing it), any other is solved and ``lower`` rises to the peak it gets. So only the
segments that set the peak change, and the graph's order is kept wherever it is as good.

**Exact, per segment** (:func:`search_segment`): a best-first search over the sets of layers of
the segment already run, the cost of a set being the lowest peak, clipped below at ``lower``,
of any order reaching it (the maximum along a path, so Dijkstra's order applies: the first
complete set taken from the heap is an optimum; among sets of equal cost the larger is taken
first, so while the cost stays at ``lower`` the search dives to a complete order). Paths whose
peak reaches an upper bound (the better of the graph's order and the greedy order below) are
cut, so the search only looks for something better and, finding nothing, proves the bound
optimal. The search stops after :data:`MAX_STATES` sets: a segment of at most 16 layers (at
most 2^16 sets) always ends within it, larger ones when their parallel branches are few or
short.

**Heuristic, for a segment whose search ran out of sets**: the greedy order (at each step, run
the ready layer that leaves the fewest bytes resident after it; ties to the one with the
fewest bytes live during its step, then to the graph's order), or the graph's order if that
has the lower peak, then improved by moving one layer at a time to another place its
dependencies allow, keeping a move when it lowers (peak, sum of the steps' live bytes), until
no move does, the peak reaches ``lower``, or :data:`MAX_MOVES` moves have been tried.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import networkx as nx

import heapq
from dataclasses import dataclass


MAX_STATES = 1 << 16
"""Sets of scheduled layers one segment's exact search may visit before giving up."""
MAX_MOVES = 20_000
"""Candidate moves one segment's local improvement may evaluate."""


@dataclass(frozen=True)
class Piece:
    producer: int  # the layer writing it
    members: frozenset[int]  # its producer and every layer reading its bytes
    nbytes: int


@dataclass(frozen=True)
class OrderProblem:
    preds: tuple[frozenset[int], ...]  # layer -> the layers it must follow
    pieces: tuple[Piece, ...]

    def dag(self) -> nx.DiGraph:
        import networkx as nx  # here: only policy.order memory needs it, and it takes a third of a second to load

        dag = nx.DiGraph()
        dag.add_nodes_from(range(len(self.preds)))
        dag.add_edges_from((u, v) for v, us in enumerate(self.preds) for u in us)
        return dag


@dataclass(frozen=True)
class OrderResult:
    order: tuple[int, ...]
    peak_bytes: int
    exact: bool  # the peak is the lowest of any topological order


def step_bytes(problem: OrderProblem, order) -> list[int]:
    """Live bytes at every step of ``order`` (a topological order of the problem's layers)."""
    written = [0] * len(problem.preds)
    touching: list[list[int]] = [[] for _ in problem.preds]
    waiting = [len(p.members) for p in problem.pieces]
    for i, p in enumerate(problem.pieces):
        written[p.producer] += p.nbytes
        for m in p.members:
            touching[m].append(i)
    steps, resident = [], 0
    for v in order:
        steps.append(resident + written[v])
        resident += written[v]
        for i in touching[v]:
            waiting[i] -= 1
            if not waiting[i]:
                resident -= problem.pieces[i].nbytes
    return steps


def peak_bytes(problem: OrderProblem, order) -> int:
    return max(step_bytes(problem, order), default=0)


def cuts(problem: OrderProblem) -> list[int]:
    """The layers every other layer precedes or follows, in graph order."""
    import networkx as nx

    dag, n = problem.dag(), len(problem.preds)
    return [v for v in range(n) if len(nx.ancestors(dag, v)) == v and len(nx.descendants(dag, v)) == n - 1 - v]


def _bits(mask: int):
    while mask:
        low = mask & -mask
        yield low.bit_length() - 1
        mask ^= low


class Segment:
    """The layers ``first .. first + size - 1`` between two cuts, as local bit masks.

    ``base``: bytes resident when the segment starts; ``written[v]``: bytes layer ``v`` writes;
    ``frees[v]``: ``(members mask, bytes)`` of the pieces ``v`` may be the last member of;
    ``floor[v]``: bytes live at ``v``'s step in any order (what stays through the segment, what
    ``v`` reads and writes)."""

    def __init__(self, problem: OrderProblem, first: int, size: int):
        self.first, self.size = first, size
        inside = range(first, first + size)
        self.preds = [sum(1 << (u - first) for u in problem.preds[v] if u >= first) for v in inside]
        self.succs = [[w for w in range(size) if self.preds[w] >> v & 1] for v in range(size)]
        self.written = [0] * size
        self.frees: list[list[tuple[int, int]]] = [[] for _ in inside]
        self.floor = [0] * size
        self.base = through = 0
        for p in problem.pieces:
            later = any(m >= first + size for m in p.members)
            mask = sum(1 << (m - first) for m in p.members if first <= m < first + size)
            if p.producer < first and (mask or later):
                self.base += p.nbytes
                through += p.nbytes if later else 0
            elif first <= p.producer < first + size:
                self.written[p.producer - first] += p.nbytes
            if not mask or (p.producer < first and later):
                continue
            for v in _bits(mask):
                self.floor[v] += p.nbytes
                if not later:
                    self.frees[v].append((mask, p.nbytes))
        self.floor = [through + f for f in self.floor]

    def after(self, resident: int, done: int, v: int) -> int:
        """Bytes resident after running ``v`` with the layers of mask ``done`` already run."""
        done |= 1 << v
        return resident + self.written[v] - sum(b for mask, b in self.frees[v] if not mask & ~done)

    def ready_after(self, ready: int, done: int, v: int) -> int:
        """The ready mask once ``v`` (ready, not in ``done``) has run."""
        done |= 1 << v
        return ready & ~(1 << v) | sum(1 << w for w in self.succs[v] if not self.preds[w] & ~done)

    def steps(self, order, resident: int | None = None, done: int = 0) -> list[int]:
        """Live bytes at each step of ``order``, starting from ``resident`` (the base) and ``done``."""
        resident = self.base if resident is None else resident
        found = []
        for v in order:
            found.append(resident + self.written[v])
            resident, done = self.after(resident, done, v), done | 1 << v
        return found

    def peak(self, order) -> int:
        return max(self.steps(order), default=0)


def greedy(seg: Segment) -> list[int]:
    """Run the ready layer leaving the fewest bytes resident (ties: fewest live during it, graph order)."""
    order, resident, done = [], seg.base, 0
    ready = sum(1 << v for v in range(seg.size) if not seg.preds[v])
    for _ in range(seg.size):
        v = min(_bits(ready), key=lambda u: (seg.after(resident, done, u), resident + seg.written[u], u))
        order.append(v)
        ready = seg.ready_after(ready, done, v)
        resident, done = seg.after(resident, done, v), done | 1 << v
    return order


def search_segment(seg: Segment, upper: int, lower: int = 0) -> list[int] | None | bool:
    """An order of the segment whose peak, clipped below at ``lower``, is below ``upper`` and the
    lowest possible; None if there is none; False if the search gave up after :data:`MAX_STATES` sets."""
    full = (1 << seg.size) - 1
    cost, resident, parent = {0: lower}, {0: seg.base}, {}
    ready = {0: sum(1 << v for v in range(seg.size) if not seg.preds[v])}
    heap = [(lower, 0, 0)]
    while heap:
        c, _, done = heapq.heappop(heap)
        if c > cost[done]:
            continue
        if done == full:
            return _path(parent, full)
        for v in _bits(ready[done]):
            step = max(c, resident[done] + seg.written[v])
            nxt = done | 1 << v
            if step >= min(upper, cost.get(nxt, upper)):
                continue
            if nxt not in resident:
                if len(resident) >= MAX_STATES:
                    return False
                resident[nxt] = seg.after(resident[done], done, v)
                ready[nxt] = seg.ready_after(ready[done], done, v)
            cost[nxt], parent[nxt] = step, (done, v)
            heapq.heappush(heap, (step, -nxt.bit_count(), nxt))
    return None


def _path(parent: dict[int, tuple[int, int]], done: int) -> list[int]:
    order = []
    while done:
        done, v = parent[done]
        order.append(v)
    return order[::-1]


class _Scored:
    """An order with its steps' prefix state, so that a move is scored on the window it changes."""

    def __init__(self, seg: Segment, order: list[int]):
        self.order, self.resident, self.done = order, [seg.base], [0]
        steps = seg.steps(order)
        for v in order:
            self.resident.append(seg.after(self.resident[-1], self.done[-1], v))
            self.done.append(self.done[-1] | 1 << v)
        self.head_peak, self.head_total = [0], [0]  # over steps [0, i)
        for s in steps:
            self.head_peak.append(max(self.head_peak[-1], s))
            self.head_total.append(self.head_total[-1] + s)
        self.tail_peak = [0] * (len(steps) + 1)  # over steps [i, end)
        for i in range(len(steps) - 1, -1, -1):
            self.tail_peak[i] = max(self.tail_peak[i + 1], steps[i])
        self.score = (self.head_peak[-1], self.head_total[-1])

    def moved(self, seg: Segment, i: int, j: int) -> tuple[list[int], tuple[int, int]]:
        """The order with the layer at position ``i`` moved to position ``j``, and its score."""
        trial = self.order[:i] + self.order[i + 1:]
        trial.insert(j, self.order[i])
        a, b = min(i, j), max(i, j) + 1  # positions a .. b - 1 change
        window = seg.steps(trial[a:b], self.resident[a], self.done[a])
        peak = max(self.head_peak[a], max(window), self.tail_peak[b])
        total = self.head_total[a] + sum(window) + self.head_total[-1] - self.head_total[b]
        return trial, (peak, total)


def improve(seg: Segment, order: list[int], lower: int = 0) -> list[int]:
    """Move one layer at a time within its dependencies while (peak, total) drops (module docstring)."""
    current, tried, moved = _Scored(seg, list(order)), 0, True
    while moved and tried < MAX_MOVES and current.score[0] > lower:
        moved = False
        for v in range(seg.size):
            at = {u: k for k, u in enumerate(current.order)}
            i = at[v]
            lo = max((at[u] + 1 for u in _bits(seg.preds[v])), default=0)
            hi = min((at[w] for w in seg.succs[v]), default=seg.size)  # v may go to lo .. hi - 1
            for j in range(lo, hi):
                if j == i:
                    continue
                trial, score = current.moved(seg, i, j)
                tried += 1
                if score < current.score:
                    current, moved = _Scored(seg, trial), True
                    break
            if tried >= MAX_MOVES or current.score[0] <= lower:
                break
    return current.order


def order_segment(seg: Segment, lower: int = 0) -> tuple[list[int], bool]:
    """The segment's order (local indices) and whether its peak, clipped below at ``lower``, is
    proven the lowest; the graph's order unless another is better."""
    own = list(range(seg.size))
    start = min((own, greedy(seg)), key=lambda o: max(seg.peak(o), lower))  # the graph's order on a tie
    upper = max(seg.peak(start), lower)
    if upper <= max(lower, *seg.floor):
        return start, True
    found = search_segment(seg, upper, lower)
    if found is False:
        better = improve(seg, start, lower)
        return (better if max(seg.peak(better), lower) < upper else start), False
    return (found if found is not None else start), True


def best_order(problem: OrderProblem) -> OrderResult:
    """An order of lowest peak, segment by segment (see the module docstring)."""
    n = len(problem.preds)
    order, steps = list(range(n)), step_bytes(problem, range(n))
    fixed = cuts(problem)
    segments = [Segment(problem, a + 1, b - a - 1) for a, b in zip([-1, *fixed], [*fixed, n]) if b - a > 1]
    lower = max([steps[c] for c in fixed] + [f for seg in segments for f in seg.floor], default=0)
    exact = True
    for seg in sorted(segments, key=lambda s: (-max(steps[s.first:s.first + s.size]), s.first)):
        if max(steps[seg.first:seg.first + seg.size]) <= lower:
            break
        local, proven = order_segment(seg, lower)
        order[seg.first:seg.first + seg.size] = [seg.first + v for v in local]
        lower, exact = max(lower, seg.peak(local)), exact and proven
    return OrderResult(tuple(order), peak_bytes(problem, order), exact)
