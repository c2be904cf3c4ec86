"""Build the quantised ONNX test files once (never run by the suite).

    pip install 'hwsim[onnx]' onnxruntime torch==2.13.0
    PYTHONPATH=. python experiments/build_onnx_qdq.py

exports ``tests/extract/models.py:PlainUNet`` (a two-level U-Net, 1x3x32x32) with
``torch.onnx.export`` and quantises it with ONNX Runtime's ``quantize_static`` (8 random
calibration inputs, seed 0), writing

* ``tests/extract/data/plain_unet_qdq.onnx``: QDQ format (QuantizeLinear/DequantizeLinear
  pairs around float ops), int8 activations and weights, int32 biases;
* ``tests/extract/data/plain_unet_qop.onnx``: operator format (QLinearConv with int8
  tensors between; ONNX Runtime keeps the ops it has no QLinear form for in float, between
  DequantizeLinear and QuantizeLinear).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATA = ROOT / "tests" / "extract" / "data"


class RandomReader:
    """Calibration data for quantize_static: 8 seeded standard-normal inputs."""

    def __init__(self, name: str, shape: tuple[int, ...]):
        rng = np.random.default_rng(0)
        self.batches = iter([{name: rng.standard_normal(shape).astype(np.float32)} for _ in range(8)])

    def get_next(self):
        return next(self.batches, None)


def main() -> int:
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static

    from tests.extract.models import PlainUNet

    torch.manual_seed(0)
    model = PlainUNet().eval()
    shape = (1, 3, 32, 32)
    DATA.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        float_path = Path(tmp) / "plain_unet.onnx"
        torch.onnx.export(model, (torch.randn(*shape),), str(float_path), dynamo=False, opset_version=20,
                          input_names=["x"], output_names=["y"])
        for name, fmt in (("plain_unet_qdq.onnx", QuantFormat.QDQ), ("plain_unet_qop.onnx", QuantFormat.QOperator)):
            out = DATA / name
            quantize_static(str(float_path), str(out), RandomReader("x", shape), quant_format=fmt,
                            activation_type=QuantType.QInt8, weight_type=QuantType.QInt8)
            print(f"wrote {out.relative_to(ROOT)}: {out.stat().st_size:,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
