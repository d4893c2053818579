"""The built-in demo: a short clip made from two public-domain portraits.

Both portraits install with LiveSiam's dependencies, so the demo needs no download and no
camera: the astronaut Eileen Collins (NASA, shipped with scikit-image) is the target, and
Grace Hopper (US Navy, shipped with matplotlib) is a second person. In the clip the target's
portrait drifts and zooms over a textured background while the exposure brightens, then dims
to a dark phase and recovers; for a stretch in the middle Grace Hopper's portrait slides in
beside it and out again. The clip is generated, not stored, and is the same on every run.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .errors import OutputError
from .images import load_image

log = logging.getLogger(__name__)

TARGET_NAME = "Eileen Collins"
OTHER_NAME = "Grace Hopper"
SEED = 20240607
"""Fixes the background texture and the sensor noise, so every run writes the same frames."""

# The layout below is in pixels of a 640x480 frame and scales with the requested size.
_REFERENCE_SIZE = (640, 480)


@dataclass(frozen=True)
class _Portrait:
    """A head-and-shoulders card cut from a photo, with the face's box in that photo."""

    crop: tuple[int, int, int, int]
    """(x0, y0, x1, y1) of the card in the photo."""
    face: tuple[int, int, int, int]
    """(x, y, w, h) of the face in the photo, as BlazeFace finds it."""

    @property
    def face_centre(self) -> tuple[float, float]:
        """The face centre in card coordinates."""
        x, y, w, h = self.face
        return x + w / 2.0 - self.crop[0], y + h / 2.0 - self.crop[1]


_TARGET = _Portrait(crop=(104, 10, 344, 310), face=(177, 82, 95, 95))
_OTHER = _Portrait(crop=(118, 60, 418, 435), face=(171, 146, 194, 194))

# Keyframes (position in the clip from 0 to 1, value). Between keyframes values ease in and
# out, so the motion looks like a camera operator's rather than a robot's.
_TARGET_X = ((0.0, 240), (0.25, 360), (0.38, 175), (0.70, 150), (0.80, 175), (1.0, 330))
_TARGET_Y = ((0.0, 225), (0.2, 200), (0.5, 235), (0.8, 215), (1.0, 205))
_TARGET_SCALE = ((0.0, 1.40), (0.25, 1.75), (0.38, 1.40), (0.70, 1.45), (1.0, 1.65))
_OTHER_X = ((0.38, 800), (0.46, 470), (0.68, 490), (0.76, 800))
_OTHER_Y = ((0.38, 250), (0.55, 235), (0.76, 245))
_OTHER_SCALE = ((0.38, 0.70), (0.76, 0.76))
_OTHER_SPAN = (0.38, 0.76)
# Exposure: a brightening at first, then a dark phase that overlaps the second face's exit.
_GAIN = ((0.0, 0.85), (0.28, 1.15), (0.45, 1.0), (0.56, 0.45), (0.74, 0.45), (0.9, 1.0),
         (1.0, 1.0))
_CONTRAST = ((0.0, 1.0), (0.28, 1.2), (0.45, 1.0), (0.6, 0.8), (0.74, 0.8), (0.9, 1.0),
             (1.0, 1.0))
_NOISE_SIGMA = ((0.0, 2.0), (0.5, 2.0), (0.6, 4.0), (0.74, 4.0), (0.9, 2.0), (1.0, 2.0))
_BACKGROUND_PAN = ((0.0, (0.0, 0.0)), (1.0, (110.0, 60.0)))
_SHADOW_OFFSET = (7.0, 9.0)
_SHADOW_STRENGTH = 0.45
_SHADOW_BLUR = 6.0
_NOISE_MARGIN = 32


def demo_target_image() -> np.ndarray:
    """Eileen Collins, the demo's target: scikit-image's astronaut photo (RGB uint8)."""
    from skimage import data

    return np.ascontiguousarray(data.astronaut()[:, :, :3])


def demo_other_image() -> np.ndarray:
    """Grace Hopper, the demo's second person: matplotlib's sample photo (RGB uint8)."""
    from matplotlib import cbook

    return load_image(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))


def _ease(points: tuple, u: float) -> float | np.ndarray:
    """The keyframed value at ``u``, with smoothstep easing between keyframes."""
    if u <= points[0][0]:
        return np.asarray(points[0][1], dtype=np.float64)
    for (u0, v0), (u1, v1) in zip(points, points[1:]):
        if u <= u1:
            t = (u - u0) / (u1 - u0)
            t = t * t * (3.0 - 2.0 * t)
            return np.asarray(v0, dtype=np.float64) * (1 - t) + np.asarray(v1) * t
    return np.asarray(points[-1][1], dtype=np.float64)


def _background(width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """A softly lit wall: a vertical gradient, blotchy low-frequency texture, fine grain and a
    few out-of-focus lights. Float RGB in 0..1."""
    rows = np.linspace(0.0, 1.0, height)[:, None, None]
    top, bottom = np.array([0.22, 0.27, 0.36]), np.array([0.47, 0.45, 0.43])
    wall = top * (1 - rows) + bottom * rows
    wall = np.broadcast_to(wall, (height, width, 3)).copy()

    for cell, amount in ((48, 0.10), (12, 0.04)):
        coarse = rng.normal(0.0, 1.0, (height // cell + 2, width // cell + 2)).astype(np.float32)
        smooth = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
        wall *= (1.0 + amount * smooth)[:, :, None]
    wall += rng.normal(0.0, 0.012, wall.shape)

    lights = np.zeros((height, width), np.float32)
    for _ in range(14):
        centre = (int(rng.uniform(0, width)), int(rng.uniform(0, height * 0.6)))
        cv2.circle(lights, centre, int(rng.uniform(10, 40)), float(rng.uniform(0.05, 0.14)),
                   cv2.FILLED, cv2.LINE_AA)
    lights = cv2.GaussianBlur(lights, (0, 0), 3.0)
    wall += lights[:, :, None] * np.array([1.0, 0.9, 0.7])
    return np.clip(wall, 0.0, 1.0).astype(np.float32)


def _card(photo: np.ndarray, portrait: _Portrait) -> tuple[np.ndarray, np.ndarray]:
    """The cropped card as float RGB and its alpha: rounded corners, slightly soft edges."""
    x0, y0, x1, y1 = portrait.crop
    card = photo[y0:y1, x0:x1].astype(np.float32) / 255.0
    height, width = card.shape[:2]

    alpha = np.zeros((height, width), np.float32)
    radius = max(2, min(width, height) // 14)
    inner = (radius, radius, width - 1 - radius, height - 1 - radius)
    cv2.rectangle(alpha, inner[:2], inner[2:], 1.0, cv2.FILLED)
    cv2.rectangle(alpha, (inner[0], 0), (inner[2], height - 1), 1.0, cv2.FILLED)
    cv2.rectangle(alpha, (0, inner[1]), (width - 1, inner[3]), 1.0, cv2.FILLED)
    for cx, cy in ((inner[0], inner[1]), (inner[2], inner[1]),
                   (inner[0], inner[3]), (inner[2], inner[3])):
        cv2.circle(alpha, (cx, cy), radius, 1.0, cv2.FILLED, cv2.LINE_AA)
    alpha = cv2.GaussianBlur(alpha, (0, 0), 1.2)
    return card, alpha


def _place(canvas: np.ndarray, card: np.ndarray, alpha: np.ndarray, portrait: _Portrait,
           centre: tuple[float, float], scale: float) -> tuple[int, int, int, int]:
    """Composite the card so its face centre lands on ``centre`` at ``scale``, with a drop
    shadow; returns the face's box in the canvas."""
    height, width = canvas.shape[:2]
    face_x, face_y = portrait.face_centre
    tx, ty = centre[0] - face_x * scale, centre[1] - face_y * scale
    fx, fy, fw, fh = portrait.face
    face_box = (int(round(tx + (fx - portrait.crop[0]) * scale)),
                int(round(ty + (fy - portrait.crop[1]) * scale)),
                int(round(fw * scale)), int(round(fh * scale)))

    # Work only on the part of the frame the card and its shadow cover: most of a frame is
    # background, and compositing it all would triple the time to make the clip.
    blur = _SHADOW_BLUR * scale
    reach = int(np.ceil(3 * blur + max(_SHADOW_OFFSET) * scale)) + 2
    card_h, card_w = alpha.shape
    x0, y0 = max(0, int(tx) - reach), max(0, int(ty) - reach)
    x1 = min(width, int(np.ceil(tx + card_w * scale)) + reach)
    y1 = min(height, int(np.ceil(ty + card_h * scale)) + reach)
    if x0 >= x1 or y0 >= y1:
        return face_box
    region = canvas[y0:y1, x0:x1]
    size = (x1 - x0, y1 - y0)
    matrix = np.array([[scale, 0.0, tx - x0], [0.0, scale, ty - y0]], dtype=np.float64)
    flags = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR

    shadow_matrix = matrix.copy()
    shadow_matrix[:, 2] += np.array(_SHADOW_OFFSET) * scale
    shadow = cv2.warpAffine(alpha, shadow_matrix, size, flags=cv2.INTER_LINEAR)
    shadow = cv2.GaussianBlur(shadow, (0, 0), blur) * _SHADOW_STRENGTH
    region = cv2.blendLinear(region, np.zeros_like(region), 1.0 - shadow, shadow)

    layer = cv2.warpAffine(card, matrix, size, flags=flags)
    cover = cv2.warpAffine(alpha, matrix, size, flags=cv2.INTER_LINEAR)
    canvas[y0:y1, x0:x1] = cv2.blendLinear(layer, region, cover, 1.0 - cover)
    return face_box


def _inside(box: tuple[int, int, int, int], width: int, height: int) -> bool:
    x, y, w, h = box
    return x >= 0 and y >= 0 and x + w <= width and y + h <= height


def _overlaps(box: tuple[int, int, int, int], width: int, height: int) -> bool:
    x, y, w, h = box
    return x < width and y < height and x + w > 0 and y + h > 0


def render_demo_frames(seconds: float = 6.0, fps: float = 15.0, size: tuple[int, int] = (640, 480)
                       ) -> Iterator[tuple[np.ndarray, list[dict], float]]:
    """Yield (rgb_frame, faces, gain) for each frame of the demo clip: ``faces`` lists
    {"person": TARGET_NAME or OTHER_NAME, "box": [x, y, w, h], "whole": bool} for every face
    at least partly in the frame ("whole" when all of it is), ``gain`` is the exposure (1 is
    normal, lower is darker)."""
    if seconds <= 0 or fps <= 0:
        raise ValueError(f"seconds and fps must be positive, got {seconds} and {fps}")
    width, height = int(size[0]), int(size[1])
    if width < 64 or height < 48:
        raise ValueError(f"demo frame size {width}x{height} is too small for faces")
    sx, sy = width / _REFERENCE_SIZE[0], height / _REFERENCE_SIZE[1]
    zoom = min(sx, sy)

    rng = np.random.default_rng(SEED)
    pan_x, pan_y = _ease(_BACKGROUND_PAN, 1.0) * zoom
    wall = _background(width + int(pan_x) + 2, height + int(pan_y) + 2, rng)
    target_card = _card(demo_target_image(), _TARGET)
    other_card = _card(demo_other_image(), _OTHER)
    grain = rng.standard_normal((height + _NOISE_MARGIN, width + _NOISE_MARGIN, 3),
                                dtype=np.float32)

    count = max(1, int(round(seconds * fps)))
    for index in range(count):
        u = index / max(1, count - 1)
        dx, dy = _ease(_BACKGROUND_PAN, u) * zoom
        shift = np.array([[1.0, 0.0, -dx], [0.0, 1.0, -dy]])
        canvas = cv2.warpAffine(wall, shift, (width, height), flags=cv2.INTER_LINEAR)

        faces = []
        if _OTHER_SPAN[0] <= u <= _OTHER_SPAN[1]:
            centre = (float(_ease(_OTHER_X, u)) * sx, float(_ease(_OTHER_Y, u)) * sy)
            box = _place(canvas, *other_card, _OTHER, centre, float(_ease(_OTHER_SCALE, u)) * zoom)
            faces.append({"person": OTHER_NAME, "box": list(box)})
        # Small sway on top of the keyframed path, as of a hand-held camera.
        phase = 2 * np.pi * index / fps
        sway_x, sway_y = 4.0 * np.sin(0.5 * phase), 3.0 * np.sin(0.3 * phase)
        centre = (float(_ease(_TARGET_X, u)) * sx + sway_x * zoom,
                  float(_ease(_TARGET_Y, u)) * sy + sway_y * zoom)
        box = _place(canvas, *target_card, _TARGET, centre, float(_ease(_TARGET_SCALE, u)) * zoom)
        faces.insert(0, {"person": TARGET_NAME, "box": list(box)})

        # Exposure as ((value - 0.5) * contrast + 0.5) * gain, in 0..255, plus sensor noise:
        # a window at a random offset in one noise field looks like fresh noise each frame
        # at a fraction of the cost of drawing it, and flickers like a real camera's.
        gain, contrast = float(_ease(_GAIN, u)), float(_ease(_CONTRAST, u))
        nx, ny = rng.integers(0, _NOISE_MARGIN, 2)
        canvas *= 255.0 * contrast * gain
        canvas += 255.0 * 0.5 * (1.0 - contrast) * gain + 0.5
        canvas += float(_ease(_NOISE_SIGMA, u)) * grain[ny:ny + height, nx:nx + width]
        frame = np.clip(canvas, 0, 255, out=canvas).astype(np.uint8)
        for face in faces:
            face["whole"] = _inside(tuple(face["box"]), width, height)
        yield frame, [f for f in faces if _overlaps(tuple(f["box"]), width, height)], gain


def make_demo_clip(path: str | Path, seconds: float = 6.0, fps: float = 15.0,
                   size: tuple[int, int] = (640, 480)) -> dict:
    """Write the demo clip to ``path`` (MP4) and describe what is in it.

    Returns {"frames", "fps", "size", "target", "other", "target_frames", "other_frames",
    "faces", "gain"}: the names of the two people, the indices of the frames in which each
    face is wholly in view (a face sliding in or out at the edge is in neither list, though a
    detector may find it), the faces per frame as render_demo_frames() gives them, and the
    exposure gain per frame (1 is normal, below 0.5 the dark phase). At the default size the
    faces are 130 to 170 pixels wide.
    """
    path = Path(path)
    width, height = int(size[0]), int(size[1])
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{path.parent}: cannot create the folder ({exc.strerror})") from exc
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), float(fps),
                             (width, height))
    if not writer.isOpened():
        writer.release()
        raise OutputError(f"{path}: cannot write an MP4 video here (no mp4v encoder in this "
                          "OpenCV build, or the folder is not writable); choose another path")

    target_frames, other_frames, boxes, gains = [], [], [], []
    try:
        for index, (frame, faces, gain) in enumerate(render_demo_frames(seconds, fps, size)):
            writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
            people = {face["person"] for face in faces if face["whole"]}
            if TARGET_NAME in people:
                target_frames.append(index)
            if OTHER_NAME in people:
                other_frames.append(index)
            boxes.append(faces)
            gains.append(round(gain, 3))
    finally:
        writer.release()

    log.info("wrote demo clip %s (%d frames at %g fps)", path, len(boxes), fps)
    return {"frames": len(boxes), "fps": float(fps), "size": [width, height],
            "target": TARGET_NAME, "other": OTHER_NAME, "target_frames": target_frames,
            "other_frames": other_frames, "faces": boxes, "gain": gains}
