"""Extraction: a PyTorch model -> Graph. Importing this package does not import torch."""

from __future__ import annotations

from hwsim.errors import UserError
from hwsim.graph.ir import Graph


def require_torch(what: str) -> None:
    try:
        import torch  # noqa: F401
    except ImportError:
        raise UserError(f"{what} needs PyTorch: pip install 'hwsim[torch]' (or: pip install torch==2.13.0)") from None


def extract_module(model, input_shape: tuple[int, ...], name: str, fuse: str = "elementwise",
                   where: str | None = None) -> Graph:
    """The Graph of ``model`` on a seeded example input of ``input_shape``."""
    require_torch("extraction")
    import torch

    from hwsim.extract.torch_export import export_program, program_to_graph

    where = where or name
    example = torch.randn(*input_shape, generator=torch.Generator().manual_seed(0))
    ep = export_program(model, example, where)
    return program_to_graph(ep, name, fuse, where)


def extract_model(model_spec: str, input_shape: tuple[int, ...], fuse: str = "elementwise") -> Graph:
    """Resolve MODEL (zoo name, file.py:name, package.module:name) and extract it."""
    require_torch("extraction")
    from hwsim.extract.resolve import resolve_model

    model, name = resolve_model(model_spec)
    return extract_module(model, input_shape, name, fuse, where=model_spec)
