"""The sweep grid: axes from a grid file and the command line, and the points they span.

A grid file (``--grid grid.yaml``) names axes by spec field (dotted path, as ``--set``
takes them) or ``input``, and fixed settings::

    axes:
      sram.size: 128KiB:8MiB:x2          # a range (see hwsim.sweep.axes) ...
      dram.bandwidth: [4 GB/s, 8 GB/s]   # ... or a YAML list, or a comma list
      policy.spill: belady,lru
      input: [128, 256]                  # input resolution of zoo models
    set:                                 # like --set KEY=VALUE
      dram.latency: 200 ns

Every combination of the axes runs for every graph. Axis order: ``input`` first, then the
grid file's axes in file order, then ``--sram``, ``--bandwidth``, ``--bits``, ``--execution``. A field may
be an axis once, and not also fixed by ``set`` / ``--set``.

A sweep has at most :data:`DEFAULT_MAX_POINTS` points (graphs x the values of every axis)
unless ``--max-points`` says more: :func:`check_size` counts them from the axes' lengths,
before any point is made. A grid file is read like a spec (``yaml_io``: safe, aliases limited).
"""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

from hwsim.errors import UserError
from hwsim.spec.yaml_io import read_yaml
from hwsim.sweep.axes import INPUT_AXIS, Axis, AxisPlan, check_name, plan_axis, spec_value

GRID_KEYS = ("axes", "set")
DEFAULT_MAX_POINTS = 10_000


@dataclass(frozen=True)
class Point:
    """One run of a sweep: a graph (by label) and one value of every axis."""

    graph: str
    values: tuple[tuple[str, str], ...]  # (axis name, canonical value text), in axis order

    @property
    def key(self) -> str:
        """A stable identity (progress.jsonl ``tag``): the graph and the axis values as JSON."""
        return json.dumps([self.graph, [list(v) for v in self.values]], separators=(",", ":"))

    @property
    def input(self) -> str | None:
        return dict(self.values).get(INPUT_AXIS)

    def spec_changes(self) -> dict[str, object]:
        """The spec fields this point sets, as ``with_overrides`` takes them."""
        return {name: spec_value(name, text) for name, text in self.values if name != INPUT_AXIS}


@dataclass(frozen=True)
class Grid:
    axes: tuple[Axis, ...]
    overrides: tuple[str, ...]  # KEY=VALUE strings: the grid file's ``set`` then ``--set``

    def points(self, graphs: Sequence[str]) -> list[Point]:
        """Every graph x every combination of axis values, in grid order."""
        names = [axis.name for axis in self.axes]
        combos = list(itertools.product(*(axis.values for axis in self.axes)))
        return [Point(g, tuple(zip(names, combo))) for g in graphs for combo in combos]

    def order(self, point: Point, graphs: Sequence[str]) -> tuple[int, ...]:
        """Sort key of a point: graph position, then the position of each axis value."""
        positions = [axis.values.index(text) for axis, (_, text) in zip(self.axes, point.values)]
        return (list(graphs).index(point.graph), *positions)


def check_size(axes: Sequence[Axis | AxisPlan], graphs: int, limit: int) -> None:
    """Raise a UserError if ``graphs`` graphs times ``axes`` make more than ``limit`` points
    (counted from each axis's count: a plan's values need not be written out)."""
    total = graphs * math.prod(a.count for a in axes)
    if total > limit:
        factors = " x ".join([f"{graphs} graph{'s' * (graphs != 1)}"] + [f"{a.count:,} {a.name}" for a in axes])
        raise UserError(f"{total:,} points ({factors}), more than {limit:,}; narrow the axes "
                        "or raise the limit with --max-points", "sweep")


def _file_axes(data: Mapping, where: str) -> list[AxisPlan]:
    axes = data.get("axes") or {}
    if not isinstance(axes, dict):
        raise UserError("'axes' must be a mapping of field: values", where)
    return [plan_axis(values, str(name), f"{where}: axes.{name}") for name, values in axes.items()]


def _file_overrides(data: Mapping, where: str) -> list[str]:
    fixed = data.get("set") or {}
    if not isinstance(fixed, dict):
        raise UserError("'set' must be a mapping of field: value", where)
    for name in fixed:
        check_name(str(name), f"{where}: set")
    return [f"{name}={value}" for name, value in fixed.items()]


def load_grid_file(path: str | Path) -> tuple[list[AxisPlan], list[str]]:
    """The axes (planned: counted, not yet written out) and fixed ``KEY=VALUE`` settings of a grid file."""
    where = str(path)
    data, problems = read_yaml(Path(path), where, "a grid YAML file")
    if problems:
        raise UserError("; ".join(problems), where)
    if data is None:
        return [], []
    if not isinstance(data, dict):
        raise UserError(f"expected a mapping with keys {', '.join(GRID_KEYS)}", where)
    unknown = [str(k) for k in data if k not in GRID_KEYS]
    if unknown:
        raise UserError(f"unknown key(s) {', '.join(unknown)}; a grid file has {', '.join(GRID_KEYS)}", where)
    return _file_axes(data, where), _file_overrides(data, where)


def build_grid(file_axes: Sequence[Axis | AxisPlan], flag_axes: Sequence[tuple[str, Axis | AxisPlan]],
               overrides: Sequence[str]) -> Grid:
    """Merge the grid file's axes with the flags' (``(flag, axis)`` pairs); no field twice.
    Planned axes are written out here (after :func:`check_size` has counted them)."""
    seen: dict[str, str] = {}
    for where, axis in [("the grid file", a) for a in file_axes] + list(flag_axes):
        if axis.name in seen:
            raise UserError(f"{axis.name} is swept twice (also by {seen[axis.name]})", where)
        seen[axis.name] = where
    for text in overrides:
        key = text.partition("=")[0].strip()
        if key in seen:
            raise UserError(f"{key} is both fixed ({text!r}) and swept (by {seen[key]})", "--set")
    axes = [a for a in file_axes if a.name == INPUT_AXIS] + [a for a in file_axes if a.name != INPUT_AXIS]
    return Grid(tuple(a.axis() for a in axes + [a for _, a in flag_axes]), tuple(overrides))
