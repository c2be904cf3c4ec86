"""``stored_at_once`` against dataclasses' own ``__init__``: the same class made both ways gives
equal instances (fields, repr, hash, instance dict), the same signature, and stays frozen."""

from __future__ import annotations

import inspect
import random
from dataclasses import FrozenInstanceError, dataclass, field, replace

import pytest

from hwsim.records import stored_at_once


def make_class():
    @dataclass(frozen=True)
    class Row:
        a: int
        b: str
        c: tuple = ()
        d: int | None = None
        e: str = "x"

    return Row


def test_random_rows_equal_those_of_the_generated_init():
    plain, fast = make_class(), stored_at_once(make_class())
    rng = random.Random(5)
    for _ in range(200):
        values = [rng.randint(-9, 9), rng.choice("pqr"), tuple(range(rng.randint(0, 3))), rng.choice([None, 7]), "y"]
        given = rng.randint(2, 5)
        keywords = dict(zip("abcde"[given - 1:given], values[given - 1:given])) if rng.random() < 0.5 else {}
        args = values[:given - len(keywords)]
        ours, theirs = fast(*args, **keywords), plain(*args, **keywords)
        assert vars(ours) == vars(theirs) and list(vars(ours)) == list(vars(theirs))
        assert repr(ours).replace(fast.__qualname__, "") == repr(theirs).replace(plain.__qualname__, "")
        assert hash(ours) == hash(theirs)
    assert str(inspect.signature(fast)) == str(inspect.signature(plain))


def test_still_frozen_and_replaceable():
    Row = stored_at_once(make_class())
    row = Row(1, "p")
    with pytest.raises(FrozenInstanceError):
        row.a = 2
    assert replace(row, a=3) == Row(3, "p") and row == Row(1, "p")
    with pytest.raises(TypeError):
        Row(1)


def test_classes_it_cannot_serve_are_refused():
    @dataclass(frozen=True)
    class Factory:
        a: tuple = field(default_factory=tuple)

    @dataclass
    class Mutable:
        a: int

    @dataclass(frozen=True, slots=True)
    class Slotted:
        a: int

    for cls in (Factory, Mutable, Slotted):
        with pytest.raises(TypeError):
            stored_at_once(cls)
