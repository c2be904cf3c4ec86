"""ATen converters that expand into several IR ops: ``scaled_dot_product_attention`` and ``einsum``.

Scaled dot-product attention is written as its definition, as torch's math back end computes
it: ``softmax(Q K^T * scale + mask) V``, i.e. a ``permute`` of K, a ``matmul``, a ``mul`` by
the scale (``1/sqrt(E)`` unless given), the mask (a float mask is added; a boolean one
selects ``-inf`` through a ``where``), a ``softmax`` over the keys and a second ``matmul``.
Its MACs are the two matrix products', as ``FlopCounterMode`` counts SDPA
(``L*S*E + L*S*Ev`` per batch and head). The scores matrix (L x S per head) is a real
tensor here, as on an accelerator without a fused attention unit (Vela lowers attention the
same way, as BATCH_MATMUL + SOFTMAX); a flash-attention kernel that never stores it would
need less SRAM than hwsim reports. ``is_causal`` and dropout are refused (the causal mask
is not a value the graph can hold yet).

``einsum`` with one operand is a ``sum`` over the dropped indices and a ``permute``; with two,
the classic lowering to one batched matrix product (as torch's own ``einsum`` and
opt_einsum do): indices in both operands and the output are batch, in both but not the
output contracted, in one operand and the output free; an index only in one operand is
summed first. Each operand is permuted to (batch, free, contracted) and viewed as 3-D, one
``matmul`` computes (batch, free A, free B), which is viewed back and permuted to the
output's order. Without a contracted index the product is element-wise: a broadcasting
``mul``. MACs: batch x free A x free B x contracted, FlopCounterMode's count of the ``bmm``
torch runs. Three or more operands, repeated indices (diagonals) and broadcasting of
size-1 indices are refused.
"""

from __future__ import annotations

import math

from hwsim.extract.aten_table import Node, Unsupported, register_aten_op
from hwsim.extract.builder import GraphBuilder


def _permute(b: GraphBuilder, name: str, x: str, dims: list[int], module: str) -> str:
    if dims == sorted(dims):
        return x
    shape = b.tensors[x].shape
    return b.emit(name, "permute", [x], {"dims": dims}, module, [tuple(shape[d] for d in dims)])[0]


@register_aten_op("aten.scaled_dot_product_attention.default")
def sdpa(b: GraphBuilder, n: Node) -> None:
    a = n.args
    q, k, v, mask = a["query"], a["key"], a["value"], a.get("attn_mask")
    if a.get("is_causal"):
        raise Unsupported("is_causal=True (pass an explicit attn_mask)")
    if a.get("dropout_p"):
        raise Unsupported("dropout_p > 0")
    qs, ks = b.tensors[q].shape, b.tensors[k].shape
    if a.get("enable_gqa") and qs[:-2] != ks[:-2]:
        raise Unsupported("grouped-query attention (enable_gqa) with fewer key heads")
    rank = len(ks)
    kt = _permute(b, f"{n.name}/kt", k, list(range(rank - 2)) + [rank - 1, rank - 2], n.module)
    scores_shape = tuple(max(x, y) for x, y in zip(qs[:-2], ks[:-2])) + (qs[-2], ks[-2])
    scores = b.emit(f"{n.name}/scores", "matmul", [q, kt], {}, n.module, [scores_shape])[0]
    scale = a.get("scale")
    scale = 1.0 / math.sqrt(qs[-1]) if scale is None else float(scale)
    scores = b.emit(f"{n.name}/scaled", "mul", [scores], {"scalar": scale}, n.module, [scores_shape])[0]
    if mask is not None:
        if b.root(mask) in b.booleans:
            scores = b.emit(f"{n.name}/masked", "where", [mask, scores], {"scalar_y": -math.inf}, n.module,
                            [scores_shape])[0]
        else:
            scores = b.emit(f"{n.name}/masked", "add", [scores, mask], {}, n.module, [scores_shape])[0]
    probs = b.emit(f"{n.name}/probs", "softmax", [scores], {"dim": -1}, n.module, [scores_shape])[0]
    b.value_of[n.name] = b.emit(n.name, "matmul", [probs, v], {}, n.module, n.out_shapes[:1])[0]


def _parse(equation: str, ranks: list[int]) -> tuple[list[str], str]:
    """Operand index strings and the output's, '...' expanded to capital letters (right-aligned)."""
    eq = equation.replace(" ", "")
    lhs, arrow, out = eq.partition("->")
    specs = lhs.split(",")
    if len(specs) != len(ranks):
        raise Unsupported(f"einsum {equation!r}: {len(specs)} operand specs for {len(ranks)} tensors")
    spare = "ZYXWVUTSRQPONMLKJIHGFEDCBA"
    width = 0
    expanded = []
    for spec, rank in zip(specs, ranks):
        if "..." in spec:
            k = rank - (len(spec) - 3)
            width = max(width, k)
            spec = spec.replace("...", spare[:k][::-1] if k else "")
        if len(spec) != rank:
            raise Unsupported(f"einsum {equation!r}: spec {spec!r} does not fit a rank-{rank} tensor")
        expanded.append(spec)
    if not arrow:  # implicit output: indices seen once, sorted (torch's rule), ellipsis first
        letters = "".join(expanded)
        out = "..." + "".join(sorted(c for c in set(letters) if letters.count(c) == 1 and c.islower()))
    out = out.replace("...", spare[:width][::-1])
    for s in expanded + [out]:
        if len(set(s)) != len(s):
            raise Unsupported(f"einsum {equation!r}: an index repeated within one operand (a diagonal)")
    return expanded, out


def _sum_out(b: GraphBuilder, name: str, x: str, spec: str, keep: str, module: str) -> tuple[str, str]:
    """``x`` summed over the indices of ``spec`` not in ``keep``."""
    drop = [i for i, c in enumerate(spec) if c not in keep]
    if not drop:
        return x, spec
    shape = b.tensors[x].shape
    out = tuple(d for i, d in enumerate(shape) if i not in drop)
    summed = b.emit(name, "sum", [x], {"dims": drop, "keepdim": False}, module, [out or (1,)])[0]
    return summed, "".join(c for c in spec if c in keep)


@register_aten_op("aten.einsum.default")
def einsum(b: GraphBuilder, n: Node) -> None:
    operands = list(n.args["tensors"])
    if len(operands) not in (1, 2):
        raise Unsupported("einsum of three or more operands (write it as pairs)")
    specs, out = _parse(n.args["equation"], [len(b.tensors[t].shape) for t in operands])
    size: dict[str, int] = {}
    for t, spec in zip(operands, specs):
        for c, d in zip(spec, b.tensors[t].shape):
            if size.setdefault(c, d) != d:
                raise Unsupported(f"einsum index {c!r} of sizes {size[c]} and {d} (broadcasting)")
    if len(operands) == 1:
        x, spec = _sum_out(b, f"{n.name}/sum", operands[0], specs[0], out, n.module)
        perm = [spec.index(c) for c in out]
        if perm != sorted(perm):
            x = b.emit(n.name, "permute", [x], {"dims": perm}, n.module, [n.out_shapes[0]])[0]
        b.value_of[n.name] = b.view(f"{n.name}/view", x, n.out_shapes[0])
        return
    (x, sa), (y, sb) = (_sum_out(b, f"{n.name}/sum{i}", t, s, set(out) | set(other), n.module)
                        for i, (t, s, other) in enumerate(zip(operands, specs, specs[::-1])))
    batch = [c for c in out if c in sa and c in sb]
    contracted = [c for c in sa if c in sb and c not in out]
    free_a = [c for c in out if c in sa and c not in sb]
    free_b = [c for c in out if c in sb and c not in sa]
    order = batch + free_a + free_b
    perm = [order.index(c) for c in out]
    last = n.name if perm == sorted(perm) else f"{n.name}/product"
    prod = lambda cs: math.prod(size[c] for c in cs)  # noqa: E731
    if not contracted:  # element-wise product, broadcast over the free indices
        xa = _permute(b, f"{n.name}/a", x, [sa.index(c) for c in batch + free_a], n.module)
        xb = _permute(b, f"{n.name}/b", y, [sb.index(c) for c in batch + free_b], n.module)
        xa = b.view(f"{n.name}/a_view", xa, [size[c] for c in batch + free_a] + [1] * len(free_b))
        xb = b.view(f"{n.name}/b_view", xb, [size[c] for c in batch] + [1] * len(free_a) + [size[c] for c in free_b])
        product = b.emit(last, "mul", [xa, xb], {}, n.module, [tuple(size[c] for c in order) or (1,)])[0]
    else:
        xa = _permute(b, f"{n.name}/a", x, [sa.index(c) for c in batch + free_a + contracted], n.module)
        xb = _permute(b, f"{n.name}/b", y, [sb.index(c) for c in batch + contracted + free_b], n.module)
        xa = b.view(f"{n.name}/a_view", xa, (prod(batch), prod(free_a), prod(contracted)))
        xb = b.view(f"{n.name}/b_view", xb, (prod(batch), prod(contracted), prod(free_b)))
        mm = b.emit(last, "matmul", [xa, xb], {}, n.module, [(prod(batch), prod(free_a), prod(free_b))])[0]
        product = b.view(f"{n.name}/mm_view", mm, tuple(size[c] for c in order) or (1,))
    if last != n.name:
        shape = b.tensors[product].shape
        product = b.emit(n.name, "permute", [product], {"dims": perm}, n.module,
                         [tuple(shape[d] for d in perm)])[0]
    b.value_of[n.name] = b.view(f"{n.name}/view", product, n.out_shapes[0])
