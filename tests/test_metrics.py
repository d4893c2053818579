"""Verification metrics on pairs small enough to work out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from livesiam.training.metrics import (accuracy_at, auc, best_threshold, cross_fold_accuracy,
                                       eer, roc_curve, tar_at_far, verification_metrics)

T, F = True, False


def test_roc_lists_every_distinct_threshold_from_strictest_to_loosest() -> None:
    far, tar, thresholds = roc_curve(np.array([0.7, 0.9, 0.6, 0.8]), np.array([T, T, F, F]))

    np.testing.assert_allclose(thresholds, [np.inf, 0.9, 0.8, 0.7, 0.6])
    np.testing.assert_allclose(far, [0.0, 0.0, 0.5, 0.5, 1.0])
    np.testing.assert_allclose(tar, [0.0, 0.5, 0.5, 1.0, 1.0])


def test_roc_keeps_tied_scores_together() -> None:
    far, tar, thresholds = roc_curve(np.array([0.5, 0.5, 0.9]), np.array([T, F, T]))

    np.testing.assert_allclose(thresholds, [np.inf, 0.9, 0.5])
    np.testing.assert_allclose(far, [0.0, 0.0, 1.0])
    np.testing.assert_allclose(tar, [0.0, 0.5, 1.0])


def test_auc_is_the_chance_a_same_pair_outscores_a_different_pair() -> None:
    # Same pairs 0.9 and 0.7, different pairs 0.8 and 0.6: three of the four orderings are right.
    far, tar, _ = roc_curve(np.array([0.9, 0.8, 0.7, 0.6]), np.array([T, F, T, F]))

    assert auc(far, tar) == pytest.approx(0.75)


def test_auc_of_perfect_and_of_useless_scores() -> None:
    assert auc(*roc_curve([0.9, 0.8, 0.2, 0.1], [T, T, F, F])[:2]) == pytest.approx(1.0)
    assert auc(*roc_curve([0.5, 0.5, 0.5, 0.5], [T, F, T, F])[:2]) == pytest.approx(0.5)


def test_eer_is_zero_for_separable_scores_and_half_for_interleaved_ones() -> None:
    assert eer(*roc_curve([0.9, 0.8, 0.2, 0.1], [T, T, F, F])[:2]) == pytest.approx(0.0)
    assert eer(*roc_curve([0.9, 0.8, 0.7, 0.6], [T, F, T, F])[:2]) == pytest.approx(0.5)


def test_tar_at_far_uses_the_loosest_threshold_within_the_false_accept_rate() -> None:
    different = np.arange(0.05, 1.0, 0.1)          # ten impostor pairs, 0.05 .. 0.95
    same = np.array([0.99, 0.9, 0.6, 0.3])
    scores = np.r_[different, same]
    labels = np.r_[np.zeros(10, bool), np.ones(4, bool)]
    far, tar, thresholds = roc_curve(scores, labels)

    # At 0.9 one impostor (0.95) and two genuine pairs (0.99, 0.9) are accepted; one step
    # looser (0.85) a second impostor gets in, 20 % false accepts.
    found = tar_at_far(far, tar, thresholds, 0.1, n_negatives=10)

    assert found == pytest.approx((0.5, 0.9))


def test_tar_at_far_is_unknown_without_enough_impostor_pairs() -> None:
    far, tar, thresholds = roc_curve([0.9, 0.1], [T, F])

    assert tar_at_far(far, tar, thresholds, 0.01, n_negatives=99) is None
    assert tar_at_far(far, tar, thresholds, 0.01, n_negatives=100) is not None


def test_best_threshold_sits_halfway_between_the_scores_it_separates() -> None:
    threshold, accuracy = best_threshold(np.array([0.1, 0.2, 0.7, 0.9]), np.array([F, F, T, T]))

    assert threshold == pytest.approx(0.45)
    assert accuracy == 1.0


def test_best_threshold_never_splits_tied_scores() -> None:
    threshold, accuracy = best_threshold(np.array([0.5, 0.5, 0.9]), np.array([F, T, T]))

    assert threshold != pytest.approx(0.5)
    assert accuracy == pytest.approx(2 / 3)


def test_best_threshold_accuracy_is_what_that_threshold_scores() -> None:
    rng = np.random.default_rng(0)
    for _ in range(20):
        same = rng.random(30) < 0.5
        scores = np.round(rng.normal(same * 0.6, 0.4), 1)  # rounded: many ties

        threshold, accuracy = best_threshold(scores, same)

        assert accuracy == pytest.approx(accuracy_at(scores, same, threshold))
        candidates = np.r_[np.unique(scores) - 1e-3, np.unique(scores) + 1e-3]
        assert accuracy >= max(accuracy_at(scores, same, c) for c in candidates)


def test_accuracy_calls_a_score_equal_to_the_threshold_same() -> None:
    assert accuracy_at(np.array([0.5, 0.4]), np.array([T, F]), 0.5) == 1.0


def test_cross_fold_accuracy_judges_each_fold_with_the_others_threshold() -> None:
    scores = np.array([0.1, 0.9, 0.3, 0.45])
    same = np.array([F, T, F, T])
    folds = np.array([1, 1, 2, 2])
    # Fold 2's threshold (0.375) gets fold 1 right; fold 1's (0.5) calls 0.45 different.
    assert cross_fold_accuracy(scores, same, folds) == pytest.approx((1.0 + 0.5) / 2)
    # With one fold, the fold's own best threshold is used.
    assert cross_fold_accuracy(scores, same, np.ones(4)) == 1.0


def test_verification_metrics_report_unmeasurable_rates_as_none() -> None:
    scores = np.array([0.9, 0.8, 0.7, 0.2, 0.1, 0.3])
    same = np.array([T, T, T, F, F, F])

    metrics = verification_metrics(scores, same, folds=np.array([1, 2, 1, 2, 1, 2]))

    assert metrics["pairs"] == 6
    assert metrics["same_pairs"] == 3
    assert metrics["different_pairs"] == 3
    assert metrics["auc"] == 1.0
    assert metrics["eer"] == 0.0
    assert metrics["accuracy"] == 1.0
    assert 0.3 < metrics["threshold"] < 0.7
    assert metrics["tar_at_far"] == {"0.01": None, "0.001": None, "0.0001": None}
    assert metrics["threshold_at_far"] == {"0.01": None, "0.001": None, "0.0001": None}
    assert verification_metrics(scores, same)["accuracy"] is None
