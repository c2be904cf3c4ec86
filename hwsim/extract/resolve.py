"""Finding the model a user names, and parsing input shapes.

MODEL is a zoo name (``nafnet``), ``path/to/file.py:name`` or ``package.module:name``,
where ``name`` is an ``nn.Module`` class (built with no arguments) or a function returning
a module. Every failure is a one-line :class:`UserError` naming what is wrong.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import math
import sys
from pathlib import Path

from hwsim.errors import UserError
from hwsim.units import show_value
from hwsim.zoo import MODELS, factory


MAX_INPUT_ELEMENTS = 2**28
"""The most elements an input may have (a 1 GiB float32 tensor, e.g. 1x3x8192x8192 is 201 M):
extraction and the numerics check hold the input and activations several times its size."""


def parse_shape(text: str, where: str = "--input") -> tuple[int, ...]:
    """``1x3x256x256`` -> (1, 3, 256, 256); 1 to 8 dimensions, each a positive integer, at
    most MAX_INPUT_ELEMENTS elements."""
    parts = text.lower().replace("×", "x").split("x")
    if len(parts) > 8 or not all(p.strip().isdigit() and len(p.strip()) <= 18 for p in parts):
        raise UserError(f"{show_value(text)} is not a shape like 1x3x256x256", where)
    dims = tuple(int(p) for p in parts)
    if any(d <= 0 for d in dims):
        raise UserError(f"{show_value(text)}: every dimension must be a positive integer", where)
    check_input_size(dims, where)
    return dims


def check_input_size(dims: tuple[int, ...], where: str) -> None:
    """Raise a UserError if an input of shape ``dims`` has more than MAX_INPUT_ELEMENTS elements."""
    if math.prod(dims) > MAX_INPUT_ELEMENTS:
        raise UserError(f"{'x'.join(map(str, dims))} has {math.prod(dims):,} elements, more than "
                        f"{MAX_INPUT_ELEMENTS:,} (2^28)", where)


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__


def _import_file(path: Path, spec_text: str):
    if not path.is_file():
        raise UserError(f"no such file {str(path)!r}", spec_text)
    name = f"hwsim_user_model_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise UserError(f"{str(path)!r} is not a Python file", spec_text)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except (Exception, SystemExit) as exc:  # a module calling sys.exit() must not end hwsim quietly
        sys.modules.pop(name, None)
        raise UserError(f"importing {str(path)!r} failed: {_first_line(exc)}", spec_text) from None
    return module


def _import_module(module_name: str, spec_text: str):
    try:
        return importlib.import_module(module_name)
    except (Exception, SystemExit) as exc:
        raise UserError(f"cannot import {module_name!r}: {_first_line(exc)}", spec_text) from None


def resolve_model(spec_text: str):
    """(nn.Module in eval mode, its name) for a MODEL argument."""
    import torch.nn as nn

    if spec_text in MODELS:
        target, name = factory(spec_text), spec_text
    elif ":" in spec_text:
        source, _, attr = spec_text.rpartition(":")
        if not attr:
            raise UserError("expected a name after ':' (path/to/file.py:Name)", spec_text)
        is_file = source.endswith(".py") or "/" in source or "\\" in source
        module = _import_file(Path(source), spec_text) if is_file else _import_module(source, spec_text)
        if not hasattr(module, attr):
            raise UserError(f"{source!r} has no attribute {attr!r}", spec_text)
        target, name = getattr(module, attr), attr
    else:
        zoo = ", ".join(sorted(MODELS))
        raise UserError(f"not a zoo model ({zoo}) nor path/to/file.py:Name nor package.module:Name", spec_text)
    if isinstance(target, nn.Module):
        model = target
    elif callable(target):
        if inspect.isclass(target) and not issubclass(target, nn.Module):
            raise UserError(f"{name!r} is a class but not an nn.Module", spec_text)
        try:
            model = target()
        except (Exception, SystemExit) as exc:
            raise UserError(f"building {name!r} failed: {_first_line(exc)}", spec_text) from None
    else:
        raise UserError(f"{name!r} is neither an nn.Module class nor a function returning one", spec_text)
    if not isinstance(model, nn.Module):
        raise UserError(f"{name!r} returned a {type(model).__name__}, not an nn.Module", spec_text)
    return model.eval(), name
