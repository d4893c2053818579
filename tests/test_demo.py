"""The built-in demo clip: what it shows, that it says so truthfully, and that faces are found."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from livesiam.capture import open_source
from livesiam.demo import (OTHER_NAME, TARGET_NAME, demo_other_image, demo_target_image,
                           make_demo_clip, render_demo_frames)


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    path = tmp_path_factory.mktemp("demo") / "demo.mp4"
    return path, make_demo_clip(path)


def boxes_of(meta: dict, index: int, person: str) -> list[list[int]]:
    return [face["box"] for face in meta["faces"][index] if face["person"] == person]


def iou(a: tuple | list, b: tuple | list) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    ix = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    iy = max(0, min(ay + ah, by + bh) - max(ay, by))
    return ix * iy / float(aw * ah + bw * bh - ix * iy)


def test_portraits_come_from_the_installed_packages() -> None:
    target, other = demo_target_image(), demo_other_image()
    assert target.shape == (512, 512, 3) and target.dtype == np.uint8
    assert other.shape == (600, 512, 3) and other.dtype == np.uint8


def test_clip_file_matches_its_description(clip: tuple[Path, dict]) -> None:
    path, meta = clip
    assert meta["frames"] == 90 and meta["fps"] == 15.0 and meta["size"] == [640, 480]
    assert meta["target"] == TARGET_NAME and meta["other"] == OTHER_NAME
    assert len(meta["faces"]) == len(meta["gain"]) == 90

    with open_source(path) as source:
        assert source.size == (640, 480)
        assert source.fps == pytest.approx(15.0)
        frames = list(source)
    assert len(frames) == 90


def test_target_throughout_and_second_face_for_a_stretch_beside_it(clip: tuple[Path, dict]
                                                                   ) -> None:
    _, meta = clip
    assert meta["target_frames"] == list(range(90))
    other = meta["other_frames"]
    assert len(other) >= 15
    assert other == list(range(other[0], other[-1] + 1)), "one continuous stretch"
    assert 10 < other[0] and other[-1] < 80, "it enters and leaves within the clip"

    for index in other:
        (target,), (second,) = boxes_of(meta, index, TARGET_NAME), boxes_of(meta, index, OTHER_NAME)
        assert iou(target, second) == 0.0
        assert target[0] + target[2] < second[0], "side by side, the target on the left"


def test_faces_are_large_and_move_and_zoom(clip: tuple[Path, dict]) -> None:
    _, meta = clip
    target = np.array([boxes_of(meta, i, TARGET_NAME)[0] for i in range(90)])
    assert target[:, 2].min() >= 120
    for i in meta["other_frames"]:
        assert boxes_of(meta, i, OTHER_NAME)[0][2] >= 120
    centres_x = target[:, 0] + target[:, 2] / 2
    assert centres_x.max() - centres_x.min() > 120, "the portrait pans"
    assert target[:, 2].max() - target[:, 2].min() > 25, "the portrait zooms"


def test_light_brightens_then_has_a_dark_phase(clip: tuple[Path, dict]) -> None:
    path, meta = clip
    gain = np.array(meta["gain"])
    assert gain.max() > 1.1 and gain.min() < 0.5
    assert gain.argmax() < gain.argmin()

    with open_source(path) as source:
        brightness = [float(f.image.mean()) for f in source]
    brightest, darkest = int(np.argmax(brightness)), int(np.argmin(brightness))
    assert brightness[darkest] < 0.6 * brightness[brightest]
    assert gain[darkest] < 0.6


def test_clip_is_the_same_every_time() -> None:
    first = [frame for frame, _, _ in render_demo_frames(seconds=0.4, fps=10.0)]
    second = [frame for frame, _, _ in render_demo_frames(seconds=0.4, fps=10.0)]
    assert len(first) == 4
    assert all(np.array_equal(a, b) for a, b in zip(first, second))
    assert not np.array_equal(first[0], first[1]), "consecutive frames differ"


def test_detector_finds_the_faces_where_the_clip_says_they_are(clip: tuple[Path, dict]) -> None:
    from livesiam.detect import FaceDetector

    path, meta = clip
    found_target, found_both, sampled_target, sampled_both = 0, 0, 0, 0
    with open_source(path) as source, FaceDetector() as detector:
        for frame in source:
            if frame.index % 3:
                continue
            faces = detector.detect(frame.image)

            def found(person: str) -> bool:
                expected = boxes_of(meta, frame.index, person)[0]
                return any(iou(face.box, expected) > 0.5 for face in faces)

            sampled_target += 1
            found_target += found(TARGET_NAME)
            if frame.index in meta["other_frames"]:
                sampled_both += 1
                found_both += found(TARGET_NAME) and found(OTHER_NAME) and len(faces) == 2

    assert sampled_target == 30 and sampled_both >= 5
    assert found_target >= 0.95 * sampled_target
    assert found_both >= 0.9 * sampled_both
