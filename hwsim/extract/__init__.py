"""Extraction: a PyTorch model, an ONNX file or a TFLite file -> Graph.

Importing this package imports neither torch, onnx nor tflite: each front end is imported
when it is used (extras ``hwsim[torch]``, ``hwsim[onnx]``, ``hwsim[tflite]``)."""

from __future__ import annotations

from hwsim.errors import UserError
from hwsim.graph.ir import Graph


def require_torch(what: str) -> None:
    try:
        import torch  # noqa: F401
    except ImportError:
        raise UserError(f"{what} needs PyTorch: pip install 'hwsim[torch]' (or: pip install torch==2.13.0)") from None


def example_inputs(inputs, seed: int = 0) -> list:
    """Seeded standard-normal tensors, one per input (input i from seed ``seed + i``, modulo 2^64)."""
    import torch

    from hwsim.extract.resolve import as_inputs

    return [torch.randn(*shape, generator=torch.Generator().manual_seed((seed + i) % 2**64))
            for i, (_, shape) in enumerate(as_inputs(inputs))]


def extract_module(model, input_shape, name: str, fuse: str = "elementwise",
                   where: str | None = None, fallback: str = "none") -> Graph:
    """The Graph of ``model`` on seeded example inputs: ``input_shape`` is one shape or an
    InputSpec (``hwsim.extract.resolve.parse_inputs``); ``fallback="host"``: ops hwsim cannot
    map become host ops (``hwsim.extract.fallback``) instead of an error."""
    require_torch("extraction")
    from hwsim.extract.resolve import as_inputs
    from hwsim.extract.torch_export import export_program, program_to_graph

    where = where or name
    inputs = as_inputs(input_shape)
    ep = export_program(model, example_inputs(inputs), where, [n for n, _ in inputs])
    return program_to_graph(ep, name, fuse, where, fallback)


def extract_model(model_spec: str, input_shape, fuse: str = "elementwise", fallback: str = "none") -> Graph:
    """Resolve MODEL (zoo name, file.py:name, package.module:name) and extract it."""
    require_torch("extraction")
    from hwsim.extract.resolve import resolve_model

    model, name = resolve_model(model_spec)
    return extract_module(model, input_shape, name, fuse, where=model_spec, fallback=fallback)


FILE_SUFFIXES = {".onnx": "onnx", ".tflite": "tflite"}


def file_format(model_spec: str) -> str | None:
    """"onnx" or "tflite" when MODEL names such a file (by its suffix), else None (a PyTorch model)."""
    from pathlib import Path

    return FILE_SUFFIXES.get(Path(model_spec).suffix.lower())


def extract_file(path: str, input_shape: tuple[int, ...] | None = None, fuse: str = "elementwise",
                 fallback: str = "none"):
    """The :class:`~hwsim.extract.frontend.Imported` graph of an ONNX or TFLite file."""
    kind = file_format(path)
    if kind == "onnx":
        from hwsim.extract.onnx_import import read_onnx

        return read_onnx(path, input_shape, fuse, fallback)
    if kind == "tflite":
        from hwsim.extract.tflite_import import read_tflite

        return read_tflite(path, input_shape, fuse, fallback)
    raise UserError("not an .onnx or .tflite file", path)
