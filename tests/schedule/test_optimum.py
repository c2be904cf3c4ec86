"""The spill optimum (``hwsim.schedule.optimum``): worked by hand, and never beaten by a policy."""

from __future__ import annotations

import itertools
from dataclasses import replace

from hypothesis import assume, given, settings, strategies as st

from hwsim.schedule import schedule, verify_plan
from hwsim.schedule.context import build_context
from hwsim.schedule.optimum import Gap, SpillProblem, local_margins, plan_spill_bytes, solve, spill_problem
from hwsim.schedule.scheduler import least_dram_bytes
from hwsim.spec import with_overrides
from hwsim.spec.model import SPILL_POLICIES
from tests.graph.handmade import Net
from tests.schedule.helpers import make_spec, traffic, two_waits
from tests.schedule.test_properties import SETTINGS, build, plan_at, specs


def test_two_waits_optimum_by_hand():
    # helpers.two_waits at 32 B: x 4 B, B 8, A 16, C 8, E 8, F 8 (1 B an element). L3 needs
    # C, B and E (24 B), so A (waiting from L1 to L4) cannot stay beside them: A goes out
    # (store 16 + reload 16) whatever else happens; with A out, B (8 B, L0 -> L3) fits beside
    # x and C at L2 (20 B), so it stays. Besides: the input load (4) and F drained (8).
    g = two_waits().build()
    spec = make_spec(sram=32)
    problem = spill_problem(build_context(g, spec))
    assert problem.forced_bytes == 4 + 8
    best = solve(problem)
    assert best.optimal and best.bytes == best.bound == 12 + 32
    kept = {gap.storage: keep for gap, keep in zip(problem.gaps, best.keep)}
    assert kept == {"B": True, "A": False}
    assert solve(problem, relax=True).bound <= best.bytes
    # the policies (test_scheduler.test_spill_policies_choose_different_victims): Belady and
    # largest evict A alone, the optimum; LRU evicts B, then A; placed online, Belady and
    # largest find no hole after evicting A and store E too
    moves = {"belady": 32, "largest": 32, "lru": 48, "skip_first": 32, "optimal": 32}
    for policy in SPILL_POLICIES:
        plan = schedule(g, make_spec(sram=32, spill=policy))
        assert plan_spill_bytes(plan) == 12 + moves[policy], policy
        assert plan_spill_bytes(schedule(g, make_spec(sram=32, spill=policy), online=True)) >= best.bytes


def test_enough_sram_leaves_nothing_to_decide():
    g = two_waits().build()
    problem = spill_problem(build_context(g, make_spec(sram=40)))  # A, B, C and E at L3
    best = solve(problem)
    assert best.bytes == best.bound == 12  # the input once, the output once


def two_residuals():
    """Two waits at different steps, every op a layer, every tensor 1x4x4 at 8 bits (16 B)::

        L0 a = conv(x)    L2 c = conv(b)       L4 e = conv(d)    L6 g = add(f, d) (output)
        L1 b = conv(a)    L3 d = add(c, a)     L5 f = conv(e)

    ``a`` waits across L2 (read at L1 and L3), ``d`` across L5 (read at L4 and L6)."""
    net = (Net("two_residuals").input("x", 1, 1, 4, 4).conv("a", "x", 1).conv("b", "a", 1).conv("c", "b", 1)
           .binary("d", "add", "c", "a").conv("e", "d", 1).conv("f", "e", 1).binary("g", "add", "f", "d"))
    return net.build(["g"], fuse="none")


def test_a_local_margin_moves_fewer_bytes_than_a_uniform_one():
    """``two_residuals`` at 48 B: each step touches two or three 16 B tensors (32 or 48 B);
    L2 holds b, c and the waiting a (48 B), L5 e, f and d (48 B): everything kept fits, so
    the optimum moves only the input load and the output drain, 32 B. Suppose the packing
    overshot by 16 B at L2 only. A uniform 16 B margin leaves room for nothing kept at L2
    and L5 (48 - 16 - 32 = 0): a and d both go, each a 16 B store and a 16 B reload, 32 +
    64 = 96 B. The local margin (``local_margins``: at L2, 48 - (48 - 16) = 16 B; nothing
    elsewhere) evicts a only: 32 + 32 = 64 B."""
    g = two_residuals()
    problem = spill_problem(build_context(g, make_spec(sram=48)))
    assert [len(problem.spans[t]) for t in range(7)] == [0, 0, 1, 0, 0, 1, 0]
    assert problem.forced_bytes == 32
    best = solve(problem)
    assert best.bytes == 32 and all(best.keep)
    uniform = solve(replace(problem, margin=16))
    assert uniform.bytes == 96 and not any(uniform.keep)
    margins = local_margins(problem, best, {2: 16})
    assert margins == (0, 0, 16, 0, 0, 0, 0)
    local = solve(replace(problem, margin=margins))
    assert local.bytes == 64
    assert {gap.storage: keep for gap, keep in zip(problem.gaps, local.keep)} == {"a": False, "d": True}


@SETTINGS
@given(st.integers(0, 10**9), specs(), st.floats(0.05, 1.0))
def test_the_default_policy_never_moves_more_than_belady(seed, fields, fraction):
    """Random graphs of up to 60 layers at a random fraction of their unlimited high-water
    mark: the default policy (the optimum's evictions, placed with margins where the packing
    needs them) moves no more DRAM bytes than Belady's evictions (``scheduler._walk`` keeps
    the better walk whenever the optimum's could not be placed as it is)."""
    g = build(seed, most=60)
    plan, spec = plan_at(g, fields, fraction)
    assume(plan is not None)
    size = spec.sram.size_bytes
    belady = schedule(g, make_spec(sram=size, **{**fields, "spill": "belady"}))
    optimal = schedule(g, make_spec(sram=size, **{**fields, "spill": "optimal"}))
    assert sum(traffic(optimal).values()) <= sum(traffic(belady).values())


@SETTINGS
@given(st.integers(0, 10**9), specs(), st.floats(0.05, 1.0))
def test_no_policy_beats_the_optimum(seed, fields, fraction):
    """Random graphs of up to 60 layers at a random fraction of their unlimited high-water mark:
    the LP bound <= the proven optimum <= what every policy's plan moves; and every plan
    moves at least ``least_dram_bytes`` in all (the bound the scheduler skips walks by)."""
    g = build(seed, most=60)
    plan, spec = plan_at(g, fields, fraction)
    assume(plan is not None)
    ctx = build_context(g, spec)
    problem = spill_problem(ctx)
    best = solve(problem, time_limit=20)
    assert best.optimal
    assert solve(problem, relax=True).bound <= best.bytes
    least = least_dram_bytes(ctx)
    plans = {fields["spill"]: plan}  # plan_at's, under the drawn policy
    for policy in SPILL_POLICIES:
        if policy not in plans:
            plans[policy] = schedule(g, make_spec(sram=spec.sram.size_bytes, **{**fields, "spill": policy}))
        assert plan_spill_bytes(plans[policy]) >= best.bytes, policy
        assert sum(traffic(plans[policy]).values()) >= least, policy
    assert verify_plan(plans["optimal"], spec, g) == []


def unet_at(monkeypatch, sram: int, **limits):
    """``graphs/unet.json`` (256x256) and ``edge_npu`` at ``sram`` bytes, layer by layer, with
    the packers' ``limits`` (``placement`` and ``exact_packing`` constants) set for the test."""
    from hwsim.graph.io import load_graph
    from hwsim.schedule import exact_packing, placement
    from hwsim.spec import load_spec, with_overrides

    for name, value in limits.items():
        monkeypatch.setattr(exact_packing if hasattr(exact_packing, name) else placement, name, value)
    return load_graph("graphs/unet.json"), with_overrides(load_spec("accelerators/edge_npu.yaml"),
                                                          {"sram.size": sram})


def test_the_default_policy_places_the_optimum_of_unet_where_greedy_packing_cannot(monkeypatch):
    """``unet`` at 256x256, layer by layer, at 4,065,536 B (a third of its zero-spill SRAM):
    the optimum's evictions leave at most 3,978,880 B resident in any step, but both greedy
    packings put them 4 MiB high (its 2 MiB skip splits the SRAM; test_placement has the
    pattern by hand). The exact packing fits them, so the default policy's plan moves the
    proven optimum, and no more than Belady's. The exact packer's clock limit (0.2 s, which a
    quiet machine meets) is raised so that a loaded test machine finds it too, and the
    perturbed restarts of the greedy (which fit them too: the next test) are switched off."""
    g, spec = unet_at(monkeypatch, 4065536, EXACT_SECONDS=30.0, PERTURBED_TRIES=0)
    plan = schedule(g, spec)
    assert plan.spill_bounds.optimal
    assert plan_spill_bytes(plan) == plan.spill_bounds.best_bytes
    belady = schedule(g, with_overrides(spec, {"policy.spill": "belady"}))
    assert plan_spill_bytes(belady) > plan_spill_bytes(plan)
    assert verify_plan(plan, spec, g) == []


def test_perturbed_restarts_place_the_optimum_of_unet_without_the_exact_packing(monkeypatch):
    """The same ``unet`` case with the exact packing switched off (so on any machine): the
    plain greedy packings overshoot (the test above), the perturbed restarts of the
    lowest-first greedy (``placement.pack_perturbed``, a fixed seed) fit the blocks within
    the 4,065,536 B (their busiest step holds 3,978,880 B), and the plan moves the proven
    optimum."""
    g, spec = unet_at(monkeypatch, 4065536, EXACT_BLOCKS=0)
    plan = schedule(g, spec)
    assert plan.spill_bounds.optimal
    assert plan_spill_bytes(plan) == plan.spill_bounds.best_bytes
    assert plan.sram_peak_bytes <= 4065536
    assert verify_plan(plan, spec, g) == []


def test_the_default_policy_places_the_optimum_of_unet_at_half_its_knee(monkeypatch):
    """``unet`` at 256x256, layer by layer, at 8,131,072 B (half its zero-spill SRAM): the
    optimum's 48 blocks need 7,962,304 B at their busiest step; the lowest-first and by-size
    packings need 8 MiB. Placing the longest-lived first fits them, with the exact packing
    switched off (so on any machine, however loaded), and the plan moves the proven optimum
    (which Belady's evictions miss by 95 %, docs/policy_gap.md)."""
    g, spec = unet_at(monkeypatch, 8131072, EXACT_BLOCKS=0)
    plan = schedule(g, spec)
    assert plan.spill_bounds.optimal
    assert plan_spill_bytes(plan) == plan.spill_bounds.best_bytes
    assert verify_plan(plan, spec, g) == []


def test_a_plan_says_when_the_exact_packing_stopped_at_its_limits(monkeypatch):
    """The same ``unet`` case with the exact packing given no time: HiGHS stops at its clock
    limit without a packing, so the plan (online placement, or Belady's evictions) is one a
    quicker machine would not make; the plan must say so, since nothing else marks it."""
    g, spec = unet_at(monkeypatch, 4065536, EXACT_SECONDS=1e-6, PERTURBED_TRIES=0)
    plan = schedule(g, spec)
    assert plan_spill_bytes(plan) > plan.spill_bounds.best_bytes  # the optimum was not placed
    assert any(n.startswith("placement: the exact packing stopped at its limits") for n in plan.notes)


@given(st.data())
@settings(max_examples=60, deadline=None)
def test_the_optimum_is_the_least_traffic_over_every_keep_choice(data):
    # An independent counter: random spill programs of up to 9 gaps, every keep vector tried
    # (a charge is paid unless all its gaps are kept; a kept gap holds its bytes at every step
    # it spans). solve() hands the solver only the gaps spanning a step they could overfill:
    # its least must still be the least of all 2^gaps choices, its keep one that reaches it.
    steps = data.draw(st.integers(3, 8))
    gaps = tuple(Gap(f"s{i}", a, a + data.draw(st.integers(2, steps - a)), data.draw(st.integers(1, 9)))
                 for i, a in enumerate(data.draw(st.lists(st.integers(0, steps - 3), min_size=1, max_size=9))))
    spans = tuple(tuple(i for i, g in enumerate(gaps) if g.after < t < g.before) for t in range(steps))
    required = tuple(data.draw(st.integers(0, 6)) for _ in range(steps))
    charges = tuple((data.draw(st.integers(1, 20)),
                     tuple(data.draw(st.lists(st.integers(0, len(gaps) - 1), min_size=1, max_size=3, unique=True))))
                    for _ in range(data.draw(st.integers(0, 6))))
    problem = SpillProblem(gaps, required, spans, data.draw(st.integers(8, 30)), charges, 5, ())
    least = None
    for keep in itertools.product((False, True), repeat=len(gaps)):
        if all(problem.resident(t, keep) <= problem.capacity for t in range(steps) if spans[t]):
            paid = 5 + sum(n for n, gs in charges if not all(keep[i] for i in gs))
            least = paid if least is None else min(least, paid)
    assume(least is not None)  # some step cannot hold what it requires
    # both ways of solving: every keep vector of the gaps left (the default at 9 or fewer), and
    # the integer program (exhaustive=0)
    for best in (solve(problem), solve(problem, exhaustive=0)):
        assert best.optimal and best.bytes == least
        assert all(problem.resident(t, best.keep) <= problem.capacity for t in range(steps) if spans[t])
        assert 5 + sum(n for n, gs in charges if not all(best.keep[i] for i in gs)) == least
    assert solve(problem, relax=True).bound <= least
