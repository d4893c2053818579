"""dlib's ResNet face embedder as a Keras model, read from the teacher's own weights file.

The teacher (``face_recognition_models``, public domain) ships its network in dlib's binary
serialisation. This module reads that file without dlib and rebuilds the same network in Keras,
so that an encoder can start from the teacher's weights and be trained further with LiveSiam's
own objectives. Only training imports it; the runtime loads the exported model.

The network: a 7x7/2 convolution and a 3x3/2 max-pooling, then four stages of residual blocks
(32, 64, 128 and 256 channels; every stage after the first starts with a strided block whose
shortcut is a 2x2 average pooling), one more strided block at 256, a global average and a
128-d linear projection. It reads 150x150 crops laid out as ``dlib.get_face_chip`` makes them.

dlib's layout rules that matter for an exact copy:
- a strided convolution or pooling is unpadded, a 3x3 stride-1 convolution is padded by one;
- a residual sum of two tensors of different sizes is as large as the larger, the smaller one
  filled with zeros at the bottom, the right and the last channels;
- the input is ``(pixel - channel mean) / 256`` with the means below.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ModelError

INPUT_SIZE = 150
CHANNEL_MEANS = (122.782, 117.001, 104.298)
"""Red, green and blue means that dlib's input layer subtracts before dividing by 256."""

STAGES = ((32, 3, False), (64, 4, True), (128, 3, True), (256, 3, True), (256, 1, True))
"""(channels, blocks, starts with a strided block) of each stage, input side first."""

WEIGHTS_FILE = "dlib_face_recognition_resnet_model_v1.dat"


def weights_path() -> Path:
    """The teacher's weights file inside the installed ``face_recognition_models`` package."""
    try:
        import face_recognition_models
    except ImportError as exc:
        raise ModelError("the dlib teacher is not installed; run `make teacher`") from exc
    path = Path(face_recognition_models.__file__).resolve().parent / "models" / WEIGHTS_FILE
    if not path.is_file():
        raise ModelError(f"{path} is missing; reinstall the teacher with `make teacher`")
    return path


@dataclass
class Conv:
    kernel: np.ndarray  # (rows, cols, in, out), as Keras keeps it
    bias: np.ndarray
    stride: int
    padding: int


@dataclass
class Affine:
    gamma: np.ndarray
    beta: np.ndarray


class _Reader:
    """dlib's serialisation: integers as a count byte (high bit = negative) and little-endian
    bytes; strings as a length and bytes; tensors as a version, four sizes and raw floats."""

    def __init__(self, data: bytes, pos: int):
        self.data = data
        self.pos = pos

    def integer(self) -> int:
        if self.pos >= len(self.data):
            raise ModelError("dlib weights file ends early")
        head = self.data[self.pos]
        size = head & 0x0F
        if size > 8:
            raise ModelError(f"dlib weights file: bad integer at byte {self.pos}")
        value = int.from_bytes(self.data[self.pos + 1:self.pos + 1 + size], "little")
        self.pos += 1 + size
        return -value if head & 0x80 else value

    def tensor(self) -> np.ndarray:
        version = self.integer()
        if version != 2:
            raise ModelError(f"dlib weights file: tensor version {version} is not supported")
        dims = [self.integer() for _ in range(4)]
        count = int(np.prod(dims))
        end = self.pos + 4 * count
        if count <= 0 or end > len(self.data):
            raise ModelError(f"dlib weights file: bad tensor of size {dims}")
        values = np.frombuffer(self.data[self.pos:end], dtype="<f4").astype(np.float32)
        self.pos = end
        return values


def read_layers(path: str | Path) -> tuple[list[Conv], list[Affine], np.ndarray]:
    """The convolutions and affine (frozen batch-norm) layers in input-to-output order, and the
    (256, 128) projection, read from dlib's weights file."""
    data = Path(path).read_bytes()
    convs: list[Conv] = []
    affines: list[Affine] = []
    projection = None
    for match in re.finditer(rb"con_4|affine_|fc_2", data):
        reader = _Reader(data, match.end())
        kind = match.group()
        if kind == b"con_4":
            params = reader.tensor()
            filters, rows, cols, stride_y, stride_x, pad_y, pad_x = (
                reader.integer() for _ in range(7))
            if rows != cols or stride_y != stride_x or pad_y != pad_x:
                raise ModelError("dlib weights file: only square convolutions are supported")
            channels = (params.size - filters) // (filters * rows * cols)
            if channels * filters * rows * cols + filters != params.size:
                raise ModelError("dlib weights file: convolution sizes do not add up")
            kernel = params[:-filters].reshape(filters, channels, rows, cols)
            convs.append(Conv(np.ascontiguousarray(kernel.transpose(2, 3, 1, 0)),
                              params[-filters:].copy(), stride_y, pad_y))
        elif kind == b"affine_":
            params = reader.tensor()
            half = params.size // 2
            affines.append(Affine(params[:half].copy(), params[half:].copy()))
        else:
            outputs, inputs = reader.integer(), reader.integer()
            params = reader.tensor()
            if params.size != outputs * inputs:
                raise ModelError("dlib weights file: projection sizes do not add up")
            projection = params.reshape(inputs, outputs)
    expected = 1 + 2 * sum(blocks for _, blocks, _ in STAGES)
    if len(convs) != expected or len(affines) != expected or projection is None:
        raise ModelError(f"{path} is not dlib's ResNet face embedder: found {len(convs)} "
                         f"convolutions, {len(affines)} affine layers")
    return convs, affines, projection


def low_rank_kernels(kernel: np.ndarray, rank: int) -> tuple[np.ndarray, np.ndarray]:
    """A 3x3 kernel split into a 3x1 and a 1x3 kernel through ``rank`` channels.

    The kernel, read as a matrix from (row, input channel) to (column, output channel), is cut
    to its ``rank`` largest singular values; the 3x1 convolution then the 1x3 one compute that
    matrix exactly. Returns the (3, 1, in, rank) and (1, 3, rank, out) kernels.
    """
    rows, cols, c_in, c_out = kernel.shape
    matrix = kernel.transpose(0, 2, 1, 3).reshape(rows * c_in, cols * c_out).astype(np.float64)
    u, s, vt = np.linalg.svd(matrix, full_matrices=False)
    if rank > len(s):  # more channels than the matrix has rank: the extra ones carry zeros
        extra = rank - len(s)
        u = np.pad(u, ((0, 0), (0, extra)))
        vt = np.pad(vt, ((0, extra), (0, 0)))
        s = np.pad(s, (0, extra))
    root = np.sqrt(s[:rank])
    first = (u[:, :rank] * root).reshape(rows, c_in, rank)[:, None]
    second = (root[:, None] * vt[:rank]).reshape(rank, cols, c_out).transpose(1, 0, 2)[None]
    return first.astype(np.float32), second.astype(np.float32)


def build_model(path: str | Path | None = None, rank: int = 0):
    """The dlib network as a Keras model: 150x150 RGB 0..255 in, unit-length 128-d out.

    Each frozen dlib affine layer becomes a BatchNormalization with mean 0 and variance 1
    (its epsilon folded into the scale, so the copy is exact); train it with ``training=False``
    so it stays an affine map. With ``rank``, every 3x3 convolution from 256 to 256 channels
    (four fifths of the weights) becomes a 3x1 and a 1x3 convolution through ``rank`` channels,
    initialised from the kernel's singular value decomposition. The projection gains a bias,
    zero at first, that training may use.
    """
    import keras
    from keras import layers

    convs, affines, projection = read_layers(path or weights_path())
    conv_iter = iter(zip(convs, affines))
    eps = 1e-3

    def conv_bn(x, name):
        conv, affine = next(conv_iter)
        rows = conv.kernel.shape[0]
        if conv.padding not in (0, rows // 2) or (conv.stride != 1 and conv.padding):
            raise ModelError("dlib weights file: unexpected convolution padding")
        padding = "same" if conv.padding else "valid"
        c_in, c_out = conv.kernel.shape[2:]
        if rank and rows == 3 and c_in == c_out == 256:
            first_kernel, second_kernel = low_rank_kernels(conv.kernel, rank)
            # No bias in the first half: zero padding between the two then equals the zero
            # padding of the full 3x3 convolution.
            first = layers.Conv2D(rank, (3, 1), strides=(conv.stride, 1), padding=padding,
                                  use_bias=False, name=f"{name}_conv_rows")
            second = layers.Conv2D(c_out, (1, 3), strides=(1, conv.stride), padding=padding,
                                   name=f"{name}_conv")
            x = second(first(x))
            first.set_weights([first_kernel])
            second.set_weights([second_kernel, conv.bias])
        else:
            conv_layer = layers.Conv2D(c_out, rows, strides=conv.stride, padding=padding,
                                       name=f"{name}_conv")
            x = conv_layer(x)
            conv_layer.set_weights([conv.kernel, conv.bias])
        bn = layers.BatchNormalization(epsilon=eps, name=f"{name}_bn")
        y = bn(x)
        scale = np.sqrt(1.0 + eps, dtype=np.float32)
        bn.set_weights([affine.gamma * scale, affine.beta,
                        np.zeros_like(affine.gamma), np.ones_like(affine.gamma)])
        return y

    def pad_to(x, rows: int, channels: int, name: str):
        extra = rows - int(x.shape[1])
        if extra:
            x = layers.ZeroPadding2D(((0, extra), (0, extra)), name=f"{name}_pad")(x)
        have = int(x.shape[-1])
        if channels > have:
            if channels != 2 * have:
                raise ModelError("dlib weights file: unexpected change of width")
            # Zeros in the new channels, built from standard layers so the model saves and
            # converts without custom code.
            zeros = layers.Rescaling(0.0, name=f"{name}_zeros")(x)
            x = layers.Concatenate(name=f"{name}_widen")([x, zeros])
        return x

    inputs = keras.Input(shape=(INPUT_SIZE, INPUT_SIZE, 3), name="image")
    x = layers.Normalization(mean=list(CHANNEL_MEANS), variance=[256.0 ** 2] * 3,
                             name="rescale")(inputs)
    x = conv_bn(x, "stem")
    x = layers.ReLU(name="stem_relu")(x)
    x = layers.MaxPooling2D(3, strides=2, name="stem_pool")(x)
    for stage, (channels, blocks, strided) in enumerate(STAGES, start=1):
        for block in range(blocks):
            name = f"s{stage}b{block + 1}"
            down = strided and block == 0
            y = conv_bn(x, f"{name}a")
            y = layers.ReLU(name=f"{name}_relu_a")(y)
            y = conv_bn(y, f"{name}b")
            shortcut = x
            if down:
                shortcut = layers.AveragePooling2D(2, strides=2, name=f"{name}_pool")(x)
            rows = max(int(y.shape[1]), int(shortcut.shape[1]))
            depth = max(int(y.shape[-1]), int(shortcut.shape[-1]))
            y = pad_to(y, rows, depth, f"{name}_main")
            shortcut = pad_to(shortcut, rows, depth, f"{name}_short")
            x = layers.Add(name=f"{name}_add")([y, shortcut])
            x = layers.ReLU(name=f"{name}_relu")(x)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    dense = layers.Dense(projection.shape[1], name="projection")
    x = dense(x)
    dense.set_weights([projection, np.zeros(projection.shape[1], np.float32)])
    embedding = layers.UnitNormalization(name="embedding")(x)
    return keras.Model(inputs, embedding, name="dlib_resnet" + (f"_rank{rank}" if rank else ""))

