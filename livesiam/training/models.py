"""Encoders: networks that turn a face image into an embedding.

Every encoder takes pixel values 0..255 (it rescales them itself, so callers never have to
remember how) and returns an L2-normalised embedding: distances between embeddings then lie in
[0, 2] whatever the image, and one threshold fits every face.

``build_encoder(name, input_shape)`` builds one by name from ``ENCODERS``.
"""

from __future__ import annotations

from typing import Callable

import keras
from keras import layers

from ..errors import ConfigError

EncoderBuilder = Callable[[tuple[int, int, int], int], keras.Model]


def _check_input_shape(input_shape: tuple[int, int, int]) -> tuple[int, int, int]:
    shape = tuple(int(v) for v in input_shape)
    if len(shape) != 3 or min(shape) < 1:
        raise ConfigError(f"encoder input shape must be (height, width, channels) of positive "
                          f"sizes, got {input_shape}")
    return shape  # type: ignore[return-value]


def _valid_size_after_notebook_blocks(size: int) -> int:
    """Side left after three unpadded 3x3 convolutions, each followed by a 2x2 pooling."""
    for _ in range(3):
        size = (size - 2) // 2
    return size


def notebook_encoder(input_shape: tuple[int, int, int], embedding_dim: int = 128) -> keras.Model:
    """The seed notebook's CNN: three Conv2D(32/64/128, 3x3, relu) + MaxPool, Flatten, Dense.

    Two changes make it usable as an embedder: pixel values are rescaled to 0..1 first, and
    the Dense projection is linear and followed by L2 normalisation (the notebook's relu
    would zero out half of the embedding space). Convolutions are unpadded, as in the
    notebook, when the image is large enough for three of them with poolings (at least 22
    pixels a side); smaller images use padded convolutions and poolings so that any size
    works.
    """
    input_shape = _check_input_shape(input_shape)
    fits_unpadded = min(_valid_size_after_notebook_blocks(s) for s in input_shape[:2]) >= 1
    padding = "valid" if fits_unpadded else "same"

    inputs = keras.Input(shape=input_shape, name="image")
    x = layers.Rescaling(1.0 / 255.0, name="rescale")(inputs)
    for block, filters in enumerate((32, 64, 128), start=1):
        x = layers.Conv2D(filters, 3, padding=padding, activation="relu", name=f"conv{block}")(x)
        x = layers.MaxPooling2D(2, padding=padding, name=f"pool{block}")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(embedding_dim, name="projection")(x)
    embedding = layers.UnitNormalization(name="embedding")(x)
    return keras.Model(inputs, embedding, name="notebook_encoder")


RESNET_SMALL_STAGES = ((48, 2), (96, 2), (160, 2), (256, 1))
"""(channels, residual blocks) of each stage of "resnet-small"; each stage halves the size."""

RESNET_SMALL_EXPANSION = 4
"""Width of the depthwise convolution in each block, as a multiple of the block's input
channels. At 4 the encoder costs about 98 M multiply-adds for a 112x112 face (0.2 GFLOPs);
at 2 about half that, with less capacity."""

RESNET_SMALL_HEAD_CHANNELS = 512
"""Channels of the last feature map, before the global depthwise convolution."""


def _stem(inputs):
    """Pixel values 0..255 to about -1..1, then a strided 3x3 convolution to 32 channels."""
    x = layers.Rescaling(1.0 / 128.0, offset=-127.5 / 128.0, name="rescale")(inputs)
    x = layers.Conv2D(32, 3, strides=2, padding="same", use_bias=False, name="stem")(x)
    x = layers.BatchNormalization(name="stem_bn")(x)
    return layers.ReLU(name="stem_relu")(x)


def _trunk(input_shape: tuple[int, int, int], stages: tuple, block: Callable):
    """The input, the stem and the stages of (channels, blocks) built of ``block``, each stage
    starting with stride 2; returns the input and the last feature map."""
    inputs = keras.Input(shape=_check_input_shape(input_shape), name="image")
    x = _stem(inputs)
    for stage, (filters, blocks) in enumerate(stages, start=1):
        for index in range(blocks):
            x = block(x, filters, 2 if index == 0 else 1, f"stage{stage}_{index}")
    return inputs, x


def _conv_bn(x, filters: int, name: str, stride: int = 1, activate: bool = True):
    """1x1 convolution + batch normalisation (+ ReLU)."""
    x = layers.Conv2D(filters, 1, strides=stride, use_bias=False, name=name)(x)
    x = layers.BatchNormalization(name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x) if activate else x


def _residual_block(x, filters: int, stride: int, name: str):
    """Depthwise-separable residual block with an expanded middle (inverted bottleneck).

    A pointwise convolution widens the input by ``RESNET_SMALL_EXPANSION``, a 3x3 depthwise
    convolution filters each channel in space (strided where the stage starts), and a second
    pointwise convolution projects to ``filters``. Nearly all the cost is in the pointwise
    convolutions: a block costs about as much as one full 3x3 convolution at its narrow
    width while filtering four times as many channels in space. The projection has no ReLU:
    on the narrow side of the block a ReLU would zero out information the shortcut cannot
    bring back. The shortcut is the identity, or a strided 1x1 projection where the block
    changes size or width.
    """
    shortcut = x
    if stride != 1 or x.shape[-1] != filters:
        shortcut = _conv_bn(x, filters, f"{name}_shortcut", stride=stride, activate=False)

    x = _conv_bn(x, x.shape[-1] * RESNET_SMALL_EXPANSION, f"{name}_expand")
    x = layers.DepthwiseConv2D(3, strides=stride, padding="same", use_bias=False,
                               name=f"{name}_depthwise")(x)
    x = layers.BatchNormalization(name=f"{name}_depthwise_bn")(x)
    x = layers.ReLU(name=f"{name}_depthwise_relu")(x)
    x = _conv_bn(x, filters, f"{name}_project", activate=False)
    return layers.Add(name=f"{name}_add")([x, shortcut])


def resnet_small_encoder(input_shape: tuple[int, int, int],
                         embedding_dim: int = 128) -> keras.Model:
    """A compact residual CNN for aligned 112x112 faces; other sizes work too.

    Stem: 3x3 convolution, stride 2, 32 channels. Then four stages (``RESNET_SMALL_STAGES``)
    of depthwise-separable residual blocks, the first block of each stage with stride 2, so
    a 112x112 face ends as a 4x4 map, widened by a 1x1 convolution to
    ``RESNET_SMALL_HEAD_CHANNELS``. The head is a global depthwise convolution over that map
    rather than average pooling: it learns a weight per position, and on aligned faces
    the eyes and mouth always sit at the same positions. Dropout, a bias-free linear
    projection, batch normalisation and L2 normalisation give the embedding. About 1.0 M
    parameters.
    """
    inputs, x = _trunk(input_shape, RESNET_SMALL_STAGES, _residual_block)

    x = _conv_bn(x, RESNET_SMALL_HEAD_CHANNELS, "head")
    x = layers.DepthwiseConv2D(tuple(x.shape[1:3]), use_bias=False, name="global_dw")(x)
    x = layers.BatchNormalization(name="global_dw_bn")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dropout(0.2, name="dropout")(x)
    x = layers.Dense(embedding_dim, use_bias=False, name="projection")(x)
    x = layers.BatchNormalization(name="projection_bn")(x)
    embedding = layers.UnitNormalization(name="embedding")(x)
    return keras.Model(inputs, embedding, name="resnet_small_encoder")


RESNET_STAGES = ((32, 1), (64, 2), (128, 2), (256, 1))
"""(channels, residual blocks) of each stage of "resnet"; each stage halves the size."""


def _basic_block(x, filters: int, stride: int, name: str):
    """Two 3x3 convolutions with batch normalisation and a shortcut (ResNet's basic block).

    Plain 3x3 convolutions cost more multiply-adds than depthwise-separable ones but run
    several times faster per multiply-add on CPUs, in training above all, where depthwise
    gradients are slow. The shortcut is a strided 1x1 projection where the block changes size
    or width.
    """
    shortcut = x
    if stride != 1 or x.shape[-1] != filters:
        shortcut = layers.Conv2D(filters, 1, strides=stride, use_bias=False,
                                 name=f"{name}_shortcut")(x)
        shortcut = layers.BatchNormalization(name=f"{name}_shortcut_bn")(shortcut)
    x = layers.Conv2D(filters, 3, strides=stride, padding="same", use_bias=False,
                      name=f"{name}_conv1")(x)
    x = layers.BatchNormalization(name=f"{name}_bn1")(x)
    x = layers.ReLU(name=f"{name}_relu1")(x)
    x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv2")(x)
    x = layers.BatchNormalization(name=f"{name}_bn2")(x)
    x = layers.Add(name=f"{name}_add")([x, shortcut])
    return layers.ReLU(name=f"{name}_relu2")(x)


def resnet_encoder(input_shape: tuple[int, int, int], embedding_dim: int = 128) -> keras.Model:
    """The default encoder: a residual CNN of plain 3x3 convolutions for 112x112 faces.

    Stem: 3x3 convolution, stride 2, 32 channels; then four stages of basic residual blocks
    (``RESNET_STAGES``), each starting with stride 2, so a 112x112 face ends as a 4x4x256
    map. The head flattens that map rather than pooling it: on aligned faces every position
    holds the same part of the face, and keeping positions apart is worth the larger
    projection (most of the 2.1 M parameters). Dropout, a bias-free linear projection and L2
    normalisation give the embedding.
    """
    inputs, x = _trunk(input_shape, RESNET_STAGES, _basic_block)

    x = layers.Flatten(name="flatten")(x)
    x = layers.Dropout(0.2, name="dropout")(x)
    # No batch normalisation after the projection: there, training on batch statistics and
    # running on population statistics diverge enough to collapse every embedding onto one
    # direction at inference.
    x = layers.Dense(embedding_dim, use_bias=False, name="projection")(x)
    embedding = layers.UnitNormalization(name="embedding")(x)
    return keras.Model(inputs, embedding, name="resnet_encoder")


ENCODERS: dict[str, EncoderBuilder] = {
    "resnet": resnet_encoder,
    "notebook": notebook_encoder,
    "resnet-small": resnet_small_encoder,
}
"""Encoder name -> builder ``(input_shape, embedding_dim) -> keras.Model``."""


def build_encoder(name: str, input_shape: tuple[int, int, int],
                  embedding_dim: int = 128) -> keras.Model:
    """Build the encoder called ``name`` for images of ``input_shape`` (height, width,
    channels), giving L2-normalised embeddings of ``embedding_dim`` values."""
    if name not in ENCODERS:
        raise ConfigError(f"unknown encoder {name!r}; choose one of {', '.join(ENCODERS)}")
    if embedding_dim < 1:
        raise ConfigError(f"embedding_dim must be at least 1, got {embedding_dim}")
    return ENCODERS[name](input_shape, embedding_dim)


def count_multiply_adds(model: keras.Model) -> int:
    """Multiply-adds of one forward pass of one image through the convolutions and dense
    layers of ``model`` (nested models included). Batch norm, activations and pooling are
    left out: they cost little beside the convolutions. FLOPs are about twice this."""
    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            total += count_multiply_adds(layer)
        elif isinstance(layer, layers.DepthwiseConv2D):
            kh, kw = layer.kernel_size
            _, h, w, c = layer.output.shape
            total += h * w * c * kh * kw
        elif isinstance(layer, layers.Conv2D):
            kh, kw = layer.kernel_size
            _, h, w, c = layer.output.shape
            total += h * w * c * kh * kw * layer.input.shape[-1]
        elif isinstance(layer, layers.Dense):
            total += layer.input.shape[-1] * layer.units
    return int(total)
