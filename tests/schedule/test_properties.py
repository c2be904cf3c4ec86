"""Invariants of the scheduler on random layered graphs and random accelerators (hypothesis)."""

from __future__ import annotations

import random

from hypothesis import HealthCheck, assume, example, given, settings, strategies as st

from hwsim.errors import UserError
from hwsim.graph.analysis import layer_io, live_curve, live_ranges, tensor_bytes
from hwsim.schedule.expand import expand
from hwsim.schedule import schedule, verify_plan, zero_spill_sram
from hwsim.schedule.cost import layer_cost
from hwsim.schedule.search import is_clean, live_piece_peak, with_sram
from tests.graph.handmade import Net
from tests.schedule.helpers import make_spec, traffic

SETTINGS = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
UNLIMITED = 1 << 40


def random_net(seed: int, most: int = 9) -> Net:
    """Convolutions (1x1, 3x3), pooling, upsampling, global pooling, additions and concats
    over earlier tensors of matching shapes (2 .. ``most`` of them); every tensor nobody reads
    is an output."""
    rng = random.Random(seed)
    size = rng.choice([2, 4, 8])
    net = Net(f"random{seed}").input("x", 1, rng.choice([1, 2, 3]), size, size)
    names = ["x"]
    for i in range(rng.randint(2, most)):
        name, src = f"t{i}", rng.choice(names)
        n, c, h, w = net.tensors[src]
        kind = rng.choice(["conv", "conv", "conv3", "pool", "up", "add", "cat", "gap"])
        same = [t for t in names if net.tensors[t] == net.tensors[src]]
        spatial = [t for t in names if net.tensors[t][2:] == net.tensors[src][2:]]
        if kind == "pool" and h >= 2 and h % 2 == 0:
            net.pool(name, src)
        elif kind == "up" and 1 < h <= 4:
            net.up(name, src)
        elif kind == "gap" and h > 1:
            net.gap(name, src)
        elif kind == "add":
            net.binary(name, "add", src, rng.choice(same))
        elif kind == "cat":
            net.cat(name, src, rng.choice(spatial))
        else:
            net.conv(name, src, rng.randint(1, 6), k=3 if kind == "conv3" else 1, bias=rng.random() < 0.5)
        names.append(name)
    return net


def build(seed: int, most: int = 9):
    net = random_net(seed, most)
    read = {i for op in net.ops for i in op["inputs"]}
    outputs = [op["name"] for op in net.ops if op["name"] not in read]
    return net.build(outputs)


@st.composite
def specs(draw, concat=None):
    weights = draw(st.sampled_from(["shared", "separate"]))
    return dict(
        align=draw(st.sampled_from([1, 16, 64])),
        weights=weights,
        weight_buffer=draw(st.sampled_from([64, 256, 4096])),
        spill=draw(st.sampled_from(["belady", "lru", "largest", "skip_first"])),
        prefetch=draw(st.sampled_from([0, 1, 2])),
        concat=concat or draw(st.sampled_from(["inplace", "copy"])),
        bits=draw(st.sampled_from([8, 8, 4, 16])),
    )


def plan_at(g, fields: dict, fraction: float):
    """The plan at ``fraction`` of the unlimited run's high-water mark (None if it cannot run:
    one tile does not fit, or the weight buffer cannot hold one output channel at any size)."""
    try:
        peak = schedule(g, make_spec(sram=UNLIMITED, **fields)).sram_peak_bytes
    except UserError:
        return None, make_spec(**fields)
    spec = make_spec(sram=max(16, int(peak * fraction)), **fields)
    try:
        return schedule(g, spec), spec
    except UserError:
        return None, spec


@SETTINGS
@given(st.integers(0, 10**9), specs(), st.floats(0.05, 1.2))
# a streamed layer whose first bands write no output rows: its first output tile came after the
# first tiles and did not wait directly for the free of what held its slot before (found by this test)
@example(2097152, {"align": 1, "weights": "shared", "weight_buffer": 64, "spill": "belady", "prefetch": 0,
                   "concat": "inplace", "bits": 8}, 0.5)
def test_every_plan_verifies(seed, fields, fraction):
    g = build(seed)
    plan, spec = plan_at(g, fields, fraction)
    assume(plan is not None)
    assert verify_plan(plan, spec, g) == []
    assert verify_plan(expand(plan), spec, g) == []  # and the per-tile commands of streamed layers
    assert plan.sram_peak_bytes <= spec.sram.size_bytes
    for layer in plan.layers:  # the tiles of a layer add up to its cost
        cycles = sum(c.cycles for c in plan.commands if c.kind in ("compute", "tiles") and c.layer == layer.index)
        assert cycles == layer.compute_cycles == layer_cost(g, layer.index, spec).cycles
    assert [t.name for t in plan.tensors] == list(live_ranges(g))


@SETTINGS
@given(st.integers(0, 10**9), specs())
def test_the_unlimited_high_water_mark_is_enough(seed, fields):
    """At the high-water mark of the unlimited run nothing spills or streams (the plan may differ:
    weights that do not fit beside what is live come in chunks of at most an eighth of the room,
    and the room is smaller there), and it moves the same DRAM bytes."""
    g = build(seed)
    try:
        unlimited = schedule(g, make_spec(sram=UNLIMITED, **fields))
    except UserError:  # a weight buffer too small for one output channel: no size helps
        assume(False)
    assert is_clean(unlimited)
    exact = schedule(g, make_spec(sram=unlimited.sram_peak_bytes, **fields))
    assert is_clean(exact)
    assert sum(c.dram_bytes for c in exact.commands) == sum(c.dram_bytes for c in unlimited.commands)


@SETTINGS
@given(st.integers(0, 10**9), specs(concat="copy"), st.floats(0.05, 1.0))
def test_spill_traffic_lower_bound(seed, fields, fraction):
    """spill + streamed bytes >= 2 x max_t (N(t) - S), with copy concatenation.

    N(t) is the live layer-written bytes at step t that are not graph outputs (``live_curve``
    minus the outputs live at t), S the SRAM size. Proof, at any step t:

    * If layer t runs whole, at the start of its compute its inputs and outputs are resident
      and everything resident occupies distinct buffers within S, so live tensors of at
      least L(t) - S bytes, and non-output ones of at least N(t) - S, are not resident.
      Each of them was produced before t (or it would be resident) and is read after t.
      Produced by a layer, it left SRAM only by being written to DRAM before t (a
      ``spill_write`` or a ``streamed_write``: only graph outputs are stored as
      ``output``), and it is read back after t in full (``spill_read`` / ``streamed_read``;
      every op generated here reads all rows of its input).
    * If layer t streams, its layer-written inputs were written to DRAM before t and are
      read in bands at t, its non-output results are written in bands and read back later,
      and the other live tensors are as above; the resident ones still fit in S.

    So every such byte is written once and read once. A graph output may cost no spill
    traffic at all (stored as ``output``, never read back), hence N(t) rather than L(t).
    With in-place concatenation L(t) counts a concat's inputs and its output, which share
    bytes, so the bound is stated for copy.
    """
    g = build(seed)
    plan, spec = plan_at(g, fields, fraction)
    assume(plan is not None)
    bits = spec.datatype.activation_bits
    live = live_curve(g, bits)
    ranges = live_ranges(g)
    for out in {g.root(o) for o in g.outputs}:
        for t in range(ranges[out].start, ranges[out].end + 1):
            live[t] -= tensor_bytes(ranges[out].elements, bits)
    excess = max(n - spec.sram.size_bytes for n in live)
    moved = traffic(plan)
    spilled = sum(moved.get(k, 0) for k in ("spill_write", "spill_read", "streamed_read", "streamed_write"))
    assert spilled >= 2 * excess


@SETTINGS
@given(st.integers(0, 10**9), specs(), st.floats(0.05, 1.2))
def test_weights_and_input_are_read(seed, fields, fraction):
    g = build(seed)
    plan, spec = plan_at(g, fields, fraction)
    assume(plan is not None)
    # biases (the third operand of a convolution or linear op) at bias_bits, the rest at weight_bits
    biases = {g.root(op.inputs[2]) for op in g.ops if op.kind in ("conv2d", "conv_transpose2d", "linear")
              and len(op.inputs) > 2}
    weights = sum(tensor_bytes(g.tensor[p].elements, spec.datatype.bias_bits if p in biases else spec.datatype.weight_bits)
                  for io in layer_io(g) for p in io.params)
    inputs = sum(tensor_bytes(g.tensor[x].elements, spec.datatype.activation_bits) for x in g.inputs)
    reads = sum(c.dram_bytes for c in expand(plan).commands if c.kind == "load")
    moved = traffic(plan)
    assert moved.get("weights", 0) >= weights
    assert moved.get("input", 0) >= inputs
    assert reads >= weights + inputs


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10**9), specs())
def test_zero_spill_sram_is_clean_and_tight(seed, fields):
    g = build(seed)
    spec = make_spec(**fields)
    try:
        found = zero_spill_sram(g, spec)
    except UserError:  # a weight buffer too small for one output channel: no size helps
        assume(False)
    align = spec.sram.alignment_bytes
    live = live_piece_peak(g, spec)
    assert found % align == 0 and found >= live
    if fields["concat"] == "copy":
        assert live == max(live_curve(g, spec.datatype.activation_bits))
    assert is_clean(schedule(g, with_sram(spec, found)))
    if found - align >= live:
        try:
            assert not is_clean(schedule(g, with_sram(spec, found - align)))
        except UserError:
            pass
