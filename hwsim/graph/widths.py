"""Bit-widths a graph carries from its file, and the datatype a run sizes its tensors with.

A quantised ONNX or TFLite file says how many bits it stores each tensor with (its front end
records it in ``Tensor.bits``). A run sizes tensors by role, as the spec's ``datatype`` does
(DESIGN.md, tensor bytes): every stored activation (the network inputs included) at one
width, every bias (:func:`~hwsim.graph.analysis.bias_params`) at one, every other parameter
at one. With ``datatype.widths: graph`` (the default) a graph that carries widths is run at
its own: :func:`effective_spec` puts them in the spec's ``datatype``, so a 16x8 TFLite file
is sized at 16-bit activations on an 8-bit preset, as its deployment stores them. With
``datatype.widths: spec`` (or any ``--set datatype.*_bits`` / sweep ``--bits``, which imply
it) the spec's widths apply.

Widths that differ within a role (a partly quantised ONNX file whose float islands store
32-bit activations next to 8-bit ones) cannot be run faithfully yet: the scheduler sizes a
role at one width. That is a user error naming the tensors, not a silent choice.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from typing import Mapping

from hwsim.errors import UserError
from hwsim.graph.ir import Graph

ROLES = ("activation", "weight", "bias")
ROLE_FIELDS = {"activation": "activation_bits", "weight": "weight_bits", "bias": "bias_bits"}
PLURAL = {"activation": "activations", "weight": "weights", "bias": "biases"}
SHOWN = 4  # tensors named per width in the mixed-widths error


def stored_roles(g: Graph) -> dict[str, str]:
    """Root tensor -> role ("activation", "weight" or "bias") of every tensor a run stores:
    the network inputs, every activation some layer writes, every parameter."""
    from hwsim.graph.analysis import bias_params, layer_io

    def build(g: Graph) -> dict[str, str]:
        written = {t for io in layer_io(g) for t in io.writes}
        biases = bias_params(g)
        roles = {}
        for t in g.tensors:
            if t.view_of is not None:
                continue
            if t.kind == "param":
                roles[t.name] = "bias" if t.name in biases else "weight"
            elif t.kind == "input" or t.name in written:
                roles[t.name] = "activation"
        return roles

    return g.memo("stored_roles", build)


def widths_by_role(g: Graph) -> dict[str, Counter]:
    """Role -> Counter(bits -> stored tensors) over the tensors that carry a width."""
    out: dict[str, Counter] = {}
    for name, role in stored_roles(g).items():
        bits = g.tensor[name].bits
        if bits is not None:
            out.setdefault(role, Counter())[bits] += 1
    return out


def carries_widths(g: Graph) -> bool:
    """Whether any tensor of ``g`` carries its own width (memoised per graph)."""
    return g.memo("carries_widths", lambda _: any(t.bits is not None for t in g.tensors))


def graph_widths(g: Graph) -> dict[str, int]:
    """The one width per role the graph's stored tensors carry (roles it leaves open are absent);
    UserError naming the tensors when a role's widths differ."""
    by_role, roles = widths_by_role(g), stored_roles(g)
    out = {}
    for role, counts in by_role.items():
        if len(counts) > 1:
            parts = []
            for bits, n in sorted(counts.items()):
                names = [t for t, r in roles.items() if r == role and g.tensor[t].bits == bits][:SHOWN]
                parts.append(f"{n} at {bits} bits ({', '.join(names)}{', ...' if n > SHOWN else ''})")
            raise UserError(f"its {role} tensors carry different bit-widths from their file: {'; '.join(parts)}; "
                            f"hwsim sizes every {role} alike: run it with --set datatype.widths=spec and "
                            f"--set datatype.{ROLE_FIELDS[role]}=N", f"graph {g.name!r}")
        (out[role],) = counts
    return out


def with_widths(g: Graph, bits: Mapping[str, int]) -> Graph:
    """``g`` with ``bits[name]`` on every root tensor named there (views take none)."""
    tensors = tuple(dataclasses.replace(t, bits=bits[t.name]) if t.view_of is None and t.name in bits else t
                    for t in g.tensors)
    return dataclasses.replace(g, tensors=tensors)


def effective_spec(g: Graph, spec):
    """The spec a run of ``g`` uses: ``spec`` itself, or with ``datatype.widths: graph`` and a
    graph that carries widths, ``spec`` with the graph's widths in its ``datatype``."""
    if spec.datatype.widths != "graph" or not carries_widths(g):
        return spec
    widths = graph_widths(g)
    changes = {ROLE_FIELDS[role]: bits for role, bits in widths.items()}
    datatype = dataclasses.replace(spec.datatype, **changes)
    return spec if datatype == spec.datatype else dataclasses.replace(spec, datatype=datatype)


def widths_note(g: Graph, spec) -> str:
    """One line for the report when the run's widths come from the graph ("" otherwise)."""
    if spec.datatype.widths != "graph" or not carries_widths(g):
        return ""
    widths = graph_widths(g)
    shown = ", ".join(f"{PLURAL[role]} {widths[role]}" for role in ROLES if role in widths)
    return (f"bit-widths from the graph's file (quantised): {shown} bits "
            "(datatype.widths=spec runs it at the spec's widths)")
