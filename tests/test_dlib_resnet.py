"""The teacher's network rebuilt in Keras from dlib's weights file, and its factorised form."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from livesiam.errors import ModelError
from livesiam.training import dlib_resnet
from livesiam.training.dlib_resnet import low_rank_kernels, read_layers


@pytest.mark.parametrize("stride, padding", [(1, "same"), (2, "valid")])
def test_full_rank_split_of_a_kernel_computes_the_same_convolution(stride: int,
                                                                   padding: str) -> None:
    import keras

    rng = np.random.default_rng(0)
    kernel = rng.normal(size=(3, 3, 6, 5)).astype(np.float32)
    x = rng.normal(size=(2, 9, 9, 6)).astype(np.float32)
    whole = keras.layers.Conv2D(5, 3, strides=stride, padding=padding, use_bias=False)
    rows = keras.layers.Conv2D(18, (3, 1), strides=(stride, 1), padding=padding, use_bias=False)
    cols = keras.layers.Conv2D(5, (1, 3), strides=(1, stride), padding=padding, use_bias=False)
    expected = whole(x)
    split = cols(rows(x))
    whole.set_weights([kernel])
    first, second = low_rank_kernels(kernel, 18)  # 18 = 3 x 6, the matrix's full rank
    rows.set_weights([first])
    cols.set_weights([second])

    np.testing.assert_allclose(np.asarray(cols(rows(x))), np.asarray(whole(x)), atol=1e-4)
    assert split.shape == expected.shape


def test_low_rank_split_keeps_the_largest_part_of_a_kernel() -> None:
    rng = np.random.default_rng(1)
    kernel = rng.normal(size=(3, 3, 8, 8)).astype(np.float32)
    errors = []
    for rank in (4, 12, 24):
        first, second = low_rank_kernels(kernel, rank)
        assert first.shape == (3, 1, 8, rank) and second.shape == (1, 3, rank, 8)
        rebuilt = np.einsum("hic,wco->hwio", first[:, 0], second[0])
        errors.append(float(np.abs(rebuilt - kernel).max()))
    assert errors[0] > errors[1] > errors[2]
    assert errors[2] < 1e-4


def test_a_file_that_is_not_dlibs_network_is_a_model_error(tmp_path: Path) -> None:
    path = tmp_path / "not-a-network.dat"
    path.write_bytes(b"\x01\x01" + bytes(range(256)) * 40)

    with pytest.raises(ModelError, match="not dlib's ResNet"):
        read_layers(path)


def test_a_truncated_weights_file_is_a_model_error(tmp_path: Path) -> None:
    path = tmp_path / "short.dat"
    # A convolution name followed by a tensor header promising more floats than follow.
    path.write_bytes(b"\x01\x05con_4\x01\x02\x01\x20\x01\x01\x01\x01\x01\x01" + b"\0" * 16)

    with pytest.raises(ModelError, match="bad tensor"):
        read_layers(path)


def test_converted_network_gives_dlibs_own_descriptors() -> None:
    dlib = pytest.importorskip("dlib", reason="the teacher is optional: make teacher")
    models = pytest.importorskip("face_recognition_models")
    import skimage.data

    image = skimage.data.astronaut()
    rng = np.random.default_rng(0)
    chips = [np.ascontiguousarray(image[20:220, 160:360][::4, ::4].repeat(3, 0).repeat(3, 1)
                                  [:150, :150]),
             rng.integers(0, 256, (150, 150, 3), dtype=np.uint8)]
    net = dlib.face_recognition_model_v1(models.face_recognition_model_location())
    theirs = np.array([np.array(net.compute_face_descriptor(c)) for c in chips])
    theirs /= np.linalg.norm(theirs, axis=1, keepdims=True)

    model = dlib_resnet.build_model()
    ours = np.asarray(model(np.stack(chips).astype(np.float32), training=False))

    np.testing.assert_allclose(ours, theirs, atol=1e-5)
    assert model.count_params() > 5_000_000


def test_factorised_network_stays_close_to_the_whole_one() -> None:
    pytest.importorskip("face_recognition_models", reason="the teacher is optional")
    rng = np.random.default_rng(2)
    x = rng.integers(0, 256, (3, 150, 150, 3)).astype(np.float32)

    whole = dlib_resnet.build_model()
    small = dlib_resnet.build_model(rank=128)
    cosines = np.sum(np.asarray(whole(x)) * np.asarray(small(x)), axis=1)

    assert small.count_params() < 0.55 * whole.count_params()
    assert cosines.min() > 0.9
