"""Finding the model a user names, and parsing input shapes.

MODEL is a zoo name (``nafnet``), ``path/to/file.py:name`` or ``package.module:name``,
where ``name`` is an ``nn.Module`` class or a function returning a module, built with no
arguments or with the literal arguments written after it: ``file.py:UNet(width=32, depth=4)``
(parsed with :mod:`ast`, each argument through ``ast.literal_eval``: numbers, strings,
booleans, None, tuples, lists, dicts; never evaluated as code). Every failure is a one-line
:class:`UserError` naming what is wrong.

``--input`` is one shape (``1x3x256x256``), several (``1x3x64x64,1x1x64x64``: the model's
first positional tensors, in order) or named ones (``x=1x3x64x64,t=1``: the ``forward``
parameters of those names; the others keep their defaults, so non-tensor arguments are fixed
at extraction).
"""

from __future__ import annotations

import ast
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


InputSpec = list[tuple[str | None, tuple[int, ...]]]
"""The model's inputs: (forward parameter name, or None for positional; shape), in order."""


def parse_inputs(text: str, where: str = "--input") -> InputSpec:
    """``1x3x64x64,1x1x64x64`` or ``x=1x3x64x64,t=1`` -> [(name or None, shape), ...]: all named
    or none, no name twice, at most MAX_INPUT_ELEMENTS elements in all."""
    out: InputSpec = []
    for item in text.split(","):
        name, eq, shape = item.strip().rpartition("=")
        name = name.strip()
        if eq and not name.isidentifier():
            raise UserError(f"{show_value(item.strip())}: a named input is NAME=SHAPE, NAME a Python identifier", where)
        out.append((name if eq else None, parse_shape(shape.strip(), where)))
    names = [n for n, _ in out]
    if any(n is None for n in names) and any(n is not None for n in names):
        raise UserError(f"{show_value(text)}: name every input (x=1x3x64x64,t=1) or none", where)
    repeated = sorted({n for n in names if n is not None and names.count(n) > 1})
    if repeated:
        raise UserError(f"{show_value(text)}: input {repeated[0]!r} given twice", where)
    check_input_size((sum(math.prod(s) for _, s in out),), where)
    return out


def as_inputs(shape_or_inputs) -> InputSpec:
    """One shape (a tuple of ints) as a one-input InputSpec; an InputSpec unchanged."""
    if shape_or_inputs and all(isinstance(d, int) for d in shape_or_inputs):
        return [(None, tuple(shape_or_inputs))]
    return [(n, tuple(s)) for n, s in shape_or_inputs]


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
        return _with_torchvision(importlib.import_module, module_name)
    except (Exception, SystemExit) as exc:
        raise UserError(f"cannot import {module_name!r}: {_first_line(exc)}", spec_text) from None


def _attribute(module, source: str, attr: str, spec_text: str):
    """``module.attr``; a lazy module (diffusers, transformers) imports it here, and may fail."""
    try:
        return _with_torchvision(getattr, module, attr)
    except AttributeError:
        raise UserError(f"{source!r} has no attribute {attr!r}", spec_text) from None
    except (Exception, SystemExit) as exc:
        raise UserError(f"getting {attr!r} from {source!r} failed: {_first_line(exc)}", spec_text) from None


def _with_torchvision(fn, *args, **kwargs):
    """``fn(*args, **kwargs)``, once more after :func:`hwsim.zoo.libraries.import_torchvision` if it
    failed on torchvision's C++ ops (PyPI's CUDA-linked torchvision beside CPU torch, which timm,
    segmentation_models_pytorch and diffusers import)."""
    try:
        return fn(*args, **kwargs)
    except Exception as exc:
        if "torchvision::nms" not in str(exc):
            raise
    from hwsim.zoo.libraries import import_torchvision

    import_torchvision()
    return fn(*args, **kwargs)


def _call_parts(text: str, spec_text: str) -> tuple[str, tuple, dict]:
    """``Name`` -> (Name, (), {}); ``Name(1, width=32)`` -> (Name, (1,), {"width": 32}), literals only."""
    if "(" not in text:
        return text, (), {}
    try:
        node = ast.parse(text.strip(), mode="eval").body
    except SyntaxError:
        raise UserError(f"{show_value(text)} is not Name(arguments)", spec_text) from None
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
        raise UserError(f"{show_value(text)} is not Name(arguments)", spec_text)
    try:
        args = tuple(ast.literal_eval(a) for a in node.args)
        kwargs = {}
        for k in node.keywords:
            if k.arg is None:
                raise ValueError
            kwargs[k.arg] = ast.literal_eval(k.value)
    except (ValueError, TypeError, SyntaxError, RecursionError):
        raise UserError(f"the arguments of {node.func.id!r} must be literals (numbers, strings, True/False/None, "
                        "tuples, lists, dicts)", spec_text) from None
    return node.func.id, args, kwargs


def resolve_model(spec_text: str):
    """(nn.Module in eval mode, its name) for a MODEL argument."""
    import torch.nn as nn

    args, kwargs = (), {}
    if spec_text in MODELS:
        target, name = factory(spec_text), spec_text
    elif ":" in spec_text:
        paren = spec_text.find("(")
        head, call = (spec_text[:paren], spec_text[paren:]) if paren >= 0 else (spec_text, "")
        source, _, attr = head.rpartition(":")
        attr, args, kwargs = _call_parts(attr + call, spec_text)
        if not attr:
            raise UserError("expected a name after ':' (path/to/file.py:Name)", spec_text)
        is_file = source.endswith(".py") or "/" in source or "\\" in source
        module = _import_file(Path(source), spec_text) if is_file else _import_module(source, spec_text)
        target, name = _attribute(module, source, attr, spec_text), attr
    else:
        zoo = ", ".join(sorted(MODELS))
        raise UserError(f"not a zoo model ({zoo}) nor path/to/file.py:Name nor package.module:Name", spec_text)
    if isinstance(target, nn.Module):
        if args or kwargs:
            raise UserError(f"{name!r} is a module instance: it takes no arguments", spec_text)
        model = target
    elif callable(target):
        if inspect.isclass(target) and not issubclass(target, nn.Module):
            raise UserError(f"{name!r} is a class but not an nn.Module", spec_text)
        try:
            model = _with_torchvision(target, *args, **kwargs)
        except (Exception, SystemExit) as exc:
            raise UserError(f"building {name!r} failed: {_first_line(exc)}", spec_text) from None
    else:
        raise UserError(f"{name!r} is neither an nn.Module class nor a function returning one", spec_text)
    if not isinstance(model, nn.Module):
        raise UserError(f"{name!r} returned a {type(model).__name__}, not an nn.Module", spec_text)
    return model.eval(), name
