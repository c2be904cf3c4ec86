"""Array mappings (dataflows): the one registry of the words a mapping is written in, its
parser (read by the spec loader) and its cycle formula (read by ``hwsim.schedule.cost``).

A MAC op is a loop nest over four dimensions (:data:`ARRAY_DIMS`), repeated over its groups.
A **mapping** lays loop dimensions over the array's rows and over its columns; the other
dimensions are walked in time. YAML (``compute.array.mappings``, a list)::

    - name: conv                     # a label, shown per layer in the reports
      ops: [dense]                   # op classes it may run (OP_CLASSES); default dense
                                     # and depthwise
      rows_over: input_channels      # a dimension laid over all the rows, or
      cols_over: {output_pixels: 4, output_channels: 8}   # several, extents multiplying to at
                                     # most the side (the rest of it idle)
      steps: {kernel_taps: 4}        # optional: a dimension is padded to a multiple of n
                                     # (a 3x3 kernel's 9 taps take 3 steps of 4; 48 input
                                     # channels in steps of 32 take 64 rows' worth)
      cycles_per_step: 1             # optional (default 1): cycles one step of the array
                                     # takes (Ethos-U pooling: 4 at 8 bits, below)

``rows_over: none`` leaves the rows idle (a mapping that uses only the columns, as Ethos-U
runs a depthwise convolution). The legacy form ``rows_over: D1`` / ``cols_over: D2`` directly
under ``compute.array`` is the one mapping ``{name: D1 x D2, ops: [dense, depthwise]}``.

**Cycles** of one op under a mapping (each dimension first padded to its step, default 1;
a mapped one then divided by its extent, rounded up)::

    padded_d = ceil(dim_d / step_d) x step_d
    cycles = cycles_per_step x groups x prod over mapped d of ceil(padded_d / extent_d)
             x prod over walked d of padded_d

**Op classes**: ``dense`` (convolutions with more than one input channel per group, linear,
matmul, and transposed convolutions once lowered to a convolution), ``depthwise``
(convolutions with one input channel per group; their groups fold into the output
channels: C groups of one channel are one loop of C output channels, each reading its own
input channel, so a mapping over ``output_channels`` runs C channels side by side),
``pooling`` (max and average pooling with the window as kernel taps, and nearest
upsampling as a one-tap window: Ethos-U runs both on its MAC units, Vela
``_estimate_conv_cycles`` for ``NpuBlockType.Pooling``). A mapping may run an op only if the
op's class is among its ``ops``; the cost picks, per op, the legal mapping with the fewest
cycles (a compiler's choice), the first listed on a tie. Every spec needs a mapping for
``dense`` and ``depthwise``; pooling without one runs on the vector unit.

Sources: Ethos-U55/U65 (Arm, Vela 5.2 ``npu_performance._estimate_conv_cycles``): a 256-MAC
configuration computes a micro-block of 2 x 2 output pixels x 8 output channels from 8
input channels per cycle, and runs depthwise convolutions on the same MACs over 2 x 2 pixels
x 8 channels, one kernel tap at a time, the taps in steps of 4 (so 32 of its 256 MACs are
busy). Timeloop/Stream describe the same choice as a spatial unrolling per layer.

Pooling on Ethos-U (Vela 5.2's C++ core, regor, ``ethos_u55_performance.cpp``
``EstimateMacCyclesPerBlock``, the estimate its cycle figures come from; the Python
``npu_performance`` is its deprecated legacy core): ``max(4, taps) x micro-blocks x
(ifm bits / 2)`` cycles on every Ethos-U55/U65 but the 32-MAC U55, i.e. 16 cycles per 2 x 2 x 8
micro-block for an 8-bit window of up to 4 taps: 4x the depthwise rate. The presets write it
as ``steps: {kernel_taps: 4}`` with ``cycles_per_step: 4``, exact for windows of 1, 2, 4, 8 ...
taps; a 3x3 window takes 12 tap-steps where Vela counts max(4, 9) = 9 (hwsim 4/3 x Vela on
that op's array cycles).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Sequence

ARRAY_DIMS = ("input_channels", "output_channels", "output_pixels", "kernel_taps")
"""Loop dimensions a mapping lays over the array or walks in time.

``input_channels``: input channels of one group (1 for a depthwise convolution);
``output_channels``: output channels of one group (all channels of a depthwise convolution);
``output_pixels``: output height x width (x batch); ``kernel_taps``: kernel height x width.
"""
OP_CLASSES = ("dense", "depthwise", "pooling")
REQUIRED_CLASSES = ("dense", "depthwise")
IDLE = "none"
MAPPING_KEYS = ("name", "ops", "rows_over", "cols_over", "steps", "cycles_per_step")


@dataclass(frozen=True)
class ArrayMapping:
    """One dataflow: ``rows`` / ``cols`` are ``(dimension, extent)`` pairs whose extents
    multiply to the side (an empty tuple: the side is idle); ``steps`` the walked dimensions'
    granularities; ``ops`` the op classes it may run; ``cycles_per_step`` the cycles one step
    of the array takes."""

    name: str
    ops: tuple[str, ...]
    rows: tuple[tuple[str, int], ...]
    cols: tuple[tuple[str, int], ...]
    steps: tuple[tuple[str, int], ...] = ()
    cycles_per_step: int = 1

    def cycles(self, groups: int, dims: Mapping[str, int]) -> int:
        """Cycles of ``groups`` repetitions of the loop nest ``dims`` (the module formula)."""
        mapped = dict(self.rows + self.cols)
        step = dict(self.steps)
        total = groups * self.cycles_per_step
        for d in ARRAY_DIMS:
            s = step.get(d, 1)
            padded = -(-dims[d] // s) * s
            total *= -(-padded // mapped[d]) if d in mapped else padded
        return total

    def busy_macs(self) -> int:
        """MACs the mapping can keep busy (idle sides count none)."""
        return math.prod(e for _, e in self.rows) * math.prod(e for _, e in self.cols)


def legacy_mapping(rows: int, cols: int, rows_over: str, cols_over: str) -> ArrayMapping:
    """The one mapping of the legacy ``rows_over`` / ``cols_over`` keys (dense and depthwise
    ops; pooling stays on the vector unit, as before mappings were listed)."""
    return ArrayMapping(f"{rows_over} x {cols_over}", REQUIRED_CLASSES, ((rows_over, rows),), ((cols_over, cols),))


def _side(value: object, size: int | None, where: str, problems: list[str]) -> tuple[tuple[str, int], ...]:
    if value == IDLE:
        return ()
    if isinstance(value, str):
        if value not in ARRAY_DIMS:
            problems.append(f"{where}: unknown dimension {value!r}, expected one of {', '.join(ARRAY_DIMS)} or none")
            return ()
        return ((value, size or 1),)
    if isinstance(value, dict) and value:
        pairs = []
        for d, n in value.items():
            if d not in ARRAY_DIMS:
                problems.append(f"{where}: unknown dimension {d!r}, expected one of {', '.join(ARRAY_DIMS)}")
            elif isinstance(n, bool) or not isinstance(n, int) or n < 1:
                problems.append(f"{where}.{d}: must be a positive integer, got {n!r}")
            else:
                pairs.append((d, n))
        if size is not None and len(pairs) == len(value) and math.prod(n for _, n in pairs) > size:
            problems.append(f"{where}: extents multiply to {math.prod(n for _, n in pairs)}, more than the "
                            f"side's {size}")
        return tuple(sorted(pairs, key=lambda p: ARRAY_DIMS.index(p[0])))
    problems.append(f"{where}: expected a dimension, none, or a mapping of dimensions to extents")
    return ()


def parse_mappings(value: object, rows: int | None, cols: int | None, where: str,
                   problems: list[str]) -> tuple[ArrayMapping, ...]:
    """The mappings of ``compute.array.mappings`` (problems appended, naming ``where[i].key``)."""
    if not isinstance(value, list) or not value:
        problems.append(f"{where}: must be a non-empty list of mappings")
        return ()
    found: list[ArrayMapping] = []
    for i, entry in enumerate(value):
        at = f"{where}[{i}]"
        if not isinstance(entry, dict):
            problems.append(f"{at}: must be a mapping with keys {', '.join(MAPPING_KEYS)}")
            continue
        before = len(problems)
        for key in entry:
            if key not in MAPPING_KEYS:
                problems.append(f"{at}.{key}: unknown key, expected one of {', '.join(MAPPING_KEYS)}")
        for key in ("rows_over", "cols_over"):
            if key not in entry:
                problems.append(f"{at}.{key}: missing")
        ops = entry.get("ops", list(REQUIRED_CLASSES))
        if not isinstance(ops, list) or not ops or any(o not in OP_CLASSES for o in ops):
            problems.append(f"{at}.ops: must be a non-empty list of {', '.join(OP_CLASSES)}, got {ops!r}")
        r = _side(entry.get("rows_over", IDLE), rows, f"{at}.rows_over", problems)
        c = _side(entry.get("cols_over", IDLE), cols, f"{at}.cols_over", problems)
        steps = _side(entry.get("steps", {}) or IDLE, None, f"{at}.steps", problems)
        dims = [d for d, _ in r + c]
        if len(set(dims)) != len(dims):
            problems.append(f"{at}: a dimension is laid over the array twice ({', '.join(dims)})")
        extent = dict(r + c)
        for d, n in steps:
            if d in extent and n % extent[d]:
                problems.append(f"{at}.steps.{d}: a step of a mapped dimension must be a multiple of its extent "
                                f"{extent[d]}, got {n}")
        if not r and not c:
            problems.append(f"{at}: both sides idle")
        name = entry.get("name", f"mapping {i}")
        if not isinstance(name, str) or not name.strip():
            problems.append(f"{at}.name: must be a non-empty string")
        per_step = entry.get("cycles_per_step", 1)
        if isinstance(per_step, bool) or not isinstance(per_step, int) or not 1 <= per_step <= 1024:
            problems.append(f"{at}.cycles_per_step: must be an integer from 1 to 1024, got {per_step!r}")
        if len(problems) == before:
            found.append(ArrayMapping(name.strip(), tuple(ops), r, c, steps, per_step))
    names = [f.name for f in found]
    if len(set(names)) != len(names):
        problems.append(f"{where}: two mappings share a name ({', '.join(names)})")
    for cls in REQUIRED_CLASSES:
        if found and len(found) == len(value) and not any(cls in f.ops for f in found):
            problems.append(f"{where}: no mapping runs {cls} ops (list one with ops: [{cls}])")
    return tuple(found)


def mapping_to_dict(mp: ArrayMapping, rows: int, cols: int) -> dict:
    """The YAML-able mapping (loading it again gives an equal one). A side laid whole over one
    dimension is written as that dimension's name, so that it follows a new ``rows`` or
    ``cols`` (a sweep over the array's size)."""
    def side(pairs: Sequence[tuple[str, int]], size: int) -> object:
        if len(pairs) == 1 and pairs[0][1] == size:
            return pairs[0][0]
        return dict(pairs) if pairs else IDLE
    out = {"name": mp.name, "ops": list(mp.ops), "rows_over": side(mp.rows, rows), "cols_over": side(mp.cols, cols)}
    if mp.steps:
        out["steps"] = dict(mp.steps)
    if mp.cycles_per_step != 1:
        out["cycles_per_step"] = mp.cycles_per_step
    return out
