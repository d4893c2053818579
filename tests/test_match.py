"""Labels go one-to-one from the highest score down; below the threshold a face stays unnamed."""

from __future__ import annotations

import numpy as np

from livesiam.match import Match, assign, score_matrix
from livesiam.templates import TargetTemplates

THRESHOLD = 0.6


def unit(vector: list[float]) -> np.ndarray:
    array = np.asarray(vector, dtype=np.float32)
    return array / np.linalg.norm(array)


def test_face_above_the_threshold_gets_the_name() -> None:
    (match,) = assign(np.array([[0.8]]), ["ana"], THRESHOLD)

    assert match == Match("ana", 0.8, "ana")


def test_score_equal_to_the_threshold_is_a_match() -> None:
    (match,) = assign(np.array([[THRESHOLD]]), ["ana"], THRESHOLD)

    assert match.label == "ana"


def test_face_below_the_threshold_has_no_label_but_keeps_its_best_guess() -> None:
    (match,) = assign(np.array([[0.3, 0.55]]), ["ana", "ben"], THRESHOLD)

    assert match.label is None
    assert match.best == "ben"
    assert match.score == 0.55


def test_each_target_labels_at_most_one_face_the_most_similar() -> None:
    # Both faces look most like ana; the closer one gets her, and the other is not close
    # enough to ben to be named instead.
    scores = np.array([[0.80, 0.50],
                       [0.90, 0.70]])

    first, second = assign(scores, ["ana", "ben"], THRESHOLD)

    assert second == Match("ana", 0.90, "ana")
    assert first.label is None
    assert first.best == "ana"
    assert first.score == 0.80


def test_face_that_loses_its_first_choice_takes_its_next_choice_above_threshold() -> None:
    scores = np.array([[0.80, 0.70],
                       [0.90, 0.20]])

    first, second = assign(scores, ["ana", "ben"], THRESHOLD)

    assert second.label == "ana"
    assert first == Match("ben", 0.70, "ben")


def test_each_face_carries_at_most_one_label() -> None:
    (match,) = assign(np.array([[0.9, 0.8]]), ["ana", "ben"], THRESHOLD)

    assert match.label == "ana"


def test_without_targets_no_face_is_named() -> None:
    matches = assign(np.zeros((3, 0)), [], THRESHOLD)

    assert matches == [Match(None, 0.0, None)] * 3


def test_frame_without_faces_gives_no_matches() -> None:
    assert assign(np.zeros((0, 2)), ["ana", "ben"], THRESHOLD) == []


def test_score_matrix_holds_each_face_against_each_targets_nearest_template() -> None:
    ana = TargetTemplates("ana", np.stack([unit([1, 0, 0]), unit([0, 1, 0])]))
    ben = TargetTemplates("ben", unit([0, 0, 1])[None])
    faces = np.stack([unit([1, 1, 0]), unit([0, 0, 1])])

    scores = score_matrix(faces, [ana, ben])

    assert scores.shape == (2, 2)
    np.testing.assert_allclose(scores, [[np.sqrt(0.5), 0.0], [0.0, 1.0]], atol=1e-6)
    assert score_matrix(faces, []).shape == (2, 0)
    assert score_matrix(np.zeros((0, 3), np.float32), [ana, ben]).shape == (0, 2)


def test_lookalike_beside_the_target_does_not_take_the_label() -> None:
    enrolled = unit([1, 0, 0, 0])
    target = TargetTemplates("ana", enrolled[None])
    lookalike = unit([0.8, 0.6, 0, 0])   # 0.80 to ana: above the threshold on its own
    real_ana = unit([0.95, 0, 0.3, 0])   # about 0.95 to ana
    faces = np.stack([lookalike, real_ana])  # the lookalike is nearer the camera, listed first

    matches = assign(score_matrix(faces, [target]), ["ana"], THRESHOLD)

    assert matches[1].label == "ana"
    assert matches[0].label is None
    assert matches[0].best == "ana"
    assert matches[0].score > THRESHOLD
