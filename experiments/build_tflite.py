"""Build the TFLite test files once, with TensorFlow's own converter (never run by the suite).

    python -m venv /tmp/tfvenv && /tmp/tfvenv/bin/pip install tensorflow-cpu==2.21.0
    /tmp/tfvenv/bin/python experiments/build_tflite.py [FILE_STEM ...]

writes, with fixed seeds (only the files named by their stems, if any are given):

* ``tests/extract/data/unet_int8.tflite``: a two-level U-Net (1x32x32x3): 3x3 convolutions,
  max pooling, a transposed convolution, bilinear upsampling, concatenated skips; full
  integer (int8 activations and weights, int32 biases).
* ``tests/extract/data/unet_a16w8.tflite``: the same network in TFLite's 16x8 mode (int16
  activations, int8 weights, int64 biases).
* ``tests/extract/data/unet_dw_int8.tflite``: a U-Net with a stride-2 convolution after an
  asymmetric zero padding (the converter folds it into the convolution's SAME padding), a
  stride-2 SAME convolution, a depthwise separable block, squeeze-and-excitation (mean,
  two fully connected layers, sigmoid, multiply), nearest resizing (``Resizing``: Keras'
  ``UpSampling2D`` converts to RESHAPE/TILE copies), added skips and a SAME average
  pooling; int8.
* ``tests/extract/data/unsupported_ops.tflite``: a float model with ELU and CUMSUM, which
  hwsim does not model (the error test).
* ``tests/extract/data/unet_pad_int8.tflite``: paddings nothing folds (1x16x16x3): a zero
  padding before a 3x3/2 VALID max pooling (a lone PAD), a reflect padding
  (``tf.pad(mode="REFLECT")``: MIRROR_PAD) before a VALID convolution, a transposed
  convolution and a concatenated skip; int8.
* ``experiments/data/unet_vela_int8.tflite``: the first U-Net at 1x128x128x3 and widths
  16/32/64, the file of ``experiments/vela_side_by_side.py``.

The hand counts of the tests (tests/extract/test_tflite.py) follow the layer lists here.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import tensorflow as tf  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "extract" / "data"
L = tf.keras.layers


def conv(x, c, k=3, s=1, act="relu", padding="same"):
    return L.Conv2D(c, k, strides=s, padding=padding, activation=act)(x)


def unet(size: int, widths: tuple[int, int, int]) -> tf.keras.Model:
    w1, w2, w3 = widths
    x = L.Input((size, size, 3), batch_size=1)
    e1 = conv(conv(x, w1), w1)
    e2 = conv(conv(L.MaxPooling2D(2)(e1), w2), w2)
    b = conv(conv(L.MaxPooling2D(2)(e2), w3), w3)
    u2 = L.Conv2DTranspose(w2, 2, strides=2)(b)
    d2 = conv(conv(L.Concatenate()([u2, e2]), w2), w2)
    u1 = conv(L.UpSampling2D(2, interpolation="bilinear")(d2), w1, k=1, act=None)
    d1 = conv(conv(L.Concatenate()([u1, e1]), w1), w1)
    return tf.keras.Model(x, conv(d1, 3, k=1, act=None))


def unet_dw() -> tf.keras.Model:
    x = L.Input((32, 32, 3), batch_size=1)
    e1 = conv(x, 16, act="relu6")
    d = conv(L.ZeroPadding2D(((0, 1), (0, 1)))(e1), 16, s=2, padding="valid")
    d = L.DepthwiseConv2D(3, padding="same", activation="relu")(d)
    e2 = conv(d, 32, k=1)
    b = conv(e2, 32, s=2)
    se = L.GlobalAveragePooling2D()(b)
    se = L.Dense(32, activation="sigmoid")(L.Dense(8, activation="relu")(se))
    b = L.Multiply()([b, L.Reshape((1, 1, 32))(se)])
    u = conv(L.Add()([L.Resizing(16, 16, interpolation="nearest")(b), e2]), 16)
    u = L.Add()([L.Resizing(32, 32, interpolation="nearest")(u), e1])
    u = L.AveragePooling2D(3, strides=1, padding="same")(u)
    return tf.keras.Model(x, conv(u, 3, k=1, act=None))


class ReflectPad(L.Layer):
    def call(self, x):
        return tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]], mode="REFLECT")


def unet_pad() -> tf.keras.Model:
    x = L.Input((16, 16, 3), batch_size=1)
    e1 = conv(x, 8)  # 16x16x8
    p = L.MaxPooling2D(3, strides=2, padding="valid")(L.ZeroPadding2D(1)(e1))  # 18x18 -> 8x8
    b = conv(p, 16)  # 8x8x16
    u = L.Conv2DTranspose(8, 2, strides=2)(b)  # 16x16x8
    d = conv(L.Concatenate()([u, e1]), 8)  # 16x16x8
    return tf.keras.Model(x, conv(ReflectPad()(d), 3, padding="valid", act=None))  # 18x18 -> 16x16x3


class Cumsum(L.Layer):
    def call(self, x):
        return tf.math.cumsum(x, axis=3)


def unsupported() -> tf.keras.Model:
    x = L.Input((8, 8, 4), batch_size=1)
    y = L.ELU()(conv(x, 4, act=None))
    return tf.keras.Model(x, Cumsum()(y))


def convert(model: tf.keras.Model, mode: str) -> bytes:
    conv_ = tf.lite.TFLiteConverter.from_keras_model(model)
    if mode != "float":
        shape = model.input_shape
        rng = np.random.default_rng(0)

        def representative():
            for _ in range(8):
                yield [rng.standard_normal(shape).astype(np.float32)]

        conv_.optimizations = [tf.lite.Optimize.DEFAULT]
        conv_.representative_dataset = representative
        if mode == "int8":
            conv_.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            conv_.inference_input_type = conv_.inference_output_type = tf.int8
        else:  # 16x8
            conv_.target_spec.supported_ops = [tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
            conv_.inference_input_type = conv_.inference_output_type = tf.int16
    return conv_.convert()


def main() -> int:
    tf.keras.utils.set_random_seed(0)
    DATA.mkdir(parents=True, exist_ok=True)
    (ROOT / "experiments" / "data").mkdir(exist_ok=True)
    outputs = {
        DATA / "unet_int8.tflite": (lambda: unet(32, (8, 16, 32)), "int8"),
        DATA / "unet_a16w8.tflite": (lambda: unet(32, (8, 16, 32)), "16x8"),
        DATA / "unet_dw_int8.tflite": (unet_dw, "int8"),
        DATA / "unsupported_ops.tflite": (unsupported, "float"),
        DATA / "unet_pad_int8.tflite": (unet_pad, "int8"),
        ROOT / "experiments" / "data" / "unet_vela_int8.tflite": (lambda: unet(128, (16, 32, 64)), "int8"),
    }
    wanted = set(sys.argv[1:])
    for path, (build, mode) in outputs.items():
        if wanted and path.stem not in wanted:
            continue
        tf.keras.utils.set_random_seed(0)
        data = convert(build(), mode)
        path.write_bytes(data)
        print(f"wrote {path.relative_to(ROOT)}: {len(data):,} bytes ({mode})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
