"""Template learning: new looks of the target are learned, but never at the cost of its identity."""

from __future__ import annotations

import math

import numpy as np
import pytest

from livesiam.config import TemplateOptions
from livesiam.templates import TargetTemplates, TemplateUpdater

DIM = 16
THRESHOLD = 0.6
DEFAULTS = TemplateOptions()
LEARN_AT = THRESHOLD + DEFAULTS.learn_margin


def axis(i: int) -> np.ndarray:
    vector = np.zeros(DIM, np.float32)
    vector[i] = 1.0
    return vector


def turned(start: np.ndarray, towards: np.ndarray, degrees: float) -> np.ndarray:
    """The unit vector ``degrees`` away from ``start`` on the way to ``towards``."""
    side = towards - (towards @ start) * start
    side /= np.linalg.norm(side)
    angle = math.radians(degrees)
    return (math.cos(angle) * start + math.sin(angle) * side).astype(np.float32)


def at_similarity(start: np.ndarray, towards: np.ndarray, similarity: float) -> np.ndarray:
    return turned(start, towards, math.degrees(math.acos(similarity)))


def score(target: TargetTemplates, embedding: np.ndarray) -> float:
    return float(target.score(embedding[None])[0])


@pytest.fixture
def target() -> TargetTemplates:
    return TargetTemplates("ana", axis(0)[None])


def confident(**changes: float) -> TemplateUpdater:
    return TemplateUpdater(TemplateOptions(policy="confident", **changes), THRESHOLD)


def test_policy_none_never_learns(target: TargetTemplates) -> None:
    updater = TemplateUpdater(TemplateOptions(policy="none"), THRESHOLD)
    new_look = turned(axis(0), axis(1), 30)

    assert not updater.consider(target, new_look, 0.99, frame=1)
    assert target.learned == []
    assert target.updates == []
    assert len(target.embeddings) == 1


def test_confident_face_far_above_the_threshold_is_learned(target: TargetTemplates) -> None:
    new_look = turned(axis(0), axis(1), 30)

    assert confident().consider(target, new_look, LEARN_AT + 0.01, frame=7)

    (exemplar,) = target.learned
    np.testing.assert_array_equal(exemplar.embedding, new_look)
    assert exemplar.frame == 7
    assert len(target.embeddings) == 2
    np.testing.assert_array_equal(target.embeddings[0], axis(0))
    (update,) = target.updates
    assert update["target"] == "ana"
    assert update["frame"] == 7
    assert update["exemplars"] == 1
    assert update["enrolled_score"] == pytest.approx(math.cos(math.radians(30)), abs=1e-4)


def test_face_matched_just_above_the_threshold_does_not_teach(target: TargetTemplates) -> None:
    new_look = turned(axis(0), axis(1), 30)

    assert not confident().consider(target, new_look, LEARN_AT - 0.01, frame=1)
    assert target.learned == []


def test_face_unlike_the_enrolled_photos_does_not_teach_however_well_it_matched(
        target: TargetTemplates) -> None:
    updater = confident()
    halfway = turned(axis(0), axis(1), 40)
    assert updater.consider(target, halfway, score(target, halfway), frame=1)
    # 40 degrees beyond the learned exemplar: close to it, but 80 degrees from the enrolment.
    beyond = turned(axis(0), axis(1), 80)
    to_exemplar = float(target.learned[0].embedding @ beyond)
    assert to_exemplar >= LEARN_AT

    assert not updater.consider(target, beyond, to_exemplar, frame=2)
    assert len(target.learned) == 1


def test_near_duplicate_of_a_template_is_skipped(target: TargetTemplates) -> None:
    almost_the_photo = turned(axis(0), axis(1), 5)

    assert not confident().consider(target, almost_the_photo, 0.99, frame=1)
    assert target.learned == []


def test_learned_exemplars_are_bounded_and_the_oldest_go_first(target: TargetTemplates) -> None:
    updater = confident(max_exemplars=3)
    looks = [turned(axis(0), axis(i), 30) for i in range(1, 6)]

    for frame, look in enumerate(looks):
        assert updater.consider(target, look, 0.9, frame=frame)

    assert [x.frame for x in target.learned] == [2, 3, 4]
    assert len(target.embeddings) == 1 + 3
    np.testing.assert_array_equal(target.embeddings[0], axis(0))
    np.testing.assert_array_equal(target.enrolled, axis(0)[None])


def test_enrolled_embeddings_are_read_only(target: TargetTemplates) -> None:
    with pytest.raises(ValueError):
        target.enrolled[0, 0] = 0.0


def test_enrolled_embeddings_are_a_copy_of_the_callers_array() -> None:
    photos = np.stack([axis(0), axis(1)])
    target = TargetTemplates("ana", photos)

    photos[0] = axis(2)  # the caller may reuse its array

    np.testing.assert_array_equal(target.enrolled[0], axis(0))


def test_target_needs_an_enrolled_embedding() -> None:
    with pytest.raises(ValueError, match="at least one enrolled embedding"):
        TargetTemplates("nobody", np.zeros((0, DIM), np.float32))


def test_unknown_policy_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown template policy 'always'"):
        TemplateUpdater(TemplateOptions(policy="always"), THRESHOLD)


def test_learned_look_lets_the_target_be_recognised_in_that_look(
        target: TargetTemplates) -> None:
    # Learned from a frame where the head was half turned, the full turn is recognised;
    # against the enrolment photo alone it scores below the threshold.
    half_turn = turned(axis(0), axis(1), 38)
    full_turn = turned(axis(0), axis(1), 58)
    assert score(target, full_turn) < THRESHOLD

    assert confident().consider(target, half_turn, score(target, half_turn), frame=1)

    assert score(target, full_turn) >= THRESHOLD


def test_learned_looks_reach_no_further_than_learned_reach_below_the_threshold(
        target: TargetTemplates) -> None:
    # The full turn scores 0.53 against the enrolment: within a reach of 0.15 below the
    # threshold of 0.6, but not within 0.05.
    half_turn = turned(axis(0), axis(1), 38)
    full_turn = turned(axis(0), axis(1), 58)

    assert confident(learned_reach=0.05).consider(target, half_turn, 0.9, frame=1)

    assert float(target.learned[0].embedding @ full_turn) >= THRESHOLD
    assert score(target, full_turn) < THRESHOLD


@pytest.mark.parametrize("other_similarity", [0.0, 0.2, 0.4])
def test_slow_drift_towards_another_person_cannot_pull_the_templates_over(
        target: TargetTemplates, other_similarity: float) -> None:
    # A chain of faces, each a small step from the last, from the target to another person,
    # walked back and forth: each face labelled as the target may teach the templates.
    other = at_similarity(axis(0), axis(1), other_similarity)
    assert score(target, other) < THRESHOLD - DEFAULTS.learned_reach
    updater = confident()
    end = math.degrees(math.acos(other_similarity))
    chain = [turned(axis(0), axis(1), end * step / 200) for step in range(201)]

    frame = 0
    for walk in (chain, chain[::-1], chain):
        for face in walk:
            matched = score(target, face)
            if matched >= THRESHOLD:
                updater.consider(target, face, matched, frame)
            frame += 1

    assert target.learned, "the chain's first steps are the target and should teach"
    assert score(target, other) < THRESHOLD
