"""Frozen records made by the thousand (a trace's events, a report's rows), made quickly.

A frozen dataclass's generated ``__init__`` stores each field with a call of
``object.__setattr__``; for a 14-field event that call is most of the cost of making it
(measured: about 2.5 times that of storing all the fields at once), and a trace makes one
event per plan command. :func:`stored_at_once` gives such a class an ``__init__`` with the
same parameters and defaults that stores each field straight into the instance's ``__dict__``,
in field order (measured on the 14-field event: 0.63 us, against 0.85 us for one
``__dict__.update`` with the fields as keywords, which builds a dict of them first). The
instances are the same (fields, order, equality, hash, repr, pickling); only ``__init__``
changes, so the class must have no ``__post_init__``, no ``default_factory`` and no slots.
"""

from __future__ import annotations

from dataclasses import MISSING, fields, is_dataclass


def stored_at_once(cls: type) -> type:
    """Replace frozen dataclass ``cls``'s ``__init__`` as the module docstring says."""
    if not (is_dataclass(cls) and cls.__dataclass_params__.frozen) or hasattr(cls, "__slots__") \
            or hasattr(cls, "__post_init__"):
        raise TypeError(f"{cls.__name__}: stored_at_once needs a frozen dataclass without slots or __post_init__")
    params, stored, defaults = [], [], {}
    for f in fields(cls):
        if f.default_factory is not MISSING or not f.init or getattr(f, "kw_only", False) or f.name == "__stored":
            raise TypeError(f"{cls.__name__}.{f.name}: stored_at_once needs plain fields")
        if f.default is MISSING:
            params.append(f.name)
        else:
            defaults[f"_default_{f.name}"] = f.default
            params.append(f"{f.name}=_default_{f.name}")
        stored.append(f"    __stored[{f.name!r}] = {f.name}\n")
    source = f"def __init__(self, {', '.join(params)}):\n    __stored = self.__dict__\n" + "".join(stored)
    namespace = dict(defaults)
    exec(source, namespace)  # as dataclasses makes its own __init__
    init = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__annotations__ = {**{f.name: f.type for f in fields(cls)}, "return": None}
    cls.__init__ = init
    return cls
