"""MobileNetV1 1.0 with ImageNet weights taken from the mirror's Coral embedding extractor
(``mobilenet_v1_1.0_224_quant_embedding_extractor.tflite``), frozen: only the head is trained.

The .tflite is read once with the LiteRT interpreter; its uint8 weights (batch norm already
folded into conv + bias) are dequantized into an equivalent Keras graph (conv + bias + ReLU6),
so the trained classifier is still one model file that exports to TFLite/ONNX like any other.
Run it at ``training.input_size`` 96..224 (the extractor was trained at 224; 96 costs ~105 M
multiply-adds per face).
"""

from __future__ import annotations

import numpy as np

from . import register

EXTRACTOR = "mobilenet_v1_1.0_224_quant_embedding_extractor"
# (stride, pointwise channels) of the 13 depthwise-separable blocks after the first 3x3 conv
BLOCKS = [(1, 64), (2, 128), (1, 128), (2, 256), (1, 256), (2, 512), (1, 512), (1, 512), (1, 512),
          (1, 512), (1, 512), (2, 1024), (1, 1024)]


def extractor_weights() -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(op, kernel, bias) of every conv of the extractor, in graph order, dequantized to float32."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    from ...models import resolve

    it = Interpreter(model_path=str(resolve(EXTRACTOR)),
                     experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    it.allocate_tensors()
    details = {d["index"]: d for d in it.get_tensor_details()}

    def real(index: int) -> np.ndarray:
        scale, zero = details[index]["quantization"]
        return (it.get_tensor(index).astype(np.float32) - zero) * scale

    out = []
    for op in it._get_ops_details():
        if op["op_name"] in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            _, w, b = op["inputs"]
            out.append((op["op_name"], real(w), real(b)))
    return out


@register("mobilenetv1_imagenet")
def build(inputs, width: float = 1.0):
    from keras import layers

    if width != 1.0:
        raise ValueError("mobilenetv1_imagenet has weights for width 1.0 only")
    weights = iter(extractor_weights())
    x = layers.Rescaling(1.0 / 128.0, offset=-1.0, name="rescale")(inputs)  # the extractor's uint8 input: (q - 128) / 128

    def conv(x, layer):
        op, kernel, bias = next(weights)
        x = layer(x)
        if op == "CONV_2D":  # TFLite [out, kh, kw, in] -> Keras [kh, kw, in, out]
            layer.set_weights([kernel.transpose(1, 2, 3, 0), bias])
        else:  # TFLite [1, kh, kw, c] -> Keras [kh, kw, c, 1]
            layer.set_weights([kernel.transpose(1, 2, 3, 0), bias])
        layer.trainable = False
        return layers.ReLU(6.0)(x)

    x = conv(x, layers.Conv2D(32, 3, strides=2, padding="same", name="mnv1_conv0"))
    for i, (stride, channels) in enumerate(BLOCKS, start=1):
        x = conv(x, layers.DepthwiseConv2D(3, strides=stride, padding="same", name=f"mnv1_dw{i}"))
        x = conv(x, layers.Conv2D(channels, 1, name=f"mnv1_pw{i}"))
    return layers.GlobalAveragePooling2D(name="gap")(x)
