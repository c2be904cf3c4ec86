"""Host ops (``--fallback host``) on random layered graphs (hypothesis): every plan verifies,
the simulation's own checks hold, and the bounds hold with the host time in them."""

from __future__ import annotations

import dataclasses
import math
import random

from hypothesis import HealthCheck, assume, example, given, settings, strategies as st

from hwsim.errors import UserError
from hwsim.graph.host import host_attrs
from hwsim.measure import measure
from hwsim.schedule import schedule, verify_plan
from hwsim.schedule.expand import expand
from hwsim.sim import simulate
from hwsim.spec.model import HostSpec
from tests.schedule.helpers import make_spec
from tests.schedule.test_properties import random_net


def with_a_host_op(seed: int):
    """A random layered graph (``test_properties.random_net``) with one of its ops made a host op:
    the same activations in, the same shape out."""
    n = random_net(seed)
    op = n.ops[random.Random(seed).randrange(len(n.ops))]
    shape = n.tensors[op["name"]]
    ins = [x for x in op["inputs"] if n.kinds[x] != "param"]
    op.update(kind="host", inputs=ins, attrs=host_attrs("test.op", "torch", op["name"], [shape], math.prod(shape),
                                                         "elements"))
    n.tensors = {k: v for k, v in n.tensors.items() if n.kinds[k] != "param" or any(k in o["inputs"] for o in n.ops)}
    read = {i for o in n.ops for i in o["inputs"]}
    return n.build([o["name"] for o in n.ops if o["name"] not in read])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 10**9), st.sampled_from([64, 256, 1024, 4096, 1 << 20]), st.sampled_from(["layer", "cascade"]),
       st.sampled_from(["inplace", "copy"]))
# a streamed layer after the host op that loads nothing: its tiles, written out, left the read
# engine's next load free to start while the host ran (found by this test)
@example(362879, 64, "layer", "inplace")
def test_random_graphs_with_a_host_op_verify_and_simulate(seed, sram, execution, concat):
    g = with_a_host_op(seed)
    spec = dataclasses.replace(make_spec(sram=sram, execution=execution, concat=concat, align=16),
                               host=HostSpec(None, None, 2e-6))
    try:
        plan = schedule(g, spec)
    except UserError:  # one tile does not fit this SRAM
        assume(False)
    assert verify_plan(plan, spec, g) == []
    assert verify_plan(expand(plan), spec, g) == []
    m = measure(simulate(plan, spec), plan, spec, g)  # raises when the trace contradicts itself
    assert [h.cycles for h in m.hosts] == [2_000]
    assert m.latency_cycles >= m.bounds.roofline_cycles
    assert m.dram_bytes >= m.bounds.floor_dram_bytes
