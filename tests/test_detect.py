"""Face detection on real photos, and how the detector fails when its model is missing."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from livesiam.config import DetectOptions
from livesiam.detect import MODEL_FILES, Face, FaceDetector, model_path
from livesiam.errors import ModelError
from livesiam.images import load_image

RIGHT_EYE, LEFT_EYE, NOSE, MOUTH = 0, 1, 2, 3



def inside(point: np.ndarray, box: tuple[int, int, int, int], slack: float = 0.0) -> bool:
    x, y, w, h = box
    return (x - slack <= point[0] <= x + w + slack) and (y - slack <= point[1] <= y + h + slack)


def test_one_face_in_a_portrait_with_keypoints_where_a_face_has_them(
        detector: FaceDetector, stills: Path) -> None:
    image = load_image(stills / "obama.jpg")

    faces = detector.detect(image)

    assert len(faces) == 1
    face = faces[0]
    x, y, w, h = face.box
    assert 0 <= x and 0 <= y and x + w <= image.shape[1] and y + h <= image.shape[0]
    assert w > 100 and h > 100
    assert 0.5 <= face.confidence <= 1.0
    assert face.keypoints.shape == (6, 2)
    for point in face.keypoints[:4]:
        assert inside(point, face.box)
    kp = face.keypoints
    # The person's right eye shows on the left of the image; eyes above nose above mouth.
    assert kp[RIGHT_EYE, 0] < kp[LEFT_EYE, 0]
    assert max(kp[RIGHT_EYE, 1], kp[LEFT_EYE, 1]) < kp[NOSE, 1] < kp[MOUTH, 1]
    assert face.area == w * h
    assert face.centre == (x + w / 2, y + h / 2)


def test_two_people_give_two_separate_faces_largest_first(
        detector: FaceDetector, stills: Path) -> None:
    faces = detector.detect(load_image(stills / "two_people.jpg"))

    assert len(faces) == 2
    assert faces[0].area >= faces[1].area
    (ax, _, aw, _), (bx, _, bw, _) = faces[0].box, faces[1].box
    assert ax + aw <= bx or bx + bw <= ax, "the two people stand side by side"


def test_blank_image_has_no_face(detector: FaceDetector) -> None:
    assert detector.detect(np.full((240, 320, 3), 128, np.uint8)) == []


def test_small_frame_is_enlarged_for_detection_but_boxes_stay_in_its_pixels(
        detector: FaceDetector, stills: Path) -> None:
    image = load_image(stills / "obama.jpg")
    (big,) = detector.detect(image)
    quarter = cv2.resize(image, (image.shape[1] // 4, image.shape[0] // 4),
                         interpolation=cv2.INTER_AREA)
    assert min(quarter.shape[:2]) < DetectOptions().upscale_below_px

    (small,) = detector.detect(quarter)

    np.testing.assert_allclose(small.box, np.array(big.box) / 4, atol=4)
    np.testing.assert_allclose(small.keypoints[:4], big.keypoints[:4] / 4, atol=4)


def test_very_wide_images_are_searched_without_aborting_the_process(
        detector: FaceDetector, stills: Path) -> None:
    # Enlarging a 10-pixel strip to the detector's working size, or a panorama as it is, would
    # exceed the 32767-pixel sides MediaPipe's image warping can take.
    assert detector.detect(np.zeros((10, 1100, 3), np.uint8)) == []
    face = load_image(stills / "obama.jpg")
    panorama = np.concatenate([face, np.full((face.shape[0], 33000, 3), 128, np.uint8)],
                              axis=1)

    found = detector.detect(panorama)

    # At the detector's 128-pixel working size this face is a few pixels wide: not finding it
    # is expected, ending the process is not.
    assert all(f.box[0] + f.box[2] <= panorama.shape[1] for f in found)


def test_faces_smaller_than_min_face_px_are_dropped(stills: Path) -> None:
    image = load_image(stills / "obama.jpg")

    with FaceDetector(DetectOptions(min_face_px=600)) as strict:
        assert strict.detect(image) == []


def test_full_range_model_finds_the_same_faces(stills: Path) -> None:
    with FaceDetector(DetectOptions(model="full")) as far:
        assert len(far.detect(load_image(stills / "obama.jpg"))) == 1
        faces = far.detect(load_image(stills / "two_people.jpg"))

    assert len(faces) == 2
    assert faces[0].area >= faces[1].area


def test_video_mode_accepts_repeated_backward_and_missing_timestamps(stills: Path) -> None:
    image = load_image(stills / "obama.jpg")

    with FaceDetector(DetectOptions(), video=True) as video:
        found = [video.detect(image, timestamp_ms=stamp)
                 for stamp in (0, 0, 100, 50, None, None, 10)]

    assert all(len(faces) == 1 for faces in found)


def test_closed_detector_refuses_work() -> None:
    detector = FaceDetector(DetectOptions())
    detector.close()
    detector.close()  # closing twice is harmless

    with pytest.raises(RuntimeError, match="closed"):
        detector.detect(np.zeros((64, 64, 3), np.uint8))


def test_unknown_model_name_is_a_model_error() -> None:
    with pytest.raises(ModelError, match="unknown detector model 'huge'.*short.*full"):
        FaceDetector(DetectOptions(model="huge"))


def test_empty_detector_folder_is_a_model_error_that_says_how_to_install(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIVESIAM_DETECTOR_DIR", str(tmp_path))

    with pytest.raises(ModelError) as caught:
        FaceDetector(DetectOptions())

    message = str(caught.value)
    assert str(tmp_path / MODEL_FILES["short"]) in message
    assert "not installed" in message
    assert "make setup" in message


def test_detector_folder_from_the_environment_is_used(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / MODEL_FILES["full"]).write_bytes(b"model")
    monkeypatch.setenv("LIVESIAM_DETECTOR_DIR", str(tmp_path))

    assert model_path("full") == tmp_path / MODEL_FILES["full"]


def test_face_is_plain_immutable_data() -> None:
    face = Face(box=(1, 2, 30, 40), keypoints=np.zeros((6, 2), np.float32), confidence=0.7)

    assert face.area == 1200
    assert face.centre == (16.0, 22.0)
    with pytest.raises(AttributeError):
        face.box = (0, 0, 1, 1)  # type: ignore[misc]
