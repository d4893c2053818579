"""The training losses, checked against values worked out by hand on tiny batches."""

from __future__ import annotations

import math

import numpy as np
import pytest
import tensorflow as tf

from livesiam.training.losses import (
    batch_hard_triplet_loss,
    contrastive_loss,
    pair_bce_loss,
    pairwise_distances,
    semi_hard_triplet_loss,
    triplet_loss,
)
from livesiam.training.siamese import euclidean_distance


def _points(*xs: float) -> tf.Tensor:
    """Embeddings on a line, as 2-d vectors (x, 0): distances are plain |x_i - x_j|."""
    return tf.constant([[x, 0.0] for x in xs], dtype=tf.float32)


def _value(tensor: tf.Tensor) -> float:
    return float(tensor.numpy())


# --- contrastive loss --------------------------------------------------------------------


def test_contrastive_loss_pulls_same_pairs_and_pushes_others_up_to_the_margin():
    # same=1, d=0.5 -> 0.5^2                   = 0.25
    # same=0, d=0.3 -> max(1 - 0.3, 0)^2 = 0.7^2 = 0.49
    # same=0, d=1.5 -> max(1 - 1.5, 0)^2        = 0    (beyond the margin: no cost)
    # mean = (0.25 + 0.49 + 0) / 3 = 0.246667
    same = tf.constant([1.0, 0.0, 0.0])
    distance = tf.constant([0.5, 0.3, 1.5])

    assert _value(contrastive_loss(same, distance)) == pytest.approx(0.74 / 3, rel=1e-6)


def test_contrastive_loss_margin_sets_how_far_apart_different_people_must_be():
    # margin 2: 0.25 + (2 - 0.3)^2 + (2 - 1.5)^2 = 0.25 + 2.89 + 0.25 = 3.39; mean = 1.13
    same = tf.constant([1.0, 0.0, 0.0])
    distance = tf.constant([0.5, 0.3, 1.5])

    assert _value(contrastive_loss(same, distance, margin=2.0)) == pytest.approx(1.13, rel=1e-6)


def test_contrastive_loss_does_not_broadcast_a_column_against_a_row():
    # Labels (batch,) against distances (batch, 1), as Keras hands them over: the loss must
    # pair them element by element (0.246667 as above), not over a 3x3 grid of all pairs.
    same = tf.constant([1.0, 0.0, 0.0])
    distance = tf.constant([[0.5], [0.3], [1.5]])

    assert _value(contrastive_loss(same, distance)) == pytest.approx(0.74 / 3, rel=1e-6)
    assert _value(contrastive_loss(same[:, None], distance[:, 0])) == pytest.approx(0.74 / 3,
                                                                                    rel=1e-6)


# --- pair binary cross-entropy -----------------------------------------------------------


def test_pair_bce_loss_is_the_mean_negative_log_likelihood():
    # same=1, p=0.8 -> -ln(0.8) = 0.223144
    # same=0, p=0.4 -> -ln(0.6) = 0.510826
    # mean = 0.366985
    same = tf.constant([1.0, 0.0])
    probability = tf.constant([[0.8], [0.4]])

    expected = (-math.log(0.8) - math.log(0.6)) / 2
    assert _value(pair_bce_loss(same, probability)) == pytest.approx(expected, rel=1e-5)
    assert _value(pair_bce_loss(same[:, None], probability[:, 0])) == pytest.approx(expected,
                                                                                    rel=1e-5)


def test_pair_bce_loss_of_a_confident_mistake_is_large_but_finite():
    # p clipped to 1e-7: -ln(1e-7) = 16.118
    loss = _value(pair_bce_loss(tf.constant([1.0]), tf.constant([0.0])))

    assert 15.0 < loss < 17.0


# --- triplet loss ------------------------------------------------------------------------


def test_triplet_loss_is_the_batch_mean_over_squared_distances():
    # triplet 1: |a-p|^2 = 1, |a-n|^2 = 4 -> max(1 - 4 + 0.2, 0) = 0
    # triplet 2: |a-p|^2 = 9, |a-n|^2 = 1 -> max(9 - 1 + 0.2, 0) = 8.2
    # mean = 4.1 (a sum would give 8.2; plain distances would give 3 - 1 + 0.2 = 2.2 -> 1.1)
    anchor = tf.constant([[0.0, 0.0], [0.0, 0.0]])
    positive = tf.constant([[1.0, 0.0], [3.0, 0.0]])
    negative = tf.constant([[0.0, 2.0], [0.0, 1.0]])

    assert _value(triplet_loss(anchor, positive, negative, alpha=0.2)) == pytest.approx(4.1)


def test_triplet_loss_is_zero_once_the_negative_is_farther_by_alpha():
    # |a-p|^2 = 1, |a-n|^2 = 1.3: 1 - 1.3 + 0.2 < 0 -> 0; with alpha 0.5: 1 - 1.3 + 0.5 = 0.2
    anchor = tf.constant([[0.0, 0.0]])
    positive = tf.constant([[1.0, 0.0]])
    negative = tf.constant([[math.sqrt(1.3), 0.0]])

    assert _value(triplet_loss(anchor, positive, negative, alpha=0.2)) == 0.0
    assert _value(triplet_loss(anchor, positive, negative, alpha=0.5)) == pytest.approx(0.2,
                                                                                        abs=1e-5)


# --- pairwise distances ------------------------------------------------------------------


def test_pairwise_distances_of_a_3_4_5_triangle():
    # (0,0) - (3,4): 5;  (3,4) - (6,8): 5;  (0,0) - (6,8): 10
    embeddings = tf.constant([[0.0, 0.0], [3.0, 4.0], [6.0, 8.0]])

    distances = pairwise_distances(embeddings).numpy()
    squared = pairwise_distances(embeddings, squared=True).numpy()

    np.testing.assert_allclose(distances, [[0, 5, 10], [5, 0, 5], [10, 5, 0]], atol=1e-5)
    np.testing.assert_allclose(squared, [[0, 25, 100], [25, 0, 25], [100, 25, 0]], atol=1e-4)
    assert np.all(np.diag(distances) == 0.0)


def test_pairwise_distances_of_coinciding_embeddings_are_near_zero():
    embeddings = tf.constant([[0.6, 0.8], [0.6, 0.8], [0.8, 0.6]])

    distances = pairwise_distances(embeddings).numpy()

    assert distances[0, 1] < 1e-3
    # (0.6,0.8) - (0.8,0.6): sqrt(0.04 + 0.04) = 0.282843
    assert distances[0, 2] == pytest.approx(math.sqrt(0.08), rel=1e-4)


# --- batch-hard triplet loss -------------------------------------------------------------


def test_batch_hard_picks_the_farthest_positive_and_the_nearest_negative():
    # Points on a line; identity 0 at x = 0, 1, 4; identity 1 at x = 5, 9; margin 1.
    # anchor x=0: positives 1, 4 -> 4; negatives 5, 9 -> 5; max(4 - 5 + 1, 0) = 0
    # anchor x=1: positives 1, 3 -> 3; negatives 4, 8 -> 4; max(3 - 4 + 1, 0) = 0
    # anchor x=4: positives 4, 3 -> 4; negatives 1, 5 -> 1; max(4 - 1 + 1, 0) = 4
    # anchor x=5: positive  4    -> 4; negatives 5, 4, 1 -> 1; max(4 - 1 + 1, 0) = 4
    # anchor x=9: positive  4    -> 4; negatives 9, 8, 5 -> 5; max(4 - 5 + 1, 0) = 0
    # mean over 5 anchors = 8 / 5 = 1.6
    # The mean over all 18 triplets would be 12 / 18 = 0.667 instead: the anchor x=4 gives
    # 4 + 0 + 3 + 0 = 7 over its 4 triplets, the anchor x=5 gives 0 + 1 + 4 = 5, others 0.
    embeddings = _points(0, 1, 4, 5, 9)
    labels = tf.constant([0, 0, 0, 1, 1])

    assert _value(batch_hard_triplet_loss(embeddings, labels, margin=1.0)) == pytest.approx(1.6)


def test_batch_hard_leaves_out_anchors_without_a_positive():
    # identity 0 at x = 0, 1; identity 1 alone at x = 1.5; margin 1.
    # anchor x=0: 1 - 1.5 + 1 = 0.5;  anchor x=1: 1 - 0.5 + 1 = 1.5;  anchor x=1.5: no positive
    # mean over the 2 usable anchors = 1.0 (over all 3 it would be 0.667)
    embeddings = _points(0, 1, 1.5)
    labels = tf.constant([0, 0, 1])

    assert _value(batch_hard_triplet_loss(embeddings, labels, margin=1.0)) == pytest.approx(1.0)


def test_batch_hard_of_a_batch_without_usable_anchor_is_zero():
    one_identity = batch_hard_triplet_loss(_points(0, 1, 2), tf.constant([3, 3, 3]), 1.0)
    all_singletons = batch_hard_triplet_loss(_points(0, 1, 2), tf.constant([1, 2, 3]), 1.0)

    assert _value(one_identity) == 0.0
    assert _value(all_singletons) == 0.0


# --- semi-hard triplet loss --------------------------------------------------------------


def test_semi_hard_takes_the_nearest_negative_farther_than_the_positive():
    # Identity 0 at x = 0 and 4 (d_ap = 4); one image each of identities 1, 2, 3 at x = 1, 3,
    # 6; margin 3. The singletons have no positive, so the pairs are (0 -> 4) and (4 -> 0).
    # anchor x=0: negatives at 1, 3, 6; farther than 4: only 6 (semi-hard: 4 < 6 < 4 + 3)
    #   -> max(4 - 6 + 3, 0) = 1   (the hardest negative, 1, would give 6)
    # anchor x=4: negatives at 3, 1, 2; none farther than 4 -> the farthest of them, 3
    #   -> max(4 - 3 + 3, 0) = 4   (the nearest, 1, would give 6)
    # mean over the 2 pairs = 2.5 (batch-hard would give (6 + 6) / 2 = 6)
    embeddings = _points(0, 4, 1, 3, 6)
    labels = tf.constant([0, 0, 1, 2, 3])

    assert _value(semi_hard_triplet_loss(embeddings, labels, margin=3.0)) == pytest.approx(2.5)
    assert _value(batch_hard_triplet_loss(embeddings, labels, margin=3.0)) == pytest.approx(6.0)


def test_semi_hard_counts_pairs_whose_negative_is_already_far_enough_as_zero():
    # Identity 0 at x = 0, 1 (d_ap = 1); identity 1 at x = 10, 30; margin 1.
    # pairs (0->1), (1->0): nearest farther negative 10 or 9 -> 0.
    # pairs (10->30), (30->10): d_ap = 20; negatives from 10: 10, 9; from 30: 30, 29.
    #   (10->30): none farther than 20 -> farthest 10 -> max(20 - 10 + 1, 0) = 11
    #   (30->10): nearest farther than 20 is 29 -> max(20 - 29 + 1, 0) = 0
    # mean over 4 pairs = 11 / 4 = 2.75
    embeddings = _points(0, 1, 10, 30)
    labels = tf.constant([0, 0, 1, 1])

    assert _value(semi_hard_triplet_loss(embeddings, labels, margin=1.0)) == pytest.approx(2.75)


def test_semi_hard_of_a_batch_without_negatives_is_zero():
    loss = semi_hard_triplet_loss(_points(0, 1, 2), tf.constant([5, 5, 5]), margin=1.0)

    assert _value(loss) == 0.0


# --- gradients where embeddings coincide -------------------------------------------------


def _gradient(loss_of, embeddings: np.ndarray) -> np.ndarray:
    variable = tf.Variable(embeddings, dtype=tf.float32)
    with tf.GradientTape() as tape:
        loss = loss_of(variable)
    return tape.gradient(loss, variable).numpy()


# Rows 0 and 1 are the same embedding (the same image twice in a batch).
_COINCIDING = np.array([[0.6, 0.8], [0.6, 0.8], [0.8, 0.6], [-0.6, 0.8]], dtype=np.float32)
_COINCIDING_LABELS = tf.constant([0, 0, 1, 1])


@pytest.mark.parametrize("loss_of", [
    lambda e: tf.reduce_sum(pairwise_distances(e)),
    lambda e: tf.reduce_sum(pairwise_distances(e, squared=True)),
    lambda e: batch_hard_triplet_loss(e, _COINCIDING_LABELS, margin=0.5),
    lambda e: semi_hard_triplet_loss(e, _COINCIDING_LABELS, margin=0.5),
    lambda e: tf.reduce_sum(euclidean_distance(e[:2], e[1:3])),
], ids=["pairwise", "pairwise-squared", "batch-hard", "semi-hard", "euclidean"])
def test_gradients_stay_finite_when_two_embeddings_coincide(loss_of):
    gradient = _gradient(loss_of, _COINCIDING)

    assert np.all(np.isfinite(gradient))


def test_batch_hard_gradient_still_moves_the_embeddings_when_two_coincide():
    # The anchor at row 2 has the coinciding rows as its negatives; it must still be pushed.
    gradient = _gradient(lambda e: batch_hard_triplet_loss(e, _COINCIDING_LABELS, 0.5),
                         _COINCIDING)

    assert np.abs(gradient).sum() > 0.0


def test_euclidean_distance_is_floored_so_identical_inputs_give_sqrt_epsilon():
    a = tf.constant([[1.0, 2.0, 3.0]])

    assert _value(euclidean_distance(a, a)[0, 0]) == pytest.approx(math.sqrt(1e-7), rel=1e-3)
    # (0,0,0) - (3,4,0): 5, shape (batch, 1)
    distance = euclidean_distance(tf.zeros((1, 3)), tf.constant([[3.0, 4.0, 0.0]]))
    assert tuple(distance.shape) == (1, 1)
    assert _value(distance[0, 0]) == pytest.approx(5.0)
