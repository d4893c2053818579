"""Siamese training models: one encoder, applied to two or three images at once.

Each model calls the very same encoder object on every input, so all branches share one set
of weights: what the encoder learns from one branch it applies to the others, and after
training the encoder alone is kept as the embedder.

- ``build_pair_model``: two images -> probability that they show one person (train with
  binary cross-entropy).
- ``build_distance_model``: two images -> Euclidean distance of their embeddings (train with
  the contrastive loss).
- ``build_triplet_model``: anchor, positive, negative -> the three embeddings stacked into one
  tensor (train with ``triplet_keras_loss``).

The small layers joining the branches are registered Keras layers, so the models save to and
load from ``.keras`` files without custom code at load time.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from ..errors import ModelError
from . import losses

_PACKAGE = "livesiam"


def euclidean_distance(a: tf.Tensor, b: tf.Tensor, epsilon: float = 1e-7) -> tf.Tensor:
    """``sqrt(max(sum((a - b)^2), epsilon))`` over the last axis, shape (batch, 1).

    The floor keeps the gradient finite when ``a`` equals ``b`` (the derivative of sqrt is
    infinite at 0); the price is that no distance is reported below ``sqrt(epsilon)``.
    """
    squared = keras.ops.sum(keras.ops.square(a - b), axis=-1, keepdims=True)
    return keras.ops.sqrt(keras.ops.maximum(squared, epsilon))


def absolute_difference(a: tf.Tensor, b: tf.Tensor) -> tf.Tensor:
    """``|a - b|`` element by element, shape (batch, dim): a feature vector, not a distance."""
    return keras.ops.abs(a - b)


@keras.saving.register_keras_serializable(package=_PACKAGE)
class EuclideanDistance(keras.layers.Layer):
    """Layer form of ``euclidean_distance`` for two embeddings."""

    def __init__(self, epsilon: float = 1e-7, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = epsilon

    def call(self, inputs):
        left, right = inputs
        return euclidean_distance(left, right, self.epsilon)

    def compute_output_shape(self, input_shape):
        return (*input_shape[0][:-1], 1)

    def get_config(self) -> dict:
        return {**super().get_config(), "epsilon": self.epsilon}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class AbsoluteDifference(keras.layers.Layer):
    """Layer form of ``absolute_difference`` for two embeddings."""

    def call(self, inputs):
        left, right = inputs
        return absolute_difference(left, right)

    def compute_output_shape(self, input_shape):
        return input_shape[0]


@keras.saving.register_keras_serializable(package=_PACKAGE)
class StackEmbeddings(keras.layers.Layer):
    """Stacks (anchor, positive, negative) embeddings into one tensor (batch, 3, dim).

    Keras 3 compiles a loss against each model output, so the triplet's three embeddings
    travel as one output that the loss unpacks.
    """

    def call(self, inputs):
        return keras.ops.stack(list(inputs), axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0], len(input_shape), *input_shape[0][1:])


@keras.saving.register_keras_serializable(package=_PACKAGE)
class TripletLoss(keras.losses.Loss):
    """Keras form of ``losses.triplet_loss`` for the output of ``build_triplet_model``.

    ``y_true`` is ignored (Keras still needs one per sample, e.g. zeros); ``y_pred`` has shape
    (batch, 3, dim) with anchor, positive and negative embeddings in that order.
    """

    def __init__(self, alpha: float = 0.2, name: str = "triplet_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        self.alpha = alpha

    def call(self, y_true, y_pred):
        return losses.triplet_loss(y_pred[:, 0], y_pred[:, 1], y_pred[:, 2], self.alpha)

    def get_config(self) -> dict:
        return {**super().get_config(), "alpha": self.alpha}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class ContrastiveLoss(keras.losses.Loss):
    """Keras form of ``losses.contrastive_loss``: ``y_true`` is 1 for one person, 0 for two;
    ``y_pred`` is the distance from ``build_distance_model``."""

    def __init__(self, margin: float = 1.0, name: str = "contrastive_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        self.margin = margin

    def call(self, y_true, y_pred):
        return losses.contrastive_loss(y_true, y_pred, self.margin)

    def get_config(self) -> dict:
        return {**super().get_config(), "margin": self.margin}


def triplet_keras_loss(alpha: float = 0.2) -> TripletLoss:
    """A loss ``(y_true, y_pred) -> scalar`` for ``model.compile`` of the triplet model."""
    return TripletLoss(alpha)


def contrastive_keras_loss(margin: float = 1.0) -> ContrastiveLoss:
    """A loss ``(y_true, y_pred) -> scalar`` for ``model.compile`` of the distance model."""
    return ContrastiveLoss(margin)


def _image_inputs(encoder: keras.Model, names: tuple[str, ...]) -> list[keras.KerasTensor]:
    if isinstance(encoder.input_shape, list):
        raise ModelError(f"encoder {encoder.name!r} has {len(encoder.input_shape)} inputs; "
                         "a Siamese branch needs an encoder of one image")
    shape = tuple(encoder.input_shape[1:])
    return [keras.Input(shape=shape, name=name) for name in names]


def build_pair_model(encoder: keras.Model) -> keras.Model:
    """Two images -> probability (batch, 1) that they show one person.

    The head is a Dense sigmoid on ``|e_left - e_right|``: it learns which embedding
    components matter, which a plain distance cannot. Compile with ``losses.pair_bce_loss``.
    """
    left, right = _image_inputs(encoder, ("left", "right"))
    difference = AbsoluteDifference(name="difference")([encoder(left), encoder(right)])
    probability = keras.layers.Dense(1, activation="sigmoid", name="same_probability")(
        difference)
    return keras.Model([left, right], probability, name="pair_model")


def build_distance_model(encoder: keras.Model) -> keras.Model:
    """Two images -> Euclidean distance (batch, 1) of their embeddings.

    No weights beyond the encoder's. Compile with ``contrastive_keras_loss(margin)`` or
    ``losses.contrastive_loss``.
    """
    left, right = _image_inputs(encoder, ("left", "right"))
    distance = EuclideanDistance(name="distance")([encoder(left), encoder(right)])
    return keras.Model([left, right], distance, name="distance_model")


def build_triplet_model(encoder: keras.Model) -> keras.Model:
    """Anchor, positive and negative images -> their embeddings stacked, (batch, 3, dim).

    No weights beyond the encoder's. Compile with ``triplet_keras_loss(alpha)`` and fit with
    any per-sample target (it is ignored), e.g. ``np.zeros(batch)``.
    """
    anchor, positive, negative = _image_inputs(encoder, ("anchor", "positive", "negative"))
    stacked = StackEmbeddings(name="embeddings")(
        [encoder(anchor), encoder(positive), encoder(negative)])
    return keras.Model([anchor, positive, negative], stacked, name="triplet_model")
