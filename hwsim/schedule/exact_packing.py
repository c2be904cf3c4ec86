"""The exact packing of offline placement (``placement``): an integer program for the dynamic
storage allocation problem, tried on few blocks when every greedy packing overshoots the SRAM."""

from __future__ import annotations

from typing import Sequence

EXACT_NODES = 1000  # branch-and-bound nodes it may take (a limit independent of the machine) ...
EXACT_SECONDS = 0.2  # ... and seconds (a root node can take long on an instance that does not fit)


def pack_exact(blocks: Sequence[tuple[int, int, int]], capacity: int,
               alignment: int = 1) -> tuple[list[int], int] | None:
    """:func:`exact_packing`'s packing, or None (none exists, or none found within its limits)."""
    return exact_packing(blocks, capacity, alignment)[0]


def exact_packing(blocks: Sequence[tuple[int, int, int]], capacity: int,
                  alignment: int = 1) -> tuple[tuple[list[int], int] | None, bool]:
    """(Addresses of ``(first step, last step, bytes)`` blocks that fit in ``capacity``, found by
    an integer program (SciPy ``milp``, HiGHS), and their peak; None if it finds none within
    ``EXACT_NODES`` nodes and ``EXACT_SECONDS``), and whether the solver stopped at one of
    those limits without a packing: then another run, on a faster or less loaded machine,
    may find one (HiGHS has no limit on its work that does not depend on the clock: a node
    limit does not bound the root node's cuts and sub-MIPs). The dynamic storage allocation problem as a disjunctive program:
    for every two blocks that share a step, a binary says which one lies below the other
    (``x_i + size_i <= x_j``, or the reverse, with the capacity as big-M), addresses are
    continuous in ``[0, capacity - size]``; any feasible point will do. The addresses
    returned are not the solver's but the lowest that keep its above/below choices (the
    longest path in their order), so they are exact multiples of the alignment when the
    sizes are. The greedy packings fail where a chain of short blocks must sit on alternate
    sides of a long one (a U-Net's skip): this finds such arrangements when they exist."""
    import numpy as np
    from scipy.optimize import Bounds, LinearConstraint, milp
    from scipy.sparse import coo_matrix

    unit = max(1, alignment) if all(n % max(1, alignment) == 0 for _, _, n in blocks) else 1
    room, sizes = capacity // unit, [n // unit for _, _, n in blocks]
    if any(n > room for n in sizes):
        return None, False
    pairs, active = [], []
    for i in sorted(range(len(blocks)), key=lambda i: blocks[i][0]):
        active = [j for j in active if blocks[j][1] >= blocks[i][0]]
        pairs += [(j, i) for j in active]
        active.append(i)
    n, m = len(blocks), len(pairs)
    rows, cols, vals, hi = [], [], [], []
    for k, (i, j) in enumerate(pairs):  # z_k = 1: i below j; 0: j below i
        rows += [2 * k] * 3 + [2 * k + 1] * 3
        cols += [i, j, n + k, j, i, n + k]
        vals += [1, -1, room, 1, -1, -room]
        hi += [room - sizes[i], -sizes[j]]
    constraints = [LinearConstraint(coo_matrix((vals, (rows, cols)), shape=(2 * m, n + m)), -np.inf, hi)] \
        if m else []
    # of two equal blocks (same steps and bytes) the first goes below: one of two mirror images
    same = [1.0 if blocks[i] == blocks[j] else 0.0 for i, j in pairs]
    result = milp(np.zeros(n + m), constraints=constraints,
                  bounds=Bounds(np.array([0.0] * n + same), np.array([room - s for s in sizes] + [1] * m, dtype=float)),
                  integrality=np.array([0] * n + [1] * m),
                  options={"node_limit": EXACT_NODES, "time_limit": EXACT_SECONDS, "presolve": True,
                           "disp": False})
    if result.x is None:
        return None, result.status == 1  # 1: a limit reached; 2: proven infeasible
    below: list[list[int]] = [[] for _ in range(n)]
    for k, (i, j) in enumerate(pairs):
        if result.x[n + k] > 0.5:
            below[j].append(i)
        else:
            below[i].append(j)
    addresses: list[int | None] = [None] * n
    for root in range(n):  # longest paths, iteratively
        stack = [root]
        while stack:
            v = stack[-1]
            if addresses[v] is not None:
                stack.pop()
                continue
            waiting = [u for u in below[v] if addresses[u] is None]
            if waiting:
                stack += waiting
                continue
            addresses[v] = max((addresses[u] + sizes[u] for u in below[v]), default=0)
            stack.pop()
    peak = max((a + s for a, s in zip(addresses, sizes)), default=0)
    if peak > room:
        return None, False
    return ([a * unit for a in addresses], peak * unit), False
