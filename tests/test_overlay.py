"""Drawing results: boxes where the faces are, colours that identify targets, readable tags."""

from __future__ import annotations

import numpy as np
import pytest

from livesiam.overlay import PALETTE, UNKNOWN_COLOUR, draw_results, label_colour
from livesiam.results import FaceResult


def black(width: int, height: int) -> np.ndarray:
    return np.zeros((height, width, 3), np.uint8)


def edge_width(image: np.ndarray, row: int, column: int) -> int:
    """How many pixels wide the vertical line is that crosses ``row`` near ``column``."""
    return int(image[row, max(0, column - 10):column + 10].any(axis=1).sum())


def test_box_is_drawn_on_the_face_edge_in_the_label_colour() -> None:
    image = black(320, 240)
    face = FaceResult(box=(100, 90, 80, 90), label="Ada Lovelace", score=0.87)
    out = draw_results(image, [face])

    colour = label_colour("Ada Lovelace")
    assert tuple(out[150, 100]) == colour            # left edge, below the corner accents
    assert tuple(out[150, 179]) == colour            # right edge
    assert tuple(out[179, 140]) == colour            # bottom edge
    assert not out[135, 140].any()                   # the face itself is left visible
    assert not image.any(), "the input image must not be drawn on"
    assert out.shape == image.shape and out.dtype == np.uint8


def test_name_tag_sits_above_the_box_and_grows_with_the_text() -> None:
    def tag_width(label: str) -> int:
        out = draw_results(black(400, 300), [FaceResult((50, 150, 80, 80), label, 0.9)])
        return int(out[140, :, :].any(axis=1).sum())

    assert tag_width("Al") > 20
    assert tag_width("Alexandra Featherstonehaugh") > tag_width("Al") + 60


def test_tag_moves_inside_the_box_at_the_top_of_the_frame() -> None:
    out = draw_results(black(200, 150), [FaceResult((60, 0, 70, 70), "Ada", 0.9)])
    assert out[3:10, 70:90].any(), "the tag must stay in the frame"


def test_colour_is_fixed_by_the_name_and_grey_for_unknown() -> None:
    assert label_colour("Grace Hopper") == label_colour("Grace Hopper")
    assert label_colour("Grace Hopper") in PALETTE
    assert label_colour(None) == UNKNOWN_COLOUR
    names = ["Ada", "Grace", "Eileen", "Katherine", "Margaret", "Hedy"]
    assert len({label_colour(name) for name in names}) >= 4


def test_unknown_face_is_boxed_in_grey() -> None:
    out = draw_results(black(320, 240), [FaceResult((100, 90, 80, 90), None, 0.41,
                                                    best="Ada")])
    assert tuple(out[150, 100]) == UNKNOWN_COLOUR


def test_small_frames_get_thin_lines_and_large_frames_thick_ones() -> None:
    small = draw_results(black(128, 96), [FaceResult((40, 40, 40, 40), None, 0.3)])
    large = draw_results(black(1920, 1080), [FaceResult((600, 400, 400, 400), None, 0.3)])
    assert 1 <= edge_width(small, 70, 40) <= 2
    assert edge_width(large, 700, 600) >= 4


def test_tag_on_a_tiny_frame_is_legible_and_inside_it() -> None:
    out = draw_results(black(128, 96), [FaceResult((90, 30, 30, 40), "Ada", 0.91)])
    rows = np.flatnonzero(out.any(axis=(1, 2)))
    # The tag is moved left to stay in view and its text is at least 6 px high.
    assert out[:30, 60:90].any()
    assert rows.min() < 30 - 6


def test_fps_appears_in_the_top_right_corner_only_when_given() -> None:
    image = np.full((240, 320, 3), 200, np.uint8)
    without = draw_results(image, [])
    with_fps = draw_results(image, [], fps=24.6)
    assert np.array_equal(without, image)
    corner = with_fps[:30, 220:]
    assert (corner < 200).any(), "the panel darkens the corner behind the text"
    assert np.array_equal(with_fps[60:, :], image[60:, :])


def test_title_appears_in_the_top_left_corner() -> None:
    image = np.full((240, 320, 3), 200, np.uint8)
    out = draw_results(image, [], title="camera 0")
    assert (out[:30, :100] != 200).any()
    assert np.array_equal(out[:, 200:], image[:, 200:])


def test_faces_partly_outside_the_frame_and_unusual_names_are_drawn() -> None:
    faces = [FaceResult((-20, -10, 60, 60), "José", 0.7),
             FaceResult((300, 200, 80, 80), "李", 0.6),
             FaceResult((10, 10, 0, 0), None, 0.1)]
    out = draw_results(black(320, 240), faces, fps=float("nan"), title="ünïcode")
    assert out.shape == (240, 320, 3)
    assert out.any()


def test_a_grey_image_is_refused() -> None:
    with pytest.raises(ValueError, match="RGB"):
        draw_results(np.zeros((20, 20), np.uint8), [])
