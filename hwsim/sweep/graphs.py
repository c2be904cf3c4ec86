"""The graphs of a sweep: graph files, or zoo models extracted at each value of the ``input`` axis.

A GRAPH argument is a graph JSON file (``graphs/nafnet.json``) or a zoo model name
(``nafnet``). Its label in results is the graph's name; two graphs may not share one.

With an ``input`` axis every graph is re-extracted from its zoo model at each input size
(a file stands for the zoo model of its name, with its batch and channels), so the zoo
model must exist and torch must be installed. Extracted graphs are cached in
``DIR/graphs/MODEL_NxCxHxW.json`` (delete them to re-extract). A zoo name without an input
axis is extracted at 1x3x256x256, the size of the committed zoo graphs.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from hwsim.errors import UserError
from hwsim.graph.io import graph_to_json, load_graph, write_graph
from hwsim.graph.ir import Graph
from hwsim.sweep.axes import Axis

DEFAULT_SHAPE = (1, 3, 256, 256)
CACHE_DIR = "graphs"


@dataclass(frozen=True)
class SweepGraphs:
    labels: tuple[str, ...]  # graph labels in argument order
    graphs: dict[str, Graph]  # by graph id (graph_id)
    digests: dict[str, str]  # sha256 of each graph's JSON, by graph id


def graph_id(label: str, input_text: str | None) -> str:
    return label if input_text is None else f"{label}@{input_text}"


def input_shape(text: str, base: tuple[int, ...]) -> tuple[int, ...]:
    """``'128x192'`` -> base's batch and channels with 128 x 192; a 4-D text as it is."""
    dims = tuple(int(d) for d in text.split("x"))
    return dims if len(dims) == 4 else (*base[:2], *dims)


def _zoo_models() -> dict:
    from hwsim.zoo import MODELS

    return MODELS


def _extracted(model: str, shape: tuple[int, ...], fuse: str, cache: Path,
               note: Callable[[str], None]) -> Graph:
    path = cache / f"{model}_{'x'.join(map(str, shape))}.json"
    if path.exists():
        return load_graph(path)
    from hwsim.extract import extract_model

    note(f"extracting {model} at {'x'.join(map(str, shape))} into {path}")
    graph = extract_model(model, shape, fuse)
    cache.mkdir(parents=True, exist_ok=True)
    write_graph(graph, path)
    return graph


def _source(arg: str) -> tuple[Graph | None, str]:
    """The graph of a file argument (or None for a zoo name) and the model it stands for."""
    if Path(arg).is_file():
        graph = load_graph(arg)
        return graph, graph.name
    if arg in _zoo_models():
        return None, arg
    if arg.endswith(".json") or "/" in arg:
        load_graph(arg)  # raises the loader's own error (no such file, ...)
    raise UserError(f"no such graph file or zoo model (zoo: {', '.join(sorted(_zoo_models()))})", arg)


def _versions(arg: str, inputs: Axis | None, cache: Path,
              note: Callable[[str], None]) -> tuple[str, dict[str | None, Graph]]:
    graph, model = _source(arg)
    if inputs is None:
        return model, {None: graph or _extracted(model, DEFAULT_SHAPE, "elementwise", cache, note)}
    if model not in _zoo_models():
        raise UserError(f"graph {model!r} is not a zoo model, so the input axis cannot re-extract it", arg)
    from hwsim.extract.resolve import check_input_size

    base = graph.tensor[graph.inputs[0]].shape if graph is not None else DEFAULT_SHAPE
    fuse = graph.fuse if graph is not None else "elementwise"
    shapes = {text: input_shape(text, base) for text in inputs.values}
    for text, shape in shapes.items():  # every one before extracting any
        check_input_size(shape, f"input {text}")
    return model, {text: _extracted(model, shape, fuse, cache, note) for text, shape in shapes.items()}


def resolve_graphs(args: Sequence[str], inputs: Axis | None, out_dir: Path,
                   note: Callable[[str], None] = lambda _: None) -> SweepGraphs:
    """Load (or extract) every graph of the sweep; ``note`` hears about each extraction."""
    labels: list[str] = []
    graphs: dict[str, Graph] = {}
    for arg in args:
        label, versions = _versions(arg, inputs, out_dir / CACHE_DIR, note)
        if label in labels:
            raise UserError(f"two graphs are named {label!r}; each graph of a sweep needs its own name", arg)
        labels.append(label)
        graphs.update({graph_id(label, text): g for text, g in versions.items()})
    digests = {gid: hashlib.sha256(graph_to_json(g).encode()).hexdigest() for gid, g in graphs.items()}
    return SweepGraphs(tuple(labels), graphs, digests)
