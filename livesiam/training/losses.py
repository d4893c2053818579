"""Losses that teach an encoder to map images of one person close together.

Every function takes and returns TensorFlow tensors and can be used inside ``tf.GradientTape``
or a Keras training step. Distances are Euclidean distances between embeddings: lower means
more alike, the opposite of a score.

Where a distance goes through a square root, the squared distance is floored at a small
epsilon first: the derivative of sqrt is infinite at 0, so two embeddings that coincide (the
same image twice in a batch, or a collapsed encoder) would otherwise give NaN gradients that
spoil every weight in one step.

``contrastive_loss`` and ``pair_bce_loss`` take ``(y_true, y_pred)`` in Keras' order and are
registered with Keras, so a model compiled with either can be saved and loaded again.
"""

from __future__ import annotations

import keras
import tensorflow as tf

SQUARED_DISTANCE_FLOOR = 1e-12
"""Squared distances below this are treated as this value before the square root, so the
smallest distance reported between two different embeddings is 1e-6."""


@keras.saving.register_keras_serializable(package="livesiam")
def contrastive_loss(same: tf.Tensor, distance: tf.Tensor, margin: float = 1.0) -> tf.Tensor:
    """Contrastive loss of pairs, averaged over the batch.

    ``loss = mean(same * d^2 + (1 - same) * max(margin - d, 0)^2)``

    Pairs of one person (``same`` = 1) are pulled together; pairs of two people (``same`` = 0)
    are pushed apart until their distance ``d`` reaches ``margin``, and cost nothing beyond.
    ``same`` and ``distance`` have shape (batch,) or (batch, 1).
    """
    distance = tf.reshape(tf.convert_to_tensor(distance), [-1])
    same = tf.cast(tf.reshape(same, [-1]), distance.dtype)

    pull = same * tf.square(distance)
    push = (1.0 - same) * tf.square(tf.maximum(margin - distance, 0.0))
    return tf.reduce_mean(pull + push)


@keras.saving.register_keras_serializable(package="livesiam")
def pair_bce_loss(same: tf.Tensor, probability: tf.Tensor) -> tf.Tensor:
    """Binary cross-entropy of the predicted probability that a pair shows one person.

    ``loss = mean(-(same * log(p) + (1 - same) * log(1 - p)))``

    ``p`` is clipped to [1e-7, 1 - 1e-7] as Keras does, so a confident mistake costs about 16
    rather than infinity. Shapes (batch,) or (batch, 1).
    """
    probability = tf.reshape(tf.convert_to_tensor(probability), [-1, 1])
    same = tf.cast(tf.reshape(same, [-1, 1]), probability.dtype)
    return tf.reduce_mean(keras.losses.binary_crossentropy(same, probability))


def triplet_loss(anchor: tf.Tensor, positive: tf.Tensor, negative: tf.Tensor,
                 alpha: float = 0.2) -> tf.Tensor:
    """Triplet loss on squared Euclidean distances, averaged over the batch.

    ``loss = mean(max(|a - p|^2 - |a - n|^2 + alpha, 0))``

    The anchor ``a`` and positive ``p`` show one person, the negative ``n`` another; the loss
    is zero once the negative is farther from the anchor than the positive by ``alpha`` (in
    squared distance). The mean, not the sum, keeps the loss and its gradients the same size
    whatever the batch size, so a learning rate tuned on one batch size still fits another.
    Embeddings have shape (batch, dim).
    """
    positive_distance = tf.reduce_sum(tf.square(anchor - positive), axis=-1)
    negative_distance = tf.reduce_sum(tf.square(anchor - negative), axis=-1)
    return tf.reduce_mean(tf.nn.relu(positive_distance - negative_distance + alpha))


def pairwise_distances(embeddings: tf.Tensor, squared: bool = False) -> tf.Tensor:
    """Euclidean distance between every two embeddings of a batch, shape (batch, batch).

    ``d[i, j] = |e_i - e_j|`` (or its square), computed as ``|e_i|^2 - 2 e_i.e_j + |e_j|^2``.
    The diagonal is exactly 0. Off the diagonal, squared distances are floored at
    ``SQUARED_DISTANCE_FLOOR`` before the square root so that gradients stay finite when two
    embeddings coincide.
    """
    embeddings = tf.convert_to_tensor(embeddings)
    dot = tf.matmul(embeddings, embeddings, transpose_b=True)
    norms = tf.linalg.diag_part(dot)
    # Rounding in the expansion can leave a tiny negative value where the true one is 0.
    squared_distances = tf.maximum(norms[:, None] - 2.0 * dot + norms[None, :], 0.0)
    off_diagonal = 1.0 - tf.eye(tf.shape(embeddings)[0], dtype=embeddings.dtype)

    if squared:
        return squared_distances * off_diagonal
    floored = tf.maximum(squared_distances, SQUARED_DISTANCE_FLOOR)
    return tf.sqrt(floored) * off_diagonal


def _identity_masks(labels: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """(positive, negative) boolean masks of shape (batch, batch): same identity but another
    image, and another identity."""
    labels = tf.reshape(labels, [-1])
    same_identity = tf.equal(labels[:, None], labels[None, :])
    other_image = tf.logical_not(tf.eye(tf.shape(labels)[0], dtype=tf.bool))
    return tf.logical_and(same_identity, other_image), tf.logical_not(same_identity)


def _masked_mean(values: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
    """Mean of ``values`` where ``mask`` holds; 0 when it holds nowhere (nothing to learn)."""
    kept = tf.where(mask, values, tf.zeros_like(values))
    count = tf.reduce_sum(tf.cast(mask, values.dtype))
    return tf.reduce_sum(kept) / tf.maximum(count, 1.0)


def batch_hard_triplet_loss(embeddings: tf.Tensor, labels: tf.Tensor,
                            margin: float) -> tf.Tensor:
    """Triplet loss with the hardest triplet of each anchor mined inside the batch.

    For each anchor ``a``: ``d_ap`` is the largest distance to another image of the same
    identity, ``d_an`` the smallest distance to an image of another identity, and

    ``loss = mean over anchors of max(d_ap - d_an + margin, 0)``

    with plain (not squared) Euclidean distances. Anchors without any positive or any
    negative in the batch are left out of the mean; a batch without a single usable anchor
    gives 0. Meant for batches of P identities x K images each (K >= 2).
    """
    distances = pairwise_distances(embeddings)
    positive_mask, negative_mask = _identity_masks(labels)

    # Distances are >= 0, so 0 never wins the maximum over an anchor's positives.
    hardest_positive = tf.reduce_max(
        tf.where(positive_mask, distances, tf.zeros_like(distances)), axis=1)
    # Non-negatives are filled with a value above every distance so that they never win the
    # minimum; stop_gradient because that filler is not part of any triplet.
    above_all = tf.stop_gradient(tf.reduce_max(distances)) + 1.0
    hardest_negative = tf.reduce_min(
        tf.where(negative_mask, distances, tf.fill(tf.shape(distances), above_all)), axis=1)

    usable = tf.logical_and(tf.reduce_any(positive_mask, axis=1),
                            tf.reduce_any(negative_mask, axis=1))
    return _masked_mean(tf.nn.relu(hardest_positive - hardest_negative + margin), usable)


def semi_hard_triplet_loss(embeddings: tf.Tensor, labels: tf.Tensor,
                           margin: float) -> tf.Tensor:
    """Triplet loss over every (anchor, positive) pair of the batch, with semi-hard negatives.

    For each pair with distance ``d_ap``, the negative is the one of the anchor's negatives
    nearest to the anchor among those strictly farther than the positive (``d_an > d_ap``):
    the semi-hard one when ``d_an < d_ap + margin``, otherwise a negative that costs nothing.
    When every negative is at most as far as the positive, the farthest of them (largest
    ``d_an``) is used: the least hard of the hard ones. That is the choice of the TensorFlow
    reference implementation of FaceNet's loss; the nearest negative would instead push hard
    on the worst outliers, which FaceNet reports can collapse training early.

    ``loss = mean over (anchor, positive) pairs of max(d_ap - d_an + margin, 0)``

    with plain Euclidean distances. Pairs whose anchor has no negative in the batch are left
    out; a batch without a single usable pair gives 0. Memory grows as batch^3.
    """
    distances = pairwise_distances(embeddings)
    positive_mask, negative_mask = _identity_masks(labels)

    # Axis 0: anchor, 1: positive, 2: candidate negative.
    anchor_positive = distances[:, :, None]
    anchor_negative = distances[:, None, :]
    farther = tf.logical_and(negative_mask[:, None, :], anchor_negative > anchor_positive)
    above_all = tf.stop_gradient(tf.reduce_max(distances)) + 1.0
    nearest_farther = tf.reduce_min(
        tf.where(farther, anchor_negative, tf.fill(tf.shape(farther), above_all)), axis=2)
    # All distances are >= 0, so 0 never wins the maximum over an anchor's negatives.
    farthest_negative = tf.reduce_max(
        tf.where(negative_mask, distances, tf.zeros_like(distances)), axis=1)
    chosen_negative = tf.where(tf.reduce_any(farther, axis=2), nearest_farther,
                               farthest_negative[:, None])

    usable = tf.logical_and(positive_mask, tf.reduce_any(negative_mask, axis=1)[:, None])
    return _masked_mean(tf.nn.relu(distances - chosen_negative + margin), usable)
