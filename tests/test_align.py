"""Alignment maps a face's keypoints onto fixed positions of a square crop."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from livesiam.align import (DLIB_CHIP_150, REFERENCE_112, align_face, align_faces, reference_points,
                            similarity_transform, whole_image_crop)
from livesiam.detect import Face
from livesiam.images import load_image

RED, GREEN = (255, 0, 0), (0, 255, 0)


def rotation_scale_shift(angle_deg: float, scale: float, shift: tuple[float, float]) -> np.ndarray:
    angle = math.radians(angle_deg)
    cos, sin = scale * math.cos(angle), scale * math.sin(angle)
    return np.array([[cos, -sin, shift[0]], [sin, cos, shift[1]]])


def apply(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    return points @ matrix[:, :2].T + matrix[:, 2]


def squared_error(matrix: np.ndarray, src: np.ndarray, dst: np.ndarray) -> float:
    return float(np.sum((apply(matrix, src) - dst) ** 2))


def face_at(keypoints: np.ndarray) -> Face:
    """A face whose four fitted keypoints are given; ears are placed beside the eyes."""
    ears = keypoints[:2] + np.array([[-15.0, 0.0], [15.0, 0.0]])
    points = np.vstack([keypoints, ears]).astype(np.float32)
    x0, y0 = points.min(axis=0)
    x1, y1 = points.max(axis=0)
    box = (int(x0), int(y0), int(x1 - x0), int(y1 - y0))
    return Face(box=box, keypoints=points, confidence=0.9)


def centroid(mask: np.ndarray) -> np.ndarray:
    rows, cols = np.nonzero(mask)
    return np.array([cols.mean(), rows.mean()])


def test_similarity_transform_recovers_a_known_rotation_scale_and_shift() -> None:
    truth = rotation_scale_shift(30.0, 1.7, (12.0, -5.0))
    src = np.array([[0.0, 0.0], [10.0, 2.0], [4.0, 9.0], [-3.0, 6.0]])

    fitted = similarity_transform(src, apply(truth, src))

    np.testing.assert_allclose(fitted, truth, atol=1e-9)


def test_similarity_transform_is_the_least_squares_fit_to_noisy_points() -> None:
    truth = rotation_scale_shift(-12.0, 0.8, (40.0, 30.0))
    src = np.random.default_rng(0).uniform(0, 100, (20, 2))
    noise = np.random.default_rng(1).normal(0, 0.5, (20, 2))

    dst = apply(truth, src) + noise

    fitted = similarity_transform(src, dst)

    np.testing.assert_allclose(fitted[:, :2], truth[:, :2], atol=0.01)
    np.testing.assert_allclose(fitted[:, 2], truth[:, 2], atol=0.5)
    # No similarity fits the noisy points better than the fitted one, not even the truth.
    assert squared_error(fitted, src, dst) <= squared_error(truth, src, dst)
    nudged = rotation_scale_shift(-12.5, 0.8, (40.0, 30.0))
    assert squared_error(fitted, src, dst) < squared_error(nudged, src, dst)
    # The fit is a similarity: both columns of the linear part have the same length and are
    # perpendicular (no shear, no uneven scale).
    a, b = fitted[:, 0], fitted[:, 1]
    assert math.isclose(np.linalg.norm(a), np.linalg.norm(b), rel_tol=1e-12)
    assert abs(float(a @ b)) < 1e-12


def test_coinciding_keypoints_cannot_be_aligned() -> None:
    with pytest.raises(ValueError, match="coincide"):
        similarity_transform(np.ones((4, 2)), REFERENCE_112)


def test_reference_points_scale_with_the_crop_size() -> None:
    np.testing.assert_allclose(reference_points(112), REFERENCE_112)
    np.testing.assert_allclose(reference_points(224), REFERENCE_112 * 2)
    np.testing.assert_allclose(reference_points(300, "dlib-chip"), DLIB_CHIP_150 * 2)


def test_dlib_chip_layout_is_a_tighter_crop_of_the_same_face() -> None:
    # dlib's chips show less around the face than ArcFace crops: the eyes lie further apart
    # relative to the crop, and both layouts keep the face upright and centred.
    arcface, chip = reference_points(1), reference_points(1, "dlib-chip")
    assert chip[1, 0] - chip[0, 0] > arcface[1, 0] - arcface[0, 0]
    for points in (arcface, chip):
        assert abs(points[0, 1] - points[1, 1]) < 0.01
        assert abs(points[:2, 0].mean() - 0.5) < 0.01
        assert points[0, 1] < points[2, 1] < points[3, 1]


def test_unknown_layout_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown face layout 'mtcnn'"):
        reference_points(112, "mtcnn")


@pytest.mark.parametrize("size", [112, 160])
def test_align_face_puts_the_eyes_on_the_reference_points(size: int) -> None:
    # A tilted face twice the crop's scale, somewhere in a larger frame.
    to_frame = rotation_scale_shift(20.0, 2.0 * 112 / size, (150.0, 90.0))
    keypoints = apply(to_frame, reference_points(size))
    frame = np.zeros((480, 640, 3), np.uint8)
    for point, colour in zip(keypoints[:2], (RED, GREEN)):
        cv2.circle(frame, (round(point[0]), round(point[1])), 6, colour, -1)

    crop = align_face(frame, face_at(keypoints), size)

    assert crop.shape == (size, size, 3)
    assert crop.dtype == np.uint8
    reference = reference_points(size)
    right_eye = (crop[:, :, 0] > 128) & (crop[:, :, 1] < 128)
    left_eye = (crop[:, :, 1] > 128) & (crop[:, :, 0] < 128)
    np.testing.assert_allclose(centroid(right_eye), reference[0], atol=1.0)
    np.testing.assert_allclose(centroid(left_eye), reference[1], atol=1.0)


def test_ear_keypoints_do_not_move_the_crop() -> None:
    frame = np.random.default_rng(2).integers(0, 256, (200, 200, 3), dtype=np.uint8)
    face = face_at(apply(rotation_scale_shift(5.0, 1.2, (20.0, 10.0)), REFERENCE_112))
    hidden_ear = face.keypoints.copy()
    hidden_ear[5] = (0.0, 0.0)  # a profile: the far ear's estimate lands anywhere

    np.testing.assert_array_equal(
        align_face(frame, face), align_face(frame, Face(face.box, hidden_ear, 0.9)))


def test_align_faces_batches_every_face_of_a_frame() -> None:
    frame = np.zeros((200, 200, 3), np.uint8)
    first = face_at(apply(rotation_scale_shift(0.0, 1.0, (0.0, 0.0)), REFERENCE_112))
    second = face_at(apply(rotation_scale_shift(0.0, 0.5, (100.0, 100.0)), REFERENCE_112))

    assert align_faces(frame, [first, second]).shape == (2, 112, 112, 3)
    assert align_faces(frame, [], size=96).shape == (0, 96, 96, 3)


def test_whole_image_crop_pads_a_portrait_image_to_a_centred_square() -> None:
    tall = np.zeros((100, 50, 3), np.uint8)
    tall[:, :25] = RED
    tall[:, 25:] = GREEN

    crop = whole_image_crop(tall, 112)

    assert crop.shape == (112, 112, 3)
    # Padding repeats the border columns, so the left of the square is red, the right green.
    assert tuple(crop[56, 5]) == RED
    assert tuple(crop[56, 106]) == GREEN


def test_whole_image_crop_of_a_real_face_crop(shared_data: Path) -> None:
    orl = load_image(shared_data / "faces" / "orl" / "s1" / "1.png")
    assert orl.shape == (112, 92, 3)

    crop = whole_image_crop(orl)

    assert crop.shape == (112, 112, 3)
    # The image already had 112 rows, so the middle column of the face is copied unscaled.
    np.testing.assert_array_equal(crop[:, 56], orl[:, 46])
