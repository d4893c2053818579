"""Siamese models and their encoders: one set of weights, any input shape, real learning.

The learning tests train the notebook encoder for a few seconds on real faces (ORL) and check
that each training set-up lowers its loss, which a wiring mistake (a branch not connected to
the loss, a frozen encoder, a loss that ignores its labels) would prevent.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from livesiam.errors import ConfigError, DatasetError
from livesiam.training import losses
from livesiam.training.models import ENCODERS, build_encoder, count_multiply_adds
from livesiam.training.pairs import make_pairs, make_triplets
from livesiam.training.siamese import (
    build_distance_model,
    build_pair_model,
    build_triplet_model,
    contrastive_keras_loss,
    triplet_keras_loss,
)

SMALL_SHAPE = (28, 28, 1)
SMALL_DIM = 16
BUILDERS = [build_pair_model, build_distance_model, build_triplet_model]
BUILDER_IDS = ["pair", "distance", "triplet"]


@pytest.fixture(scope="module")
def encoder() -> keras.Model:
    keras.utils.set_random_seed(0)
    return build_encoder("notebook", SMALL_SHAPE, SMALL_DIM)


def _images(count: int, shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    """Random pixel values 0..255, as a camera gives them."""
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 255, (count, *shape)).astype(np.float32)


def _run(model: keras.Model, inputs: list[np.ndarray]) -> np.ndarray:
    return keras.ops.convert_to_numpy(model(inputs, training=False))


def _embed(encoder: keras.Model, images: np.ndarray) -> np.ndarray:
    return keras.ops.convert_to_numpy(encoder(images, training=False))


# --- one encoder, one set of weights -----------------------------------------------------


@pytest.mark.parametrize("build", BUILDERS, ids=BUILDER_IDS)
def test_every_branch_is_the_one_encoder(build, encoder):
    model = build(encoder)

    nested = [layer for layer in model.layers if isinstance(layer, keras.Model)]
    assert nested == [encoder]
    encoder_weights = {id(w) for w in encoder.trainable_weights}
    model_weights = {id(w) for w in model.trainable_weights}
    assert encoder_weights <= model_weights
    head = 2 if build is build_pair_model else 0  # the pair model's Dense kernel and bias
    assert len(model.trainable_weights) == len(encoder.trainable_weights) + head


def test_changing_an_encoder_weight_changes_every_branch_alike():
    keras.utils.set_random_seed(1)
    encoder = build_encoder("notebook", SMALL_SHAPE, SMALL_DIM)
    triplet = build_triplet_model(encoder)
    distance = build_distance_model(encoder)
    images = [_images(2, SMALL_SHAPE, seed) for seed in (1, 2, 3)]
    before = _run(triplet, images)

    projection = encoder.get_layer("projection")
    kernel = projection.kernel
    kernel.assign(kernel + np.random.default_rng(0).normal(0, 0.1, kernel.shape))
    after = _run(triplet, images)

    for branch in range(3):
        expected = _embed(encoder, images[branch])
        np.testing.assert_allclose(after[:, branch], expected, atol=1e-5)
        assert not np.allclose(before[:, branch], after[:, branch], atol=1e-3)
    left, right = _embed(encoder, images[0]), _embed(encoder, images[1])
    expected_distance = np.linalg.norm(left - right, axis=1, keepdims=True)
    np.testing.assert_allclose(_run(distance, images[:2]), expected_distance, atol=1e-4)


def test_the_same_image_in_every_branch_gives_one_embedding(encoder):
    image = _images(3, SMALL_SHAPE)

    stacked = _run(build_triplet_model(encoder), [image, image, image])
    distance = _run(build_distance_model(encoder), [image, image])

    np.testing.assert_allclose(stacked[:, 0], stacked[:, 1], atol=1e-6)
    np.testing.assert_allclose(stacked[:, 0], stacked[:, 2], atol=1e-6)
    assert np.all(distance < 1e-3)  # the floor: sqrt(1e-7) = 3.2e-4


def test_pair_model_scores_two_images_the_same_whichever_branch_each_takes(encoder):
    left, right = _images(4, SMALL_SHAPE, 1), _images(4, SMALL_SHAPE, 2)
    model = build_pair_model(encoder)

    np.testing.assert_allclose(_run(model, [left, right]), _run(model, [right, left]),
                               atol=1e-6)


# --- encoders ----------------------------------------------------------------------------


ENCODER_SHAPES = [
    ("notebook", (28, 28, 1)),
    ("notebook", (112, 112, 3)),
    ("notebook", (20, 20, 1)),   # too small for three unpadded blocks
    ("notebook", (56, 46, 1)),
    ("resnet-small", (112, 112, 3)),
    ("resnet-small", (28, 28, 1)),
    ("resnet-small", (64, 48, 3)),
]


@pytest.mark.parametrize("name, shape", ENCODER_SHAPES,
                         ids=[f"{n}-{'x'.join(map(str, s))}" for n, s in ENCODER_SHAPES])
def test_every_model_takes_any_input_shape_and_gives_unit_embeddings(name, shape):
    keras.utils.set_random_seed(0)
    encoder = build_encoder(name, shape, embedding_dim=32)
    images = [_images(2, shape, seed) for seed in (1, 2, 3)]

    embeddings = _embed(encoder, images[0])
    probability = _run(build_pair_model(encoder), images[:2])
    distance = _run(build_distance_model(encoder), images[:2])
    stacked = _run(build_triplet_model(encoder), images)

    assert embeddings.shape == (2, 32)
    np.testing.assert_allclose(np.linalg.norm(embeddings, axis=1), 1.0, atol=1e-5)
    assert probability.shape == (2, 1) and np.all((probability > 0) & (probability < 1))
    assert distance.shape == (2, 1) and np.all((distance >= 0) & (distance <= 2 + 1e-5))
    assert stacked.shape == (2, 3, 32)


def test_notebook_embeddings_use_the_whole_sphere(encoder):
    # A relu before the normalisation (as in the notebook) would leave no negative component.
    embeddings = _embed(encoder, _images(8, SMALL_SHAPE))

    assert np.any(embeddings < -1e-3)


@pytest.mark.parametrize("name", sorted(ENCODERS))
def test_encoders_read_pixel_values_0_to_255(name):
    # A black and a white image must not saturate the network the way raw 0..255 would:
    # the rescaling layer maps them into a unit range.
    encoder = build_encoder(name, SMALL_SHAPE, SMALL_DIM)
    rescale = encoder.get_layer("rescale")
    black_white = keras.ops.convert_to_numpy(rescale(np.array([0.0, 255.0])))

    assert black_white.min() >= -1.0 and black_white.max() <= 1.0
    assert black_white[1] - black_white[0] == pytest.approx(1.0 if name == "notebook" else 1.99,
                                                            abs=0.01)


def test_resnet_small_is_small_and_cheap_on_a_112_face():
    encoder = build_encoder("resnet-small", (112, 112, 3))

    assert encoder.count_params() < 2_000_000
    # 0.1 - 0.2 GFLOPs, counting a multiply-add as two operations.
    assert 50e6 <= count_multiply_adds(encoder) <= 100e6


def test_count_multiply_adds_of_a_conv_and_a_dense_layer():
    # Conv2D 1 -> 2 channels, 3x3, same padding on 4x4: 4*4 positions * 2 * 9 * 1 = 288
    # Dense 32 -> 3: 96;  total 384
    inputs = keras.Input((4, 4, 1))
    x = keras.layers.Conv2D(2, 3, padding="same")(inputs)
    x = keras.layers.Dense(3)(keras.layers.Flatten()(x))

    assert count_multiply_adds(keras.Model(inputs, x)) == 384


def test_unknown_encoder_name_is_a_config_error():
    with pytest.raises(ConfigError, match="notebook"):
        build_encoder("vgg-huge", (112, 112, 3))


# --- compiling, fitting, saving ----------------------------------------------------------


def _compiled(build, encoder: keras.Model, learning_rate: float = 1e-3,
              run_eagerly: bool = False) -> keras.Model:
    model = build(encoder)
    loss = {
        build_pair_model: losses.pair_bce_loss,
        build_distance_model: contrastive_keras_loss(margin=1.0),
        build_triplet_model: triplet_keras_loss(alpha=0.2),
    }[build]
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=loss,
                  run_eagerly=run_eagerly)
    return model


@pytest.mark.parametrize("build", BUILDERS, ids=BUILDER_IDS)
def test_every_model_compiles_fits_and_survives_saving(build, tmp_path):
    keras.utils.set_random_seed(0)
    model = _compiled(build, build_encoder("notebook", SMALL_SHAPE, SMALL_DIM))
    images = [_images(8, SMALL_SHAPE, seed) for seed in range(len(model.inputs))]
    same = np.array([1, 0] * 4, dtype=np.float32)

    history = model.fit(images, same, batch_size=4, epochs=1, verbose=0)
    model.save(tmp_path / "model.keras")
    loaded = keras.models.load_model(tmp_path / "model.keras")

    assert np.isfinite(history.history["loss"][0])
    np.testing.assert_allclose(_run(loaded, images), _run(model, images), atol=1e-6)
    assert len(loaded.trainable_weights) == len(model.trainable_weights)
    assert loaded.evaluate(images, same, verbose=0) == pytest.approx(
        model.evaluate(images, same, verbose=0), rel=1e-5)


def test_triplet_model_trains_the_resnet_small_encoder():
    # Batch normalisation sees each of the three branches as a batch of its own; training
    # must still update the one shared encoder and stay finite.
    keras.utils.set_random_seed(0)
    shape = (32, 32, 3)
    encoder = build_encoder("resnet-small", shape, SMALL_DIM)
    # Eagerly: tracing this deeper graph would take several times longer than the step.
    model = _compiled(build_triplet_model, encoder, run_eagerly=True)
    images = [_images(4, shape, seed) for seed in range(3)]
    stem = encoder.get_layer("stem").kernel
    before = keras.ops.convert_to_numpy(stem).copy()

    history = model.fit(images, np.zeros(4, np.float32), batch_size=4, epochs=1, verbose=0)

    assert np.isfinite(history.history["loss"][0])
    assert not np.allclose(keras.ops.convert_to_numpy(stem), before)


def test_triplet_keras_loss_unpacks_the_stacked_embeddings():
    # Same triplets as the hand-worked triplet loss: mean = 4.1
    stacked = tf.constant([[[0.0, 0.0], [1.0, 0.0], [0.0, 2.0]],
                           [[0.0, 0.0], [3.0, 0.0], [0.0, 1.0]]])

    assert float(triplet_keras_loss(0.2)(tf.zeros(2), stacked)) == pytest.approx(4.1)


# --- pair and triplet sampling -----------------------------------------------------------


LABELS = np.array(["ann"] * 3 + ["bob"] * 2 + ["cy"] + ["dee"] * 4)


def test_make_pairs_gives_half_same_person_pairs_of_two_different_images():
    first, second, same = make_pairs(LABELS, 101, np.random.default_rng(0))

    assert len(first) == len(second) == len(same) == 101
    assert same.sum() == 50
    np.testing.assert_array_equal(same == 1.0, LABELS[first] == LABELS[second])
    assert np.all(first[same == 1.0] != second[same == 1.0])


def test_make_pairs_reaches_every_identity_and_repeats_with_the_seed():
    first, second, _ = make_pairs(LABELS, 400, np.random.default_rng(7))
    again = make_pairs(LABELS, 400, np.random.default_rng(7))

    assert set(LABELS[np.concatenate([first, second])]) == set(LABELS)
    np.testing.assert_array_equal(first, again[0])
    np.testing.assert_array_equal(second, again[1])


def test_make_triplets_pairs_one_person_against_another():
    anchor, positive, negative = make_triplets(LABELS, 200, np.random.default_rng(0))

    assert np.all(anchor != positive)
    np.testing.assert_array_equal(LABELS[anchor], LABELS[positive])
    assert np.all(LABELS[anchor] != LABELS[negative])
    assert "cy" not in set(LABELS[anchor])  # one image only: cannot be an anchor
    assert "cy" in set(LABELS[negative])


@pytest.mark.parametrize("labels", [np.array([1, 1, 1]), np.array([1, 2, 3])],
                         ids=["one-identity", "no-repeated-identity"])
def test_sampling_from_labels_that_cannot_give_both_kinds_is_an_error(labels):
    with pytest.raises(DatasetError):
        make_pairs(labels, 4, np.random.default_rng(0))
    with pytest.raises(DatasetError):
        make_triplets(labels, 4, np.random.default_rng(0))


# --- learning on real faces --------------------------------------------------------------


ORL_SIZE = (56, 46)  # (height, width): half of ORL's 112x92
LEARNED = 0.8        # the loss after training must be below this share of the loss before


@pytest.fixture(scope="module")
def orl(shared_data: Path) -> tuple[np.ndarray, np.ndarray]:
    """ORL faces (400 grey images, 40 people) at half size, with their identity labels."""
    root = shared_data / "faces" / "orl"
    images, labels = [], []
    for folder in sorted(root.glob("s*"), key=lambda p: int(p.name[1:])):
        for path in sorted(folder.glob("*.png")):
            with Image.open(path) as image:
                small = image.convert("L").resize(ORL_SIZE[::-1], Image.Resampling.BILINEAR)
            images.append(np.asarray(small, dtype=np.float32))
            labels.append(int(folder.name[1:]))
    assert len(images) == 400, f"{root}: expected 400 ORL images, found {len(images)}"
    return np.stack(images)[..., None], np.array(labels)


def _loss_before_and_after(model: keras.Model, inputs: list[np.ndarray], target: np.ndarray,
                           epochs: int) -> tuple[float, float]:
    before = model.evaluate(inputs, target, batch_size=128, verbose=0)
    model.fit(inputs, target, batch_size=32, epochs=epochs, verbose=0)
    after = model.evaluate(inputs, target, batch_size=128, verbose=0)
    return before, after


# Pair counts, epochs and learning rates are the smallest that learn clearly within a few
# seconds on two CPU cores. The probability head learns slowest: it must grow its weights
# before small differences between unit embeddings move the sigmoid.
@pytest.mark.parametrize("build, count, epochs, learning_rate", [
    (build_pair_model, 192, 8, 2e-3),
    (build_distance_model, 192, 2, 1e-3),
], ids=["pair-bce", "distance-contrastive"])
def test_pair_models_learn_on_real_faces(orl, build, count, epochs, learning_rate):
    images, labels = orl
    keras.utils.set_random_seed(0)
    first, second, same = make_pairs(labels, count, np.random.default_rng(0))
    model = _compiled(build, build_encoder("notebook", images.shape[1:], 64), learning_rate)

    before, after = _loss_before_and_after(model, [images[first], images[second]], same,
                                           epochs)

    assert after < LEARNED * before, f"loss {before:.4f} -> {after:.4f}"


def test_triplet_model_learns_on_real_faces(orl):
    images, labels = orl
    keras.utils.set_random_seed(0)
    anchor, positive, negative = make_triplets(labels, 192, np.random.default_rng(0))
    model = _compiled(build_triplet_model, build_encoder("notebook", images.shape[1:], 64))
    inputs = [images[anchor], images[positive], images[negative]]

    before, after = _loss_before_and_after(model, inputs, np.zeros(len(anchor)), epochs=2)

    assert after < LEARNED * before, f"loss {before:.4f} -> {after:.4f}"
