"""Shared fixtures.

Extraction costs seconds per model, so extracted graphs are cached for the whole run: in
memory, and on disk under pytest's shared temporary root so that pytest-xdist workers
extract each model once between them (a file lock keeps two workers from doing it twice).
"""

from __future__ import annotations

import json

import pytest


@pytest.fixture(scope="session")
def extracted(tmp_path_factory, request):
    """``extracted(model, shape, fuse='elementwise')`` -> Graph, each model extracted once per run."""
    pytest.importorskip("torch")
    from filelock import FileLock

    from hwsim.extract import extract_model
    from hwsim.graph.io import graph_from_dict, write_graph

    root = tmp_path_factory.getbasetemp()
    if hasattr(request.config, "workerinput"):  # a pytest-xdist worker
        root = root.parent  # shared by the workers of one run
    cache_dir = root / "extracted"
    cache_dir.mkdir(exist_ok=True)
    memory: dict = {}

    def get(model: str, shape=(1, 3, 64, 64), fuse: str = "elementwise"):
        key = (model, tuple(shape), fuse)
        if key not in memory:
            path = cache_dir / f"{model.replace('/', '_').replace(':', '_')}-{'x'.join(map(str, shape))}-{fuse}.json"
            with FileLock(str(path) + ".lock"):
                if path.exists():
                    memory[key] = graph_from_dict(json.loads(path.read_text()), str(path))
                else:
                    memory[key] = extract_model(model, tuple(shape), fuse)
                    write_graph(memory[key], path)
        return memory[key]

    return get
