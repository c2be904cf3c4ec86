"""The verifier's checks of host ops (invariant 9 of ``verify.py``), from the plan's commands.

Like ``verify.py`` it shares no code with the scheduler (``host_run``): it reads the plan's
``hosts`` records and commands only, and the graph when given. For each host op:

* one ``host`` command at its step, of its cycles, reading and allocating no buffer;
* **inputs in DRAM before it**: each piece it reads is in DRAM from the start (a network
  input, and then the graph says so) or has a store of it (a ``store``, or the bands a
  streamed layer's ``tiles`` wrote), or an earlier host op that wrote it, among the host
  command's transitive deps;
* **outputs in DRAM after it**: no compute or ``tiles`` command ever allocates a buffer
  holding one of its outputs (the accelerator never computes them), and every load of one
  has the host command among its transitive deps;
* **a barrier**: every load, store, compute and ``tiles`` since the previous host command is
  among its transitive deps, and the first command of each engine after it (up to the next
  host command) has it among its transitive deps: the accelerator waits while the host runs;
* with the graph, it reads every piece of every tensor its layer reads.
"""

from __future__ import annotations

from typing import Callable

from hwsim.schedule.plan import Plan

_ENGINES = ("compute", "dma_read", "dma_write")


def check_hosts(plan: Plan, reaches: Callable[[int, int], bool], graph=None) -> list[str]:
    """Every problem of ``plan``'s host ops (``reaches(a, b)``: whether ``a`` is among ``b``'s
    transitive deps, the verifier's own search)."""
    cmds = plan.commands
    host_ids = [c.id for c in cmds if c.kind == "host"]
    by_layer = {cmds[i].layer: i for i in host_ids}
    problems = []
    if sorted(by_layer) != sorted(h.layer for h in plan.hosts) or len(by_layer) != len(host_ids):
        return [f"host commands at steps {sorted(by_layer)}, host ops at steps {[h.layer for h in plan.hosts]}"]
    stores: dict[str, list[int]] = {}
    for c in cmds:
        if c.kind == "store" and c.tensor is not None:
            stores.setdefault(c.tensor, []).append(c.id)
        for s in c.run.writes if c.kind == "tiles" else ():  # a streamed layer stores its bands
            stores.setdefault(s.tensor, []).append(c.id)
    written: dict[str, int] = {}  # host output piece -> its host command
    for h in sorted(plan.hosts, key=lambda h: by_layer[h.layer]):
        cid = by_layer[h.layer]
        c = cmds[cid]
        where = f"host op {h.name!r} (command {cid})"
        if c.cycles != h.cycles or c.reads or c.allocs or c.frees:
            problems.append(f"{where}: runs {c.cycles} cycles (its record says {h.cycles}) or touches buffers")
        for p in h.reads:
            if p in h.in_dram:
                continue
            sources = [s for s in stores.get(p, ()) if s < cid] + ([written[p]] if p in written else [])
            if not any(reaches(s, cid) for s in sources):
                problems.append(f"{where}: reads {p!r} from DRAM, but no store of it comes before")
        written.update(dict.fromkeys(h.writes, cid))
    problems += _outputs(plan, written, reaches) + _barriers(plan, host_ids, reaches)
    if graph is not None:
        problems += _against_graph(plan, graph)
    return problems


def _outputs(plan: Plan, written: dict[str, int], reaches) -> list[str]:
    problems = []
    for c in plan.commands:
        for b in c.allocs:
            piece = b.holds()
            if piece not in written:
                continue
            if c.kind in ("compute", "tiles"):
                problems.append(f"command {c.id} ({c.kind}) writes {piece!r}, which a host op computes")
            elif c.kind == "load" and not reaches(written[piece], c.id):
                problems.append(f"command {c.id} loads {piece!r} without following the host op that writes it")
    return problems


def _barriers(plan: Plan, host_ids: list[int], reaches) -> list[str]:
    cmds, problems = plan.commands, []
    for k, cid in enumerate(host_ids):
        before = host_ids[k - 1] + 1 if k else 0
        after = host_ids[k + 1] if k + 1 < len(host_ids) else len(cmds)
        late = [x for x in range(before, cid) if cmds[x].kind != "free" and not reaches(x, cid)]
        if late:
            problems.append(f"host command {cid} does not wait for command {late[0]} (the accelerator runs on)")
        for engine in _ENGINES:
            first = next((x for x in range(cid + 1, after)
                          if cmds[x].kind != "free" and (cmds[x].engine == engine or cmds[x].kind == "tiles")), None)
            if first is not None and not reaches(cid, first):
                problems.append(f"command {first} ({engine}) may start while host command {cid} runs")
    return problems


def _against_graph(plan: Plan, graph) -> list[str]:
    from hwsim.graph.analysis import layer_io

    aliases = {t: pieces for t, pieces, _ in plan.aliases}
    inputs = {graph.root(i) for i in graph.inputs}
    io = layer_io(graph)
    problems = []
    for h in plan.hosts:
        if graph.op[graph.layers[h.layer].ops[0]].kind != "host":
            problems.append(f"step {h.layer} ({h.name}) is not a host op's layer")
            continue
        wanted = {p for t in io[h.layer].reads for p in aliases.get(t, (t,))}
        if not wanted <= set(h.reads):
            problems.append(f"host op {h.name!r} does not read {sorted(wanted - set(h.reads))[:3]}")
        if not set(h.in_dram) <= inputs:
            problems.append(f"host op {h.name!r} takes {sorted(set(h.in_dram) - inputs)[:3]} as in DRAM from the "
                            "start, which are no network inputs")
    return problems
