"""Calibrate hwsim's cost model against Arm's Vela 5.2 on three networks written twice.

Two steps, because TensorFlow and hwsim's torch live best in separate environments:

1. ``vela`` (needs ``tensorflow-cpu`` and ``ethos-u-vela==5.2.0``; e.g. in a venv)::

       python experiments/calibrate_vela.py vela

   builds each network of ``experiments/vela_nets.py`` in Keras, converts it to int8 TFLite
   (random representative data, int8 input and output), runs Vela on it with
   ``--verbose-performance`` for Ethos-U55-256, system config ``Ethos_U55_High_End_Embedded``,
   memory mode ``Sram_Only`` (every tensor, weights included, in SRAM: no flash or DRAM
   cycles), and writes ``tests/data/vela/NET.tflite`` and ``tests/data/vela/NET.vela.json``
   (Vela's per-op rows: original operator, NNG operator, op cycles, NPU cycles, SRAM access
   cycles, MACs, name; and its total cycles).

2. ``compare`` (needs torch; ``PYTHONPATH=. python experiments/calibrate_vela.py compare``)
   builds the PyTorch twin of each network, extracts it to ``tests/data/vela/NET.graph.json``
   (so the suite needs neither TensorFlow nor torch), costs it with
   ``accelerators/ethos_u55.yaml`` and writes the side-by-side tables to
   ``docs/vela_calibration.md``. It prints the totals and the per-kind sums.

Op kinds compared (hwsim side: the layer's main op; its element-wise passes count as
``elementwise``; Vela side: the original TFLite operator):
conv (Conv2D, FullyConnected), depthwise, elementwise (Add, Sub, Mul), transposed
(TransposeConv2D), concat (Concat and the copies Vela makes for it), pooling (MaxPool,
AvgPool), resample (ResizeNearestNeighbor).
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data" / "vela"
DOC = ROOT / "docs" / "vela_calibration.md"
SYSTEM = "Ethos_U55_High_End_Embedded"
MEMORY_MODE = "Sram_Only"
ACCELERATOR = "ethos-u55-256"
sys.path.insert(0, str(Path(__file__).resolve().parent))

from vela_nets import NETS, SIZE, keras_model, torch_model  # noqa: E402

VELA_KINDS = {"Conv2D": "conv", "FullyConnected": "conv", "DepthwiseConv2D": "depthwise", "Add": "elementwise",
              "Sub": "elementwise", "Mul": "elementwise", "TransposeConv2D": "transposed", "Concat": "concat",
              "ConcatTFLite": "concat", "MaxPool": "pooling", "AvgPool": "pooling",
              "ResizeNearestNeighbor": "resample", "Quantize": "elementwise"}


def _tflite(name: str) -> bytes:
    import numpy as np
    import tensorflow as tf
    tf.keras.utils.set_random_seed(0)  # the same weights, so the same bytes, every time
    model = keras_model(NETS[name]())

    def representative():
        rng = np.random.default_rng(0)
        for _ in range(8):
            yield [rng.uniform(-1, 1, (1, SIZE, SIZE, 3)).astype(np.float32)]

    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = representative
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    return conv.convert()


def _run_vela(tflite: Path, out: Path) -> dict:
    import ethosu.vela
    ini = Path(ethosu.vela.__file__).parents[1] / "config_files" / "Arm" / "vela.ini"
    subprocess.run(["vela", str(tflite), "--accelerator-config", ACCELERATOR, "--config", str(ini),
                    "--system-config", SYSTEM, "--memory-mode", MEMORY_MODE, "--verbose-performance",
                    "--output-dir", str(out)], check=True, capture_output=True, text=True)
    rows = list(csv.DictReader(open(out / f"{tflite.stem}_per-layer.csv")))
    summary = list(csv.DictReader(open(out / f"{tflite.stem}_summary_{SYSTEM}.csv")))[0]
    ops = [{"original": r["Original Operator"], "operator": r["NNG Operator"], "cycles": int(r["Op Cycles"]),
            "npu_cycles": int(r["NPU"]), "sram_cycles": int(r["SRAM AC"]), "macs": int(r["MAC Count"]),
            "name": r["Name"]} for r in rows]
    return {"accelerator": ACCELERATOR, "system_config": SYSTEM, "memory_mode": MEMORY_MODE,
            "vela": "5.2.0", "core_clock_hz": float(summary["core_clock"]),
            "cycles_total": int(float(summary["cycles_total"])), "cycles_npu": int(float(summary["cycles_npu"])),
            "ops": ops}


def vela_step() -> None:
    DATA.mkdir(parents=True, exist_ok=True)
    for name in NETS:
        path = DATA / f"{name}.tflite"
        path.write_bytes(_tflite(name))
        with tempfile.TemporaryDirectory() as tmp:
            result = _run_vela(path, Path(tmp))
        (DATA / f"{name}.vela.json").write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")
        print(f"{name}: Vela {result['cycles_total']:,} cycles")


def extract_step() -> None:
    from hwsim.extract import extract_module
    from hwsim.graph.io import write_graph
    for name in NETS:
        g = extract_module(torch_model(NETS[name]()), (1, 3, SIZE, SIZE), name)
        write_graph(g, DATA / f"{name}.graph.json")


if __name__ == "__main__":
    step = sys.argv[1] if len(sys.argv) > 1 else ""
    if step == "vela":
        vela_step()
    elif step == "compare":
        extract_step()
        from vela_compare import write_doc
        write_doc()
    else:
        sys.exit("usage: calibrate_vela.py vela | compare")
