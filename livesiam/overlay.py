"""Drawing what was recognised onto a frame: a box and a name tag per face, the frame rate.

Sizes scale with the frame, so a 128x96 tracking sequence and a 1080p camera both get lines and
text that can be read without hiding the faces. Each target keeps its colour in every frame and
every run (the colour is chosen from its name); faces that match no target are grey.
"""

from __future__ import annotations

import unicodedata
import zlib

import cv2
import numpy as np

from .results import FaceResult

# Calm, clearly distinct colours (RGB) that stay visible on skin, sky and dark clothing.
PALETTE: tuple[tuple[int, int, int], ...] = (
    (46, 204, 113),   # green
    (52, 152, 219),   # blue
    (241, 196, 15),   # yellow
    (231, 76, 60),    # red
    (155, 89, 182),   # purple
    (26, 188, 156),   # turquoise
    (230, 126, 34),   # orange
    (236, 64, 122),   # pink
    (0, 172, 193),    # cyan
    (124, 179, 66),   # olive green
)
UNKNOWN_COLOUR: tuple[int, int, int] = (158, 158, 158)

_FONT = cv2.FONT_HERSHEY_SIMPLEX
# The frame side, in pixels, for which the base sizes below were chosen.
_REFERENCE_SIDE = 480.0
_BASE_FONT_SCALE = 0.55
_MIN_FONT_SCALE = 0.3
_PANEL_DIM = 0.4
"""Brightness kept under the frame-rate and title panels: dark enough for white text."""


def label_colour(label: str | None) -> tuple[int, int, int]:
    """The RGB colour of a target's boxes: fixed by its name, grey for no name."""
    if not label:
        return UNKNOWN_COLOUR
    # crc32 rather than hash(): Python salts str hashes per process, and a colour must not
    # change between runs.
    return PALETTE[zlib.crc32(label.encode("utf-8")) % len(PALETTE)]


def _ascii(text: str) -> str:
    # Limitation: OpenCV's Hershey fonts draw only ASCII, so accents are dropped ("José" is
    # drawn "Jose") and other scripts become "?".
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return plain if plain.strip() else "?"


def _text_colour(background: tuple[int, int, int]) -> tuple[int, int, int]:
    red, green, blue = background
    luma = 0.299 * red + 0.587 * green + 0.114 * blue
    return (20, 20, 20) if luma > 150 else (255, 255, 255)


class _Style:
    """Line widths and text sizes for one frame size."""

    def __init__(self, width: int, height: int) -> None:
        factor = min(width, height) / _REFERENCE_SIDE
        self.font_scale = max(_MIN_FONT_SCALE, _BASE_FONT_SCALE * factor)
        self.text_thickness = max(1, round(1.6 * factor))
        self.line = max(1, round(2.0 * factor))
        self.pad = max(2, round(5 * factor))

    def measure(self, text: str) -> tuple[int, int, int]:
        """Width, height above the baseline and depth below it of ``text``."""
        (width, height), baseline = cv2.getTextSize(text, _FONT, self.font_scale,
                                                    self.text_thickness)
        return width, height, baseline


def _put_text(image: np.ndarray, text: str, origin: tuple[int, int],
              colour: tuple[int, int, int], style: _Style) -> None:
    cv2.putText(image, text, origin, _FONT, style.font_scale, colour, style.text_thickness,
                cv2.LINE_AA)


def _face_text(face: FaceResult) -> str:
    name = face.label if face.label else "unknown"
    return f"{_ascii(name)} {face.score:.2f}"


def _draw_corners(image: np.ndarray, box: tuple[int, int, int, int],
                  colour: tuple[int, int, int], thickness: int) -> None:
    # Heavier corners make a recognised face stand out from the thin grey boxes of strangers.
    x, y, w, h = box
    length = max(3, min(w, h) // 5)
    for cx, cy, dx, dy in ((x, y, 1, 1), (x + w - 1, y, -1, 1),
                           (x, y + h - 1, 1, -1), (x + w - 1, y + h - 1, -1, -1)):
        cv2.line(image, (cx, cy), (cx + dx * length, cy), colour, thickness, cv2.LINE_8)
        cv2.line(image, (cx, cy), (cx, cy + dy * length), colour, thickness, cv2.LINE_8)


def _draw_face(image: np.ndarray, face: FaceResult, style: _Style) -> None:
    height, width = image.shape[:2]
    x, y, w, h = (int(round(v)) for v in face.box)
    colour = label_colour(face.label)
    # Boxes are axis-aligned, so plain lines are crisp; smoothing would only blur their edges.
    cv2.rectangle(image, (x, y), (x + w - 1, y + h - 1), colour, style.line, cv2.LINE_8)
    if face.label:
        _draw_corners(image, (x, y, w, h), colour, style.line * 2)

    text = _face_text(face)
    text_w, text_h, depth = style.measure(text)
    tag_w, tag_h = text_w + 2 * style.pad, text_h + depth + 2 * style.pad

    # The tag sits on the box's top edge, outside it; near the top of the frame it moves
    # inside the box so it is never cut off. It is shifted left to stay in the frame.
    top = y - tag_h if y - tag_h >= 0 else max(0, y)
    left = min(max(0, x), max(0, width - tag_w))
    top = min(top, max(0, height - tag_h))
    cv2.rectangle(image, (left, top), (left + tag_w - 1, top + tag_h - 1), colour, cv2.FILLED)
    _put_text(image, text, (left + style.pad, top + style.pad + text_h), _text_colour(colour),
              style)


def _draw_panel(image: np.ndarray, text: str, right: bool, style: _Style) -> None:
    height, width = image.shape[:2]
    text_w, text_h, depth = style.measure(text)
    margin = style.pad
    panel_w = min(width, text_w + 2 * style.pad)
    panel_h = min(height, text_h + depth + 2 * style.pad)
    left = max(0, width - panel_w - margin) if right else min(margin, width - panel_w)
    top = min(margin, height - panel_h)

    region = image[top:top + panel_h, left:left + panel_w]
    region[:] = (region.astype(np.float32) * _PANEL_DIM).astype(np.uint8)
    _put_text(image, text, (left + style.pad, top + style.pad + text_h), (255, 255, 255), style)


def draw_results(image_rgb: np.ndarray, faces: list[FaceResult], fps: float | None = None,
                 title: str | None = None) -> np.ndarray:
    """A copy of ``image_rgb`` with each face boxed and tagged "name 0.87" ("unknown 0.41" for
    a face below threshold, with its best score), the title in the top-left corner and the
    frame rate in the top-right one when given. The input image is left unchanged.
    """
    if image_rgb.ndim != 3 or image_rgb.shape[2] != 3:
        raise ValueError(f"expected an RGB image of shape (h, w, 3), got {image_rgb.shape}")
    canvas = np.array(image_rgb, dtype=np.uint8, copy=True)
    height, width = canvas.shape[:2]
    style = _Style(width, height)

    # Strangers first, so that a recognised face's tag is drawn over theirs where they overlap.
    for face in sorted(faces, key=lambda f: f.label is not None):
        _draw_face(canvas, face, style)
    if title:
        _draw_panel(canvas, _ascii(title), right=False, style=style)
    if fps is not None and np.isfinite(fps):
        _draw_panel(canvas, f"{fps:.1f} fps", right=True, style=style)
    return canvas
