"""Every zoo model through torch.onnx.export and hwsim's ONNX front end, beside its PyTorch extraction.

    PYTHONPATH=. python experiments/onnx_zoo_parity.py [--size 64] [model ...]

prints, per model, MACs, params, layers, skip tensors and M_sc (8-bit) of both front ends
and whether they are equal, with the time each step took. Measured (torch 2.13, onnx 1.23,
64x64): all ten pre-MSCAN zoo models are equal; KBNet's ``F.unfold`` exports as Pad, two
Gathers by computed indices, Transpose and Reshape, which ``hwsim.extract.onnx_unfold`` reads
back as one unfold op. The suite runs the same comparison on the zoo models that export in
seconds (tests/extract/test_onnx.py), and on NAFNet and KBNet with fewer blocks; NAFNet and
KBNet take 20 s to 100 s each to export at 64x64 on one core, so their full-size comparison
lives here. The exporter is PyTorch's TorchScript one (``dynamo=False``), opset 20 (GELU is one
Gelu node there; at opset 18 it is an Erf chain, which ``hwsim.extract.onnx_patterns`` fuses
back into one gelu op).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings
from pathlib import Path


def figures(g) -> dict:
    from hwsim.graph.analysis import graph_stats

    s = graph_stats(g, 8)
    return {"macs": s["macs"], "params": s["params"], "layers": s["layers"], "msc_bytes": s["msc_bytes"],
            "skips": sorted(t["bytes"] for t in s["skip_tensors"])}


def compare(name: str, size: int, tmp: Path) -> bool:
    import torch

    from hwsim.errors import UserError
    from hwsim.extract import extract_module
    from hwsim.extract.onnx_import import read_onnx
    from hwsim.zoo import factory

    model = factory(name)()
    shape = (1, 3, size, size)
    t0 = time.perf_counter()
    ref = figures(extract_module(model, shape, name))
    t1 = time.perf_counter()
    path = tmp / f"{name}.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (torch.randn(*shape),), str(path), dynamo=False, opset_version=20)
    t2 = time.perf_counter()
    try:
        got = figures(read_onnx(str(path)).graph)
    except UserError as exc:  # an op the ONNX front end does not take: reported, not a crash
        print(f"{name:18s} NOT READ  {str(exc).split(': ', 1)[1][:400]}", flush=True)
        path.unlink()
        return False
    t3 = time.perf_counter()
    same = got == ref
    print(f"{name:18s} {'equal' if same else 'DIFFERENT':9s} macs {got['macs']:>14,} params {got['params']:>12,} "
          f"layers {got['layers']:>4} skips {len(got['skips'])} M_sc {got['msc_bytes']:>9,} B   "
          f"torch extract {t1 - t0:5.1f} s, onnx export {t2 - t1:5.1f} s, onnx import {t3 - t2:5.1f} s", flush=True)
    if not same:
        for k in ref:
            if ref[k] != got[k]:
                print(f"    {k}: pytorch {ref[k]}  onnx {got[k]}")
    path.unlink()
    return same


def main() -> int:
    from hwsim.zoo import MODELS

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("models", nargs="*", default=list(MODELS))
    p.add_argument("--size", type=int, default=64)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        results = [compare(m, args.size, Path(tmp)) for m in args.models]
    print(f"{sum(results)} of {len(results)} zoo models give the same figures through ONNX")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
