"""Shared fixtures. Extraction costs seconds per model, so extracted graphs are cached for the session."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def extracted():
    """``extracted(model, shape, fuse='elementwise')`` -> Graph, each model extracted once per session."""
    pytest.importorskip("torch")
    from hwsim.extract import extract_model

    cache: dict = {}

    def get(model: str, shape=(1, 3, 64, 64), fuse: str = "elementwise"):
        key = (model, tuple(shape), fuse)
        if key not in cache:
            cache[key] = extract_model(model, tuple(shape), fuse)
        return cache[key]

    return get
