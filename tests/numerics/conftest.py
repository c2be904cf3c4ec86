"""Numerics fixtures: a model's graph and its torch reference run, made from ONE export per model.

``prepared(model, shape)`` -> (Graph, Reference). The graph is built from the same
``torch.export`` program the reference runs, exactly as ``hwsim extract`` builds it, so this
fixture replaces ``extracted`` here (which would export a second time for the reference).
"""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def prepared():
    pytest.importorskip("torch")
    from hwsim.numerics.reference import prepare

    cache: dict = {}

    def get(model: str, shape=(1, 3, 32, 32), seed: int = 0):
        key = (model, tuple(shape), seed)
        if key not in cache:
            cache[key] = prepare(model, tuple(shape), seed)
        return cache[key]

    return get
