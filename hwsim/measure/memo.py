"""A plan's memo: figures of a plan alone, worked out once per plan and kept on it.

A sweep point measures one plan under several specs (``hwsim.sweep.share``: the four
bandwidths of a plan group are four traces of the same plan), and every measure used to walk
the plan's commands again for figures that do not depend on the trace. :func:`plan_memo` keeps
each such figure in the plan's own ``__dict__``, as ``Graph.memo`` does for a graph, so the
second and later measures of a plan read them (the simulator keeps its set-up here too:
``hwsim.sim.engine``'s engine queues and frees' wiring). This is sound because a Plan is immutable
(frozen dataclasses all the way down: commands, buffers, parts, tile runs are tuples of frozen
records), so a figure computed from it once holds for its lifetime; ``dataclasses.replace``
makes a new plan with no memo. The memo holds plain data only (ints, tuples, lists, dicts of
the plan's own records), never the graph or the spec, so a plan still pickles, and no figure
that depends on them is kept here (those that depend on the graph alone go to ``Graph.memo``).
Nothing is computed until asked for.
"""

from __future__ import annotations

from typing import Callable, TypeVar

from hwsim.schedule.plan import Plan

T = TypeVar("T")

_MEMO = "_measure_memo"  # the key of the plan's __dict__ holding the memo


def plan_memo(plan: Plan, key: str, compute: Callable[[Plan], T]) -> T:
    """``compute(plan)``, computed once per plan and ``key`` (the module docstring)."""
    cache = plan.__dict__.get(_MEMO)
    if cache is None:
        cache = plan.__dict__.setdefault(_MEMO, {})
    if key in cache:
        return cache[key]
    value = cache[key] = compute(plan)
    return value
