"""The graphs of a sweep: graph files, or zoo models extracted at each value of the ``input`` axis.

A GRAPH argument is a graph JSON file (``graphs/nafnet.json``), a zoo model name (``nafnet``)
or your own model, ``path/to/file.py:Name`` or ``package.module:Name`` (an ``nn.Module`` class
or a function returning one, as ``hwsim extract`` takes it). Its label in results is the
graph's name (``Name`` for your own model); two graphs may not share one.

With an ``input`` axis every graph is re-extracted from its model at each input size (a file
stands for the zoo model of its name, with its batch and channels), so the model must be a
zoo model or your own, and torch must be installed. Without one, a model is extracted at
``--input`` (default 1x3x256x256, the size of the committed zoo graphs). Extracted graphs are
cached in ``DIR/graphs/``: a zoo model as ``MODEL_NxCxHxW.json``, your own as
``Name_<digest>_NxCxHxW.json``, the digest (12 hex digits of a SHA-256) taken over the model's
source file and its reference, so an edited model file is extracted again while an unchanged
one is read back (delete the files to re-extract anyway). Extracted with ``--fallback host``
(unmapped ops as host ops), a model's cache file name ends in ``_host``.
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


def is_model_ref(arg: str) -> bool:
    """Whether a GRAPH argument names your own model (``file.py:Name``, ``package.module:Name``)."""
    return ":" in arg and not Path(arg).is_file() and not arg.endswith(".json")


def _ref_source(ref: str) -> Path | None:
    """The source file of a model reference (None when it cannot be found without importing it)."""
    source = ref.rpartition(":")[0]
    if source.endswith(".py") or "/" in source or "\\" in source:
        return Path(source)
    import importlib.util

    try:
        found = importlib.util.find_spec(source)
    except (ImportError, ValueError):
        return None
    return Path(found.origin) if found is not None and found.origin else None


def cache_name(model: str, shape: tuple[int, ...], fallback: str = "none") -> str:
    """The cache file name of ``model`` extracted at ``shape`` (module docstring)."""
    dims = "x".join(map(str, shape)) + ("_host" if fallback == "host" else "")
    if not is_model_ref(model):
        return f"{model}_{dims}.json"
    digest = hashlib.sha256(model.encode())
    source = _ref_source(model)
    try:
        digest.update(source.read_bytes() if source is not None else b"")
    except OSError:
        raise UserError("cannot read the model's source file", model) from None
    return f"{model.rpartition(':')[2]}_{digest.hexdigest()[:12]}_{dims}.json"


def _extracted(model: str, shape: tuple[int, ...], fuse: str, cache: Path,
               note: Callable[[str], None], fallback: str = "none") -> Graph:
    path = cache / cache_name(model, shape, fallback)
    if path.exists():
        return load_graph(path)
    from hwsim.extract import extract_model

    note(f"extracting {model} at {'x'.join(map(str, shape))} into {path}")
    graph = extract_model(model, shape, fuse, fallback)
    cache.mkdir(parents=True, exist_ok=True)
    write_graph(graph, path)
    return graph


def _source(arg: str) -> tuple[Graph | None, str]:
    """The graph of a file argument (or None for a model) and the model it stands for."""
    if Path(arg).is_file():
        graph = load_graph(arg)
        return graph, graph.name
    if arg in _zoo_models() or is_model_ref(arg):
        return None, arg
    if arg.endswith(".json") or "/" in arg:
        load_graph(arg)  # raises the loader's own error (no such file, ...)
    raise UserError(f"no such graph file or zoo model (zoo: {', '.join(sorted(_zoo_models()))})", arg)


def _versions(arg: str, inputs: Axis | None, cache: Path, note: Callable[[str], None],
              shape: tuple[int, ...], fallback: str = "none") -> tuple[str, dict[str | None, Graph]]:
    graph, model = _source(arg)
    label = model.rpartition(":")[2] if is_model_ref(model) else model
    if inputs is None:
        return label, {None: graph or _extracted(model, shape, "elementwise", cache, note, fallback)}
    if model not in _zoo_models() and not is_model_ref(model):
        raise UserError(f"graph {model!r} is not a zoo model nor file.py:Name, so the input axis cannot "
                        "re-extract it", arg)
    from hwsim.extract.resolve import check_input_size

    base = graph.tensor[graph.inputs[0]].shape if graph is not None else shape
    fuse = graph.fuse if graph is not None else "elementwise"
    shapes = {text: input_shape(text, base) for text in inputs.values}
    for text, size in shapes.items():  # every one before extracting any
        check_input_size(size, f"input {text}")
    return label, {text: _extracted(model, size, fuse, cache, note, fallback) for text, size in shapes.items()}


def resolve_graphs(args: Sequence[str], inputs: Axis | None, out_dir: Path,
                   note: Callable[[str], None] = lambda _: None,
                   shape: tuple[int, ...] = DEFAULT_SHAPE, fallback: str = "none") -> SweepGraphs:
    """Load (or extract) every graph of the sweep; ``note`` hears about each extraction;
    ``shape``: the input models are extracted at without an input axis (``--input``);
    ``fallback="host"``: unmapped ops become host ops (``--fallback host``)."""
    labels: list[str] = []
    graphs: dict[str, Graph] = {}
    for arg in args:
        label, versions = _versions(arg, inputs, out_dir / CACHE_DIR, note, shape, fallback)
        if label in labels:
            raise UserError(f"two graphs are named {label!r}; each graph of a sweep needs its own name", arg)
        labels.append(label)
        graphs.update({graph_id(label, text): g for text, g in versions.items()})
    digests = {gid: hashlib.sha256(graph_to_json(g).encode()).hexdigest() for gid, g in graphs.items()}
    return SweepGraphs(tuple(labels), graphs, digests)
