"""Zero-spill SRAM: the smallest SRAM at which a graph runs with no spill and no streamed layer.

Sizes are searched in steps of ``sram.alignment_bytes``. A size is *clean* when its plan
has no ``spill_write`` / ``spill_read`` traffic and no streamed layer (weights in chunks
are allowed: every weight byte is read once either way).

* **Upper bound**: the SRAM high-water mark ``H`` of the plan made with unlimited SRAM.
  That run evicts nothing, so its SRAM is placed offline (``placement``) and ``H`` is the
  packed peak. At capacity ``H`` the run is the same plan: the bytes reserved never
  exceeded ``H`` (the packed peak is at least the most bytes reserved at once), so every
  request of the walk, prefetches included, is granted as it was, and no layer streams or
  chunks (each layer's blocks were reserved together within ``H``); the same walk packs
  the same way and fits. So ``H`` is clean, but for one thing: weights that do not fit
  beside what is live come in chunks of at most an eighth of the room, which is smaller at
  ``H`` than unlimited, so the walk at ``H`` may differ. ``H`` is checked, and doubled
  until clean.
* **Lower bound**: the peak of live layer-written bytes, rounded up to the alignment: at
  that step they must all be resident. (In cascade mode tensors inside a cascade take only
  rolling buffers, so no such bound holds: the search starts from one alignment step.)
  Bytes are counted once per piece of data
  (:func:`~hwsim.schedule.storage.live_piece_peak`): with in-place concatenation a concat's output shares its
  inputs' bytes, which ``live_curve`` (one entry per tensor) would count twice; with
  ``concat: copy`` the two are the same.
* **Monotonicity**: cleanliness is not provably monotone in the size. A clean size ``C``
  normally has a plan placed offline that is the same at every larger size, *unless* a
  request refused at ``C`` without consequence (a prefetch skipped for lack of bytes, a
  weight block that had to come in chunks) is granted at a larger size and changes the
  walk, which then may pack above that size and fall back to the online placement, which
  may spill. The search is a binary search for the boundary between the bounds that
  keeps the invariant "``hi`` is clean" (``hi`` starts at ``H``, which is): the result
  is always clean, and the size one alignment step below it is not; a smaller clean size
  below a non-clean gap, if one exists, is not looked for.
"""

from __future__ import annotations

import dataclasses

from hwsim.errors import UserError
from hwsim.graph.ir import Graph
from hwsim.schedule.order import order_layers
from hwsim.schedule.plan import Plan
from hwsim.schedule.scheduler import schedule
from hwsim.schedule.storage import live_piece_peak
from hwsim.spec.model import AcceleratorSpec

UNLIMITED = 1 << 60


def with_sram(spec: AcceleratorSpec, size_bytes: int) -> AcceleratorSpec:
    return dataclasses.replace(spec, sram=dataclasses.replace(spec.sram, size_bytes=size_bytes))


def is_clean(plan: Plan) -> bool:
    """No spill traffic and no streamed layer."""
    spills = any(c.traffic in ("spill_write", "spill_read") for c in plan.commands)
    return not spills and not any(layer.streamed for layer in plan.layers)


def _clean_at(graph: Graph, spec: AcceleratorSpec, size_bytes: int) -> bool:
    try:
        return is_clean(schedule(graph, with_sram(spec, size_bytes)))
    except UserError:  # a layer that cannot run at all at this size
        return False


def zero_spill_sram(graph: Graph, spec: AcceleratorSpec) -> int:
    """The smallest clean SRAM size found by the search in the module docstring (the graph's
    layers in the order ``policy.order`` gives; its own bit-widths if it carries them)."""
    from hwsim.graph.widths import effective_spec

    spec = effective_spec(graph, spec)
    graph = order_layers(graph, spec).graph
    align = spec.sram.alignment_bytes
    hi = schedule(graph, with_sram(spec, UNLIMITED)).sram_peak_bytes
    hi = -(-hi // align) * align
    while not _clean_at(graph, spec, hi) and hi < UNLIMITED:  # see "Upper bound"
        hi *= 2
    lo = -(-live_piece_peak(graph, spec) // align) * align if spec.policy.execution == "layer" else align
    lo = min(max(lo, align), hi)
    if _clean_at(graph, spec, lo):
        return lo
    lo_steps, hi_steps = lo // align, hi // align  # lo is not clean, hi is
    while hi_steps - lo_steps > 1:
        mid = (lo_steps + hi_steps) // 2
        if _clean_at(graph, spec, mid * align):
            hi_steps = mid
        else:
            lo_steps = mid
    return hi_steps * align
